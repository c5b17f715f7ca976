// The audit log as the console shows it: the newest entries (the Actions screen's history) and
// who set each machine's throttle level (the machine panes). Every writer appends to one file
// (this console, the CLI, auto mode, another operator's console), so the store re-reads it when
// it changes: a stat every few seconds, the file read only when its size or time moved.
import { statSync } from 'node:fs';
import { auditPath, readAudit, type AuditEntry } from '../adapters/audit.js';
import { Emitter } from './emitter.js';

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

export class AuditStore {
  private readonly emitter = new Emitter();
  private snapshot: AuditSnapshot = { entries: [], total: 0, damaged: 0, throttle: {} };
  private timer: NodeJS.Timeout | undefined;
  private seen = '';
  private readonly path: string;

  constructor(path?: string) {
    this.path = path ?? auditPath();
  }

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): AuditSnapshot => this.snapshot;

  /** Re-reads the log if it changed since the last read (or `force`). */
  read(force = false): void {
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      stamp = 'absent';
    }
    if (!force && stamp === this.seen) return;
    this.seen = stamp;
    try {
      const read = readAudit(this.path);
      this.snapshot = {
        entries: read.entries.slice(-KEEP).reverse(),
        total: read.entries.length,
        damaged: read.bad.length,
        throttle: throttleOwners(read.entries),
      };
    } catch (error) {
      this.snapshot = { ...this.snapshot, error: (error as Error).message };
    }
    this.emitter.emit();
  }

  start(everyMs = 3000): () => void {
    this.read(true);
    this.timer = setInterval(() => this.read(), everyMs);
    this.timer.unref();
    return () => clearInterval(this.timer);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.emitter.close();
  }
}
