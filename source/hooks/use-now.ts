// The time for "ago" columns and the top bar's clock, without a frame every second: any redraw
// (the stores notify when data changes) reads the time afresh, and a heartbeat redraws only when
// nothing else has for `quietMs`, so ages still move on a screen where nothing happens. A
// once-a-second clock redraw cost a full-screen frame each (bench/: idle), for one changed digit.
import { useCallback, useEffect, useRef, useSyncExternalStore } from 'react';

// Whole seconds: two reads in the same second are the same snapshot, as useSyncExternalStore needs.
const nowSecond = (): number => Math.floor(Date.now() / 1000) * 1000;

export function useNow(quietMs = 5000): number {
  const drawnAt = useRef(0);
  useEffect(() => {
    drawnAt.current = Date.now();
  });
  const subscribe = useCallback(
    (redraw: () => void) => {
      const timer = setInterval(
        () => {
          if (Date.now() - drawnAt.current >= quietMs) redraw();
        },
        Math.min(1000, quietMs),
      );
      return () => clearInterval(timer);
    },
    [quietMs],
  );
  return useSyncExternalStore(subscribe, nowSecond, nowSecond);
}
