// heardWhen (source/hooks/use-store.ts): a store whose notifications reach React only when they
// would draw something new, and whose snapshot is always the latest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heardWhen } from '../../source/hooks/use-store.js';
import { Emitter } from '../../source/stores/emitter.js';

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
