// The time for "ago" columns and the top bar's clock, without a frame every second: any redraw
// (the stores notify when data changes) reads the time afresh, and a heartbeat redraws only when
// nothing else has for `quietMs`, so ages still move on a screen where nothing happens. A
// once-a-second clock redraw cost a full-screen frame each (bench/: idle), for one changed digit.
// The heartbeat is one timer, pushed back by every redraw: nothing wakes while frames come.
//
// With `keyOf` (a ref, set by the caller in a layout effect: what the screen derives from the
// time, as text: the clock, every age shown, stale marks; a function of the time over what the
// last frame drew), a heartbeat that finds the same key now as at the time the last frame drew
// does not redraw: an idle fleet whose ages all read "0s" is not redrawn every `quietMs` for an
// identical screen.
// A frame comes at least every `maxQuietMs` whatever the key says.
import { useCallback, useEffect, useRef, useSyncExternalStore } from 'react';

// Whole seconds: two reads in the same second are the same snapshot, as useSyncExternalStore needs.
const nowSecond = (): number => Math.floor(Date.now() / 1000) * 1000;

const NO_KEY: { readonly current: undefined } = { current: undefined };

interface Heartbeat {
  redraw: () => void;
  timer?: NodeJS.Timeout;
}

export function useNow(
  quietMs = 5000,
  keyOf?: { readonly current: ((now: number) => string) | undefined },
  maxQuietMs = 60_000,
): number {
  const heartbeat = useRef<Heartbeat>(undefined);
  const key = keyOf ?? NO_KEY;
  // When the last frame was drawn and the time it drew. Its key is worked out only when a
  // heartbeat asks, from the same keyOf (no frame came since, or the heartbeat would have been
  // pushed back), not after every frame: at 200 agents and a full error stream that was ~0.5 ms
  // of each frame (bench/ render profile) for a key a heartbeat reads every few seconds.
  const drawn = useRef<{ now: number; at: number } | undefined>(undefined);
  const now = useSyncExternalStore(
    useCallback(
      (redraw: () => void) => {
        const h: Heartbeat = {
          redraw: () => {
            // Also rescheduled here: a heartbeat that finds nothing to change draws nothing.
            h.timer = setTimeout(h.redraw, quietMs);
            const last = drawn.current;
            const keyOfNow = key.current;
            const same =
              keyOfNow !== undefined &&
              last !== undefined &&
              Date.now() - last.at < maxQuietMs &&
              keyOfNow(nowSecond()) === keyOfNow(last.now);
            if (!same) redraw();
          },
        };
        h.timer = setTimeout(h.redraw, quietMs);
        heartbeat.current = h;
        return () => {
          clearTimeout(h.timer);
          if (heartbeat.current === h) heartbeat.current = undefined;
        };
      },
      [quietMs, maxQuietMs, key],
    ),
    nowSecond,
    nowSecond,
  );
  // After every draw, whatever caused it: what it showed, and the next heartbeat quietMs away.
  useEffect(() => {
    drawn.current = { now, at: Date.now() };
    const h = heartbeat.current;
    if (!h) return;
    clearTimeout(h.timer);
    h.timer = setTimeout(h.redraw, quietMs);
  });
  return now;
}
