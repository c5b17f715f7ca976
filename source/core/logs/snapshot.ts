// The log view as the log store holds it and screens/logs.tsx draws it. A type only.
import type { LogItem } from './line.js';

export interface LogSnapshot {
  key?: string;
  state: 'idle' | 'opening' | 'open' | 'ended' | 'failed';
  /** Where the daemon reads it from (`file /…/logs/x.log`, `docker logs …`). */
  source?: string;
  rate?: number;
  /** The end or the failure, in words. */
  reason?: string;
  /** Items, oldest first: `items[i]` is item number `first + i`. */
  items: readonly LogItem[];
  first: number;
  /** Items received since the view opened. */
  total: number;
  /** Lines the daemon skipped for this watcher (its rate cap), all told. */
  skipped: number;
}
