// The measured process of the health figure: probes every agent of the fleet, cycle after cycle.
//   opsdeck: HealthStore.probeAll() (protocol detection, Lazy Pirate REQ sockets, HTTP
//            keep-alive, reply parsing, the state machine, /metrics every tenth round)
//   bare:    the same requests with the same concurrency (64) and nothing else: a REQ socket per
//            agent sending the bare `health_check`, or GET /health for HTTP agents; counts replies
import { Agent as HttpAgent, request } from 'node:http';
import { Request } from 'zeromq';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { HealthStore, targetsFor } from '../../source/stores/health-store.js';
import { netProber } from '../../source/adapters/net-prober.js';
import { childMain, cpuMsSince, toParent } from '../lib/harness.js';
import type { BenchFleet } from '../lib/fleet.js';

const [mode = '', fleetJson = '', cyclesArg = '', warmupArg = ''] = process.argv.slice(2);
const cycles = Number(cyclesArg);
const warmup = Number(warmupArg);
const CONCURRENCY = 64;
const TIMEOUT_MS = 1000;

interface Cycle {
  ms: number;
  cpuMs: number;
}

childMain(async () => {
  const fleet = JSON.parse(fleetJson) as BenchFleet;
  const loaded = loadFleet(fleet.files, fleet.env);
  if (!loaded.ok) throw new Error('fleet did not load');
  const machines = loaded.machines;
  let cycle: () => Promise<void>;
  let answered: () => number;
  let close: () => void;

  if (mode === 'opsdeck') {
    // What the console builds: targets from the fleet, no protocol hints (detected), interval 2 s.
    const store = new HealthStore(
      targetsFor(machines, { intervalMs: 2000, timeoutMs: TIMEOUT_MS }),
      netProber(),
      { concurrency: CONCURRENCY },
    );
    cycle = async () => void (await store.probeAll());
    // Answered: any parsed reply (healthy, degraded or unhealthy by its own account).
    answered = () =>
      [...store.flush().agents.values()].filter(
        (h) => h.state === 'healthy' || h.state === 'degraded' || h.state === 'unhealthy',
      ).length;
    close = () => store.stop();
  } else {
    const http = new HttpAgent({ keepAlive: true, maxSockets: 4, maxFreeSockets: 1 });
    const targets = machines.flatMap((m) =>
      m.agents.map((a) => ({
        host: m.host,
        port: a.healthPort.value,
        http: fleet.protocols[`${m.id}/${a.name}`] === 'http',
        req: undefined as Request | undefined,
      })),
    );
    let replies = 0;
    const open = (t: { host: string; port: number }) => {
      const req = new Request({ linger: 0, receiveTimeout: TIMEOUT_MS, sendTimeout: TIMEOUT_MS });
      req.connect(`tcp://${t.host}:${t.port}`);
      return req;
    };
    const zmqAsk = async (t: (typeof targets)[number]) => {
      try {
        await t.req!.send('health_check');
        await t.req!.receive();
        replies++;
      } catch {
        t.req!.close(); // a timed-out REQ socket is stuck: replace it
        t.req = open(t);
      }
    };
    for (const t of targets) if (!t.http) t.req = open(t);
    const httpAsk = (t: (typeof targets)[number]) =>
      new Promise<void>((resolve) => {
        const req = request({ host: t.host, port: t.port, path: '/health', agent: http }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) replies++;
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end();
      });
    cycle = async () => {
      let next = 0;
      const worker = async () => {
        while (next < targets.length) {
          const t = targets[next++]!;
          await (t.http ? httpAsk(t) : zmqAsk(t));
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    };
    let last = 0;
    // Replies per measured cycle (all of them should answer, every cycle).
    answered = () => {
      const n = replies - last;
      last = replies;
      return Math.round(n / Math.max(1, cycles));
    };
    close = () => {
      for (const t of targets) t.req?.close();
      http.destroy();
    };
  }

  // Warm-up: connections, protocol detection (a timeout per HTTP-only agent the first time).
  for (let i = 0; i < warmup; i++) await cycle();
  answered();
  const out: Cycle[] = [];
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < cycles; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await cycle();
    out.push({ ms: performance.now() - t0, cpuMs: cpuMsSince(c0) });
  }
  const wallMs = performance.now() - wall0;
  const cpuMs = cpuMsSince(cpu0);
  const healthy = answered();
  close();
  toParent({
    type: 'result',
    mode,
    cycles: out,
    wallMs,
    cpuMs,
    answered: healthy,
    targets: machines.reduce((n, m) => n + m.agents.length, 0),
  });
  setTimeout(() => process.exit(0), 100);
});
