// heardWhen (source/hooks/use-store.ts): a store whose notifications reach React only when they
// would draw something new, and whose snapshot is always the latest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heardBy, heardWhen } from '../../source/hooks/use-store.js';
import { Emitter } from '../../source/core/emitter.js';

test('heard only when drawn differently; the snapshot is always the latest', () => {
  const emitter = new Emitter();
  let value = { n: 0, noise: 0 };
  const store = {
    subscribe: (l: () => void) => {
      const off = emitter.subscribe(l);
      return () => void off();
    },
    getSnapshot: () => value,
  };
  const quiet = heardWhen(store, (a, b) => a.n !== b.n);
  let heard = 0;
  const stop = quiet.subscribe(() => heard++);
  const set = (next: typeof value) => {
    value = next;
    emitter.emit();
  };
  set({ n: 0, noise: 1 });
  set({ n: 0, noise: 2 });
  assert.equal(heard, 0, 'noise is not heard');
  assert.deepEqual(quiet.getSnapshot(), { n: 0, noise: 2 }, 'but it is what a redraw shows');
  set({ n: 1, noise: 2 });
  assert.equal(heard, 1);
  set({ n: 1, noise: 3 });
  assert.equal(heard, 1, 'compared with what was last heard');
  set({ n: 2, noise: 3 });
  assert.equal(heard, 2);
  stop();
  set({ n: 3, noise: 3 });
  assert.equal(heard, 2, 'unsubscribed');
});

test('heardBy: `now` at once; `later` once, after laterMs, unless a frame took it along', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const emitter = new Emitter();
  let value = { state: 'ok', ms: 3 };
  const store = {
    subscribe: (l: () => void) => {
      const off = emitter.subscribe(l);
      return () => void off();
    },
    getSnapshot: () => value,
  };
  const change = (a: typeof value, b: typeof value) =>
    a.state !== b.state ? 'now' : a.ms !== b.ms ? 'later' : 'none';
  const heardStore = heardBy(store, change, 10_000);
  let heard = 0;
  const stop = heardStore.subscribe(() => {
    heard++;
    heardStore.getSnapshot(); // what a render does: it reads (draws) the latest
  });
  heardStore.getSnapshot(); // the first frame
  const set = (next: typeof value) => {
    value = next;
    emitter.emit();
  };
  set({ state: 'ok', ms: 12 });
  set({ state: 'ok', ms: 15 });
  assert.equal(heard, 0, 'a latency waits');
  t.mock.timers.tick(10_000);
  assert.equal(heard, 1, 'one frame for both, laterMs after the first');
  set({ state: 'ok', ms: 3 });
  set({ state: 'down', ms: 3 });
  assert.equal(heard, 2, 'a state at once, taking the latency along');
  t.mock.timers.tick(10_000);
  assert.equal(heard, 2, 'no frame left for what the last one drew');
  set({ state: 'down', ms: 4 });
  heardStore.getSnapshot(); // another frame (a key) drew it meanwhile
  t.mock.timers.tick(10_000);
  assert.equal(heard, 2, 'nothing left to draw');
  stop();
});
