// Flood detection: upstream's ErrorFloodDetector rules (nats_client.py) plus a general rate
// rule per agent and message signature. Fixed windows keep it O(1) per event at 50k/s.
import type { ErrorEvent } from './event.js';
import { textOf } from '../text.js';

export type FloodAction = 'throttle' | 'escalate';

export interface FloodRule {
  name: string;
  /** Matches the event (upstream: substring of message or error type; or a severity). */
  match(event: ErrorEvent): boolean;
  count: number;
  windowMs: number;
  action: FloodAction;
}

const mentions = (needle: string) => (e: ErrorEvent) =>
  e.message.includes(needle) ||
  e.category.includes(needle) ||
  textOf(e.details.error_type).includes(needle);

/** upstream-protocols c2: ConnectionError 10/60 s, TimeoutError 5/30 s, MemoryError 3/300 s, CRITICAL 5/60 s. */
export const UPSTREAM_RULES: readonly FloodRule[] = [
  {
    name: 'ConnectionError',
    match: mentions('ConnectionError'),
    count: 10,
    windowMs: 60_000,
    action: 'throttle',
  },
  {
    name: 'TimeoutError',
    match: mentions('TimeoutError'),
    count: 5,
    windowMs: 30_000,
    action: 'throttle',
  },
  {
    name: 'MemoryError',
    match: mentions('MemoryError'),
    count: 3,
    windowMs: 300_000,
    action: 'escalate',
  },
  {
    name: 'CRITICAL',
    match: (e) => e.severity === 'critical',
    count: 5,
    windowMs: 60_000,
    action: 'escalate',
  },
];

export interface FloodOptions {
  /** General rule: more than `rateCount` events with one signature within `rateWindowMs` is a flood. */
  rateCount: number;
  rateWindowMs: number;
  rules: readonly FloodRule[];
  /**
   * The most memory the rate windows may take (an estimate: keys and window objects); past it
   * the windows that have ended go, then the oldest. Absent: FLOOD_MAX_BYTES.
   */
  maxBytes?: number;
}

/**
 * The windows' memory bound by default: a fleet's hundred agents use a few hundred windows
 * (~100 KB); a flood from 20,000 distinct agents made 100,000 of them (~18 MB of live heap, and
 * V8 sizes the heap at up to four times what is live: bench/rss-errors.ts).
 */
export const FLOOD_MAX_BYTES = 4 * 2 ** 20;

/**
 * What one window costs besides its key's characters: the Window and its boxed start time, the
 * map's slot, and the key's string headers (a cons string and its flat copy). Measured in
 * bench/rss-errors.ts (the heap freed by clearing the windows, over their count: ~200 bytes
 * besides the key).
 */
const WINDOW_BYTES = 200;

export const DEFAULT_FLOOD: FloodOptions = {
  rateCount: 20,
  rateWindowMs: 10_000,
  rules: UPSTREAM_RULES,
};

export interface FloodVerdict {
  /** Key the flood collapses under (agent + signature). */
  key: string;
  flooding: boolean;
  rule?: string;
  action?: FloodAction;
}

interface Window {
  start: number;
  count: number;
}

/** Digits and hex ids vary within one flood ("timeout after 31 ms"): fold them. */
const fold = (message: string): string =>
  message.replace(/0x[0-9a-f]+|[0-9a-f]{8,}|\d+/gi, '#').slice(0, 120);

export const signature = (e: ErrorEvent): string => `${e.category}|${fold(e.message)}`;

/** How many folded messages a detector remembers (a flood repeats a few texts many times). */
const FOLDS = 4096;

export class FloodDetector {
  private readonly windows = new Map<string, Window>();
  /** Estimated bytes of `windows` (WINDOW_BYTES and the key's length each). */
  private bytes = 0;
  private readonly maxBytes: number;
  // Each message's folded form: a flood repeats a few texts, and the regex was a tenth of the
  // ingest's time. Cleared when full, so distinct texts cannot grow it.
  private readonly folds = new Map<string, string>();
  private prunedAt = 0;
  // Rule labels, made once: check() runs for every event of a flood.
  private readonly rateLabel: string;
  private readonly ruleLabels: string[];

  constructor(private readonly options: FloodOptions = DEFAULT_FLOOD) {
    this.maxBytes = options.maxBytes ?? FLOOD_MAX_BYTES;
    this.rateLabel = `rate>${options.rateCount}/${options.rateWindowMs / 1000}s`;
    this.ruleLabels = options.rules.map(
      (rule) => `${rule.name} ${rule.count}/${rule.windowMs / 1000}s`,
    );
  }

  check(event: ErrorEvent, now: number): FloodVerdict {
    let folded = this.folds.get(event.message);
    if (folded === undefined) {
      if (this.folds.size >= FOLDS) this.folds.clear();
      folded = fold(event.message);
      this.folds.set(event.message, folded);
    }
    const key = `${event.machine}|${event.agent}|${event.category}|${folded}`;
    // One object shape for every verdict (no spread): this runs for every event of a flood.
    const verdict: FloodVerdict = { key, flooding: false, rule: undefined, action: undefined };
    if (this.bump(key, now, this.options.rateWindowMs) > this.options.rateCount) {
      verdict.flooding = true;
      verdict.rule = this.rateLabel;
      verdict.action = 'throttle';
    }
    const rules = this.options.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!rule.match(event)) continue;
      const n = this.bump(`${event.agent}:${rule.name}`, now, rule.windowMs);
      // Upstream acts when the count reaches the limit; escalation outranks throttling.
      if (n >= rule.count && (!verdict.flooding || rule.action === 'escalate')) {
        verdict.flooding = true;
        verdict.rule = this.ruleLabels[i];
        verdict.action = rule.action;
      }
    }
    return verdict;
  }

  private bump(key: string, now: number, windowMs: number): number {
    const w = this.windows.get(key);
    if (w === undefined) {
      this.windows.set(key, { start: now, count: 1 });
      this.bytes += WINDOW_BYTES + key.length;
      if (this.bytes > this.maxBytes) this.prune(now);
      return 1;
    }
    if (now - w.start >= windowMs) {
      // A new window under the same key: the same object and map slot, reset.
      w.start = now;
      w.count = 1;
      return 1;
    }
    return ++w.count;
  }

  /** Memory bound by bytes, not entries: windows that have ended go first, then the oldest. */
  private prune(now: number): void {
    const longest = Math.max(
      this.options.rateWindowMs,
      ...this.options.rules.map((r) => r.windowMs),
    );
    // Down to three quarters, so a flood of distinct signatures prunes now and then, not per event.
    const goal = (this.maxBytes * 3) / 4;
    if (now - this.prunedAt > 1000) {
      this.prunedAt = now;
      for (const [k, w] of this.windows)
        if (now - w.start >= longest) {
          this.windows.delete(k);
          this.bytes -= WINDOW_BYTES + k.length;
        }
    }
    // Still over: a flood of distinct signatures. The oldest windows (the map keeps insertion
    // order) are forgotten: their counts start again if they come back.
    for (const k of this.windows.keys()) {
      if (this.bytes <= goal) break;
      this.windows.delete(k);
      this.bytes -= WINDOW_BYTES + k.length;
    }
  }
}
