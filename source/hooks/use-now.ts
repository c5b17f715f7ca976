// The time for "ago" columns and the top bar's clock, without a frame every second: any redraw
// (the stores notify when data changes) reads the time afresh, and a heartbeat redraws only when
// nothing else has for `quietMs`, so ages still move on a screen where nothing happens. A
// once-a-second clock redraw cost a full-screen frame each (bench/: idle), for one changed digit.
// The heartbeat is one timer, pushed back by every redraw: nothing wakes while frames come.
import { useCallback, useEffect, useRef, useSyncExternalStore } from 'react';

// Whole seconds: two reads in the same second are the same snapshot, as useSyncExternalStore needs.
const nowSecond = (): number => Math.floor(Date.now() / 1000) * 1000;

export function useNow(quietMs = 5000): number {
  const heartbeat = useRef<{ redraw: () => void; timer?: NodeJS.Timeout }>(undefined);
  // After every draw, whatever caused it: the next heartbeat is quietMs away.
  useEffect(() => {
    const h = heartbeat.current;
    if (!h) return;
    clearTimeout(h.timer);
    h.timer = setTimeout(h.redraw, quietMs);
  });
  const subscribe = useCallback(
    (redraw: () => void) => {
      // Also rescheduled here: a heartbeat that finds the same second draws nothing.
      const h: { redraw: () => void; timer?: NodeJS.Timeout } = {
        redraw: () => {
          h.timer = setTimeout(h.redraw, quietMs);
          redraw();
        },
      };
      h.timer = setTimeout(h.redraw, quietMs);
      heartbeat.current = h;
      return () => {
        clearTimeout(h.timer);
        if (heartbeat.current === h) heartbeat.current = undefined;
      };
    },
    [quietMs],
  );
  return useSyncExternalStore(subscribe, nowSecond, nowSecond);
}
