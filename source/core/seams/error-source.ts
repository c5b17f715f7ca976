// The ErrorSource port: a feed of raw error messages with where they came from. The ZMQ SUB per
// machine and the JetStream consumers (adapters/error-sources.ts) are the two; they hand bytes
// to an ErrorSink (stores/error-store.ts is the one the console uses) and parse nothing.
import type { BridgeMark } from '../errors/event.js';
import type { FeedState } from '../errorbus/feed-state.js';
import type { StreamSequence } from '../errorbus/sequence.js';

/** Where a feed puts what it receives; called on the hot path: no promise, no throw. */
export interface ErrorSink {
  /** One ZMQ message (its frames) from a machine's error bus. */
  zmq(frames: readonly Uint8Array[], machine: string): void;
  /** One NATS message; `bridged`: it carries `opsdeck agent --bridge`'s mark. */
  nats(subject: string, data: Uint8Array, machine: string, now: number, bridged?: BridgeMark): void;
  /** The connection to a machine's ZMQ bus came up or went down (`source` names it). */
  zmqLink(machine: string, connected: boolean, source: string): void;
  /** A consumed JetStream error stream went away (false) or is consumed again (true). */
  natsStream(stream: string, present: boolean): void;
}

/** A started feed: stopping it lets go of its sockets and consumers. */
export interface ErrorSource {
  stop(): void | Promise<void>;
}

/** What the JetStream feed says of itself (the error-bus preflight and `status --json` read it). */
export interface NatsErrorFeed extends ErrorSource {
  /** The error streams consumed now. */
  readonly streams: readonly string[];
  /** `jetstream`: consumers on the error streams; `core`: no stream yet, a plain subscription. */
  mode(): 'jetstream' | 'core';
  /** Where its connection lifecycle is (core/errorbus/feed-state.ts). */
  state(): FeedState;
  /** Stream-sequence continuity per consumed stream (the error-bus preflight's gap check). */
  sequences(): StreamSequence[];
  stop(): Promise<void>;
}
