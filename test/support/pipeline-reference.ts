// The error pipeline as it was before the typed-array dedup window (main at 724d653), kept
// unchanged but for its imports and its class name as the reference the differential test
// (test/core/errors-window.test.ts) holds the pipeline to: same return values, counters and rows.
import type { Decoded } from '../../source/core/errors/decode.js';
import type { Bus, ErrorEvent } from '../../source/core/errors/event.js';
import {
  DEFAULT_FLOOD,
  FloodDetector,
  type FloodAction,
  type FloodOptions,
} from '../../source/core/errors/flood.js';
import { Ring } from '../../source/core/errors/ring.js';

/**
 * `zmq->nats`: the error reached NATS only through `opsdeck agent --bridge` (its ZMQ copy may or
 * may not have been seen too); `both`: a native NATS copy and a ZMQ (or bridged) one.
 */
export type RowBus = Bus | 'both' | 'zmq->nats';

/** Where a copy came from: a bridged copy arrives on NATS but stands for the ZMQ one. */
type Source = Bus | 'bridge';

// An entry's sources as bits of a number: every event makes an entry, and a Set per event was
// a measurable share of the ingest's allocations (bench/ingest-zmq.ts).
const ZMQ = 1;
const NATS = 2;
const BRIDGE = 4;
const BITS: Record<Source, number> = { zmq: ZMQ, nats: NATS, bridge: BRIDGE };
const bitOf = (e: ErrorEvent): number => (e.bridged ? BRIDGE : e.bus === 'zmq' ? ZMQ : NATS);

function busOfBits(bits: number): RowBus {
  if (bits & NATS) return bits & (ZMQ | BRIDGE) ? 'both' : 'nats';
  return bits & BRIDGE ? 'zmq->nats' : 'zmq';
}

export function rowBusOf(sources: ReadonlySet<Source>): RowBus {
  let bits = 0;
  for (const s of sources) bits |= BITS[s];
  return busOfBits(bits);
}

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
  /** A gap row: no connection to the bus from `from` until `to` (absent: still none). */
  gap?: { from: number; to?: number };
}

export interface ErrorCounters {
  /** Per bus; a bridged copy counts as received on nats (and in `bridged`). */
  received: Record<Bus, number>;
  /** Copies that came through `opsdeck agent --bridge` (zmq->nats). */
  bridged: number;
  /** Of those, frames that were old when the bridge got them (a PUB's queue), not fresh errors. */
  backlog: number;
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
  /** Times the connection to a bus was lost (each also a row in the stream). */
  gaps: number;
  /**
   * Dedup entries pushed out before their window closed, the window being full
   * (dedupMaxEntries): a twin of one arriving later is not matched, and shows as a row of its own.
   */
  dedupEvicted: number;
}

/**
 * Where every message that reached the console went. The identity the screen shows:
 * in = rows + collapsed + twins + copies + malformed + dropped, where in = received + malformed
 * + dropped (a malformed frame is never "received", a dropped one never decoded).
 */
export function accounting(c: ErrorCounters): {
  in: number;
  parts: ReadonlyArray<readonly [string, number]>;
} {
  const parts = [
    ['rows', c.shown],
    ['collapsed', c.collapsed],
    ['twins', c.matched],
    ['copies', c.copies],
    ['malformed', c.malformed],
    ['dropped', c.dropped],
  ] as const;
  return { in: c.received.zmq + c.received.nats + c.malformed + c.dropped, parts };
}

/** When a row was last news: a flood row when it last grew, a gap when it began, else when made. */
export const seenAt = (r: ErrorRow): number => (r.gap ? r.gap.from : r.lastAt);

/** Rows newest first by when they were last seen (a flood that is still going stays on top). */
export function byLastSeen(rows: ErrorRow[]): ErrorRow[] {
  return rows.sort((a, b) => seenAt(b) - seenAt(a)); // stable: ties keep arrival order
}

export interface PublisherStats {
  machine: string;
  agent: string;
  zmq: number;
  /** Native NATS publishes only (what phase 3 needs). */
  nats: number;
  /** Errors of this agent the bridge carried from ZMQ into NATS (absent: none). */
  bridged?: number;
  lastZmq?: number;
  lastNats?: number;
  lastBridged?: number;
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
  /**
   * The most entries the dedup window holds (the oldest go first): its memory would otherwise
   * follow the ingest rate, 500,000 entries in a 5 s window at 100k/s.
   */
  dedupMaxEntries: number;
  /**
   * The most memory the dedup window may take (an estimate: entries, their ids, the maps' slots);
   * past it the oldest entries go, as past dedupMaxEntries. Entries bound the count, this the
   * bytes: 100,000 entries of long ids weigh several times 100,000 of short ones.
   */
  dedupMaxBytes: number;
  flood: FloodOptions;
}

/** The most publishers counted (per machine and agent): a fleet has tens, a test 20,000. */
const MAX_PUBLISHERS = 20_000;

export const DEFAULT_PIPELINE: PipelineOptions = {
  capacity: 5000,
  dedupWindowMs: 5000,
  dedupMaxEntries: 200_000,
  dedupMaxBytes: 24 * 2 ** 20,
  flood: DEFAULT_FLOOD,
};

/**
 * What a dedup entry costs besides its ids' characters: the Entry and its boxed time, its ids
 * array, its slots in byContent and the order queue, its share of byContent's per-agent maps;
 * each id adds its string's header and its slot in byId. Measured in bench/rss-errors.ts (the
 * heap freed by clearing the window: ~375 bytes an entry with one 20-character id).
 */
const ENTRY_BYTES = 300;
const ID_BYTES = 40;
const entryBytes = (ids: readonly string[]): number => {
  let n = ENTRY_BYTES;
  for (let i = 0; i < ids.length; i++) n += ID_BYTES + ids[i]!.length;
  return n;
};

interface Entry {
  /**
   * Its row's id, not the row: at 10k/s the window (5 s) outlives the ring (5,000 rows) tenfold,
   * and entries holding their rows kept 50,000 events alive instead of 5,000.
   */
  rowId: number;
  /** Sources seen (bits). */
  buses: number;
  at: number;
  /**
   * The ids it is filed under (none for an id-less event; an id-less entry learns the ids of
   * the twin that matched it on content), and its content key.
   */
  ids: readonly string[];
  agent: string;
  message: string;
}

const NO_IDS: readonly string[] = [];

/** How many distinct agent names and messages the window shares one copy of. */
const SHARED_TEXTS = 8192;

export const newCounters = (): ErrorCounters => ({
  received: { zmq: 0, nats: 0 },
  bridged: 0,
  backlog: 0,
  shown: 0,
  collapsed: 0,
  matched: 0,
  copies: 0,
  zmqOnly: 0,
  natsOnly: 0,
  malformed: 0,
  dropped: 0,
  evicted: 0,
  gaps: 0,
  dedupEvicted: 0,
});

export class ReferencePipeline {
  readonly counters = newCounters();
  readonly rows: Ring<ErrorRow>;
  readonly malformedSamples = new Ring<MalformedSample>(20);
  readonly publishers = new Map<string, PublisherStats>();
  private readonly flood: FloodDetector;
  // The dedup window, by id and by content (agent, then message). Two maps instead of one keyed
  // by `id:…` / `fp:agent|message` strings: building and hashing those was per-event work.
  private readonly byId = new Map<string, Entry>();
  // An agent with one text in the window has its entry here itself, not a map of one: 20,000
  // agents' maps of one were a seventh of the pipeline's memory (bench/rss-errors.ts).
  private readonly byContent = new Map<string, Entry | Map<string, Entry>>();
  /**
   * The window's entries oldest first, from orderHead on; the slots before it are emptied as
   * their entries leave (compacting waits for thousands of them, and a kept reference kept
   * each retired entry and its ids alive: half the window's memory in bench/rss-errors.ts).
   */
  private readonly order: (Entry | undefined)[] = [];
  private orderHead = 0;
  /** Estimated bytes of the entries in the window (entryBytes each). */
  private dedupBytes = 0;
  /**
   * By source bit: how many id-less entries in the window have not been seen from it. An event
   * with ids looks for an id-less twin on content only when one could match it (none, on a
   * single bus): the look was two map reads and a cold entry per event (bench/ingest-zmq.ts).
   */
  private readonly idlessLacking = [0, 0, 0, 0, 0];
  private readonly floodRows = new Map<string, ErrorRow>();
  /** The rows in the ring, by id: what a twin arriving later updates, if still shown. */
  private readonly shownRows = new Map<number, ErrorRow>();
  /** Each flood row's key, so evicting a row finds its entry without scanning every flood. */
  private readonly floodKeys = new Map<ErrorRow, string>();
  /** `publishers` by machine, then agent: finding one without building its `machine|agent` key. */
  private readonly publisherOf = new Map<string, Map<string, PublisherStats>>();
  /**
   * One copy of each recent text: every entry lives for the dedup window (500,000 of them at
   * 100k/s), and a flood repeats a few texts, so entries share them instead of each keeping the
   * copy its frame was parsed into. Cleared when full.
   */
  private readonly texts = new Map<string, string>();
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
      this.malformedSamples.push({
        bus,
        machine,
        reason: decoded.reason,
        sample: decoded.sample,
        at: now,
      });
      return true;
    }
    return this.add(decoded.event, now);
  }

  // Long: the per-message hot path (dedup, flood, ring, counters) as one straight run: every
  // message of a 20k/s flood passes here, and the bench's ingest profile is read against it.
  add(event: ErrorEvent, now: number): boolean {
    const bit = bitOf(event);
    this.counters.received[event.bus]++;
    if (event.bridged) {
      this.counters.bridged++;
      if (event.bridged.backlogMs !== undefined) this.counters.backlog++;
    }
    this.notePublisher(event, now);
    this.expire(now);

    // A bridged copy of an id-less frame carries an id the bridge made up: match it on content.
    const ids = event.bridged?.synthetic ? NO_IDS : event.ids;
    // An event with ids matches by id only; an id-less one (variant B, C) falls back to content.
    let entry: Entry | undefined;
    if (ids.length > 0) {
      for (let i = 0; i < ids.length && !entry; i++) entry = this.byId.get(ids[i]!);
      // PC2 in phase 1: the id-less ZMQ frame (variant B) came first, its NATS twin carries an
      // id. Content matches it only to an id-less entry from another bus: two errors with
      // different ids are two errors, whatever they say.
      if (!entry && this.idlessLacking[bit]! > 0) {
        const twin = this.byText(event.agent, event.message);
        if (twin && twin.ids.length === 0 && !(twin.buses & bit)) {
          entry = twin;
          this.dedupBytes += entryBytes(ids) - ENTRY_BYTES;
          this.countIdless(twin, -1);
          entry.ids = ids;
          for (let i = 0; i < ids.length; i++) this.byId.set(ids[i]!, twin);
        }
      }
    } else {
      entry = this.byText(event.agent, event.message);
    }
    if (entry && !(entry.buses & bit)) {
      if (entry.ids.length === 0) this.idlessLacking[bit]!--;
      entry.buses |= bit;
      this.counters.matched++;
      const shown = this.shownRows.get(entry.rowId);
      if (!shown) return false; // its row has left the ring: counted, nothing on screen changes
      shown.bus = busOfBits(entry.buses);
      shown.rev++;
      return true;
    }
    if (entry && ids.length > 0) {
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
      row = { id: this.nextId++, event, bus: busOfBits(bit), count: 1, lastAt: now, rev: 0 };
      if (verdict.flooding) {
        row.flood = {
          rule: verdict.rule ?? 'rate',
          action: verdict.action ?? 'throttle',
          since: now,
        };
        this.floodRows.set(verdict.key, row);
        this.floodKeys.set(row, verdict.key);
      }
      this.counters.shown++;
      this.shownRows.set(row.id, row);
      const evicted = this.rows.push(row);
      if (evicted) {
        this.counters.evicted++;
        this.shownRows.delete(evicted.id);
        const key = this.floodKeys.get(evicted);
        if (key !== undefined) {
          this.floodKeys.delete(evicted);
          if (this.floodRows.get(key) === evicted) this.floodRows.delete(key);
        }
      }
    }
    const fresh: Entry = {
      rowId: row.id,
      buses: bit,
      at: now,
      ids,
      agent: this.shared(event.agent),
      message: this.shared(event.message),
    };
    for (let i = 0; i < ids.length; i++) this.byId.set(ids[i]!, fresh);
    if (ids.length === 0) this.countIdless(fresh, 1);
    const texts = this.byContent.get(event.agent);
    if (texts instanceof Map) texts.set(event.message, fresh);
    else if (texts === undefined || texts.message === event.message)
      this.byContent.set(event.agent, fresh);
    else
      this.byContent.set(
        event.agent,
        new Map<string, Entry>([
          [texts.message, texts],
          [event.message, fresh],
        ]),
      );
    this.order.push(fresh);
    this.dedupBytes += entryBytes(ids);
    if (
      this.order.length - this.orderHead > this.options.dedupMaxEntries ||
      this.dedupBytes > this.options.dedupMaxBytes
    ) {
      // The newest entry stays, however large: it is the one a twin is about to look for.
      while (
        this.order.length - this.orderHead > 1 &&
        (this.order.length - this.orderHead > this.options.dedupMaxEntries ||
          this.dedupBytes > this.options.dedupMaxBytes)
      ) {
        this.retire(this.takeOldest());
        this.counters.dedupEvicted++;
      }
      this.compact();
    }
    return true;
  }

  /**
   * The connection to a bus was lost: a row in the stream says so where it happened, and what
   * it means (a PUB sends nothing to a subscriber it has no connection to). Not an error from
   * the wire, so not counted as received. `closeGap` turns it into the gap's length.
   */
  openGap(machine: string, bus: Bus, source: string, now: number): ErrorRow {
    this.counters.gaps++;
    const row: ErrorRow = {
      id: this.nextId++,
      event: {
        machine,
        agent: `${bus} bus`,
        severity: 'warning',
        category: 'gap',
        message: `no connection to ${source}: whatever is published meanwhile is lost`,
        details: { source, from: new Date(now).toISOString() },
        ids: [],
        bus,
        format: 'bus-gap',
        receivedAt: now,
      },
      bus,
      count: 1,
      lastAt: now,
      rev: 0,
      gap: { from: now },
    };
    const evicted = this.rows.push(row);
    if (evicted) {
      this.counters.evicted++;
      this.shownRows.delete(evicted.id);
    }
    return row;
  }

  closeGap(row: ErrorRow, now: number): void {
    if (!row.gap || row.gap.to !== undefined) return;
    const source = String(row.event.details.source);
    const seconds = ((now - row.gap.from) / 1000).toFixed(1);
    row.gap = { from: row.gap.from, to: now };
    row.event = {
      ...row.event,
      message: `no connection to ${source} for ${seconds} s: whatever was published meanwhile was lost`,
      details: { ...row.event.details, to: new Date(now).toISOString(), ms: now - row.gap.from },
    };
    row.lastAt = now;
    row.rev++;
  }

  /** A gap known only after it closed (a bridge that restarted): one closed row, as it was. */
  recordGap(
    machine: string,
    bus: Bus,
    source: string,
    why: string,
    from: number,
    to: number,
  ): void {
    const row = this.openGap(machine, bus, source, from);
    this.closeGap(row, to);
    row.event = { ...row.event, message: why };
  }

  /** The feeding store lost events (queue full): count them so the screen says so. */
  countDropped(n: number): void {
    this.counters.dropped += n;
  }

  private expire(now: number): void {
    const cutoff = now - this.options.dedupWindowMs;
    while (this.orderHead < this.order.length && this.order[this.orderHead]!.at < cutoff)
      this.retire(this.takeOldest());
    this.compact();
  }

  /** An entry leaves the window (its time is up, or the window is full): counted, and unfiled. */
  private retire(old: Entry): void {
    this.dedupBytes -= entryBytes(old.ids);
    if (old.ids.length === 0) this.countIdless(old, -1);
    // Never natively on NATS: a ZMQ-only error, whether or not the bridge carried it.
    if (!(old.buses & NATS)) this.counters.zmqOnly++;
    else if (old.buses === NATS) this.counters.natsOnly++;
    // Its ids are still its own: an id is filed only when no entry has it (add() makes an entry,
    // or lets a twin take ids, only when none of them is in byId), so no other entry took it
    // meanwhile. Deleted without reading it first: each read was a cold lookup in the window's
    // largest map (bench/ingest-nats.ts, two ids a message).
    for (let i = 0; i < old.ids.length; i++) this.byId.delete(old.ids[i]!);
    const texts = this.byContent.get(old.agent);
    if (texts === old) this.byContent.delete(old.agent);
    else if (texts instanceof Map && texts.get(old.message) === old) {
      texts.delete(old.message);
      if (texts.size === 0) this.byContent.delete(old.agent);
    }
  }

  /** An id-less entry joins (1) or leaves (-1) the counts of the sources it lacks. */
  private countIdless(e: Entry, by: 1 | -1): void {
    if (!(e.buses & ZMQ)) this.idlessLacking[ZMQ]! += by;
    if (!(e.buses & NATS)) this.idlessLacking[NATS]! += by;
    if (!(e.buses & BRIDGE)) this.idlessLacking[BRIDGE]! += by;
  }

  private takeOldest(): Entry {
    const oldest = this.order[this.orderHead]!;
    this.order[this.orderHead++] = undefined;
    return oldest;
  }

  /** The window's entry for this agent and text, if any. */
  private byText(agent: string, message: string): Entry | undefined {
    const texts = this.byContent.get(agent);
    if (texts === undefined) return undefined;
    if (texts instanceof Map) return texts.get(message);
    return texts.message === message ? texts : undefined;
  }

  /** Compact the queue now and then instead of shifting on every expiry. */
  private compact(): void {
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
  }

  private shared(text: string): string {
    const known = this.texts.get(text);
    if (known !== undefined) return known;
    if (this.texts.size >= SHARED_TEXTS) this.texts.clear();
    this.texts.set(text, text);
    return text;
  }

  private notePublisher(event: ErrorEvent, now: number): void {
    let agents = this.publisherOf.get(event.machine);
    let stats = agents?.get(event.agent);
    if (!stats) {
      // A flood of invented agent names must not grow memory without bound.
      if (this.publishers.size >= MAX_PUBLISHERS) return;
      stats = { machine: event.machine, agent: event.agent, zmq: 0, nats: 0 };
      this.publishers.set(`${event.machine}|${event.agent}`, stats);
      if (!agents)
        this.publisherOf.set(event.machine, (agents = new Map<string, PublisherStats>()));
      agents.set(event.agent, stats);
    }
    if (event.bridged) {
      stats.bridged = (stats.bridged ?? 0) + 1;
      stats.lastBridged = now;
    } else if (event.bus === 'zmq') {
      stats.zmq++;
      stats.lastZmq = now;
    } else {
      stats.nats++;
      stats.lastNats = now;
    }
  }
}
