// Looks for agents by name on a range of ports: upstream's BaseAgent binds the first free port
// from 5000 when its code never passes it the configured one (core/fleet/upstream-code.ts). Each
// port gets a TCP connect; an open one a ZMTP greeting; only a socket that says it is a REP gets
// upstream's own JSON health request, which every REP opsdeck knows parses. Nothing else is sent.
import { JSON_HEALTH_REQUEST } from '../core/health/replies.js';
import { parseZmqHealth } from '../core/health/parse.js';
import type { Answer } from '../core/health/locate.js';
import type { ScanResult } from '../core/seams/prober.js';
import { probeTcp } from './tcp-probe.js';
import { probeZmtp } from './zmtp-probe.js';
import { ZmqPirate } from './zmq-probe.js';

export type { ScanResult } from '../core/seams/prober.js';

export async function scanForNames(
  host: string,
  from: number,
  count: number,
  timeoutMs: number,
  concurrency = 16,
): Promise<ScanResult> {
  const began = Date.now();
  const open: number[] = [];
  const answers: Answer[] = [];
  let next = from;
  const worker = async () => {
    while (next < from + count) {
      const port = next++;
      if ((await probeTcp(host, port, timeoutMs)).result !== 'open') continue;
      open.push(port);
      const zmtp = await probeZmtp(host, port, timeoutMs);
      if (zmtp.socketType !== 'REP') continue;
      const pirate = new ZmqPirate(`tcp://${host}:${port}`, timeoutMs);
      try {
        const reply = await pirate.request(JSON_HEALTH_REQUEST);
        if (reply.kind !== 'reply') continue;
        const parsed = parseZmqHealth(reply.text);
        if (parsed.ok && parsed.reading.name) answers.push({ port, name: parsed.reading.name });
      } finally {
        pirate.close();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  open.sort((a, b) => a - b);
  answers.sort((a, b) => a.port - b.port);
  return { host, from, count, open, answers, at: Date.now(), ms: Date.now() - began };
}
