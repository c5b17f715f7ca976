// The Prober port over the network: ZMQ REQ (Lazy Pirate), HTTP GET with keep-alive, a ZMTP
// greeting, and the scan by name. One per health store: its HTTP agent pools connections, and
// the store closes it when it stops.
import type { Prober } from '../core/seams/prober.js';
import { scanForNames } from './health-scan.js';
import { HttpProber } from './http-probe.js';
import { probeZmtp } from './zmtp-probe.js';
import { ZmqPirate } from './zmq-probe.js';

export function netProber(): Prober {
  const http = new HttpProber();
  return {
    zmq: (endpoint, timeoutMs) => new ZmqPirate(endpoint, timeoutMs),
    http: (host, port, path, timeoutMs) => http.get(host, port, path, timeoutMs),
    zmtp: probeZmtp,
    scan: (host, from, count, timeoutMs) => scanForNames(host, from, count, timeoutMs),
    close: () => http.close(),
  };
}
