// The audit log as the console shows it: the newest entries (the Actions screen's history) and
// who set each machine's throttle level (the machine panes). Every writer appends to one file
// (this console, the CLI, auto mode, another operator's console), so the store re-reads it when
// it changes: a stat every few seconds, the file read only when its size or time moved.
import type { AuditEntry } from '../core/audit.js';
import type { Cancel, Clock } from '../core/seams/clock.js';
import type { AuditLog } from '../core/seams/files.js';
import { Store } from './store.js';

export interface ThrottleOwner {
  level: number;
  operator: string;
  time: string;
  auto: boolean;
}

export type ThrottleOwners = Readonly<Record<string, ThrottleOwner>>;

export interface AuditSnapshot {
  /** Newest first, at most KEEP. */
  entries: readonly AuditEntry[];
  total: number;
  /** Lines that do not parse (`opsdeck audit` names them). */
  damaged: number;
  throttle: ThrottleOwners;
  /** Why the log could not be read, if it could not. */
  error?: string;
}

const KEEP = 200;

/** The newest successful `throttle.*` with a level, per machine. */
export function throttleOwners(entries: readonly AuditEntry[]): ThrottleOwners {
  const owners: Record<string, ThrottleOwner> = {};
  for (const e of entries) {
    if (e.outcome !== 'ok' || !e.action.startsWith('throttle.')) continue;
    const level = typeof e.args.level === 'number' ? e.args.level : undefined;
    if (level === undefined) continue;
    owners[e.machine] = {
      level,
      operator: e.operator,
      time: e.time,
      auto: e.action.includes('auto') || typeof e.args.reason === 'string',
    };
  }
  return owners;
}

export class AuditStore extends Store<AuditSnapshot> {
  private seen = '';

  constructor(
    private readonly log: Pick<AuditLog, 'stamp' | 'read'>,
    clock?: Clock,
  ) {
    super({ entries: [], total: 0, damaged: 0, throttle: {} }, clock);
  }

  /** Re-reads the log if it changed since the last read (or `force`). */
  read(force = false): void {
    const stamp = this.log.stamp();
    if (!force && stamp === this.seen) return;
    this.seen = stamp;
    try {
      const read = this.log.read();
      this.publish({
        entries: read.entries.slice(-KEEP).reverse(),
        total: read.entries.length,
        damaged: read.bad.length,
        throttle: throttleOwners(read.entries),
      });
    } catch (error) {
      this.publish({ ...this.snapshot, error: (error as Error).message });
    }
  }

  start(everyMs = 3000): Cancel {
    this.read(true);
    return this.every(everyMs, () => this.read());
  }

  close(): void {
    this.shutDown();
  }
}
