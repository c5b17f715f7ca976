// What a data plane saw over a window, as the error-bus preflight rules read it (preflight.ts,
// bridge-coverage.ts), and the few words both rule modules use: here so that they import this
// and not each other.
import type { PublisherStats } from '../errors/pipeline.js';
import { agentKey } from '../fleet/agent-key.js';
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

/** Whether a time falls in the window that ends now. */
export const inWindow =
  (now: number, windowMs: number) =>
  (t: number | undefined): boolean =>
    t !== undefined && t > now - windowMs;

/** The same agent, from the same machine or from `any` (NATS names no machine). */
export const samePublisher = (a: PublisherStats, b: PublisherStats): boolean =>
  a.agent === b.agent && (a.machine === b.machine || a.machine === 'any' || b.machine === 'any');

/** `mainpc/A, pc2/B and 3 more`, sorted. */
export function agentList(ps: readonly PublisherStats[], max = 12): string {
  const keys = ps.map((p) => agentKey(p.machine, p.agent)).sort();
  return keys.length > max
    ? `${keys.slice(0, max).join(', ')} and ${keys.length - max} more`
    : keys.join(', ');
}

export const secs = (ms: number): string =>
  ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;

/** How much of the window was observed, in words. */
export const span = (o: Observation): string => secs(Math.min(o.windowMs, o.now - o.since));
