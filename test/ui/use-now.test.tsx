// useNow (source/hooks/use-now.ts): a screen where nothing happens still moves its clock, by a
// heartbeat that waits for `quietMs` without a redraw; unmounting stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Text } from 'ink';
import { render } from 'ink-testing-library';
import { useNow } from '../../source/hooks/use-now.js';

function Clock({ quietMs }: { quietMs: number }) {
  return <Text>{`now ${useNow(quietMs)}`}</Text>;
}

test('the heartbeat redraws a quiet screen with the time, and stops when unmounted', async () => {
  const app = render(<Clock quietMs={1100} />);
  const first = app.lastFrame();
  const end = Date.now() + 20_000;
  while (app.lastFrame() === first && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.notEqual(app.lastFrame(), first, 'no heartbeat redraw within 20 s');
  const second = Number(/now (\d+)/.exec(app.lastFrame()!)![1]);
  assert.ok(second > Number(/now (\d+)/.exec(first!)![1]));
  app.unmount();
});

test('with a key, a heartbeat that finds the same key draws nothing; a key that moves with the time draws', async () => {
  let renders = 0;
  // What the screen derives from the time: an age that steps 2 s from now (useNow's time is in
  // whole seconds), as the App's ages and stale marks do.
  const stepAt = Math.floor(Date.now() / 1000) * 1000 + 2000;
  const key = { current: (t: number) => (t >= stepAt ? 'b' : 'a') };
  function Ages() {
    renders++;
    return <Text>{`now ${useNow(200, key)}`}</Text>;
  }
  const app = render(<Ages />);
  const wait = async (ok: () => boolean) => {
    const end = Date.now() + 20_000;
    while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  };
  // Several heartbeats (every 200 ms) with the same key: no redraw.
  const started = renders;
  await new Promise((r) => setTimeout(r, Math.max(0, stepAt - Date.now() - 300)));
  assert.equal(renders, started, 'the same key: no redraw');
  await wait(() => renders > started);
  assert.ok(renders > started, 'a key moved by the time redraws');
  assert.ok(Date.now() >= stepAt, 'not before the key moved');
  app.unmount();
});
