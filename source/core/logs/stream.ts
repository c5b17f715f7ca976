// The logs protocol on NATS and the per-watcher rate cap (pure: the agent daemon and the
// console both use it).
//
//   opsdeck.<machine>.logs   request {agent, lines?, follow?, inbox}        -> reply {ok, id, source, ttlMs} | {ok:false, error}
//                            request {renew: id}                            -> reply {ok} | {ok:false, error: "no such watch"}
//                            request {stop: id}                             -> reply {ok}
//   <inbox>                  {id, seq, items: LogItem[], end?: reason}      one message per batch
//
// A watch lives as long as its watcher renews it (every ttlMs/3); past its TTL the daemon stops
// reading the file and sends nothing more. Without `follow` the stream ends after the last lines.
import type { LogItem } from './line.js';

export const logsSubject = (machine: string): string => `opsdeck.${machine}.logs`;

/** How long a watch lives without a renewal. */
export const WATCH_TTL_MS = 15_000;
/** Most lines a watcher may ask for on open. */
export const MAX_TAIL_LINES = 5000;
/** Lines per second each watcher gets at most; the rest are counted and said skipped. */
export const DEFAULT_RATE = 200;
/** Most items in one message on the inbox. */
export const MAX_BATCH_ITEMS = 500;

export interface WatchRequest {
  agent: string;
  lines: number;
  follow: boolean;
  inbox: string;
}

export interface WatchBatch {
  id: string;
  seq: number;
  items: LogItem[];
  /** Set on the last message: why the stream ended (not following, the TTL ran out, an error). */
  end?: string;
}

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export type LogsRequest =
  | { kind: 'watch'; watch: WatchRequest }
  | { kind: 'renew'; id: string }
  | { kind: 'stop'; id: string }
  | { kind: 'bad'; error: string };

/** A logs request as sent; bad ones say what was expected. */
export function parseLogsRequest(body: unknown): LogsRequest {
  if (!isDict(body)) return { kind: 'bad', error: 'expected a JSON object' };
  if (typeof body.renew === 'string') return { kind: 'renew', id: body.renew };
  if (typeof body.stop === 'string') return { kind: 'stop', id: body.stop };
  const { agent, lines, follow, inbox } = body;
  if (typeof agent !== 'string' || !/^[\w.-]{1,128}$/.test(agent))
    return { kind: 'bad', error: 'expected "agent": the agent\'s name as in the fleet config' };
  if (typeof inbox !== 'string' || !/^[\w.$-]{1,200}$/.test(inbox) || inbox.includes('>'))
    return { kind: 'bad', error: 'expected "inbox": the subject the lines go to' };
  const n = lines === undefined ? 100 : lines;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_TAIL_LINES)
    return { kind: 'bad', error: `expected "lines": an integer 0-${MAX_TAIL_LINES}` };
  if (follow !== undefined && typeof follow !== 'boolean')
    return { kind: 'bad', error: 'expected "follow": true or false' };
  return { kind: 'watch', watch: { agent, lines: n, follow: follow === true, inbox } };
}

/**
 * A token bucket per watcher: `rate` lines a second, a burst of one second's worth. Over the
 * cap the newest lines are kept (a log view wants the latest) and the ones before them are
 * counted into a `skipped` item in their place: nothing vanishes without a word.
 */
export class RateCap {
  private tokens: number;
  private last: number;
  skippedTotal = 0;

  /** `burst`: what the first batch may hold (the last N lines asked for on open). */
  constructor(
    private readonly rate: number,
    now: number,
    burst = rate,
  ) {
    this.tokens = Math.max(rate, burst);
    this.last = now;
  }

  /** The items of one batch as the watcher gets them. Notes and markers always pass. */
  take(items: readonly LogItem[], now: number): LogItem[] {
    const refilled = this.tokens + ((now - this.last) / 1000) * this.rate;
    // Refilled up to one second's worth; an opening burst above that is spent, not topped up.
    this.tokens = Math.min(Math.max(this.rate, this.tokens), refilled);
    this.last = now;
    const lines = items.reduce((n, i) => n + (i.kind === 'line' ? 1 : 0), 0);
    const allowed = Math.max(0, Math.floor(this.tokens));
    if (lines <= allowed) {
      this.tokens -= lines;
      return [...items];
    }
    this.tokens -= allowed;
    let drop = lines - allowed;
    this.skippedTotal += drop;
    const out: LogItem[] = [];
    let dropped = 0;
    for (const item of items) {
      if (item.kind === 'line' && drop > 0) {
        drop--;
        dropped++;
        continue;
      }
      if (dropped > 0) {
        out.push({ kind: 'skipped', count: dropped, why: `over ${this.rate} lines/s` });
        dropped = 0;
      }
      out.push(item);
    }
    if (dropped > 0)
      out.push({ kind: 'skipped', count: dropped, why: `over ${this.rate} lines/s` });
    return out;
  }
}
