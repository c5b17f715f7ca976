// The Prober port: what the health store needs to ask an agent whether it lives. The network
// implementation is adapters/net-prober.ts (ZMQ REQ with the Lazy Pirate rule, HTTP GET, a ZMTP
// greeting, a scan by name); the store knows only these shapes.
import type { ProbeFinding } from '../errorbus/topology.js';
import type { Answer } from '../health/locate.js';

export type ZmqProbeResult =
  | { kind: 'reply'; text: string; latencyMs: number }
  /** `reason`: what failed before the time ran out, when something did (else plain silence). */
  | { kind: 'timeout'; reason?: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'error'; reason: string };

export type HttpProbeResult =
  | { kind: 'reply'; status: number; text: string; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'refused'; reason: string }
  | { kind: 'error'; reason: string };

export interface ZmtpProbe {
  holder: ProbeFinding;
  /** `PUB (ZMTP 3.1, NULL)`, `refused`, `no answer in 1000 ms`, `not ZMQ: ...` */
  detail: string;
  /** The ZMQ socket type the peer announced (`REP`, `PUB`, ...), when it did. */
  socketType?: string;
}

/** A free-port range scanned for agents by name. */
export interface ScanResult {
  host: string;
  from: number;
  count: number;
  /** Ports that accepted a connection. */
  open: number[];
  /** REP sockets whose reply carried a name. */
  answers: Answer[];
  at: number;
  ms: number;
}

/** One reusable request/reply connection to one endpoint (replaced by its owner after a failure). */
export interface ZmqRequester {
  request(payload: string): Promise<ZmqProbeResult>;
  close(): void;
}

export interface Prober {
  /** A REQ connection to `tcp://host:port`, each request bounded by `timeoutMs`. */
  zmq(endpoint: string, timeoutMs: number): ZmqRequester;
  http(host: string, port: number, path: string, timeoutMs: number): Promise<HttpProbeResult>;
  /** What listens on a port, from its ZMTP greeting alone. */
  zmtp(host: string, port: number, timeoutMs: number): Promise<ZmtpProbe>;
  /** Looks for agents by name on `count` ports from `from`. */
  scan(host: string, from: number, count: number, timeoutMs: number): Promise<ScanResult>;
  /** Lets go of pooled connections. */
  close(): void;
}
