// The mouse: SGR reports parsed, the wheel and clicks mapped to the pane and row drawn under the
// pointer (from the frame's own layout), and never typed into a filter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { joinMouse, parseMouse } from '../../source/core/ui/mouse.js';
import { countingAction, renderApp, rigFleet } from '../support/app-rig.js';

const click = (x: number, y: number) => `\x1b[<0;${x + 1};${y + 1}M\x1b[<0;${x + 1};${y + 1}m`;
const wheel = (down: boolean, x: number, y: number) => `\x1b[<${down ? 65 : 64};${x + 1};${y + 1}M`;

/** Line and column of the first line holding `text`, in the frame. */
function where(frame: string, text: string | RegExp): { x: number; y: number } {
  const lines = frame.split('\n');
  const y = lines.findIndex((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
  assert.ok(y >= 0, `${String(text)} not on screen:\n${frame}`);
  const x = typeof text === 'string' ? lines[y]!.indexOf(text) : lines[y]!.search(text);
  return { x, y };
}

describe('the mouse', () => {
  test('SGR reports: wheel, left press, the rest recognised and ignored', () => {
    assert.deepEqual(parseMouse('[<64;10;5M'), { kind: 'wheel', delta: -1, x: 9, y: 4 });
    assert.deepEqual(parseMouse('[<65;1;1M'), { kind: 'wheel', delta: 1, x: 0, y: 0 });
    // Sideways (66 left, 67 right, with shift/ctrl bits too) and buttons 8-11 scroll nothing.
    for (const code of [66, 67, 70, 83, 128, 129, 130])
      assert.deepEqual(parseMouse(`[<${code};3;3M`), { kind: 'other' }, `code ${code}`);
    assert.deepEqual(parseMouse('[<0;3;7M'), { kind: 'click', x: 2, y: 6 });
    assert.deepEqual(parseMouse('[<0;3;7m'), { kind: 'other' }, 'a release');
    assert.deepEqual(parseMouse('[<2;3;7M'), { kind: 'other' }, 'the right button');
    assert.deepEqual(parseMouse('[<32;3;7M'), { kind: 'other' }, 'a drag');
    assert.equal(parseMouse('[A'), undefined);
    assert.deepEqual(parseMouse('[<0;123456;7M'), { kind: 'click', x: 123455, y: 6 });
    // Split over two reads: held, then joined; a start that is not completed is dropped.
    assert.deepEqual(joinMouse('', '[<65;20'), { reports: [], held: '[<65;20', keys: '' });
    assert.deepEqual(joinMouse('[<65;20', ';10M'), {
      reports: ['[<65;20;10M'],
      held: '',
      keys: '',
    });
    assert.deepEqual(joinMouse('[<6', 'x'), { reports: [], held: '', keys: 'x' });
    assert.deepEqual(joinMouse('', '[<0;1;1Mab'), { reports: ['[<0;1;1M'], held: '', keys: 'ab' });
    assert.deepEqual(joinMouse('', 'ab'), { reports: [], held: '', keys: 'ab' });
    assert.equal(parseMouse('x'), undefined);
  });

  test('a click selects the row under it in its pane; a second click opens it; the wheel moves it', async () => {
    const rig = renderApp({ columns: 120, rows: 40 });
    try {
      let f = await rig.until('fleet', (t) => t.includes('Charlie'));
      // Charlie, on PC2: the click focuses PC2's pane and selects its row.
      let at = where(f, 'Charlie');
      await rig.type(click(at.x, at.y));
      f = await rig.until('Charlie selected', (t) => /›. .*Charlie/.test(t));
      assert.match(f, /·. .*Alpha/, "MainPC's selection kept, unfocused");
      // The wheel over PC2's pane moves its selection down (to its last row).
      await rig.type(wheel(true, at.x, at.y));
      await rig.until('ResourceManager selected', (t) => /›. .*ResourceManager/.test(t));
      // Bravo on MainPC, clicked twice: selected, then opened.
      f = rig.frame();
      at = where(f, 'Bravo');
      await rig.type(click(at.x, at.y));
      await rig.until('Bravo selected', (t) => /›. .*Bravo/.test(t));
      await rig.type(click(at.x, at.y));
      await rig.until('Bravo opened', (t) => /Bravo on mainpc \(127\.0\.0\.1\)/.test(t));
    } finally {
      rig.unmount();
    }
  });

  test('reports are never typed into a filter; the wheel scrolls an open preview', async () => {
    const { dir } = rigFleet();
    const a = countingAction('long', { lines: 80 });
    const rig = renderApp({
      columns: 100,
      rows: 30,
      auditPath: join(dir, 'audit.jsonl'),
      actions: { entries: [{ id: 'long', title: a.title, what: 'long preview' }], make: () => a },
    });
    try {
      await rig.type('/');
      await rig.type(wheel(true, 5, 5) + click(5, 5) + 'al');
      const f = await rig.until('filter "al"', (t) => /filter: al\b|\/al/.test(t));
      assert.doesNotMatch(f, /\[<|;\d+;\d+M/, 'no report text anywhere');
      // A report split over two reads (a slow link) is joined, never typed.
      await rig.raw('\x1b[<65;20');
      await rig.raw(';10M');
      await rig.type('x');
      const split = await rig.until('filter "alx"', (t) => /alx/.test(t));
      assert.doesNotMatch(split, /\[<|;10M/, 'no report text anywhere');
      await rig.type('\r\x1b5\r');
      await rig.until('preview', (t) => t.includes('line 1 of long'));
      for (let i = 0; i < 4; i++) await rig.type(wheel(true, 10, 20));
      const scrolled = await rig.until('scrolled', (t) => !t.includes('line 1 of long'));
      assert.match(scrolled, /line 1[0-9] of long/);
      assert.equal(a.executed, 0, 'the wheel confirms nothing');
    } finally {
      rig.unmount();
    }
  });
});
