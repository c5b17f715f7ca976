// The two ErrorSources (core/seams/error-source.ts): a ZMQ SUB per machine's error bus, and
// JetStream consumers on whatever error streams the NATS server has (upstream's two libraries
// each create one: ERRORS from nats_error_bus.py, ERROR_STREAM from nats_client.py). Each hands
// raw bytes to the ErrorSink it is given (the console's is the ErrorStore); nothing is parsed.
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JsMsg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { Subscriber } from 'zeromq';
import { BRIDGE_HEADER, bridgeMarkOf } from '../core/errors/bridge.js';
import { ackSeq, newSeqTrack, noteSeq, type SeqTrack } from '../core/errorbus/sequence.js';
import { subjectWithin } from '../core/errorbus/subjects.js';
import type { ErrorSink, NatsErrorFeed } from '../core/seams/error-source.js';
import { ZMQ_MAX_MESSAGE } from './zmq-limits.js';

export interface ZmqErrorOptions {
  /**
   * ZMTP heartbeat interval (the timeout is three of them). Without it a publisher that vanished
   * without closing its connection (a machine reset, a frozen host) is never noticed: the SUB
   * keeps a dead connection and never reconnects, and the stream never resumes.
   */
  heartbeatMs?: number;
}

/**
 * The most ZMQ messages received before any of them is decoded (about 200 KB of frames): the
 * number zeromq.js receives at once before it lets the event loop turn (max_sync_operations).
 */
const BURST = 512;

/**
 * Subscribes to one machine's error bus; ZMQ reconnects by itself. Losing the connection is
 * told to the store (a PUB sends nothing to a subscriber it has no connection to: a gap).
 * Returns the stop.
 */
export function zmqErrors(
  endpoint: string,
  machine: string,
  store: ErrorSink,
  options: ZmqErrorOptions = {},
): () => void {
  const heartbeat = options.heartbeatMs ?? 2000;
  // A generous HWM: ZMQ drops silently past it, and floods are what we are here to see.
  const sub = new Subscriber({
    linger: 0,
    receiveHighWaterMark: 100_000,
    heartbeatInterval: heartbeat,
    heartbeatTimeout: heartbeat * 3,
    maxMessageSize: ZMQ_MAX_MESSAGE.errors,
  });
  const source = `${machine}'s error bus ${endpoint.replace(/^tcp:\/\//, '')}`;
  let stopped = false;
  sub.events.on('handshake', () => stopped || store.zmqLink(machine, true, source));
  sub.events.on('disconnect', () => stopped || store.zmqLink(machine, false, source));
  sub.connect(endpoint);
  sub.subscribe();
  // A burst at a time: what is already queued is received first, then decoded and stored
  // together. Alternating receive and decode per message cost a quarter more CPU per message in
  // bench/ingest-zmq.ts (each evicts the other's code and data from the caches). A receive that
  // can complete at once resolves without the event loop turning (up to 512 in a row), so an
  // immediate runs once the queue is empty or zeromq.js yields: that is when the burst is stored.
  // (Asking `readable` per message instead cost ~1 µs each.) receive() itself, not the socket's
  // async iterator: the iterator wraps every message in one more promise and result object.
  let burst: Uint8Array[][] = [];
  let pending: NodeJS.Immediate | undefined;
  const storeBurst = () => {
    if (pending) clearImmediate(pending);
    pending = undefined;
    const taken = burst;
    burst = [];
    for (let i = 0; i < taken.length; i++) store.zmq(taken[i]!, machine);
  };
  void (async () => {
    try {
      while (!stopped) {
        // Received first, then pushed: `burst` is replaced when it is stored, and
        // `burst.push(await …)` would push onto the array read before the await.
        const frames = await sub.receive();
        burst.push(frames);
        if (burst.length < BURST) pending ??= setImmediate(storeBurst);
        else {
          storeBurst();
          // A time slice: a full burst was received and stored in this turn of the event loop;
          // it turns (keys, frames, timers) before more is received. Receives that complete at
          // once never yield by themselves, so a flood held the loop as long as its queue lasted.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch {
      /* closed */
    }
  })();
  return () => {
    stopped = true;
    sub.close();
  };
}

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

export type { NatsErrorFeed } from '../core/seams/error-source.js';

/** The error streams on this server: any stream whose subjects include errors.* ones. */
export async function errorStreams(nc: NatsConnection): Promise<string[]> {
  return (await errorStreamInfos(nc)).map((s) => s.name);
}

/** The error streams, each with when it was created: a stream re-created under its old name is another stream. */
async function errorStreamInfos(
  nc: NatsConnection,
): Promise<Array<{ name: string; created: string }>> {
  const jsm = await nc.jetstreamManager();
  const found: Array<{ name: string; created: string }> = [];
  for await (const info of jsm.streams.list()) {
    if (info.config.subjects?.some((s) => s === 'errors.>' || s.startsWith('errors.')))
      found.push({ name: info.config.name, created: info.created });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A message's fingerprint (its subject and bytes, two 32-bit FNV-1a hashes folded into 53 bits):
 * what the core subscription received while a stream was missing, so the stream's copies of the
 * same messages are not counted again once it is consumed.
 */
function fingerprint(subject: string, data: Uint8Array): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ data.length;
  for (let i = 0; i < subject.length; i++) {
    a = Math.imul(a ^ subject.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ subject.charCodeAt(i), 0x5bd1e995);
  }
  for (let i = 0; i < data.length; i++) {
    a = Math.imul(a ^ data[i]!, 0x01000193);
    b = Math.imul(b ^ data[i]!, 0x5bd1e995);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** The most core-subscription fingerprints kept per scan period; past it a copy may be counted twice. */
const MAX_FINGERPRINTS = 100_000;

/**
 * A delivery's stream sequence, read from its reply subject: `m.seq` splits all of the subject
 * into an info object per message (~2 µs, more than decoding the error). nats.js keeps the
 * subject as `reply` on its messages without typing it; when it is not there, `m.seq`.
 */
const seqOf = (m: JsMsg): number => {
  const reply = (m as { reply?: unknown }).reply;
  return (typeof reply === 'string' ? ackSeq(reply) : undefined) ?? m.seq;
};

const agentOf = (subject: string, fromHeader: string): string | undefined => {
  if (fromHeader) return fromHeader;
  const parts = subject.split('.');
  // errors.agents.<agent> (nats_error_bus) and errors.<severity>.<agent> (nats_client)
  if (parts.length >= 3 && parts[1] !== 'system') return parts.slice(2).join('.');
  return undefined;
};

/**
 * Consumes every error stream. With `durable`, a pull consumer per stream (acked, so the
 * position survives restarts); without, ordered consumers (live view only). Until the server
 * has an error stream (the fleet creates it on first publish), a core subscription on
 * errors.> stands in, and the streams are looked for again every few seconds. Once consuming,
 * new error streams (`opsdeck errorbus fix-streams` creating ERRORS) are picked up too, and a
 * stream that went away (deleted, or deleted and re-created: another stream under the old name)
 * is let go, shown as a gap, and consumed afresh once it is there.
 */
export async function natsErrors(
  nc: NatsConnection,
  store: ErrorSink,
  options: NatsErrorOptions,
): Promise<NatsErrorFeed> {
  const found: string[] = [];
  /** What each found stream is consumed by, and which incarnation of it (its creation time). */
  const attached = new Map<
    string,
    { messages: ConsumerMessages; created: string; live: { on: boolean } }
  >();
  const tracks = new Map<string, { tracked: boolean; track: SeqTrack }>();
  // Durable acks leave together once per turn of the event loop: one socket write for a batch
  // instead of one per message, which cost more than decoding it (bench/ingest-nats.ts).
  const acks: JsMsg[] = [];
  let ackTurn: NodeJS.Immediate | undefined;
  const flushAcks = () => {
    if (ackTurn) clearImmediate(ackTurn);
    ackTurn = undefined;
    for (const m of acks.splice(0)) {
      try {
        m.ack();
      } catch {
        /* connection gone: the messages are redelivered, and dedup absorbs the copies */
      }
    }
  };
  let core: Subscription | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  /** The scan under way (stop() waits for it: a consumer it creates after stop() would outlive the feed). */
  let scanning: Promise<void> | undefined;
  /**
   * The streams the last scan saw, with their creation times (undefined before the first scan):
   * one not seen then, or seen with another creation time, was created since.
   */
  let lastSeen: Map<string, string> | undefined;
  // What the core subscription received since the scan before the last began (two generations):
  // a stream created since then may hold the same messages, and its consumer skips them once.
  let coreSeen = new Map<number, number>();
  let coreSeenBefore = new Map<number, number>();
  let skip = new Map<number, number>();
  /** Per stream consumed from its start after a core period: the last sequence that may be a copy. */
  const skipUntil = new Map<string, number>();
  const ingest = (subject: string, data: Uint8Array, headers?: MsgHdrs) => {
    // The headers read in one pass: each get() lists and filters all of them (nats.js), and a
    // message asked for four. Exact names, first value, as get() answers.
    let machine = '';
    let agent = '';
    let bridged = false;
    if (headers) {
      for (const [name, values] of headers) {
        if (name === 'machine') machine = values[0] ?? '';
        else if (name === 'agent') agent = values[0] ?? '';
        else if (name === BRIDGE_HEADER) bridged = true;
      }
    }
    machine ||= options.machineOf(agentOf(subject, agent), subject);
    store.nats(subject, data, machine, Date.now(), bridged ? bridgeMarkOf(headers) : undefined);
  };
  const fromCore = (subject: string, data: Uint8Array, headers?: MsgHdrs) => {
    if (coreSeen.size < MAX_FINGERPRINTS) {
      const f = fingerprint(subject, data);
      coreSeen.set(f, (coreSeen.get(f) ?? 0) + 1);
    }
    ingest(subject, data, headers);
  };
  /** Already received on the core subscription: skipped once (the stream's copy of it). */
  const seenOnCore = (stream: string, seq: number, m: JsMsg): boolean => {
    const until = skipUntil.get(stream);
    if (until === undefined) return false;
    if (seq > until) {
      skipUntil.delete(stream);
      if (skipUntil.size === 0) skip = new Map();
      return false;
    }
    const f = fingerprint(m.subject, m.data);
    const left = skip.get(f);
    if (!left) return false;
    if (left === 1) skip.delete(f);
    else skip.set(f, left - 1);
    return true;
  };

  const detach = (stream: string) => {
    const a = attached.get(stream);
    if (!a) return;
    a.live.on = false; // nats.js may still deliver on a consumer it is recreating: ignored from now on
    attached.delete(stream);
    if (found.includes(stream)) found.splice(found.indexOf(stream), 1);
    void a.messages.close().catch(() => {});
    if (stopped) return;
    store.natsStream(stream, false);
    // No stream left: the core subscription stands in at once, not at the next scan.
    if (attached.size === 0) openCore();
  };

  const openCore = () => {
    // A callback, not the subscription's async iterator: nats.js calls it as it parses each
    // message, where the iterator cost a promise and a turn per message (bench/ingest-nats.ts).
    if (core || stopped) return;
    coreSeenBefore = new Map();
    core = nc.subscribe('errors.>', {
      callback: (error, m) => error || fromCore(m.subject, m.data, m.headers),
    });
  };

  const again = (ms: number) => {
    if (stopped) return;
    retry = setTimeout(() => {
      scanning = attach()
        .catch(() => again(ms))
        .finally(() => (scanning = undefined));
    }, ms);
    retry.unref();
  };

  const attach = async (): Promise<void> => {
    if (stopped) return;
    // Rotated before asking: a core message received before this scan began was handled by the
    // server before it answered, so a stream this scan finds missing cannot hold it later.
    coreSeenBefore = coreSeen;
    coreSeen = new Map();
    let infos: Array<{ name: string; created: string }> = [];
    try {
      infos = await errorStreamInfos(nc);
    } catch {
      infos = []; // JetStream disabled on this server: core subscription only
    }
    if (stopped) return;
    // A consumed stream that is gone, or another stream under its name: its consumer is let go
    // (nats.js would retry it forever, and resume a re-created stream at the old sequence).
    for (const [stream, a] of attached) {
      const now = infos.find((i) => i.name === stream);
      if (!now || now.created !== a.created) detach(stream);
    }
    const seenBefore = lastSeen;
    lastSeen = new Map(infos.map((i) => [i.name, i.created]));
    if (infos.length === 0) {
      openCore();
      again(options.retryMs ?? 2000);
      return;
    }
    if (core) {
      // Everything the core subscription will get has arrived once the server answers a flush.
      core.unsubscribe();
      core = undefined;
      await nc.flush();
      skip = new Map(coreSeenBefore);
      for (const [f, n] of coreSeen) skip.set(f, (skip.get(f) ?? 0) + n);
      coreSeen = new Map();
      coreSeenBefore = new Map();
    }
    try {
      await attachStreams(infos, seenBefore);
    } finally {
      // One not attached is taken as new by the next scan: from its start, none of it missed.
      for (const { name } of infos) if (!attached.has(name)) lastSeen.delete(name);
    }
    again(options.rescanMs ?? 3000);
  };

  const attachStreams = async (
    infos: Array<{ name: string; created: string }>,
    seenBefore: Map<string, string> | undefined,
  ): Promise<void> => {
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    for (const { name: stream, created } of infos) {
      if (attached.has(stream) || stopped) continue;
      // Created since the last scan (or again under its old name): all of it is new, consumed from
      // its start, and what the core subscription already received of it is skipped.
      const isNew = seenBefore !== undefined && seenBefore.get(stream) !== created;
      const info = await jsm.streams.info(stream);
      if (stopped) return;
      if (info.created !== created) continue; // re-created meanwhile: the next scan takes it
      if (isNew && skip.size > 0) skipUntil.set(stream, info.state.last_seq);
      // The filter errors.> covers the whole stream only when every subject of it is under errors.>.
      const subjects = info.config.subjects ?? [];
      const seq = {
        tracked: subjects.length > 0 && subjects.every((s) => subjectWithin(s, 'errors.>')),
        track: newSeqTrack(),
      };
      let consumer;
      if (options.durable) {
        const name = `${options.durable}_${stream}`.replace(/[^A-Za-z0-9_-]/g, '_');
        try {
          await jsm.consumers.info(stream, name);
        } catch {
          if (stopped) return;
          await jsm.consumers.add(stream, {
            durable_name: name,
            ack_policy: AckPolicy.Explicit,
            filter_subject: 'errors.>', // one filter subject per consumer: nats-server 2.9
            ...(isNew
              ? { deliver_policy: DeliverPolicy.All }
              : {
                  deliver_policy: DeliverPolicy.StartTime,
                  opt_start_time: new Date(
                    Date.now() - (options.replayMs ?? 10 * 60_000),
                  ).toISOString(),
                }),
            max_ack_pending: 20_000,
          });
        }
        if (stopped) return;
        consumer = await js.consumers.get(stream, name);
      } else {
        // A string, not a list: a list becomes filter_subjects, which nats-server 2.9 does not know.
        // Live view: from now on, or from replayMs ago when asked; a new stream from its start.
        consumer = await js.consumers.get(stream, {
          filterSubjects: 'errors.>',
          // From the start: nats.js's default (by sequence; DeliverPolicy.All here gets it a
          // start sequence as well, which the server refuses, and nats.js retries that for ~15 min).
          ...(isNew
            ? {}
            : options.replayMs
              ? {
                  deliver_policy: DeliverPolicy.StartTime,
                  opt_start_time: new Date(Date.now() - options.replayMs).toISOString(),
                }
              : { deliver_policy: DeliverPolicy.New }),
        });
      }
      // Checked right before consume(): an ordered consumer is created there, and one created on
      // a draining or closed connection is retried by nats.js for ~15 min, keeping the process alive.
      if (stopped) return;
      tracks.set(stream, seq);
      // A callback rather than iterating: nats.js hands each message over as it parses it, with
      // no promise per message. It must not throw (a throw stops the consumer); ingest does not.
      const durable = Boolean(options.durable);
      const live = { on: true };
      const messages = await consumer.consume({
        max_messages: 1000,
        // A stream that is not there ends the consume instead of being retried every 30 s.
        abort_on_missing_resource: true,
        callback: (m: JsMsg) => {
          if (!live.on) return;
          const n = seqOf(m);
          seq.track = noteSeq(seq.track, n);
          if (skipUntil.size === 0 || !seenOnCore(stream, n, m))
            ingest(m.subject, m.data, m.headers);
          if (durable) {
            acks.push(m);
            ackTurn ??= setImmediate(flushAcks);
          }
        },
      });
      if (stopped) {
        live.on = false;
        await messages.close().catch(() => {});
        return;
      }
      attached.set(stream, { messages, created, live });
      found.push(stream);
      store.natsStream(stream, true);
      void messages
        .closed()
        .catch(() => {})
        .then(() => {
          // Ended without stop() (the stream is gone): the next scan attaches to it again if it is back.
          if (!stopped && attached.get(stream)?.messages === messages) detach(stream);
        });
    }
  };
  scanning = attach().finally(() => (scanning = undefined));
  await scanning;

  return {
    streams: found,
    mode: () => (found.length > 0 && !core ? 'jetstream' : 'core'),
    sequences: () => [...tracks].map(([stream, s]) => ({ stream, tracked: s.tracked, ...s.track })),
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      // A scan under way finishes first (it checks `stopped` between its steps), so a consumer
      // it was creating is closed below rather than left running on a draining connection.
      await scanning?.catch(() => {});
      flushAcks();
      for (const a of attached.values()) {
        a.live.on = false;
        await a.messages.close().catch(() => {});
      }
      core?.unsubscribe();
    },
  };
}
