// Feeds the error store from both buses: a ZMQ SUB per machine's error bus, and JetStream
// consumers on whatever error streams the NATS server has (upstream's two libraries each
// create one: ERRORS from nats_error_bus.py, ERROR_STREAM from nats_client.py).
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { Subscriber } from 'zeromq';
import { BRIDGE_HEADER, bridgeMarkOf } from '../core/errors/bridge.js';
import { ackSeq, newSeqTrack, noteSeq, type SeqTrack, type StreamSequence } from '../core/errorbus/sequence.js';
import { subjectWithin } from '../core/errorbus/subjects.js';
import type { ErrorStore } from '../stores/error-store.js';

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
export function zmqErrors(endpoint: string, machine: string, store: ErrorStore, options: ZmqErrorOptions = {}): () => void {
  const heartbeat = options.heartbeatMs ?? 2000;
  // A generous HWM: ZMQ drops silently past it, and floods are what we are here to see.
  const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 100_000, heartbeatInterval: heartbeat, heartbeatTimeout: heartbeat * 3 });
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
        if (burst.length >= BURST) storeBurst();
        else pending ??= setImmediate(storeBurst);
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

export interface NatsErrorFeed {
  streams: string[];
  /** `jetstream`: consumers on the error streams; `core`: no stream yet, a plain subscription. */
  mode(): 'jetstream' | 'core';
  /** Stream-sequence continuity per consumed stream (the error-bus preflight's gap check). */
  sequences(): StreamSequence[];
  stop(): Promise<void>;
}

/** The error streams on this server: any stream whose subjects include errors.* ones. */
export async function errorStreams(nc: NatsConnection): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const names: string[] = [];
  for await (const info of jsm.streams.list()) {
    if (info.config.subjects?.some((s) => s === 'errors.>' || s.startsWith('errors.'))) names.push(info.config.name);
  }
  return names.sort();
}

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
 * stream whose consumer ended (the stream went away) is looked for again.
 */
export async function natsErrors(nc: NatsConnection, store: ErrorStore, options: NatsErrorOptions): Promise<NatsErrorFeed> {
  const feeds: ConsumerMessages[] = [];
  const found: string[] = [];
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

  const again = (ms: number) => {
    if (stopped) return;
    retry = setTimeout(() => void attach().catch(() => again(ms)), ms);
    retry.unref();
  };

  const attach = async (): Promise<void> => {
    if (stopped) return;
    let streams: string[] = [];
    try {
      streams = await errorStreams(nc);
    } catch {
      streams = []; // JetStream disabled on this server: core subscription only
    }
    if (streams.length === 0) {
      // A callback, not the subscription's async iterator: nats.js calls it as it parses each
      // message, where the iterator cost a promise and a turn per message (bench/ingest-nats.ts).
      if (!core) core = nc.subscribe('errors.>', { callback: (error, m) => error || ingest(m.subject, m.data, m.headers) });
      again(options.retryMs ?? 2000);
      return;
    }
    core?.unsubscribe();
    core = undefined;
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    for (const stream of streams) {
      if (found.includes(stream) || stopped) continue;
      // The filter errors.> covers the whole stream only when every subject of it is under errors.>.
      const subjects = (await jsm.streams.info(stream)).config.subjects ?? [];
      const seq = { tracked: subjects.length > 0 && subjects.every((s) => subjectWithin(s, 'errors.>')), track: newSeqTrack() };
      tracks.set(stream, seq);
      let consumer;
      if (options.durable) {
        const name = `${options.durable}_${stream}`.replace(/[^A-Za-z0-9_-]/g, '_');
        try {
          await jsm.consumers.info(stream, name);
        } catch {
          await jsm.consumers.add(stream, {
            durable_name: name,
            ack_policy: AckPolicy.Explicit,
            filter_subject: 'errors.>', // one filter subject per consumer: nats-server 2.9
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(Date.now() - (options.replayMs ?? 10 * 60_000)).toISOString(),
            max_ack_pending: 20_000,
          });
        }
        consumer = await js.consumers.get(stream, name);
      } else {
        // A string, not a list: a list becomes filter_subjects, which nats-server 2.9 does not know.
        // Live view: from now on, or from replayMs ago when asked.
        consumer = await js.consumers.get(stream, {
          filterSubjects: 'errors.>',
          ...(options.replayMs
            ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Date.now() - options.replayMs).toISOString() }
            : { deliver_policy: DeliverPolicy.New }),
        });
      }
      // A callback rather than iterating: nats.js hands each message over as it parses it, with
      // no promise per message. It must not throw (a throw stops the consumer); ingest does not.
      const durable = Boolean(options.durable);
      const messages = await consumer.consume({
        max_messages: 1000,
        callback: (m: JsMsg) => {
          seq.track = noteSeq(seq.track, seqOf(m));
          ingest(m.subject, m.data, m.headers);
          if (durable) {
            acks.push(m);
            ackTurn ??= setImmediate(flushAcks);
          }
        },
      });
      if (stopped) {
        await messages.close().catch(() => {});
        return;
      }
      feeds.push(messages);
      found.push(stream);
      void messages
        .closed()
        .catch(() => {})
        .then(() => {
          // Ended without stop(): the stream is gone; the next scan attaches to it again if it is back.
          if (stopped) return;
          if (found.includes(stream)) found.splice(found.indexOf(stream), 1);
          if (feeds.includes(messages)) feeds.splice(feeds.indexOf(messages), 1);
        });
    }
    again(options.rescanMs ?? 3000);
  };
  await attach();

  return {
    streams: found,
    mode: () => (found.length > 0 && !core ? 'jetstream' : 'core'),
    sequences: () => [...tracks].map(([stream, s]) => ({ stream, tracked: s.tracked, ...s.track })),
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      flushAcks();
      for (const f of feeds) await f.close().catch(() => {});
      core?.unsubscribe();
    },
  };
}
