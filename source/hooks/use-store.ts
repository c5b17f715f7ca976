// Every live source is read through this: one subscription, torn down with the component.
import { useSyncExternalStore } from 'react';
import type { Readable } from '../core/readable.js';

export type { Readable };

export const useStore = <T>(store: Readable<T>): T =>
  useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);

/**
 * The store, heard only when `drawnDifferently(lastHeard, next)` says a notification would draw
 * something new. Its snapshot is always the latest: whenever the screen redraws, for whatever
 * reason, it shows the truth; it just does not redraw for changes nobody could see (a probe
 * round of jittering latencies: a full frame of React, layout and Ink for an identical screen).
 */
export function heardWhen<T>(
  store: Readable<T>,
  drawnDifferently: (lastHeard: T, next: T) => boolean,
): Readable<T> {
  return {
    subscribe(listener) {
      let heard = store.getSnapshot();
      return store.subscribe(() => {
        const next = store.getSnapshot();
        if (!drawnDifferently(heard, next)) return;
        heard = next;
        listener();
      });
    },
    getSnapshot: store.getSnapshot,
  };
}

/**
 * The store, heard as `change(lastDrawn, next)` says: at once for `now`; for `later`, once
 * `laterMs` after the first such change, unless a frame drawn meanwhile (for any reason: it
 * reads the latest snapshot) already showed it. What a frame drew is what its render read, so a
 * deferred change that another frame took along costs no frame of its own. A probe round whose
 * latencies jitter past their dead band on a few of a hundred agents is then at most one frame
 * every `laterMs`, not one every round.
 */
export function heardBy<T>(
  store: Readable<T>,
  change: (drawn: T, next: T) => 'none' | 'later' | 'now',
  laterMs: number,
): Readable<T> {
  let drawn = store.getSnapshot();
  return {
    subscribe(listener) {
      let timer: NodeJS.Timeout | undefined;
      const hear = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        listener();
      };
      const off = store.subscribe(() => {
        const how = change(drawn, store.getSnapshot());
        if (how === 'now') hear();
        else if (how === 'later' && !timer) {
          timer = setTimeout(() => {
            timer = undefined;
            if (change(drawn, store.getSnapshot()) !== 'none') listener();
          }, laterMs);
          timer.unref();
        }
      });
      return () => {
        if (timer) clearTimeout(timer);
        off();
      };
    },
    getSnapshot: () => (drawn = store.getSnapshot()),
  };
}
