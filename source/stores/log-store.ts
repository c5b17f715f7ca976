// The console's log view as a store: one watch at a time (the agent whose log is open), its
// items in a ring, and what the stream said about itself. It watches only while the view is
// open: closing the view stops the watch, so the daemon stops reading and sending.
import type { LogItem } from '../core/logs/line.js';
import type { LogSnapshot } from '../core/logs/snapshot.js';
import type { LogWatch, LogWatcher } from '../core/seams/files.js';
import { Store } from './store.js';

export type { LogSnapshot } from '../core/logs/snapshot.js';

/** Items kept; older ones fall off (the view shows a window of them anyway). */
export const LOG_RING = 5000;
/** Lines asked for when the view opens. */
export const LOG_OPEN_LINES = 200;

const IDLE: LogSnapshot = { state: 'idle', items: [], first: 0, total: 0, skipped: 0 };

export class LogStore extends Store<LogSnapshot> {
  private watch: LogWatch | undefined;
  private ring: LogItem[] = [];

  constructor(
    /** Opens a log stream (adapters/log-client.ts over the NATS link); undefined: no NATS now. */
    private readonly watcher: () => LogWatcher | undefined,
    /** Coalesces a flood of batches into at most one frame per this many ms. */
    private readonly notifyMs = 100,
  ) {
    super(IDLE);
  }

  /** Items arrived since the last notification: the ring is copied once per frame, not per batch. */
  private fresh = false;

  private set(next: Partial<LogSnapshot>, now = false): void {
    this.snapshot = { ...this.snapshot, ...next };
    this.changed(this.notifyMs);
    if (now) this.flushChanges();
  }

  protected override rebuild(): LogSnapshot {
    if (!this.fresh) return this.snapshot;
    this.fresh = false;
    return { ...this.snapshot, items: this.ring.slice() };
  }

  /** Shows `machine/agent`'s log: the last lines, then live. Reopening the same key is a no-op. */
  open(key: string): void {
    if (this.snapshot.key === key && this.watch) return;
    this.close();
    const [machine, agent] = key.split('/') as [string, string];
    const watchLogs = this.watcher();
    this.ring = [];
    this.fresh = false;
    if (!watchLogs) {
      this.set(
        {
          ...IDLE,
          key,
          state: 'failed',
          reason: "no NATS connection: logs come from each machine's opsdeck agent over NATS",
        },
        true,
      );
      return;
    }
    this.set({ ...IDLE, key, state: 'opening' }, true);
    const w = watchLogs(
      { machine, agent, lines: LOG_OPEN_LINES, follow: true },
      {
        opened: (info) =>
          this.watch === w && this.set({ state: 'open', source: info.source, rate: info.rate }),
        items: (items) => {
          if (this.watch !== w) return;
          this.ring.push(...items);
          let first = this.snapshot.first;
          if (this.ring.length > LOG_RING) {
            const drop = this.ring.length - LOG_RING;
            this.ring.splice(0, drop);
            first += drop;
          }
          const skipped = items.reduce((n, i) => n + (i.kind === 'skipped' ? i.count : 0), 0);
          this.fresh = true;
          this.set({
            first,
            total: first + this.ring.length,
            skipped: this.snapshot.skipped + skipped,
          });
        },
        end: (reason, failed) => {
          if (this.watch !== w) return;
          this.watch = undefined;
          this.set({ state: failed ? 'failed' : 'ended', reason }, true);
        },
      },
    );
    this.watch = w;
  }

  close(): void {
    const w = this.watch;
    this.watch = undefined;
    w?.stop();
    this.ring = [];
    this.fresh = false;
    if (this.snapshot !== IDLE) this.set(IDLE, true);
  }

  stop(): void {
    this.close();
    this.shutDown();
  }
}
