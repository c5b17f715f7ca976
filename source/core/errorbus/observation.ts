// What a data plane saw over a window, as the error-bus preflight rules read it (preflight.ts,
// bridge-coverage.ts): the types alone, so that the rule modules import them and not each other.
import type { PublisherStats } from '../errors/pipeline.js';
import type { StreamSequence } from './sequence.js';
import type { StreamObs } from './streams.js';

export interface Check {
  name: string;
  ok: boolean;
  evidence: string;
}

export interface MachineObs {
  id: string;
  /** The machine's error-bus endpoint (tcp://host:7150). */
  errorBus: string;
  /** When the console last received opsdeck.<id>.resources from it. */
  resourcesAt?: number;
}

export interface ConsumerObs {
  /** `jetstream`: consumers on error streams; `core`: no stream, a plain subscription; `none`: not connected. */
  mode: 'jetstream' | 'core' | 'none';
  sequences: StreamSequence[];
}

export interface Observation {
  now: number;
  /** Judge what happened in (now - windowMs, now]. */
  windowMs: number;
  /** When observing began: a window reaching further back saw only this much. */
  since: number;
  /** A resource sample older than this does not prove the machine reaches NATS. */
  freshMs: number;
  nats: { connected: boolean; detail: string };
  machines: MachineObs[];
  /** The server's streams, or why they could not be listed. */
  streams: StreamObs[] | { error: string };
  publishers: readonly PublisherStats[];
  counters?: {
    matched: number;
    zmqOnly: number;
    natsOnly: number;
    received: { zmq: number; nats: number };
  };
  consumer: ConsumerObs;
}
