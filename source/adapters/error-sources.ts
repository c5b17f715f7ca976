// The two ErrorSources (core/seams/error-source.ts): a ZMQ SUB per machine's error bus (here),
// and JetStream consumers on whatever error streams the NATS server has (nats-errors.ts). Each
// hands raw bytes to the ErrorSink it is given (the console's is the ErrorStore); nothing is
// parsed.
import { Subscriber } from 'zeromq';
import type { ErrorSink } from '../core/seams/error-source.js';
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

export { errorStreams, natsErrors, type NatsErrorOptions } from './nats-errors.js';
export type { NatsErrorFeed } from '../core/seams/error-source.js';
