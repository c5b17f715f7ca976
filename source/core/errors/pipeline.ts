// Decoded events -> cross-bus dedup -> flood collapse -> bounded ring of rows, with every
// event accounted for in a counter. Time is passed in, so tests replay exact timelines.
import type { Decoded } from './decode.js';
import type { Bus, ErrorEvent } from './event.js';
import { DEFAULT_FLOOD, FloodDetector, type FloodAction, type FloodOptions } from './flood.js';
import { Ring } from './ring.js';

export type RowBus = Bus | 'both';

export interface ErrorRow {
  /** Monotonic row id (stable React key). */
  id: number;
  /** The first copy that arrived. */
  event: ErrorEvent;
  bus: RowBus;
  /** 1, or how many events a flood row stands for. */
  count: number;
  flood?: { rule: string; action: FloodAction; since: number };
  lastAt: number;
  /** Bumped on every change, so memoised rows know to re-render. */
  rev: number;
}

export interface ErrorCounters {
  received: Record<Bus, number>;
  /** Rows created. */
  shown: number;
  /** Events folded into a flood row instead of a row of their own. */
  collapsed: number;
  /** Cross-bus twins matched (the same error seen on ZMQ and on NATS). */
  matched: number;
  /** Same-bus repeats of one error (nats_error_bus publishes to errors.events and errors.agents.<a>). */
  copies: number;
  /** Errors whose dedup window closed having been seen on one bus only. */
  zmqOnly: number;
  natsOnly: number;
  malformed: number;
  /** Events lost before the pipeline (a full queue); reported by the feeding store. */
  dropped: number;
  /** Old rows pushed out of the ring by new ones. */
  evicted: number;
}

export interface PublisherStats {
  machine: string;
  agent: string;
  zmq: number;
  nats: number;
  lastZmq?: number;
  lastNats?: number;
}

export interface MalformedSample {
  bus: Bus;
  machine: string;
  reason: string;
  sample: string;
  at: number;
}

export interface PipelineOptions {
  capacity: number;
  /** How long a copy waits for its twin on the other bus. */
  dedupWindowMs: number;
  flood: FloodOptions;
}

const MAX_PUBLISHERS = 10_000;

export const DEFAULT_PIPELINE: PipelineOptions = { capacity: 5000, dedupWindowMs: 5000, flood: DEFAULT_FLOOD };

interface Entry {
  row: ErrorRow;
  buses: Set<Bus>;
  at: number;
  keys: string[];
}

export const newCounters = (): ErrorCounters => ({
  received: { zmq: 0, nats: 0 },
  shown: 0,
  collapsed: 0,
  matched: 0,
  copies: 0,
  zmqOnly: 0,
  natsOnly: 0,
  malformed: 0,
  dropped: 0,
  evicted: 0,
});

export class ErrorPipeline {
  readonly counters = newCounters();
  readonly rows: Ring<ErrorRow>;
  readonly malformedSamples = new Ring<MalformedSample>(20);
  readonly publishers = new Map<string, PublisherStats>();
  private readonly flood: FloodDetector;
  private readonly window = new Map<string, Entry>();
  private readonly order: Entry[] = [];
  private orderHead = 0;
  private readonly floodRows = new Map<string, ErrorRow>();
  private nextId = 1;
  private readonly options: PipelineOptions;

  constructor(options: Partial<PipelineOptions> = {}) {
    this.options = { ...DEFAULT_PIPELINE, ...options };
    this.rows = new Ring(this.options.capacity);
    this.flood = new FloodDetector(this.options.flood);
  }

  /** Feeds one decoder verdict; returns whether anything visible changed. */
  ingest(decoded: Decoded, bus: Bus, machine: string, now: number): boolean {
    if (!decoded.ok) {
      this.counters.malformed++;
      this.malformedSamples.push({ bus, machine, reason: decoded.reason, sample: decoded.sample, at: now });
      return true;
    }
    return this.add(decoded.event, now);
  }

  add(event: ErrorEvent, now: number): boolean {
    const bus = event.bus;
    this.counters.received[bus]++;
    this.notePublisher(event, now);
    this.expire(now);

    const fp = `fp:${event.agent}|${event.message}`;
    const idKeys = event.ids.map((id) => `id:${id}`);
    // An event with ids matches by id only; an id-less one (variant B, C) falls back to content.
    const lookup = idKeys.length > 0 ? idKeys : [fp];
    let entry: Entry | undefined;
    for (const key of lookup) {
      entry = this.window.get(key);
      if (entry) break;
    }
    if (entry && !entry.buses.has(bus)) {
      entry.buses.add(bus);
      this.counters.matched++;
      entry.row.bus = 'both';
      entry.row.rev++;
      return true;
    }
    if (entry && idKeys.length > 0) {
      this.counters.copies++; // the same id again on the same bus
      return false;
    }
    // No id and seen on this bus already: the same text again is a new occurrence (floods).

    const verdict = this.flood.check(event, now);
    let row: ErrorRow | undefined;
    if (verdict.flooding) {
      row = this.floodRows.get(verdict.key);
      if (row && now - row.lastAt > this.options.flood.rateWindowMs) row = undefined; // the old flood ended
      if (row) {
        row.count++;
        row.lastAt = now;
        row.rev++;
        this.counters.collapsed++;
      }
    }
    if (!row) {
      row = { id: this.nextId++, event, bus, count: 1, lastAt: now, rev: 0 };
      if (verdict.flooding) {
        row.flood = { rule: verdict.rule ?? 'rate', action: verdict.action ?? 'throttle', since: now };
        this.floodRows.set(verdict.key, row);
      }
      this.counters.shown++;
      const evicted = this.rows.push(row);
      if (evicted) {
        this.counters.evicted++;
        for (const [k, r] of this.floodRows) if (r === evicted) this.floodRows.delete(k);
      }
    }
    const keys = [...idKeys, fp];
    const fresh: Entry = { row, buses: new Set([bus]), at: now, keys };
    for (const key of keys) this.window.set(key, fresh);
    this.order.push(fresh);
    return true;
  }

  /** The feeding store lost events (queue full): count them so the screen says so. */
  countDropped(n: number): void {
    this.counters.dropped += n;
  }

  private expire(now: number): void {
    const cutoff = now - this.options.dedupWindowMs;
    while (this.orderHead < this.order.length && this.order[this.orderHead]!.at < cutoff) {
      const old = this.order[this.orderHead++]!;
      if (old.buses.size === 1) {
        if (old.buses.has('zmq')) this.counters.zmqOnly++;
        else this.counters.natsOnly++;
      }
      for (const key of old.keys) if (this.window.get(key) === old) this.window.delete(key);
    }
    // Compact the queue now and then instead of shifting on every expiry.
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
  }

  private notePublisher(event: ErrorEvent, now: number): void {
    const key = `${event.machine}|${event.agent}`;
    let stats = this.publishers.get(key);
    if (!stats) {
      // A flood of invented agent names must not grow memory without bound.
      if (this.publishers.size >= MAX_PUBLISHERS) return;
      stats = { machine: event.machine, agent: event.agent, zmq: 0, nats: 0 };
      this.publishers.set(key, stats);
    }
    if (event.bus === 'zmq') {
      stats.zmq++;
      stats.lastZmq = now;
    } else {
      stats.nats++;
      stats.lastNats = now;
    }
  }
}
