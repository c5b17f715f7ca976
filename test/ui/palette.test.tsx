// The `:` palette with more matches than it shows: the window follows the pick, so the entry
// Enter would run is always on screen, and the count says there is more.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { Palette } from '../../source/components/overlays.js';

const entries = Array.from({ length: 30 }, (_, i) => {
  const n = String(i + 1).padStart(2, '0');
  return { id: `action:cmd-${n}`, label: `Command ${n}` };
});

const frame = (pick: number, list = entries, height?: number) => {
  const { lastFrame, unmount } = render(
    <Palette
      entries={list}
      draft=""
      pick={pick}
      width={80}
      {...(height !== undefined ? { height } : {})}
    />,
  );
  const text = lastFrame() ?? '';
  unmount();
  return text;
};

describe('palette', () => {
  test('the first twelve of thirty, and how many there are', () => {
    const text = frame(0);
    assert.match(text, /Command 01/);
    assert.match(text, /Command 12/);
    assert.doesNotMatch(text, /Command 13/);
    assert.match(text, /1-12 of 30/);
  });

  test('a pick past the twelfth scrolls the window so the picked entry is drawn', () => {
    for (const pick of [12, 20, 29]) {
      const text = frame(pick);
      const picked = `Command ${String(pick + 1).padStart(2, '0')}`;
      assert.match(text, new RegExp(picked), `pick ${pick}: ${text}`);
      assert.match(text, / of 30/);
    }
    assert.match(frame(29), /19-30 of 30/);
  });

  test('twelve or fewer: no count line', () => {
    assert.doesNotMatch(frame(3, entries.slice(0, 12)), / of /);
  });

  test('a short terminal: the box keeps within the body, the pick still drawn', () => {
    const text = frame(20, entries, 10);
    assert.ok(text.split('\n').length <= 10, text);
    assert.match(text, /Command 21/);
    assert.match(text, / of 30/);
  });
});
