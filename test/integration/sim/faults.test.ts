// Every fault, driven the three ways the console's tests can: the in-process API, the ZMQ REP
// control socket, and a NATS request on opsdeck.sim.control.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StringCodec, type NatsConnection } from 'nats';
import { decodeNats, decodeZmq } from '../../../source/core/errors/decode.js';
import { encodePhase, PHASE_BUCKET, PHASE_KEY } from '../../../source/core/errorbus/phase.js';
import type { Sim } from '../../../source/sim/sim.js';
import {
  busSubscriber,
  EXAMPLES,
  fleet,
  httpGet,
  natsClient,
  NEEDS_NATS,
  protocolOverrides,
  sim,
  sleep,
  specHealthRequest,
  tcpOpen,
  waitFor,
  zmqAsk,
} from './helpers.js';

const HOSTS = { mainpc: '127.0.13.1', pc2: '127.0.13.2' };
const sc = StringCodec();
let s: Sim;
let nc: NatsConnection;

before(async () => {
  if (NEEDS_NATS) return;
  // Faults on every protocol (a few agents on WP-07) and on one bus per machine (collector).
  s = await sim({
    machines: fleet(EXAMPLES),
    hosts: HOSTS,
    overrides: protocolOverrides({ wiring: 'collector' }),
  });
  nc = await natsClient(s.natsUrl!);
});

/** Over the ZMQ control socket, as the console's tests will. */
const zmqControl = async (request: unknown): Promise<Record<string, unknown>> => {
  const r = await zmqAsk(
    s.controlEndpoint,
    typeof request === 'string' ? request : JSON.stringify(request),
  );
  assert.equal(r.kind, 'reply');
  return JSON.parse((r as { text: string }).text);
};

/** Over NATS request/reply. */
const natsControl = async (request: unknown): Promise<Record<string, unknown>> => {
  const msg = await nc.request('opsdeck.sim.control', sc.encode(JSON.stringify(request)), {
    timeout: 3000,
  });
  return JSON.parse(sc.decode(msg.data));
};

const health = (host: string, port: number, timeoutMs = 5000) =>
  zmqAsk(`tcp://${host}:${port}`, specHealthRequest(), timeoutMs);

describe('faults', { skip: NEEDS_NATS }, () => {
  test('kill closes every port of the agent; restart binds them again', async () => {
    // NLUAgent: main 5709, health 6709, HTTP 6710.
    assert.equal((await health(HOSTS.mainpc, 6709)).kind, 'reply');
    assert.deepEqual(await zmqControl({ fault: 'kill', agent: 'NLUAgent' }), {
      ok: true,
      agent: 'mainpc/NLUAgent',
    });
    for (const port of [5709, 6709, 6710])
      assert.equal(await tcpOpen(HOSTS.mainpc, port), false, `port ${port} closed`);
    assert.equal(
      (await health(HOSTS.mainpc, 6709, 300)).kind,
      'timeout',
      'a killed agent does not answer',
    );
    const status = (await natsControl({ fault: 'status' })) as {
      machines: { agents: { name: string; status: string }[] }[];
    };
    assert.equal(status.machines[0]!.agents.find((a) => a.name === 'NLUAgent')!.status, 'down');
    assert.deepEqual(await natsControl({ fault: 'restart', agent: 'mainpc/NLUAgent' }), {
      ok: true,
      agent: 'mainpc/NLUAgent',
    });
    const r = await health(HOSTS.mainpc, 6709);
    assert.equal(r.kind, 'reply');
    assert.match(
      (r as { text: string }).text,
      /^\{"status": "ok".*"uptime": 0\.\d+/,
      'uptime starts again',
    );
    assert.equal(await tcpOpen(HOSTS.mainpc, 6710), true);
  });

  test('killing CentralErrorBus closes PC2 7150; restarting reopens it', async () => {
    await zmqControl({ fault: 'kill', agent: 'CentralErrorBus' });
    assert.equal(await tcpOpen(HOSTS.pc2, 7150), false);
    assert.equal(await tcpOpen(HOSTS.pc2, 8150), false);
    await zmqControl({ fault: 'restart', agent: 'CentralErrorBus' });
    await waitFor(async () => await tcpOpen(HOSTS.pc2, 7150), 1000);
    assert.equal(await tcpOpen(HOSTS.pc2, 7150), true);
  });

  test('slow: replies after N ms, on every protocol; 0 restores', async () => {
    await zmqControl({ fault: 'slow', agent: 'SystemDigitalTwin', ms: 400 });
    await natsControl({ fault: 'slow', agent: 'ChainOfThoughtAgent', ms: 400 });
    await zmqControl({ fault: 'slow', agent: 'ObservabilityDashboardAPI', ms: 400 });
    const [zmq, unified] = await Promise.all([
      health(HOSTS.mainpc, 8220),
      zmqAsk(`tcp://${HOSTS.mainpc}:6612`, 'health_check'),
    ]);
    const began = performance.now();
    const http = await httpGet(`http://${HOSTS.mainpc}:8001/health`);
    const httpMs = performance.now() - began;
    assert.ok(zmq.kind === 'reply' && zmq.ms >= 390, `BaseAgent replied after ${zmq.ms} ms`);
    assert.ok(
      unified.kind === 'reply' && unified.ms >= 390,
      `WP-07 replied after ${unified.ms} ms`,
    );
    assert.ok(
      'status' in http && http.status === 200 && httpMs >= 390,
      `HTTP replied after ${httpMs} ms`,
    );
    assert.equal(
      (await health(HOSTS.mainpc, 8220, 200)).kind,
      'timeout',
      'a probe with a shorter timeout gives up',
    );
    await zmqControl({ fault: 'slow', agent: 'SystemDigitalTwin', ms: 0 });
    await sleep(450); // a REP socket answers in order: the abandoned request is still being served
    const fast = await health(HOSTS.mainpc, 8220);
    // Back to normal: it answers, and the sim holds no delay for it (its reply time is a bench
    // figure: a wall-clock bound here failed on a loaded machine).
    assert.equal(fast.kind, 'reply');
    const status = (await zmqControl({ fault: 'status' })) as unknown as {
      machines: { agents: { name: string; slowMs: number }[] }[];
    };
    const twin = status.machines
      .flatMap((m) => m.agents)
      .find((a) => a.name === 'SystemDigitalTwin');
    assert.equal(twin?.slowMs, 0);
    await zmqControl({ fault: 'clear' });
  });

  test('degraded: each protocol reports it its own way', async () => {
    await zmqControl({ fault: 'degraded', agent: 'SystemDigitalTwin' });
    await zmqControl({ fault: 'degraded', agent: 'ChainOfThoughtAgent' });
    await zmqControl({ fault: 'degraded', agent: 'ObservabilityDashboardAPI' });
    const base = JSON.parse(((await health(HOSTS.mainpc, 8220)) as { text: string }).text);
    assert.deepEqual(
      [base.status, base.ready, base.health_status, base.health_checks.ready_signal, base.message],
      ['degraded', false, 'degraded', false, 'SystemDigitalTwin is degraded'],
    );
    const unified = JSON.parse(
      ((await zmqAsk(`tcp://${HOSTS.mainpc}:6612`, 'health_check')) as { text: string }).text,
    );
    assert.equal(unified.health_metrics.status, 'degraded');
    assert.ok(unified.health_metrics.error_count > 10);
    assert.deepEqual(await httpGet(`http://${HOSTS.mainpc}:8001/health`), {
      status: 503,
      type: 'application/json',
      body: '{"status":"unhealthy"}',
    });
    await zmqControl({ fault: 'degraded', agent: 'SystemDigitalTwin', on: false });
    assert.equal(
      JSON.parse(((await health(HOSTS.mainpc, 8220)) as { text: string }).text).status,
      'ok',
    );
    await zmqControl({ fault: 'clear' });
  });

  test('flood: N errors/s from one agent, then stop', async () => {
    const sub = await busSubscriber(`tcp://${HOSTS.mainpc}:7150`);
    try {
      await zmqControl({ fault: 'flood', agent: 'NLUAgent', rate: 500 });
      const began = Date.now();
      await sleep(1000);
      await zmqControl({ fault: 'flood', agent: 'NLUAgent', rate: 0 });
      const seconds = (Date.now() - began) / 1000;
      await sleep(100);
      const n = sub.messages.filter((f) =>
        f[0]!.toString().includes('"source": "MainPC.NLUAgent"'),
      ).length;
      assert.ok(
        n >= 500 * seconds * 0.7 && n <= 500 * seconds * 1.3,
        `${n} frames in ${seconds.toFixed(2)} s at 500/s`,
      );
      const sample = decodeZmq(sub.messages.at(-1)!, 'mainpc', Date.now());
      assert.ok(
        sample.ok && sample.event.message.startsWith('Connection refused'),
        'a flood repeats one error type',
      );
      const after = sub.messages.length;
      await sleep(300);
      assert.ok(sub.messages.length - after <= 1, 'rate 0 stops it');
    } finally {
      sub.close();
    }
  });

  test('malformed frames of every kind, on the buses the phase uses', async () => {
    await (await nc.jetstream().views.kv(PHASE_BUCKET)).put(PHASE_KEY, encodePhase(1));
    await waitFor(() => s.phase.phase === 1, 1000);
    const sub = await busSubscriber(`tcp://${HOSTS.mainpc}:7150`);
    const seen: { subject: string; data: Uint8Array }[] = [];
    const natsSub = nc.subscribe('errors.>', {
      callback: (_e, m) => seen.push({ subject: m.subject, data: m.data }),
    });
    await nc.flush();
    try {
      for (const kind of ['bad-json', 'binary', 'oversize', 'escape']) {
        sub.messages.length = 0;
        seen.length = 0;
        const reply = await zmqControl({ fault: 'malformed', agent: 'SystemDigitalTwin', kind });
        assert.deepEqual(reply, {
          ok: true,
          agent: 'mainpc/SystemDigitalTwin',
          sent: { zmq: 1, nats: 1 },
        });
        const frames = await sub.waitFor(() => true);
        const onNats = await waitFor(() => seen[0]);
        const z = decodeZmq(frames, 'mainpc', Date.now());
        const n = decodeNats(onNats.subject, onNats.data, 'mainpc', Date.now());
        if (kind === 'escape') {
          // Valid JSON whose message holds escape sequences: the decoder must strip them.
          assert.ok(
            frames[0]!.toString().includes('\\u001b[2J'),
            'json.dumps escapes ESC as \\u001b',
          );
          assert.ok(z.ok && n.ok);
          const shown = z.event.message + n.event.message;
          assert.ok(
            ![0x1b, 0x07, 0x9b].some((c) => shown.includes(String.fromCharCode(c))),
            JSON.stringify(shown),
          );
        } else {
          assert.equal(z.ok, false, `${kind} on ZMQ is refused: ${z.ok ? z.event.message : ''}`);
          if (kind !== 'oversize' || onNats.data.byteLength > 256 * 1024)
            assert.equal(n.ok, false, `${kind} on NATS is refused`);
        }
        if (kind === 'oversize')
          assert.ok(frames[0]!.byteLength > 2_000_000, 'ZMQ oversize frame is over 2 MB');
        if (kind === 'binary')
          assert.ok(frames[0]!.subarray(0, 6).toString() === 'ERROR:' && frames[0]!.includes(0x00));
      }
    } finally {
      sub.close();
      natsSub.unsubscribe();
    }
  });

  test('bus-off stops one bus; bus-on resumes it', async () => {
    await waitFor(() => s.phase.phase === 1, 1000);
    assert.deepEqual(await natsControl({ fault: 'bus-off', bus: 'zmq' }), { ok: true });
    let e = (await zmqControl({ fault: 'error', agent: 'NLUAgent', severity: 'error' })) as {
      sent: object;
    };
    assert.deepEqual(e.sent, { zmq: 0, nats: 2 });
    await natsControl({ fault: 'bus-on', bus: 'zmq' });
    await natsControl({ fault: 'bus-off', bus: 'nats', machine: 'mainpc' });
    e = (await zmqControl({ fault: 'error', agent: 'NLUAgent', severity: 'error' })) as {
      sent: object;
    };
    assert.deepEqual(e.sent, { zmq: 1, nats: 0 });
    await natsControl({ fault: 'bus-on', bus: 'nats' });
  });

  test('vram-spike raises PC2 VRAM and, past the card, CUDA OOM errors', async () => {
    const rm = async () =>
      JSON.parse(
        ((await zmqAsk(`tcp://${HOSTS.pc2}:7113`, '{"action": "get_stats"}')) as { text: string })
          .text,
      ).stats;
    const before = (await rm()).gpu_memory_allocated / 2 ** 20;
    await natsControl({ fault: 'vram-spike', mb: 3000 });
    const spiked = (await rm()).gpu_memory_allocated / 2 ** 20;
    assert.ok(spiked - before > 2500, `${Math.round(before)} -> ${Math.round(spiked)} MB`);
    const seen: string[] = [];
    const natsSub = nc.subscribe('errors.events', {
      callback: (_e, m) => seen.push(sc.decode(m.data)),
    });
    await natsControl({ fault: 'vram-spike', mb: 20000, seconds: 1.5 });
    assert.equal(Math.round((await rm()).gpu_memory_percent), 100);
    await waitFor(
      () =>
        seen.find((t) => t.includes('CUDA out of memory') && t.includes('"severity": "critical"')),
      3000,
    );
    natsSub.unsubscribe();
    await waitFor(async () => (await rm()).gpu_memory_percent < 90, 3000).catch(() => undefined);
    assert.ok((await rm()).gpu_memory_percent < 90, 'a timed spike ends by itself');
    await natsControl({ fault: 'vram-spike', mb: 0 });
  });

  test("upstream's stuck loops: non-UTF-8 wedges the WP-07 socket, bad JSON wedges ResourceManager; restart clears", async () => {
    const wp07 = `tcp://${HOSTS.mainpc}:6612`; // ChainOfThoughtAgent, UnifiedHealthMixin
    assert.equal(
      (await zmqAsk(wp07, new Uint8Array([0xff, 0xfe]), 300)).kind,
      'timeout',
      'recv_string raised: no reply',
    );
    assert.equal((await zmqAsk(wp07, 'health_check', 300)).kind, 'timeout', 'and none after it');
    const rm = `tcp://${HOSTS.pc2}:7113`;
    assert.equal(
      (await zmqAsk(rm, '{"action": ', 300)).kind,
      'timeout',
      'recv_json raised: no reply',
    );
    assert.equal((await zmqAsk(rm, '{"action": "get_stats"}', 300)).kind, 'timeout');
    const status = (await zmqControl({ fault: 'status' })) as {
      machines: { agents: { name: string; wedged: string[] }[] }[];
    };
    assert.deepEqual(
      status.machines[0]!.agents.find((a) => a.name === 'ChainOfThoughtAgent')!.wedged,
      ['health'],
    );
    assert.deepEqual(status.machines[1]!.agents.find((a) => a.name === 'ResourceManager')!.wedged, [
      'main',
    ]);
    await zmqControl({ fault: 'restart', agent: 'ChainOfThoughtAgent' });
    await zmqControl({ fault: 'restart', agent: 'ResourceManager' });
    const again = await zmqAsk(wp07, 'health_check');
    assert.equal(
      again.kind === 'reply' && JSON.parse(again.text).health_metrics.error_count,
      0,
      'a restart starts a new mixin',
    );
    assert.equal((await zmqAsk(rm, '{"action": "check_resources"}')).kind, 'reply');
  });

  test('bad requests are refused with a reason and change nothing', async () => {
    assert.deepEqual(await zmqControl('not json'), {
      ok: false,
      error: 'request is not JSON: expected {"fault": "...", "agent": "...", ...}',
    });
    assert.match(
      String((await zmqControl({ fault: 'explode' })).error),
      /unknown fault "explode": expected one of kill, restart/,
    );
    assert.match(
      String((await zmqControl({ fault: 'slow', agent: 'NLUAgent' })).error),
      /fault slow needs ms/,
    );
    assert.match(
      String((await zmqControl({ fault: 'kill', agent: 'Nobody' })).error),
      /no agent "Nobody"/,
    );
    assert.match(
      String((await zmqControl({ fault: 'kill', agent: 'MemoryFusionHub' })).error),
      /runs on mainpc and pc2: say which/,
    );
    assert.match(
      String((await natsControl({ fault: 'malformed', agent: 'NLUAgent', kind: 'weird' })).error),
      /kind must be bad-json \| oversize \| binary \| escape/,
    );
    assert.match(
      String((await natsControl({ fault: 'flood', agent: 'NLUAgent', rate: -1 })).error),
      /rate must be/,
    );
    const status = (await natsControl({ fault: 'status' })) as {
      machines: {
        agents: {
          name: string;
          status: string;
          exited?: string;
          slowMs: number;
          floodPerS: number;
        }[];
      }[];
    };
    const all = status.machines.flatMap((m) => m.agents);
    // Up, except the BaseAgents that exited at start on a lost port, which stay down.
    assert.ok(
      all.every(
        (a) => (a.status === 'up' || a.exited !== undefined) && a.slowMs === 0 && a.floodPerS === 0,
      ),
      'nothing changed',
    );
  });

  test('the verifier seam refuses control requests it does not accept', async () => {
    const { startSim } = await import('../../../source/sim/sim.js');
    const guarded = await startSim({
      machines: fleet({ pc2: EXAMPLES.pc2 }),
      hosts: { pc2: '127.0.13.9' },
      nats: { mode: 'off', why: 'test' },
      controlPort: 0,
      errorRate: 0,
      verifyControl: (r) =>
        r.token === 'letmein' ? { ok: true } : { ok: false, reason: 'missing or bad token' },
    });
    try {
      const ask = async (req: unknown) =>
        JSON.parse(
          ((await zmqAsk(guarded.controlEndpoint, JSON.stringify(req))) as { text: string }).text,
        );
      assert.deepEqual(await ask({ fault: 'kill', agent: 'TaskScheduler' }), {
        ok: false,
        error: 'refused: missing or bad token',
      });
      assert.equal(guarded.machine('pc2')!.byName.get('TaskScheduler')!.status, 'up');
      assert.deepEqual(await ask({ fault: 'kill', agent: 'TaskScheduler', token: 'letmein' }), {
        ok: true,
        agent: 'pc2/TaskScheduler',
      });
    } finally {
      await guarded.stop();
    }
  });
});
