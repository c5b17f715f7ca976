// The Clock port: what stores need of time (the wall clock, a monotonic clock for durations,
// timers), so a test can drive a store with a clock it moves by hand (test/support/clock.ts).
// systemClock is the one port with a default: timers are the language's, not I/O.

/** Undoes a timer. */
export type Cancel = () => void;

export interface Clock {
  /** Wall-clock time (ms since the epoch): what is shown and stored. */
  now(): number;
  /** Monotonic time (ms): what durations are measured with. */
  elapsed(): number;
  /**
   * Runs `run` once after `ms`. The timer does not keep the process alive unless `keepAlive`
   * (a store's own schedule is never a reason for a process to stay).
   */
  after(ms: number, run: () => void, keepAlive?: boolean): Cancel;
  /** Runs `run` every `ms` until cancelled; never keeps the process alive. */
  every(ms: number, run: () => void): Cancel;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  after(ms, run, keepAlive = false) {
    const t = setTimeout(run, ms);
    if (!keepAlive) t.unref();
    return () => clearTimeout(t);
  },
  every(ms, run) {
    const t = setInterval(run, ms);
    t.unref();
    return () => clearInterval(t);
  },
};
