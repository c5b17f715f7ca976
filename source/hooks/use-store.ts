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
