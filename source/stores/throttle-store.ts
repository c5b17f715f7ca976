// Who set each machine's throttle level, and when: the newest `throttle.set` in the audit log
// (this console's, the CLI's and auto mode's alike), re-read every few seconds.
import { readAudit } from '../adapters/audit.js';
import { Emitter } from './emitter.js';

export interface ThrottleOwner {
  level: number;
  operator: string;
  time: string;
  auto: boolean;
}

export type ThrottleOwners = Readonly<Record<string, ThrottleOwner>>;

export class ThrottleStore {
  private readonly emitter = new Emitter();
  private snapshot: ThrottleOwners = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly path?: string) {}

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): ThrottleOwners => this.snapshot;

  read(): void {
    const owners: Record<string, ThrottleOwner> = {};
    try {
      for (const e of readAudit(this.path).entries) {
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
    } catch {
      return; // an unreadable audit log is not the screen's problem; the CLI reports it
    }
    if (JSON.stringify(owners) !== JSON.stringify(this.snapshot)) {
      this.snapshot = owners;
      this.emitter.emit();
    }
  }

  start(everyMs = 5000): () => void {
    this.read();
    this.timer = setInterval(() => this.read(), everyMs);
    this.timer.unref();
    return () => clearInterval(this.timer);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.emitter.close();
  }
}
