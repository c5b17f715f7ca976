// The error-bus diagnosis as a store: refreshed while someone listens (the scorecard shows it).
// What it runs is given (source/wiring/doctor.ts, runDoctor over a live data plane).
import type { Diagnosis } from '../core/errorbus/doctor.js';
import type { Cancel, Clock } from '../core/seams/clock.js';
import { Store } from './store.js';

export interface DoctorSnapshot {
  version: number;
  diagnosis?: Diagnosis;
  /** When it was last computed (ms). */
  at?: number;
  error?: string;
}

/**
 * The diagnosis, refreshed every `everyMs` while someone listens (the scorecard shows it): each
 * refresh probes the error-bus ports (a TCP connect each) and sorts the error rows, which an
 * idle console on another screen has no use for. A listener that arrives to an old diagnosis
 * (or none) gets a fresh one at once.
 */
export class DoctorStore extends Store<DoctorSnapshot> {
  private running = false;
  private live: { firstMs: number; everyMs: number; startedAt: number } | undefined;
  private timer: Cancel | undefined;

  constructor(
    private readonly run: () => Promise<Diagnosis>,
    clock?: Clock,
  ) {
    super({ version: 0 }, clock);
  }

  override subscribe = (listener: () => void): (() => void) => {
    const off = this.addListener(listener);
    this.schedule();
    return () => {
      off();
      if (this.listeners === 0) this.unschedule();
    };
  };

  async refresh(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const diagnosis = await this.run();
      this.snapshot = { version: this.snapshot.version + 1, diagnosis, at: this.clock.now() };
    } catch (error) {
      this.snapshot = {
        ...this.snapshot,
        version: this.snapshot.version + 1,
        error: (error as Error).message,
        at: this.clock.now(),
      };
    } finally {
      this.running = false;
    }
    this.notify();
    this.schedule();
  }

  /**
   * Refreshes while listened to: the first run no sooner than `firstMs` after start (let the
   * buses be observed a little), then every `everyMs`. Returns the stop.
   */
  start(firstMs = 3000, everyMs = 15_000): () => void {
    this.live = { firstMs, everyMs, startedAt: this.clock.now() };
    this.schedule();
    return () => {
      this.live = undefined;
      this.unschedule();
      this.shutDown();
    };
  }

  /** One timer, for the next refresh due, and only while a listener is there. */
  private schedule(): void {
    this.unschedule();
    const live = this.live;
    if (!live || this.listeners === 0 || this.running) return;
    const now = this.clock.now();
    const due = Math.max(
      live.startedAt + live.firstMs,
      this.snapshot.at === undefined ? now : this.snapshot.at + live.everyMs,
    );
    this.timer = this.clock.after(Math.max(0, due - now), () => void this.refresh());
  }

  private unschedule(): void {
    this.timer?.();
    this.timer = undefined;
  }
}
