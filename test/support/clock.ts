// A Clock (core/seams/clock.ts) moved by hand: a test drives a store's timers and times with it,
// so "at most once per notifyMs" is checked by counting, not by sleeping.
import type { Cancel, Clock } from '../../source/core/seams/clock.js';

interface Timer {
  at: number;
  run: () => void;
  every?: number;
}

export class ManualClock implements Clock {
  private timers = new Set<Timer>();

  constructor(private wall = 1_000_000) {}

  now(): number {
    return this.wall;
  }

  elapsed(): number {
    return this.wall;
  }

  after(ms: number, run: () => void): Cancel {
    const t: Timer = { at: this.wall + ms, run };
    this.timers.add(t);
    return () => this.timers.delete(t);
  }

  every(ms: number, run: () => void): Cancel {
    const t: Timer = { at: this.wall + ms, run, every: ms };
    this.timers.add(t);
    return () => this.timers.delete(t);
  }

  /** Timers waiting to run. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time on by `ms`, running every timer that falls due, in time order, each at its time. */
  advance(ms: number): void {
    const end = this.wall + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) if (t.at <= end && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.wall = next.at;
      if (next.every) next.at += next.every;
      else this.timers.delete(next);
      next.run();
    }
    this.wall = end;
  }
}
