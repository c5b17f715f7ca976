// The top bar at every width: tab titles shorten and the phase and clock give way before the
// NATS state is cut.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { TopBar } from '../../source/components/overlays.js';

const bar = (width: number, nats = 'connected') => {
  const { lastFrame, unmount } = render(
    <TopBar screen="fleet" nats={nats} phase="1 dual-publish" width={width} clock="12:34" />,
  );
  const text = lastFrame() ?? '';
  unmount();
  return text;
};

describe('top bar', () => {
  test('wide: every title in full, the phase and the clock', () => {
    assert.match(
      bar(200),
      /4 Plan scorecard +5 Actions +NATS connected +bus phase 1 dual-publish +12:34/,
    );
  });

  test('narrow: short titles, the NATS state whole, the bus phase by name, then none', () => {
    assert.match(bar(90), /4 Score +5 Acts +NATS connected +bus dual-publish$/);
    const text = bar(80);
    assert.match(text, /4 Score +5 Acts +NATS connected$/);
  });

  test('a long NATS state is never cut below 80 columns', () => {
    for (const w of [80, 90, 100, 110, 120]) {
      const text = bar(w, 'reconnecting');
      assert.match(text, /NATS reconnecting/, `${w}: ${text}`);
      assert.doesNotMatch(text, /…/, `${w}: ${text}`);
    }
  });
});
