// Both error buses with a real nats-server: every ZMQ variant on each machine's 7150, both NATS
// library formats, the phase from KV obeyed within a second, dual-published copies matched by id.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StringCodec, type KV, type NatsConnection } from 'nats';
import { decodeNats, decodeZmq } from '../../../source/core/errors/decode.js';
import { encodePhase, PHASE_BUCKET, PHASE_KEY } from '../../../source/core/errorbus/phase.js';
import type { Sim } from '../../../source/sim/sim.js';
import {
  busSubscriber,
  exampleOverrides,
  EXAMPLES,
  fleet,
  natsClient,
  NEEDS_NATS,
  sim,
  sleep,
  tcpOpen,
  waitFor,
} from './helpers.js';

const HOSTS = { mainpc: '127.0.12.1', pc2: '127.0.12.2' };
const sc = StringCodec();
let s: Sim;
let nc: NatsConnection;
let kv: KV;
const natsSeen: {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  at: number;
}[] = [];

before(async () => {
  if (NEEDS_NATS) return;
  s = await sim({ machines: fleet(EXAMPLES), hosts: HOSTS, overrides: exampleOverrides() });
  nc = await natsClient(s.natsUrl!);
  kv = await nc.jetstream().views.kv(PHASE_BUCKET);
  nc.subscribe('errors.>', {
    callback: (_err, msg) => {
      const headers: Record<string, string> = {};
      for (const k of msg.headers?.keys() ?? []) headers[k] = msg.headers!.get(k);
      natsSeen.push({ subject: msg.subject, data: msg.data, headers, at: Date.now() });
    },
  });
  await nc.flush();
});

const errorFrom = async (agent: string, extra: Record<string, unknown> = {}) => {
  const reply = await s.control({ fault: 'error', agent, ...extra } as never);
  assert.equal(reply.ok, true, String(reply.error));
  return reply as unknown as { id: string; natsId: string; sent: { zmq: number; nats: number } };
};

const setPhase = async (n: 0 | 1 | 2 | 3) => {
  await kv.put(PHASE_KEY, encodePhase(n));
  const began = Date.now();
  // A generous deadline: a loaded CI machine is slow, not wrong (the latency is a bench figure).
  await waitFor(() => s.phase.phase === n, 10_000, 5);
  return Date.now() - began;
};

describe(
  'ZMQ: every upstream variant on the machine bus, decodable by the console',
  { skip: NEEDS_NATS },
  () => {
    test('A, B, C, D (+ cross-machine copy) and CentralErrorBus frames', async () => {
      await setPhase(0);
      const main = await busSubscriber(`tcp://${HOSTS.mainpc}:7150`);
      const pc2 = await busSubscriber(`tcp://${HOSTS.pc2}:7150`);
      try {
        const cases: [string, string, (frames: Buffer[]) => boolean, 'main' | 'pc2'][] = [
          [
            'mainpc/ServiceRegistry',
            'zmq-a',
            (f) => f.length === 1 && f[0]!.toString().startsWith('ERROR:{"message_type": '),
            'main',
          ],
          [
            'StreamingTTSAgent',
            'zmq-c',
            (f) => f.length === 2 && f[0]!.toString() === 'ERROR:',
            'main',
          ],
          [
            'AuthenticationAgent',
            'zmq-b',
            (f) => f.length === 2 && f[0]!.toString() === 'ERROR',
            'pc2',
          ],
          [
            'TieredResponder',
            'zmq-d',
            (f) => f.length === 1 && f[0]!.toString().startsWith('PC2_ERROR:PC2_SERVICE:{'),
            'pc2',
          ],
          [
            'SelfHealingSupervisor',
            'zmq-central',
            (f) =>
              f.length === 1 && f[0]!.toString().startsWith('{"agent": "SelfHealingSupervisor"'),
            'pc2',
          ],
        ];
        for (const [agent, format, shape, bus] of cases) {
          const { id } = await errorFrom(agent, { severity: 'critical' });
          const sub = bus === 'main' ? main : pc2;
          const frames = await sub.waitFor(
            (f) =>
              f.map(String).join(' ').includes(id) ||
              (format === 'zmq-b' &&
                f[1]?.toString().includes('"agent": "AuthenticationAgent"') === true),
          );
          assert.ok(shape(frames), `${agent}: ${frames.map(String).join(' | ').slice(0, 120)}`);
          const decoded = decodeZmq(frames, bus === 'main' ? 'mainpc' : 'pc2', Date.now());
          assert.ok(decoded.ok, `${agent}: ${decoded.ok ? '' : decoded.reason}`);
          assert.equal(decoded.event.format, format);
          assert.equal(decoded.event.agent, agent.replace('mainpc/', ''));
          assert.equal(
            decoded.event.severity,
            format === 'zmq-b' ? 'error' : 'critical',
            'ForPC2 agents always send severity ERROR',
          );
          // B has no id field; C carries it in its free-form context, which the decoder leaves there.
          if (format === 'zmq-c') assert.equal(decoded.event.details.error_id, id);
          else if (format !== 'zmq-b')
            assert.ok(decoded.event.ids.includes(id), `${agent} carries its error id`);
        }
        // D at critical also goes to MainPC's bus as CROSS_MACHINE_ERROR:PC2:.
        const cross = await main.waitFor((f) =>
          f[0]!.toString().startsWith('CROSS_MACHINE_ERROR:PC2:'),
        );
        const decoded = decodeZmq(cross, 'mainpc', Date.now());
        assert.ok(
          decoded.ok &&
            decoded.event.format === 'zmq-d-cross' &&
            decoded.event.agent === 'TieredResponder',
        );
        assert.match(
          cross[0]!.toString(),
          /"cross_machine_alert": true, "originating_machine": "PC2"\}$/,
        );
      } finally {
        main.close();
        pc2.close();
      }
    });
  },
);

describe('NATS: both library formats', { skip: NEEDS_NATS }, () => {
  test('nats_error_bus.py (ERRORS subjects, headers) and nats_client.py (errors.<sev>.<agent>)', async () => {
    await setPhase(1);
    natsSeen.length = 0;
    const a = await errorFrom('mainpc/ServiceRegistry', { severity: 'critical' });
    const b = await errorFrom('ResourceManager', { severity: 'warning' });
    await waitFor(() => natsSeen.length >= 5, 3000);
    const forA = natsSeen.filter((m) => sc.decode(m.data).includes(a.id));
    assert.deepEqual(forA.map((m) => m.subject).sort(), [
      'errors.agents.ServiceRegistry',
      'errors.events',
      'errors.system',
      'errors.system.critical',
    ]);
    assert.deepEqual(forA[0]!.headers, { agent: 'ServiceRegistry', severity: 'critical' });
    const bodyA = JSON.parse(sc.decode(forA[0]!.data));
    assert.deepEqual(Object.keys(bodyA), [
      'id',
      'timestamp',
      'agent_name',
      'severity',
      'category',
      'message',
      'details',
      'stack_trace',
      'correlation_id',
      'resolved',
      'resolution_notes',
    ]);
    assert.equal(bodyA.correlation_id, a.id);
    assert.equal(bodyA.id, a.natsId);
    const forB = natsSeen.filter((m) => sc.decode(m.data).includes(b.id));
    assert.deepEqual(
      forB.map((m) => m.subject),
      ['errors.warning.ResourceManager'],
    );
    const bodyB = JSON.parse(sc.decode(forB[0]!.data));
    assert.deepEqual(Object.keys(bodyB), [
      'error_id',
      'timestamp',
      'source_agent',
      'error_type',
      'severity',
      'message',
      'stack_trace',
      'context',
      'correlation_id',
      'retry_count',
    ]);
    assert.equal(bodyB.severity, 'WARNING');
    for (const m of [...forA, ...forB]) {
      const decoded = decodeNats(m.subject, m.data, 'mainpc', Date.now());
      assert.ok(decoded.ok);
      assert.ok(decoded.event.ids.includes(m === forB[0] ? b.id : a.id));
    }
    // JetStream keeps them: the stream that captures errors.> has them.
    const jsm = await nc.jetstreamManager();
    const stream = await jsm.streams.find('errors.events');
    assert.ok((await jsm.streams.info(stream)).state.messages >= 5);
  });
});

describe('error-bus phase from KV', { skip: NEEDS_NATS }, () => {
  test('0 ZMQ only, 1 both (copies share the id), 3 NATS only with 7150 closed, back to 1', async () => {
    const sub = await busSubscriber(`tcp://${HOSTS.mainpc}:7150`);
    try {
      await setPhase(0);
      let e = await errorFrom('mainpc/NLUAgent', { severity: 'error' });
      assert.deepEqual(e.sent, { zmq: 1, nats: 0 });

      await setPhase(1);
      natsSeen.length = 0;
      e = await errorFrom('mainpc/NLUAgent', { severity: 'error' });
      assert.deepEqual(e.sent, { zmq: 1, nats: 2 });
      const zmqCopy = await sub.waitFor((f) => f[0]!.toString().includes(e.id));
      const natsCopy = await waitFor(() =>
        natsSeen.find(
          (m) => m.subject === 'errors.agents.NLUAgent' && sc.decode(m.data).includes(e.id),
        ),
      );
      const z = decodeZmq(zmqCopy, 'mainpc', Date.now());
      const n = decodeNats(natsCopy.subject, natsCopy.data, 'mainpc', Date.now());
      assert.ok(z.ok && n.ok);
      assert.ok(
        z.event.ids.some((id) => n.event.ids.includes(id)),
        'dual-published copies share an id',
      );
      assert.equal(z.event.message, n.event.message);

      await setPhase(3);
      await waitFor(async () => !(await tcpOpen(HOSTS.mainpc, 7150)), 10_000).catch(
        () => undefined,
      );
      assert.equal(await tcpOpen(HOSTS.mainpc, 7150), false, '7150 is closed in phase 3');
      assert.equal(await tcpOpen(HOSTS.pc2, 7150), false);
      e = await errorFrom('mainpc/NLUAgent', { severity: 'error' });
      assert.deepEqual(e.sent, { zmq: 0, nats: 2 });

      await setPhase(1);
      await waitFor(() => s.machine('mainpc')!.bus !== undefined, 10_000);
      assert.equal(await tcpOpen(HOSTS.mainpc, 7150), true, 'rolling back reopens 7150');
    } finally {
      sub.close();
    }
  });

  test('a bad KV value is refused and the phase stays', async () => {
    await setPhase(1);
    await kv.put(PHASE_KEY, '{"phase": 9}');
    await kv.put(PHASE_KEY, 'purple');
    await sleep(300);
    assert.equal(s.phase.phase, 1);
    await kv.put(PHASE_KEY, '2'); // a bare number is accepted too
    await waitFor(() => s.phase.phase === 2, 1000);
    await kv.delete(PHASE_KEY);
    await waitFor(() => s.phase.phase === 0, 1000);
  });
});

describe('NATS side', { skip: NEEDS_NATS }, () => {
  test('resources: one sample per machine per second on opsdeck.<machine>.resources', async () => {
    const samples: { subject: string; body: Record<string, unknown> }[] = [];
    const sub = nc.subscribe('opsdeck.*.resources', {
      callback: (_e, m) =>
        samples.push({ subject: m.subject, body: JSON.parse(sc.decode(m.data)) }),
    });
    try {
      await waitFor(
        () =>
          samples.some((x) => x.subject === 'opsdeck.mainpc.resources') &&
          samples.some((x) => x.subject === 'opsdeck.pc2.resources'),
        2500,
      );
      const pc2 = samples.find((x) => x.subject === 'opsdeck.pc2.resources')!.body;
      assert.deepEqual(Object.keys(pc2), [
        'machine',
        'ts',
        'source',
        'gpu',
        'cpuPct',
        'ramTotalMb',
        'ramUsedMb',
        'throttleLevel',
        'agents',
      ]);
      assert.deepEqual(
        [
          pc2.machine,
          pc2.source,
          (pc2.gpu as { name: string }).name,
          (pc2.gpu as { totalMb: number }).totalMb,
        ],
        ['pc2', 'sim', 'NVIDIA GeForce RTX 3060', 12288],
      );
      const main = samples.find((x) => x.subject === 'opsdeck.mainpc.resources')!.body;
      assert.equal((main.gpu as { name: string }).name, 'NVIDIA GeForce RTX 4090');
      const vision = (pc2.agents as { name: string; vramMb: number }[]).find(
        (a) => a.name === 'VisionProcessingAgent',
      )!;
      assert.ok(
        vision.vramMb > 3500 && vision.vramMb < 5000,
        `VisionProcessingAgent holds ${vision.vramMb} MB (override 4200)`,
      );
    } finally {
      sub.unsubscribe();
    }
  });

  test('--nats URL: uses the given server; an unreachable one is refused and nothing stays bound', async () => {
    const { startNatsServer } = await import('../../../source/adapters/nats-server.js');
    const { startSim, SimInputError } = await import('../../../source/sim/sim.js');
    const server = await startNatsServer();
    try {
      const other = await startSim({
        machines: fleet({ pc2: EXAMPLES.pc2 }),
        hosts: { pc2: '127.0.12.9' },
        nats: { mode: 'url', url: server.url },
        controlPort: 0,
        errorRate: 0,
      });
      try {
        assert.equal(other.natsUrl, server.url);
        const probe = await natsClient(server.url);
        const reply = await probe.request('opsdeck.sim.control', sc.encode('{"fault": "status"}'), {
          timeout: 2000,
        });
        assert.equal(JSON.parse(sc.decode(reply.data)).machines[0].id, 'pc2');
      } finally {
        await other.stop();
      }
    } finally {
      await server.stop();
    }
    await assert.rejects(
      startSim({
        machines: fleet({ pc2: EXAMPLES.pc2 }),
        hosts: { pc2: '127.0.12.9' },
        nats: { mode: 'url', url: 'nats://127.0.0.1:1' },
        controlPort: 0,
      }),
      (e: Error) =>
        e instanceof SimInputError &&
        /^cannot use NATS at nats:\/\/127\.0\.0\.1:1: /.test(e.message),
    );
    assert.equal(await tcpOpen('127.0.12.9', 7113), false, 'nothing left bound');
  });
});

describe('upstream wiring: the phase never opens a collector PUB', { skip: NEEDS_NATS }, () => {
  // In upstream wiring a machine without CentralErrorBus has no PUB on its error-bus port: that
  // is where the bridge binds its SUB. A rollback from phase 3 once bound one there anyway and
  // took the port from the bridge (bridge.test.ts, "bind failed (EADDRINUSE): connected instead").
  test('MainPC (no CentralErrorBus) binds nothing on its error-bus port in phase 1, 3, nor after the rollback to 2', async () => {
    const hosts = { mainpc: '127.0.12.11', pc2: '127.0.12.12' };
    const u = await sim({
      machines: fleet(EXAMPLES),
      hosts,
      overrides: { ...exampleOverrides(), wiring: 'upstream' },
    });
    const ukv = await (await natsClient(u.natsUrl!)).jetstream().views.kv(PHASE_BUCKET);
    const mainpc = u.machine('mainpc')!;
    const pc2 = u.machine('pc2')!;
    assert.equal(mainpc.plan.busAgent, undefined);
    assert.equal(
      await tcpOpen(hosts.mainpc, mainpc.plan.errorBusPort),
      false,
      "phase 0: nothing listens on MainPC's error-bus port",
    );
    for (const n of [1, 3, 2] as const) {
      await ukv.put(PHASE_KEY, encodePhase(n));
      await waitFor(() => u.phase.phase === n, 2000);
      // Queued behind the open or close this phase change started: when it settles, that one has.
      await mainpc.setZmqOff(n === 3);
      assert.equal(mainpc.bus, undefined, `phase ${n}: MainPC has no collector PUB`);
      assert.equal(
        await tcpOpen(hosts.mainpc, mainpc.plan.errorBusPort),
        false,
        `phase ${n}: nothing listens on MainPC's error-bus port`,
      );
      // PC2's CentralErrorBus does follow the phase: closed in 3, open otherwise.
      await pc2.setZmqOff(n === 3);
      assert.equal(
        await tcpOpen(hosts.pc2, pc2.plan.errorBusPort),
        n !== 3,
        `phase ${n}: PC2's CentralErrorBus port`,
      );
    }
  });
});
