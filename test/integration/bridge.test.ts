// `opsdeck agent --bridge` against `opsdeck sim` in upstream wiring (every agent opens the sockets
// upstream's code opens) and a real nats-server: errors nobody received before reach JetStream
// exactly once; the console shows them as zmq->nats, and each error once when native NATS
// publishing runs beside the bridge; `errorbus doctor` explains both machines' topology.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { connect, type NatsConnection } from 'nats';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { findNatsServer, NATS_INSTALL_HINT } from '../../source/adapters/nats-server.js';
import { runBridge, type RunningBridge } from '../../source/agent/bridge.js';
import { main } from '../../source/cli.js';
import { bindAddress } from '../../source/commands/agent-bridge.js';
import type { Io } from '../../source/commands/io.js';
import { BRIDGE_HEADER } from '../../source/core/errors/bridge.js';
import { zmqMessages } from '../../source/core/errors/encode.js';
import { encodePhase, PHASE_BUCKET, PHASE_KEY } from '../../source/core/errorbus/phase.js';
import { buildTopology } from '../../source/core/errorbus/topology.js';
import { probeZmtp } from '../../source/adapters/zmtp-probe.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import type { SimOverrides } from '../../source/sim/overrides.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';

const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
// Addresses of our own: other test files run sims on other loopback addresses at the same time.
const HOSTS = { mainpc: '127.0.0.101', pc2: '127.0.0.102' };
// The fleet's env: MainPC's ErrorPublishers are pointed at MainPC's own error-bus port (where
// nothing listens upstream); everything else as upstream's defaults.
const ENV = { MAINPC_IP: HOSTS.mainpc, PC2_IP: HOSTS.pc2, MAINPC_ERROR_BUS_HOST: HOSTS.mainpc };

const MAINPC = `agent_groups:
  core:
    Alpha: {script_path: main_pc_code/agents/alpha.py, port: 17501, health_check_port: 18501}
    Bravo: {script_path: main_pc_code/agents/bravo.py, port: 17503, health_check_port: 18503}
`;
const PC2 = `pc2_services:
- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, host: 0.0.0.0, port: 7150, health_check_port: 8150}
- {name: Auth, script_path: pc2_code/agents/ForPC2/AuthenticationAgent.py, host: 0.0.0.0, port: 7116, health_check_port: 8116}
- {name: Delta, script_path: pc2_code/agents/delta.py, host: 0.0.0.0, port: 7104, health_check_port: 8104}
- {name: Obs, script_path: services/obs/app.py, host: 0.0.0.0, port: 7106, health_check_port: 8106}
error_bus_port: 7150
`;
// Only Alpha has a native NATS leg (nats_error_bus.py); it is used from phase 1 on.
const overrides: SimOverrides = {
  defaults: { nats_library: 'none' },
  agents: { Alpha: { nats_library: 'errors' } },
  machines: {},
  wiring: 'upstream',
  wiring_env: { MAINPC_ERROR_BUS_HOST: HOSTS.mainpc },
};

const dir = mkdtempSync(join(tmpdir(), 'opsdeck-bridge-'));
const files = { mainpc: join(dir, 'mainpc.yaml'), pc2: join(dir, 'pc2.yaml') };
writeFileSync(files.mainpc, MAINPC);
writeFileSync(files.pc2, PC2);

const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 8000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every message in the error stream: body, headers, subject. */
async function readStream(
  nc: NatsConnection,
): Promise<
  Array<{ subject: string; body: Record<string, unknown>; headers: Record<string, string> }>
> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info('ERRORS');
  if (info.state.messages === 0) return [];
  const consumer = await nc.jetstream().consumers.get('ERRORS', { filterSubjects: 'errors.>' });
  const out: Array<{
    subject: string;
    body: Record<string, unknown>;
    headers: Record<string, string>;
  }> = [];
  const batch = await consumer.fetch({ max_messages: info.state.messages, expires: 3000 });
  for await (const m of batch) {
    const headers: Record<string, string> = {};
    for (const k of m.headers?.keys() ?? []) headers[k] = m.headers!.get(k);
    out.push({
      subject: m.subject,
      body: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
      headers,
    });
    if (m.seq >= info.state.last_seq) break;
  }
  return out;
}

interface MachineJson {
  id: string;
  effective: { phase: number; why: string };
  ports: Array<{
    port: number;
    probe: { holder: string };
    expected: { by: string };
    connecting: string[];
    binding: string[];
    bridge: { mode: string };
  }>;
  lostWithoutBridge: Array<{ agent: string }>;
  lostEvenWithBridge: Array<{ agent: string }>;
  bridge?: { state: string; published: number };
  publishers: Array<{ agent: string; reach: string }>;
}

async function doctor(): Promise<{ code: number; json: { machines: MachineJson[] }; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { ...ENV, PATH: process.env.PATH },
    cwd: dir,
  };
  const code = await main(
    [
      'errorbus',
      'doctor',
      '--json',
      '--mainpc',
      files.mainpc,
      '--pc2',
      files.pc2,
      '--nats',
      sim.natsUrl!,
      '--observe',
      '2500ms',
    ],
    io,
  );
  return { code, json: JSON.parse(out.join('\n')) as never, err: err.join('\n') };
}

let sim: Sim;
let nc: NatsConnection;
let plane: DataPlane;
let fleet: Machine[];
const bridges: Record<string, RunningBridge> = {};

const send = async (agent: string, message: string, severity: 'critical' | 'error' = 'error') => {
  const r = (await sim.control({ fault: 'error', agent, message, severity })) as {
    ok: boolean;
    error?: string;
    id: string;
  };
  assert.ok(r.ok, r.error);
  return r.id;
};
const rows = () => plane.errors.flush().rows;
const wiringLeg = (agent: string) =>
  (
    sim.status().wiring as {
      publishers: Array<{ agent: string; own: { sent: number; note: string } }>;
    }
  ).publishers.find((p) => p.agent === agent)!.own;

describe('the error-bus bridge against the sim (upstream wiring) and nats-server', { skip }, () => {
  before(async () => {
    const loaded = loadFleet(files, ENV);
    assert.ok(loaded.ok, loaded.diagnostics.map((d) => d.message).join('; '));
    fleet = loaded.machines;
    sim = await startSim({
      machines: fleet,
      hosts: HOSTS,
      overrides,
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 0,
    });
    stops.push(() => sim.stop());
    nc = await connect({ servers: sim.natsUrl! });
    stops.push(() => nc.close());
    // The console: a SUB on each machine's error bus and JetStream consumers.
    plane = startDataPlane({
      machines: fleet,
      nats: sim.natsUrl!,
      live: false,
      errors: { notifyMs: 10, flood: { rateCount: 1e9, rateWindowMs: 1000, rules: [] } },
    });
    stops.push(() => plane.stop());
    await until('console on NATS', () => (plane.natsFeed()?.streams.length ?? 0) > 0);
  });

  test("doctor, no bridge: MainPC 7150 has no listener (Alpha, Bravo lost); PC2 7150 is CentralErrorBus's PUB (Auth, Delta lost even with a bridge; Obs ZMQ only)", async () => {
    const { code, json } = await doctor();
    assert.equal(code, 1, 'findings: errors reach no one');
    const [mainpc, p2] = json.machines as [MachineJson, MachineJson];
    assert.equal(mainpc.effective.phase, 0);
    assert.deepEqual(
      mainpc.ports.map((p) => [p.port, p.probe.holder, p.connecting, p.bridge.mode]),
      [[7150, 'none', ['Alpha', 'Bravo'], 'bind']],
    );
    assert.deepEqual(
      mainpc.lostWithoutBridge.map((p) => p.agent),
      ['Alpha', 'Bravo'],
    );
    assert.deepEqual(mainpc.lostEvenWithBridge, []);
    assert.equal(mainpc.bridge, undefined);
    assert.equal(p2.ports[0]!.probe.holder, 'pub');
    assert.match(p2.ports[0]!.expected.by, /^CentralErrorBus's PUB/);
    assert.deepEqual(
      [p2.ports[0]!.connecting, p2.ports[0]!.binding, p2.ports[0]!.bridge.mode],
      [['Auth'], ['Delta'], 'connect'],
    );
    assert.deepEqual(
      p2.lostEvenWithBridge.map((p) => p.agent),
      ['Auth', 'Delta'],
    );
    assert.deepEqual(Object.fromEntries(p2.publishers.map((p) => [p.agent, p.reach])), {
      Auth: 'nobody',
      Delta: 'nobody',
      Obs: 'zmq',
    });
    assert.equal(p2.effective.phase, 0);
    // What the sim really did: the same story told by its sockets.
    assert.match(
      wiringLeg('Delta').note,
      /bind tcp:\/\/127\.0\.0\.102:7150 failed: EADDRINUSE; socket None/,
    );
    assert.match(wiringLeg('Alpha').note, /PUB connected to tcp:\/\/127\.0\.0\.101:7150/);
  });

  test("without the bridge, MainPC's errors reach no one: not the console's SUB, not JetStream", async () => {
    const lost = ['Alpha', 'Bravo', 'Auth', 'Delta'];
    for (const a of lost) await send(a, `before-bridge ${a}`);
    await send('Obs', 'before-bridge Obs'); // CentralErrorBus re-publishes it: the console's SUB sees it
    await until('Obs on the console', () =>
      rows().find((r) => r.event.message === 'before-bridge Obs'),
    );
    await new Promise((r) => setTimeout(r, 500));
    for (const a of lost)
      assert.equal(
        rows().find((r) => r.event.message === `before-bridge ${a}`),
        undefined,
        `${a} reached the console`,
      );
    assert.ok(
      wiringLeg('Alpha').sent >= 1 && wiringLeg('Bravo').sent >= 1,
      'the publishers did send',
    );
    assert.deepEqual(await readStream(nc), [], 'phase 0 and no bridge: nothing in JetStream');
  });

  test('with the bridge on both machines: each error reaches JetStream exactly once, marked, shown as zmq->nats', async () => {
    for (const m of fleet) {
      const plan = buildTopology({ machines: fleet, env: ENV, bridges: [m.id] }).bridgePlan[m.id]!;
      bridges[m.id] = await runBridge(nc, {
        machine: m.id,
        targets: plan.map((t) =>
          t.mode === 'bind' ? { ...t, host: bindAddress(t.host, undefined) } : t,
        ),
        log: () => undefined,
        statusMs: 500,
      });
      stops.push(() => bridges[m.id]!.stop(500));
    }
    assert.deepEqual(
      bridges.mainpc!.stats().endpoints.map((e) => e.state),
      ['bound (SUB)'],
    );
    assert.deepEqual(
      bridges.pc2!.stats().endpoints.map((e) => e.state),
      ['connected (SUB)'],
    );
    await new Promise((r) => setTimeout(r, 400)); // the publishers' PUBs reconnect (ZMQ retries every 100 ms)

    const sent = new Map<string, string>(); // error id -> agent
    for (let i = 0; i < 100; i++)
      for (const a of ['Alpha', 'Bravo']) sent.set(await send(a, `bridged ${a} ${i}`), a);
    for (let i = 0; i < 10; i++) sent.set(await send('Obs', `bridged Obs ${i}`), 'Obs');
    const stillLost = [
      await send('Auth', 'bridged Auth'),
      await send('Delta', 'bridged Delta', 'critical'),
    ];
    await until(
      'everything stored',
      () => bridges.mainpc!.stats().published + bridges.pc2!.stats().published >= sent.size,
    );

    const stream = await readStream(nc);
    const byCorrelation = new Map<string, number>();
    for (const m of stream)
      byCorrelation.set(
        String(m.body.correlation_id),
        (byCorrelation.get(String(m.body.correlation_id)) ?? 0) + 1,
      );
    for (const [id, agent] of sent)
      assert.equal(
        byCorrelation.get(id),
        1,
        `${agent} ${id} stored ${byCorrelation.get(id) ?? 0} times`,
      );
    assert.equal(stream.length, sent.size, 'nothing else, nothing twice');
    for (const m of stream) {
      assert.equal(m.headers['Nats-Msg-Id'], m.body.id);
      assert.equal(m.headers[BRIDGE_HEADER], m.body.agent_name === 'Obs' ? 'pc2' : 'mainpc');
      assert.equal(m.subject, `errors.agents.${String(m.body.agent_name)}`);
    }
    // Auth (PUB to CentralErrorBus's PUB) and Delta (bind EADDRINUSE) stay lost, as the doctor said.
    for (const id of stillLost) assert.equal(byCorrelation.get(id), undefined);

    // The console: one row per error, bus zmq->nats (Obs: the ZMQ copy and its bridged twin, one row).
    await until(
      'console rows',
      () => rows().filter((r) => r.event.message.startsWith('bridged ')).length >= sent.size,
    );
    const shown = rows().filter((r) => r.event.message.startsWith('bridged '));
    assert.equal(shown.length, sent.size);
    assert.deepEqual([...new Set(shown.map((r) => r.bus))], ['zmq->nats']);
    assert.equal(shown.find((r) => r.event.agent === 'Obs')!.event.machine, 'pc2');
    assert.equal(plane.errors.flush().counters.bridged, sent.size);
  });

  test('a re-sent frame is stored once (Nats-Msg-Id); a frame carrying the bridge mark is refused (no loop)', async () => {
    const pub = new zmq.Publisher({ linger: 0 });
    pub.connect(`tcp://${HOSTS.mainpc}:7150`);
    await new Promise((r) => setTimeout(r, 300));
    const e = {
      id: 'resend-0001',
      natsId: 'x',
      at: Date.now(),
      machine: 'mainpc',
      agent: 'Bravo',
      errorType: 'TimeoutError',
      severity: 'error' as const,
      message: 'sent twice',
    };
    const frame = zmqMessages('A', e)[0]!.frames;
    const before = bridges.mainpc!.stats();
    await pub.send(frame);
    await pub.send(frame);
    // What a NATS->ZMQ relay would put back on the bus: the bridged body itself.
    await pub.send(
      '{"id": "x", "agent_name": "Bravo", "message": "looped", "details": {"opsdeck_bridge": {"machine": "pc2"}}}',
    );
    await until('both handled', () => bridges.mainpc!.stats().received >= before.received + 3);
    pub.close();
    await until('acked', () => bridges.mainpc!.stats().queued === 0);
    const after = bridges.mainpc!.stats();
    assert.equal(after.published - before.published, 1);
    assert.equal(after.duplicates - before.duplicates, 1);
    assert.equal(after.loops - before.loops, 1);
    const stored = (await readStream(nc)).filter(
      (m) => m.body.correlation_id === 'resend-0001' || m.body.message === 'looped',
    );
    assert.equal(stored.length, 1);
  });

  test('doctor with the bridges: MainPC effectively in phase 1 (KV says 0), PC2 still 0 for Auth and Delta', async () => {
    const { json } = await doctor();
    const [m, p] = json.machines;
    assert.equal(m!.effective.phase, 1, m!.effective.why);
    assert.match(m!.effective.why, /0 natively, 2 through the bridge\); KV still says 0/);
    assert.equal(m!.ports[0]!.probe.holder, 'sub', "the bridge's SUB now holds MainPC 7150");
    assert.equal(m!.bridge?.state, 'running');
    assert.ok((m!.bridge?.published ?? 0) >= 200);
    assert.equal(p!.effective.phase, 0);
    assert.deepEqual(Object.fromEntries(p!.publishers.map((x) => [x.agent, x.reach])), {
      Auth: 'nobody',
      Delta: 'nobody',
      Obs: 'bridge',
    });
  });

  test('phase 0 -> 1 preflight with the bridges: every ZMQ publisher reaches NATS with no agent change', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      env: { ...ENV, PATH: process.env.PATH, OPSDECK_AUDIT: join(dir, 'audit.jsonl') },
      cwd: dir,
    };
    const run = main(
      [
        'errorbus',
        'phase',
        'advance',
        '--dry-run',
        '--observe',
        '2s',
        '--mainpc',
        files.mainpc,
        '--pc2',
        files.pc2,
        '--nats',
        sim.natsUrl!,
      ],
      io,
    );
    await new Promise((r) => setTimeout(r, 700));
    for (const a of ['Alpha', 'Bravo', 'Obs']) await send(a, `preflight ${a}`);
    const code = await run;
    const text = out.join('\n');
    assert.match(
      text,
      /pass {2}every ZMQ publisher reaches NATS, natively or through the bridge \(phase 1 without agent changes\): 3\/3 publishers .* reach NATS \(0 natively, 3 only through the bridge, 0 ZMQ only\)/,
      `${text}\n${err.join('\n')}`,
    );
    assert.equal(code, 0, `${text}\n${err.join('\n')}`);
  });

  test('phase 1: native NATS publishing and the bridge both on, the console shows each error once', async () => {
    const kv = await nc.jetstream().views.kv(PHASE_BUCKET);
    await kv.put(PHASE_KEY, encodePhase(1));
    await until('sim in phase 1', () => sim.phase.phase === 1);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await send('Alpha', `dual ${i}`));
    for (let i = 0; i < 10; i++) await send('Bravo', `dual-bravo ${i}`);
    const stream = await until('native and bridged copies', async () => {
      const s = (await readStream(nc)).filter((m) => ids.includes(String(m.body.correlation_id)));
      // nats_error_bus.py publishes on errors.events and errors.agents.Alpha; the bridge once.
      return s.length >= ids.length * 3 ? s : undefined;
    });
    assert.equal(
      stream.filter((m) => m.headers[BRIDGE_HEADER]).length,
      ids.length,
      'bridged once each',
    );
    await until(
      'console rows',
      () =>
        ids.every((_, i) =>
          rows().some((r) => r.event.message === `dual ${i}` && r.bus === 'both'),
        ) && rows().filter((r) => r.event.message.startsWith('dual-bravo')).length === 10,
    );
    await new Promise((r) => setTimeout(r, 300)); // late copies would add rows here
    for (let i = 0; i < ids.length; i++) {
      const shown = rows().filter((r) => r.event.message === `dual ${i}`);
      assert.equal(shown.length, 1, `dual ${i} shown ${shown.length} times`);
      assert.equal(shown[0]!.bus, 'both');
    }
    assert.deepEqual(
      [
        ...new Set(
          rows()
            .filter((r) => r.event.message.startsWith('dual-bravo'))
            .map((r) => r.bus),
        ),
      ],
      ['zmq->nats'],
      'Bravo has no native leg',
    );
    const pubs = plane.errors.flush().publishers;
    const alpha = pubs.find((p) => p.agent === 'Alpha')!;
    const bravo = pubs.find((p) => p.agent === 'Bravo')!;
    assert.ok(alpha.nats > 0 && (alpha.bridged ?? 0) > 0);
    assert.equal(bravo.nats, 0, 'bridged copies never count as native NATS');
    await kv.put(PHASE_KEY, encodePhase(0));
    await until('sim back in phase 0', () => sim.phase.phase === 0);
  });

  // The rollback must give MainPC 7150 back to the bridge's SUB, not to a PUB (the sim once bound
  // a collector PUB there on any phase change, and won the race for the port about half the time).
  test("phase 3 (zmq-off) closes the bridge's sockets, so the error-bus port is really closed; a rollback reopens them", async () => {
    const kv = await nc.jetstream().views.kv(PHASE_BUCKET);
    await kv.put(PHASE_KEY, encodePhase(3));
    await until(
      'mainpc bridge closed',
      () => bridges.mainpc!.stats().state === 'closed (phase 3 zmq-off)',
    );
    await until(
      'MainPC 7150 refused',
      async () => (await probeZmtp(HOSTS.mainpc, 7150)).holder === 'none',
    );
    await kv.put(PHASE_KEY, encodePhase(2));
    await until('mainpc bridge open again', () => bridges.mainpc!.stats().state === 'running');
    await until(
      'a SUB on MainPC 7150 again',
      async () => (await probeZmtp(HOSTS.mainpc, 7150)).holder === 'sub',
    );
    assert.deepEqual(
      bridges.mainpc!.stats().endpoints.map((e) => e.state),
      ['bound (SUB)'],
      'the bridge bound 7150 again (not "connected instead")',
    );
    await kv.put(PHASE_KEY, encodePhase(0));
  });
});
