// The health prober against real ZeroMQ sockets and HTTP servers on loopback.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { readdirSync } from 'node:fs';
import { Reply } from 'zeromq';
import { ZmqPirate } from '../../source/adapters/zmq-probe.js';
import { HealthStore, type HealthTarget } from '../../source/stores/health-store.js';
import { netProber } from '../../source/adapters/net-prober.js';

const BASE_OK = JSON.stringify({
  status: 'ok',
  ready: true,
  initialized: true,
  message: 'A is healthy',
  timestamp: 'x',
  uptime: 5.0,
  active_threads: 2,
  health_checks: { port_accessible: true, redis_connected: true, ready_signal: true },
  health_details: {},
  health_status: 'healthy',
});
const WP07 = JSON.stringify({
  agent_name: 'B',
  health_metrics: {
    status: 'degraded',
    uptime_seconds: 9,
    cpu_percent: 75,
    memory_percent: 10,
    error_count: 0,
  },
  version: '1.0',
  schema: 'WP-07-unified-health',
});

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function rep(
  answer: ((req: string) => string | undefined) | undefined,
): Promise<{ port: number; close: () => void }> {
  const socket = new Reply({ linger: 0 });
  await socket.bind('tcp://127.0.0.1:*');
  const port = Number(/:(\d+)$/.exec(socket.lastEndpoint!)![1]);
  void (async () => {
    try {
      for await (const [msg] of socket) {
        const reply = answer?.(msg!.toString());
        if (reply === undefined) return; // a wedged agent: accepts, never answers
        await socket.send(reply);
      }
    } catch {
      /* closed */
    }
  })();
  const close = () => socket.close();
  cleanups.push(close);
  return { port, close };
}

async function http(
  handler: (path: string) => [number, string],
): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    const [status, body] = handler(req.url ?? '/');
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((r) => server.close(r)));
  server.unref();
  return { port: (server.address() as { port: number }).port, server };
}

const target = (
  agent: string,
  healthPort: number,
  over: Partial<HealthTarget> = {},
): HealthTarget => ({
  key: `mainpc/${agent}`,
  machine: 'mainpc',
  agent,
  host: '127.0.0.1',
  healthPort,
  intervalMs: 100,
  timeoutMs: 150,
  ...over,
});

const fdCount = () => readdirSync('/proc/self/fd').length;

describe('health prober', () => {
  test('detects BaseAgent, WP-07 and plain HTTP agents and parses each', async () => {
    const a = await rep(() => BASE_OK);
    const b = await rep((req) => (req === 'health_check' ? WP07 : 'Unknown health request'));
    // A FastAPI-style service: nothing on ZMQ, /health over HTTP.
    const c = await http((path) => (path === '/health' ? [200, '{"status":"ok"}'] : [404, '{}']));
    const store = new HealthStore(
      [target('A', a.port), target('B', b.port), target('C', c.port)],
      netProber(),
      {
        timeoutMs: 300,
      },
    );
    cleanups.push(() => store.stop());
    await store.probeAll();
    const snap = store.flush();
    const get = (k: string) => snap.agents.get(`mainpc/${k}`)!;
    assert.deepEqual(
      [get('A').state, get('A').protocol, get('A').uptimeSec],
      ['healthy', 'base-agent', 5],
    );
    assert.deepEqual(
      [get('B').state, get('B').protocol, get('B').reason],
      ['degraded', 'unified', 'cpu 75%, mem 10%'],
    );
    assert.deepEqual([get('C').state, get('C').protocol], ['healthy', 'http']);
    assert.ok(get('A').latencyMs! >= 0);
    assert.match(get('A').lastReply!, /"status":"ok"/);
  });

  test('a WP-07 agent with no health port configured is found on port+1000 (the mixin default)', async () => {
    const mixin = await rep((req) => (req === 'health_check' ? WP07 : 'Unknown health request'));
    // Nothing on the BaseAgent default (port+1); the mixin listens on port+1000.
    const store = new HealthStore(
      [target('M', mixin.port - 999, { altHealthPort: mixin.port, timeoutMs: 150 })],
      netProber(),
    );
    cleanups.push(() => store.stop());
    await store.probeAll();
    const h = store.flush().agents.get('mainpc/M')!;
    assert.deepEqual([h.state, h.protocol], ['degraded', 'unified']);
    await store.probeAll();
    assert.equal(store.flush().agents.get('mainpc/M')!.protocol, 'unified', 'remembered');
  });

  test('instrumented: /metrics answering Prometheus text on health+1', async () => {
    const metrics = await http((path) =>
      path === '/metrics'
        ? [200, '# HELP agent_uptime_seconds x\n# TYPE agent_uptime_seconds gauge\n']
        : [200, BASE_OK],
    );
    // The ZMQ health port is metrics.port - 1; bind a REP there if it is free, else skip.
    let z: { port: number } | undefined;
    try {
      const s = new Reply({ linger: 0 });
      await s.bind(`tcp://127.0.0.1:${metrics.port - 1}`);
      cleanups.push(() => s.close());
      void (async () => {
        for await (const [_m] of s) await s.send(BASE_OK);
      })().catch(() => {});
      z = { port: metrics.port - 1 };
    } catch {
      z = undefined;
    }
    if (!z) return; // the neighbouring port was taken: nothing to assert this run
    const store = new HealthStore([target('M', z.port)], netProber());
    cleanups.push(() => store.stop());
    await store.probeAll();
    assert.equal(store.flush().agents.get('mainpc/M')!.instrumented, true);
  });

  test('a killed agent turns unreachable on the next probe (refused is definitive)', async () => {
    const a = await rep(() => BASE_OK);
    const store = new HealthStore([target('A', a.port)], netProber());
    cleanups.push(() => store.stop());
    await store.probeAll();
    assert.equal(store.flush().agents.get('mainpc/A')!.state, 'healthy');
    a.close();
    await new Promise((r) => setTimeout(r, 50));
    await store.probeAll();
    const h = store.flush().agents.get('mainpc/A')!;
    // One probe, no second look: a refusal is definitive. (How long that round takes, the probe
    // timeout plus the TCP check, is a figure of `npm run bench` (bounds), not of this test.)
    assert.equal(h.state, 'unreachable');
    assert.match(h.reason, /connection refused on 127\.0\.0\.1:\d+/);
  });

  test('a wedged agent (accepts, never answers) needs two timeouts to turn unreachable', async () => {
    const w = await rep(undefined);
    const store = new HealthStore([target('W', w.port, { timeoutMs: 80 })], netProber());
    cleanups.push(() => store.stop());
    await store.probeAll();
    const first = store.flush().agents.get('mainpc/W')!;
    assert.equal(first.state, 'unreachable', 'from unknown, the first result applies');
    assert.equal(first.reason, 'no reply within 80 ms');
  });

  test('garbage replies are bad replies, not crashes', async () => {
    const g = await rep(() => '\x1b[2J{{{ not json');
    const store = new HealthStore([target('G', g.port)], netProber());
    cleanups.push(() => store.stop());
    await store.probeAll();
    const h = store.flush().agents.get('mainpc/G')!;
    assert.equal(h.state, 'unhealthy');
    assert.match(h.reason, /^bad reply: not JSON: \{\{\{ not json$/);
  });

  test('the loop probes on its interval and notifies subscribers, coalesced', async () => {
    const a = await rep(() => BASE_OK);
    const store = new HealthStore([target('A', a.port, { intervalMs: 50 })], netProber(), {
      notifyMs: 20,
    });
    let notified = 0;
    const unsubscribe = store.subscribe(() => notified++);
    const stop = store.start();
    await new Promise((r) => setTimeout(r, 400));
    stop();
    unsubscribe();
    const h = store.getSnapshot().agents.get('mainpc/A')!;
    assert.equal(h.state, 'healthy');
    assert.ok(h.history.length >= 4, `history ${h.history.length}`);
    assert.ok(notified >= 2 && notified <= 20, `notified ${notified}`);
  });

  test('file descriptors stay flat across 10,000 timeouts (Lazy Pirate closes, never reuses)', async () => {
    // A TCP listener that accepts and never speaks ZMTP: every request times out.
    // It drains what arrives (else it never sees the client's FIN and holds every socket).
    const silent = createTcpServer((s) => {
      s.on('error', () => {});
      s.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => silent.close(r)));
    const port = (silent.address() as { port: number }).port;
    const before = fdCount();
    const pirates = Array.from({ length: 100 }, () => new ZmqPirate(`tcp://127.0.0.1:${port}`, 5));
    let timeouts = 0;
    await Promise.all(
      pirates.map(async (p) => {
        for (let i = 0; i < 100; i++)
          if ((await p.request('health_check')).kind === 'timeout') timeouts++;
        p.close();
      }),
    );
    await new Promise((r) => setTimeout(r, 300)); // let libzmq reap closed sockets
    const grown = fdCount() - before;
    assert.equal(timeouts, 10_000);
    assert.ok(grown < 20, `fds grew by ${grown}`);
  });
});
