// Flood detection: upstream's ErrorFloodDetector rules (nats_client.py) plus a general rate
// rule per agent and message signature. Fixed windows keep it O(1) per event at 50k/s.
import type { ErrorEvent } from './event.js';
import { textOf } from '../text.js';

export type FloodAction = 'throttle' | 'escalate';

export interface FloodRule {
  name: string;
  /** Matches the event (upstream: substring of message or error type; or a severity). */
  match(event: ErrorEvent): boolean;
  /**
   * When `match` is "message, category or details.error_type contains this": the detector then
   * remembers each text's answer instead of searching every event (a flood repeats its texts).
   */
  mentions?: string;
  count: number;
  windowMs: number;
  action: FloodAction;
}

const mentions = (needle: string) => ({
  match: (e: ErrorEvent) =>
    e.message.includes(needle) ||
    e.category.includes(needle) ||
    textOf(e.details.error_type).includes(needle),
  mentions: needle,
});

/** upstream-protocols c2: ConnectionError 10/60 s, TimeoutError 5/30 s, MemoryError 3/300 s, CRITICAL 5/60 s. */
export const UPSTREAM_RULES: readonly FloodRule[] = [
  {
    name: 'ConnectionError',
    ...mentions('ConnectionError'),
    count: 10,
    windowMs: 60_000,
    action: 'throttle',
  },
  {
    name: 'TimeoutError',
    ...mentions('TimeoutError'),
    count: 5,
    windowMs: 30_000,
    action: 'throttle',
  },
  {
    name: 'MemoryError',
    ...mentions('MemoryError'),
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

/** How many texts a detector remembers (a flood repeats a few texts many times). */
const FOLDS = 4096;

/** What a detector remembers of a message text: its folded form, the `mentions` rules it names. */
interface Folded {
  folded: string;
  /** Bit i: rule i's `mentions` needle is in the text. */
  mentions: number;
  /** The rate keys made with this text so far, by agent (see RateKey). */
  keys: Map<string, RateKey[]> | undefined;
}

/**
 * A rate window's key (`machine|agent|category|folded`) kept once made: building it per event
 * and hashing the new ~100-character string was the costliest line of the ingest's flood check
 * (bench/ingest-zmq.ts); the kept one has its hash.
 */
interface RateKey {
  machine: string;
  category: string;
  key: string;
}

/**
 * How many rate keys a detector keeps made, and for how many agents it keeps rule keys (a fleet
 * has about a hundred); past them, other keys are made per event (rate keys are kept again once
 * the folds, which hold them, are cleared). ~1 MB at most.
 */
const RATE_KEYS = 4096;
const RULE_AGENTS = 1024;

export class FloodDetector {
  private readonly windows = new Map<string, Window>();
  /** Estimated bytes of `windows` (WINDOW_BYTES and the key's length each). */
  private bytes = 0;
  private readonly maxBytes: number;
  // Each message's folded form: a flood repeats a few texts, and the regex was a tenth of the
  // ingest's time. Cleared when full, so distinct texts cannot grow it.
  private readonly folds = new Map<string, Folded>();
  /** The `mentions` bits of categories and error types seen (cleared when full, as `folds`). */
  private readonly texts = new Map<string, number>();
  /** Bit i: rule i is a `mentions` rule (the others' match() runs per event). */
  private readonly mentionRules: number;
  /** Rate keys kept in `folds` (RateKey): at most RATE_KEYS, forgotten when `folds` is cleared. */
  private rateKeys = 0;
  /** Each rule's window key per agent (`agent:rule`), made once, for at most RULE_AGENTS agents. */
  private readonly ruleKeys = new Map<string, string[]>();
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
    let bits = 0;
    options.rules.forEach((rule, i) => {
      if (rule.mentions !== undefined && i < 31) bits |= 1 << i;
    });
    this.mentionRules = bits;
  }

  /** Which `mentions` rules' needles are in `text`. */
  private mentionsIn(text: string): number {
    let bits = 0;
    const rules = this.options.rules;
    for (let i = 0; i < rules.length; i++)
      if (this.mentionRules & (1 << i) && text.includes(rules[i]!.mentions!)) bits |= 1 << i;
    return bits;
  }

  private textBits(text: string): number {
    let bits = this.texts.get(text);
    if (bits === undefined) {
      if (this.texts.size >= FOLDS) this.texts.clear();
      bits = this.mentionsIn(text);
      this.texts.set(text, bits);
    }
    return bits;
  }

  /** What is remembered of a message text, made now if it is new. */
  private folded(message: string): Folded {
    let known = this.folds.get(message);
    if (known === undefined) {
      if (this.folds.size >= FOLDS) {
        this.folds.clear();
        this.rateKeys = 0;
      }
      known = { folded: fold(message), mentions: this.mentionsIn(message), keys: undefined };
      this.folds.set(message, known);
    }
    return known;
  }

  /** The rate window's key of this event, the one made before for the same four texts if any. */
  private rateKey(event: ErrorEvent, known: Folded): string {
    const { machine, agent, category } = event;
    const made = known.keys?.get(agent);
    if (made !== undefined)
      for (let i = 0; i < made.length; i++) {
        const k = made[i]!;
        if (k.machine === machine && k.category === category) return k.key;
      }
    const key = `${machine}|${agent}|${category}|${known.folded}`;
    // Full, it keeps what it has until the folds are cleared: forgetting and making keys again
    // whenever it filled cost a flood of distinct agents ~2 us an event (kept keys outliving the
    // young generation, bench/rss-errors.ts), where keeping none costs one lookup more.
    if (this.rateKeys < RATE_KEYS) {
      this.rateKeys++;
      const k: RateKey = { machine, category, key };
      if (made === undefined) (known.keys ??= new Map()).set(agent, [k]);
      else made.push(k);
    }
    return key;
  }

  /** `agent:rule`, rule i's window key for this agent. */
  private ruleKey(agent: string, i: number): string {
    let keys = this.ruleKeys.get(agent);
    if (keys === undefined) {
      // Full, as rateKey's: what it has is kept, and other agents' keys are made per event.
      if (this.ruleKeys.size >= RULE_AGENTS) return `${agent}:${this.options.rules[i]!.name}`;
      this.ruleKeys.set(agent, (keys = []));
    }
    return (keys[i] ??= `${agent}:${this.options.rules[i]!.name}`);
  }

  check(event: ErrorEvent, now: number): FloodVerdict {
    const known = this.folded(event.message);
    const key = this.rateKey(event, known);
    // The `mentions` rules this event matches, from what is remembered of its three texts.
    let mentioned = 0;
    if (this.mentionRules !== 0) {
      const type = event.details.error_type;
      mentioned =
        known.mentions |
        this.textBits(event.category) |
        (typeof type === 'string' ? this.textBits(type) : this.mentionsIn(textOf(type)));
    }
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
      if (this.mentionRules & (1 << i) ? !(mentioned & (1 << i)) : !rule.match(event)) continue;
      const n = this.bump(this.ruleKey(event.agent, i), now, rule.windowMs);
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
