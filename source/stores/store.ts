// The one store base: subscribe/getSnapshot for useSyncExternalStore, a snapshot published now
// or coalesced (at most one notification per wait, however many changes: docs/architecture.md,
// Practices 4), and the timers and subscriptions the store owns, all undone by one shutDown().
// Time comes from a Clock port, so a test can drive a store by hand.
import { Emitter } from '../core/emitter.js';
import type { Readable } from '../core/readable.js';
import { systemClock, type Cancel, type Clock } from '../core/seams/clock.js';

export abstract class Store<S> implements Readable<S> {
  protected snapshot: S;
  private readonly emitter = new Emitter();
  private readonly owned = new Set<Cancel>();
  /** A change since the last notification. */
  private dirty = false;
  private pending: Cancel | undefined;
  private down = false;

  constructor(
    initial: S,
    protected readonly clock: Clock = systemClock,
  ) {
    this.snapshot = initial;
  }

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): S => this.snapshot;

  /** The bare subscription (a store that wraps subscribe() to know who listens calls it). */
  protected addListener(listener: () => void): () => void {
    return this.emitter.subscribe(listener);
  }

  /** How many listen now (a store that works only while watched asks). */
  protected get listeners(): number {
    return this.emitter.size;
  }

  protected get isDown(): boolean {
    return this.down;
  }

  /** Replaces the snapshot and tells the listeners at once. */
  protected publish(next: S): void {
    this.snapshot = next;
    this.emitter.emit();
  }

  /** Tells the listeners at once, the snapshot as it is. */
  protected notify(): void {
    this.emitter.emit();
  }

  /**
   * Something changed: the snapshot is rebuilt and the listeners told once, `waitMs` after the
   * first change since the last notification (a flood of changes is one notification).
   */
  protected changed(waitMs: number): void {
    this.dirty = true;
    if (this.pending || this.down) return;
    this.pending = this.clock.after(waitMs, () => {
      this.pending = undefined;
      this.flushChanges();
    });
  }

  /** Rebuilds and notifies now if anything changed since the last notification. */
  protected flushChanges(): void {
    if (this.pending) {
      this.pending();
      this.pending = undefined;
    }
    if (this.down || !this.dirty) return;
    this.dirty = false;
    this.snapshot = this.rebuild();
    this.emitter.emit();
  }

  /** Forgets a pending change (a snapshot built by hand already holds it). */
  protected settle(): void {
    this.dirty = false;
  }

  /** The snapshot a coalesced change publishes; stores that use changed() override it. */
  protected rebuild(): S {
    return this.snapshot;
  }

  /** Keeps `cancel` to run at shutDown; the returned inverse runs it once, now, instead. */
  protected own(cancel: Cancel): Cancel {
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      this.owned.delete(once);
      cancel();
    };
    this.owned.add(once);
    return once;
  }

  /** Runs `run` every `everyMs` until the returned inverse or shutDown. */
  protected every(everyMs: number, run: () => void): Cancel {
    return this.own(this.clock.every(everyMs, run));
  }

  /** Stops everything the store owns and lets its listeners go; nothing is told after this. */
  protected shutDown(): void {
    this.down = true;
    if (this.pending) this.pending();
    this.pending = undefined;
    for (const cancel of [...this.owned]) cancel();
    this.emitter.close();
  }

  /** Undoes shutDown for a store that can be started again (the health sources). */
  protected wakeUp(): void {
    this.down = false;
  }
}
