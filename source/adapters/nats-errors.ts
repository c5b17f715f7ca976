// The JetStream ErrorSource: consumers on every error stream the NATS server has (upstream's two
// libraries each create one: ERRORS from nats_error_bus.py, ERROR_STREAM from nats_client.py),
// and until there is one, a core subscription on errors.> standing in. Its lifecycle is the
// state machine of core/errorbus/feed-state.ts (connecting, waiting-for-stream, consuming,
// reconnecting, closed); this class holds the sockets and runs the transitions.
import {
  AckPolicy,
  DeliverPolicy,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type Msg,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { BRIDGE_HEADER, bridgeMarkOf } from '../core/errors/bridge.js';
import { feedStep, scanWait, type FeedEvent, type FeedState } from '../core/errorbus/feed-state.js';
import { readErrorHeaders, type ErrorHeaders } from '../core/errorbus/headers.js';
import {
  ackSeq,
  advanceSeq,
  newSeqTrack,
  noteSeq,
  type SeqTrack,
} from '../core/errorbus/sequence.js';
import type { StreamSequence } from '../core/errorbus/sequence.js';
import { subjectWithin } from '../core/errorbus/subjects.js';
import type { ErrorSink, NatsErrorFeed } from '../core/seams/error-source.js';

export interface NatsErrorOptions {
  /** Durable consumer name: a restarted console resumes where it stopped. */
  durable?: string;
  /** Which machine an error belongs to, from its agent (NATS is shared by both machines). */
  machineOf: (agent: string | undefined, subject: string) => string;
  /** History to replay when the durable consumer is first created. */
  replayMs?: number;
  /** How often to look for error streams while there are none. */
  retryMs?: number;
  /** How often to look for new error streams once consuming (a stream fix, a library creating its own). */
  rescanMs?: number;
}

interface StreamInfo {
  name: string;
  created: string;
}

/** The error streams on this server: any stream whose subjects include errors.* ones. */
export async function errorStreams(nc: NatsConnection): Promise<string[]> {
  return (await errorStreamInfos(nc)).map((s) => s.name);
}

/** The error streams, each with when it was created: a stream re-created under its old name is another stream. */
async function errorStreamInfos(nc: NatsConnection): Promise<StreamInfo[]> {
  const jsm = await nc.jetstreamManager();
  const found: StreamInfo[] = [];
  for await (const info of jsm.streams.list()) {
    if (info.config.subjects?.some((s) => s === 'errors.>' || s.startsWith('errors.')))
      found.push({ name: info.config.name, created: info.created });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A message's fingerprint (its subject and bytes, two 32-bit hashes folded into 53 bits): what
 * the core subscription received while a stream was missing, so the stream's copies of the same
 * messages are not counted again once it is consumed. Murmur3's steps over 4-byte words, two
 * lanes from one mixed word: FNV-1a over every byte, as it was, cost ~430 ns for a 424-byte
 * message, this ~250 (each lane waits on its multiply per byte there, per word here).
 */
function fingerprint(subject: string, data: Uint8Array): number {
  let a = 0x811c9dc5 ^ data.length;
  let b = 0x01000193;
  for (let i = 0; i < subject.length; i++) {
    const k = mixWord(subject.charCodeAt(i));
    a = step(a, k);
    b = step(b, k ^ 0x5bd1e995);
  }
  const words = data.length & ~3;
  let i = 0;
  for (; i < words; i += 4) {
    const k = mixWord(data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    a = step(a, k);
    b = step(b, k ^ 0x5bd1e995);
  }
  for (; i < data.length; i++) {
    const k = mixWord(data[i]!);
    a = step(a, k);
    b = step(b, k ^ 0x5bd1e995);
  }
  return (finish(a) >>> 0) * 0x200000 + ((finish(b) >>> 0) & 0x1fffff);
}

const mixWord = (word: number): number => {
  const k = Math.imul(word, 0xcc9e2d51);
  return Math.imul((k << 15) | (k >>> 17), 0x1b873593);
};

const step = (h: number, k: number): number => {
  const x = h ^ k;
  return (Math.imul((x << 13) | (x >>> 19), 5) + 0xe6546b64) | 0;
};

/** Murmur3's final mix: every input bit reaches the low bits kept from `b`. */
const finish = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
};

/** The most core-subscription fingerprints kept per scan period; past it a copy may be counted twice. */
const MAX_FINGERPRINTS = 100_000;

/**
 * A delivery's stream sequence, read from its reply subject: `m.seq` splits all of the subject
 * into an info object per message (~2 µs, more than decoding the error). nats.js keeps the
 * subject as `reply` on its messages without typing it; when it is not there, `m.seq`. An
 * ordered consumer has had nats.js parse that info already (it checks the order with it): it is
 * read from there (`di`, untyped) rather than parsed again.
 */
const seqOf = (m: JsMsg): number => {
  const parsed = (m as { di?: { streamSequence?: unknown } }).di?.streamSequence;
  if (typeof parsed === 'number') return parsed;
  const reply = (m as { reply?: unknown }).reply;
  return (typeof reply === 'string' ? ackSeq(reply) : undefined) ?? m.seq;
};

const headerText = new TextDecoder(); // as nats.js decodes header blocks

/**
 * A message's header block as nats.js 2.x keeps it (untyped: `_msg.hdr`, its length, and
 * `_rdata`, the block and the data), so that the feed reads its three headers without nats.js
 * decoding all of them into a map (readErrorHeaders). Undefined: the message has none; null:
 * not laid out as expected (another nats.js), and `m.headers` is asked instead.
 */
function headerBlock(m: Msg | JsMsg): Uint8Array | undefined | null {
  const inner = (m as { msg?: unknown }).msg ?? m; // a JsMsg wraps the Msg
  const { _msg: parsed, _rdata: bytes } = inner as { _msg?: { hdr?: unknown }; _rdata?: unknown };
  const length = parsed?.hdr;
  if (typeof length !== 'number' || !(bytes instanceof Uint8Array)) return null;
  return length > -1 ? bytes.subarray(0, length) : undefined;
}

const agentOf = (subject: string, fromHeader: string): string | undefined => {
  if (fromHeader) return fromHeader;
  const parts = subject.split('.');
  // errors.agents.<agent> (nats_error_bus) and errors.<severity>.<agent> (nats_client)
  if (parts.length >= 3 && parts[1] !== 'system') return parts.slice(2).join('.');
  return undefined;
};

/** One consumed stream: its consumer, which incarnation of the stream, and whether it still counts. */
interface Attached {
  messages: ConsumerMessages;
  created: string;
  live: { on: boolean };
}

/**
 * Consumes every error stream. With `durable`, a pull consumer per stream (acked, so the
 * position survives restarts); without, ordered consumers (live view only). Until the server
 * has an error stream (the fleet creates it on first publish), a core subscription on
 * errors.> stands in, and the streams are looked for again every few seconds. Once consuming,
 * new error streams (`opsdeck errorbus fix-streams` creating ERRORS) are picked up too, and a
 * stream that went away (deleted, or deleted and re-created: another stream under the old name)
 * is let go, shown as a gap, and consumed afresh once it is there. Resolves once the first look
 * is done (rejects when it failed: the caller says so and goes on with ZMQ).
 */
export async function natsErrors(
  nc: NatsConnection,
  sink: ErrorSink,
  options: NatsErrorOptions,
): Promise<JetStreamErrors> {
  const feed = new JetStreamErrors(nc, sink, options);
  await feed.begin();
  return feed;
}

export class JetStreamErrors implements NatsErrorFeed {
  private current: FeedState = 'connecting';
  /** The streams consumed now (the same array, kept up to date: status readers hold it). */
  readonly streams: string[] = [];
  private readonly attached = new Map<string, Attached>();
  private readonly tracks = new Map<string, { tracked: boolean; track: SeqTrack }>();
  // Durable acks leave together once per turn of the event loop: one socket write for a batch
  // instead of one per message, which cost more than decoding it (bench/ingest-nats.ts).
  private readonly acks: JsMsg[] = [];
  private ackTurn: NodeJS.Immediate | undefined;
  private core: Subscription | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** The scan under way (stop() waits for it: a consumer it creates after stop() would outlive the feed). */
  private scanning: Promise<void> | undefined;
  /**
   * The streams the last scan saw, with their creation times (undefined before the first scan):
   * one not seen then, or seen with another creation time, was created since.
   */
  private lastSeen: Map<string, string> | undefined;
  // What the core subscription received since the scan before the last began (two generations):
  // a stream created since then may hold the same messages, and its consumer skips them once.
  private coreSeen = new Map<number, number>();
  private coreSeenBefore = new Map<number, number>();
  private skip = new Map<number, number>();
  /** Per stream consumed from its start after a core period: the last sequence that may be a copy. */
  private readonly skipUntil = new Map<string, number>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly sink: ErrorSink,
    private readonly options: NatsErrorOptions,
  ) {}

  /** Where the lifecycle is (core/errorbus/feed-state.ts). */
  state(): FeedState {
    return this.current;
  }

  mode(): 'jetstream' | 'core' {
    return this.streams.length > 0 && !this.core ? 'jetstream' : 'core';
  }

  sequences(): StreamSequence[] {
    return [...this.tracks].map(([stream, s]) => ({ stream, tracked: s.tracked, ...s.track }));
  }

  private get stopped(): boolean {
    return this.current === 'closed';
  }

  private move(event: FeedEvent): void {
    this.current = feedStep(this.current, event);
  }

  /** The first look at the server's streams. */
  async begin(): Promise<void> {
    this.scanning = this.scan().finally(() => (this.scanning = undefined));
    await this.scanning;
  }

  async stop(): Promise<void> {
    this.move({ kind: 'stop' });
    if (this.retry) clearTimeout(this.retry);
    // A scan under way finishes first (it checks `stopped` between its steps), so a consumer
    // it was creating is closed below rather than left running on a draining connection.
    await this.scanning?.catch(() => {});
    this.flushAcks();
    for (const a of this.attached.values()) {
      a.live.on = false;
      await a.messages.close().catch(() => {});
    }
    this.core?.unsubscribe();
  }

  // --- the hot path: one call per message, no promise, no allocation beyond the sink's ---

  /** The headers of the message being ingested (one object, reused). */
  private readonly heard: ErrorHeaders = { machine: '', agent: '', bridged: false };

  private ingest(m: Msg | JsMsg): void {
    this.hear(m);
    this.deliver(m);
  }

  /** Reads the message's headers into `heard` (throws as nats.js does on a block it refuses). */
  private hear(m: Msg | JsMsg): void {
    const h = this.heard;
    const block = headerBlock(m);
    if (block === undefined) {
      h.machine = h.agent = '';
      h.bridged = false;
    } else if (block === null || !readErrorHeaders(headerText.decode(block), h)) {
      // nats.js's own reading (and its refusal: a block it cannot decode throws, as it did).
      // The headers read in one pass: each get() lists and filters all of them (nats.js), and
      // a message asked for four. Exact names, first value, as get() answers.
      h.machine = h.agent = '';
      h.bridged = false;
      for (const [name, values] of m.headers ?? []) {
        if (name === 'machine') h.machine = values[0] ?? '';
        else if (name === 'agent') h.agent = values[0] ?? '';
        else if (name === BRIDGE_HEADER) h.bridged = true;
      }
    }
  }

  /** The message, its headers heard, to the sink. */
  private deliver(m: Msg | JsMsg): void {
    const subject = m.subject;
    const h = this.heard;
    const machine = h.machine || this.options.machineOf(agentOf(subject, h.agent), subject);
    // A bridged copy (rare) has its mark read by nats.js: four headers, as bridgeMarkOf reads them.
    this.sink.nats(
      subject,
      m.data,
      machine,
      Date.now(),
      h.bridged ? bridgeMarkOf(m.headers) : undefined,
    );
  }

  private fromCore(m: Msg): void {
    this.hear(m); // first, as before: a block nats.js refuses throws before anything is counted
    if (this.coreSeen.size < MAX_FINGERPRINTS) {
      const f = fingerprint(m.subject, m.data);
      this.coreSeen.set(f, (this.coreSeen.get(f) ?? 0) + 1);
    }
    this.deliver(m);
  }

  /** Already received on the core subscription: skipped once (the stream's copy of it). */
  private seenOnCore(stream: string, seq: number, m: JsMsg): boolean {
    const until = this.skipUntil.get(stream);
    if (until === undefined) return false;
    if (seq > until) {
      this.skipUntil.delete(stream);
      if (this.skipUntil.size === 0) this.skip = new Map();
      return false;
    }
    const f = fingerprint(m.subject, m.data);
    const left = this.skip.get(f);
    if (!left) return false;
    if (left === 1) this.skip.delete(f);
    else this.skip.set(f, left - 1);
    return true;
  }

  private readonly flushAcks = (): void => {
    if (this.ackTurn) clearImmediate(this.ackTurn);
    this.ackTurn = undefined;
    for (const m of this.acks.splice(0)) {
      try {
        m.ack();
      } catch {
        /* connection gone: the messages are redelivered, and dedup absorbs the copies */
      }
    }
  };

  // --- the core subscription that stands in while there is no stream ---

  private openCore(): void {
    // A callback, not the subscription's async iterator: nats.js calls it as it parses each
    // message, where the iterator cost a promise and a turn per message (bench/ingest-nats.ts).
    if (this.core || this.stopped) return;
    this.coreSeenBefore = new Map();
    this.core = this.nc.subscribe('errors.>', {
      callback: (error, m) => error || this.fromCore(m),
    });
  }

  /** Streams found: the core subscription ends, and what it received is skipped on them once. */
  private async closeCore(): Promise<void> {
    if (!this.core) return;
    // Everything the core subscription will get has arrived once the server answers a flush.
    this.core.unsubscribe();
    this.core = undefined;
    await this.nc.flush();
    this.skip = new Map(this.coreSeenBefore);
    for (const [f, n] of this.coreSeen) this.skip.set(f, (this.skip.get(f) ?? 0) + n);
    this.coreSeen = new Map();
    this.coreSeenBefore = new Map();
  }

  // --- looking at the server's streams ---

  /** The next look, `ms` from now; one that fails is tried again after the same wait. */
  private schedule(ms: number | undefined): void {
    if (ms === undefined || this.stopped) return;
    this.retry = setTimeout(() => {
      this.scanning = this.scan()
        .catch(() => {
          this.move({ kind: 'failed' });
          this.schedule(scanWait(this.current, this.waits(), ms));
        })
        .finally(() => (this.scanning = undefined));
    }, ms);
    this.retry.unref();
  }

  private waits(): { retryMs: number; rescanMs: number } {
    return { retryMs: this.options.retryMs ?? 2000, rescanMs: this.options.rescanMs ?? 3000 };
  }

  private async scan(): Promise<void> {
    if (this.stopped) return;
    // Rotated before asking: a core message received before this scan began was handled by the
    // server before it answered, so a stream this scan finds missing cannot hold it later.
    this.coreSeenBefore = this.coreSeen;
    this.coreSeen = new Map();
    let infos: StreamInfo[] = [];
    try {
      infos = await errorStreamInfos(this.nc);
    } catch {
      infos = []; // JetStream disabled on this server: core subscription only
    }
    if (this.stopped) return;
    // A consumed stream that is gone, or another stream under its name: its consumer is let go
    // (nats.js would retry it forever, and resume a re-created stream at the old sequence).
    for (const [stream, a] of this.attached) {
      const now = infos.find((i) => i.name === stream);
      if (!now || now.created !== a.created) this.detach(stream);
    }
    const seenBefore = this.lastSeen;
    this.lastSeen = new Map(infos.map((i) => [i.name, i.created]));
    if (infos.length === 0) {
      this.openCore();
      this.move({ kind: 'no-stream' });
      this.schedule(scanWait(this.current, this.waits(), 0));
      return;
    }
    await this.closeCore();
    try {
      await this.attachStreams(infos, seenBefore);
    } finally {
      // One not attached is taken as new by the next scan: from its start, none of it missed.
      for (const { name } of infos) if (!this.attached.has(name)) this.lastSeen.delete(name);
    }
    this.move({ kind: 'attached', consumers: this.attached.size });
    this.schedule(this.waits().rescanMs);
  }

  /** A stream that went away: its consumer is let go and a gap shown. */
  private detach(stream: string): void {
    const a = this.attached.get(stream);
    if (!a) return;
    a.live.on = false; // nats.js may still deliver on a consumer it is recreating: ignored from now on
    this.attached.delete(stream);
    if (this.streams.includes(stream)) this.streams.splice(this.streams.indexOf(stream), 1);
    void a.messages.close().catch(() => {});
    if (this.stopped) return;
    this.sink.natsStream(stream, false);
    // No stream left: the core subscription stands in at once, not at the next scan.
    if (this.attached.size === 0) this.openCore();
    this.move({ kind: 'detached', consumers: this.attached.size });
  }

  // --- attaching consumers ---

  private async attachStreams(
    infos: StreamInfo[],
    seenBefore: Map<string, string> | undefined,
  ): Promise<void> {
    const js = this.nc.jetstream();
    const jsm = await this.nc.jetstreamManager();
    for (const { name: stream, created } of infos) {
      if (this.attached.has(stream) || this.stopped) continue;
      // Created since the last scan (or again under its old name): all of it is new, consumed from
      // its start, and what the core subscription already received of it is skipped.
      const isNew = seenBefore !== undefined && seenBefore.get(stream) !== created;
      const info = await jsm.streams.info(stream);
      if (this.stopped) return;
      if (info.created !== created) continue; // re-created meanwhile: the next scan takes it
      if (isNew && this.skip.size > 0) this.skipUntil.set(stream, info.state.last_seq);
      // The filter errors.> covers the whole stream only when every subject of it is under errors.>.
      const subjects = info.config.subjects ?? [];
      const seq = {
        tracked: subjects.length > 0 && subjects.every((s) => subjectWithin(s, 'errors.>')),
        track: newSeqTrack(),
      };
      const consumer = this.options.durable
        ? await this.durableConsumer(js, jsm, stream, isNew)
        : await this.orderedConsumer(js, stream, isNew);
      // Checked right before consume(): an ordered consumer is created there, and one created on
      // a draining or closed connection is retried by nats.js for ~15 min, keeping the process alive.
      if (!consumer || this.stopped) return;
      this.tracks.set(stream, seq);
      await this.consume(stream, created, consumer, seq);
    }
  }

  /** The durable pull consumer on a stream, created when it is not there yet. */
  private async durableConsumer(
    js: JetStreamClient,
    jsm: JetStreamManager,
    stream: string,
    isNew: boolean,
  ): Promise<Consumer | undefined> {
    const name = `${this.options.durable}_${stream}`.replace(/[^A-Za-z0-9_-]/g, '_');
    try {
      await jsm.consumers.info(stream, name);
    } catch {
      if (this.stopped) return undefined;
      await jsm.consumers.add(stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        filter_subject: 'errors.>', // one filter subject per consumer: nats-server 2.9
        ...(isNew
          ? { deliver_policy: DeliverPolicy.All }
          : {
              deliver_policy: DeliverPolicy.StartTime,
              opt_start_time: new Date(
                Date.now() - (this.options.replayMs ?? 10 * 60_000),
              ).toISOString(),
            }),
        max_ack_pending: 20_000,
      });
    }
    if (this.stopped) return undefined;
    return js.consumers.get(stream, name);
  }

  /** An ordered consumer (live view only): from now, from replayMs ago, or a new stream from its start. */
  private orderedConsumer(js: JetStreamClient, stream: string, isNew: boolean): Promise<Consumer> {
    const replayMs = this.options.replayMs;
    // A string, not a list: a list becomes filter_subjects, which nats-server 2.9 does not know.
    return js.consumers.get(stream, {
      filterSubjects: 'errors.>',
      // From the start: nats.js's default (by sequence; DeliverPolicy.All here gets it a
      // start sequence as well, which the server refuses, and nats.js retries that for ~15 min).
      ...(isNew
        ? {}
        : replayMs
          ? {
              deliver_policy: DeliverPolicy.StartTime,
              opt_start_time: new Date(Date.now() - replayMs).toISOString(),
            }
          : { deliver_policy: DeliverPolicy.New }),
    });
  }

  /** Starts delivery from one consumer; each message goes straight to the sink. */
  private async consume(
    stream: string,
    created: string,
    consumer: Consumer,
    seq: { tracked: boolean; track: SeqTrack },
  ): Promise<void> {
    // A callback rather than iterating: nats.js hands each message over as it parses it, with
    // no promise per message. It must not throw (a throw stops the consumer); ingest does not.
    const durable = Boolean(this.options.durable);
    const live = { on: true };
    const messages = await consumer.consume({
      max_messages: 1000,
      // A stream that is not there ends the consume instead of being retried every 30 s.
      abort_on_missing_resource: true,
      callback: (m: JsMsg) => {
        if (!live.on) return;
        const n = seqOf(m);
        if (seq.track.last === undefined) seq.track = noteSeq(seq.track, n);
        else advanceSeq(seq.track, n);
        if (this.skipUntil.size === 0 || !this.seenOnCore(stream, n, m)) this.ingest(m);
        if (durable) {
          this.acks.push(m);
          this.ackTurn ??= setImmediate(this.flushAcks);
        }
      },
    });
    if (this.stopped) {
      live.on = false;
      await messages.close().catch(() => {});
      return;
    }
    this.attached.set(stream, { messages, created, live });
    this.streams.push(stream);
    this.sink.natsStream(stream, true);
    void messages
      .closed()
      .catch(() => {})
      .then(() => {
        // Ended without stop() (the stream is gone): the next scan attaches to it again if it is back.
        if (!this.stopped && this.attached.get(stream)?.messages === messages) this.detach(stream);
      });
  }
}
