// The doctor's verdicts: the phase each machine is effectively in (from where its publishers'
// errors really go), findings, and the report lines. Table-driven, no I/O.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import type { PublisherStats } from '../../source/core/errors/pipeline.js';
import {
  diagnose,
  doctorLines,
  doctorMetrics,
  type BridgeObs,
} from '../../source/core/errorbus/doctor.js';
import { phaseValue, type PhaseNumber } from '../../source/core/errorbus/phase.js';
import type { StreamObs } from '../../source/core/errorbus/streams.js';
import { buildTopology } from '../../source/core/errorbus/topology.js';

const MAIN = '10.0.0.16';
const PC2 = '10.0.0.17';
const env = { MAINPC_IP: MAIN, PC2_IP: PC2, MAINPC_ERROR_BUS_HOST: MAIN };

function fleet(): Machine[] {
  const a = loadConfigText(
    `agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 5701, health_check_port: 6701}\n    Bravo: {script_path: b.py, port: 5703, health_check_port: 6703}\n`,
    'm.yaml',
    { env, machine: 'mainpc' },
  );
  const b = loadConfigText(
    `pc2_services:\n- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, port: 7150, health_check_port: 8150}\n- {name: Auth, script_path: pc2_code/agents/ForPC2/auth.py, port: 7116, health_check_port: 8116}\n- {name: Obs, script_path: services/obs/app.py, port: 7190, health_check_port: 8190}\nerror_bus_port: 7150\n`,
    'p.yaml',
    { env, machine: 'pc2' },
  );
  assert.ok(a.ok && b.ok);
  return [...a.machines, ...b.machines];
}

const NOW = 1_000_000;
const pub = (machine: string, agent: string, o: Partial<PublisherStats> = {}): PublisherStats => ({
  machine,
  agent,
  zmq: 0,
  nats: 0,
  ...o,
});
const bridge = (machine: string): BridgeObs => ({
  machine,
  state: 'running',
  received: 10,
  published: 10,
  duplicates: 0,
  dropped: 0,
  queued: 0,
  nats: 'connected',
  endpoints: [],
  ageMs: 500,
});
const ONE_STREAM: StreamObs[] = [{ name: 'ERRORS', subjects: ['errors.>'], messages: 3 }];

interface Case {
  name: string;
  kv: PhaseNumber;
  bridges?: string[];
  publishers?: PublisherStats[];
  probes?: Record<string, 'pub' | 'sub' | 'none'>;
  streams?: StreamObs[];
  /** machine -> [effective phase, why pattern] */
  want: Record<string, [PhaseNumber, RegExp]>;
  findings: RegExp[];
  noFindings?: RegExp[];
}

const cases: Case[] = [
  {
    name: 'today: no bridge, MainPC publishers connect to nothing, PC2 ForPC2 meets CentralErrorBus',
    kv: 0,
    want: {
      mainpc: [0, /errors of Alpha, Bravo reach no one/],
      pc2: [0, /Auth reach no one; errors of Obs reach ZMQ only/],
    },
    findings: [
      /mainpc\/Alpha \(A\): nothing listens .*; fix: start `opsdeck agent --machine mainpc --bridge`/,
      /pc2\/Auth \(B\): .*PUB-PUB/,
    ],
  },
  {
    name: 'bridges on both: MainPC is effectively in phase 1 while KV says 0; PC2 stays 0 for Auth',
    kv: 0,
    bridges: ['mainpc', 'pc2'],
    want: {
      mainpc: [
        1,
        /every publisher reaches NATS \(0 natively, 2 through the bridge\); KV still says 0: advancing to 1 needs no agent change/,
      ],
      pc2: [0, /Auth reach no one$/],
    },
    findings: [/pc2\/Auth/],
    noFindings: [/mainpc\//],
  },
  {
    name: 'KV 2 with the bridge: consumers on NATS, publishers covered',
    kv: 2,
    bridges: ['mainpc'],
    want: { mainpc: [2, /consumers read NATS/] },
    findings: [/pc2 is effectively in phase 0 zmq while KV says 2 nats-consumers/],
  },
  {
    name: 'KV 3 but MainPC publishers reach NATS only through the bridge: effectively 2',
    kv: 3,
    bridges: ['mainpc'],
    publishers: [
      pub('mainpc', 'Alpha', { bridged: 5, lastBridged: NOW - 1000 }),
      pub('mainpc', 'Bravo', { bridged: 5, lastBridged: NOW - 1000 }),
    ],
    want: { mainpc: [2, /2 only through the bridge \(phase 3 needs native NATS publishers\)/] },
    findings: [/mainpc is effectively in phase 2 nats-consumers while KV says 3 zmq-off/],
  },
  {
    name: 'KV 3, every MainPC publisher native, port closed, no bridge: 3',
    kv: 3,
    publishers: [
      pub('mainpc', 'Alpha', { nats: 3, lastNats: NOW - 500 }),
      pub('any', 'Bravo', { nats: 1, lastNats: NOW - 500 }),
    ],
    probes: { [`${MAIN}:7150`]: 'none' },
    want: { mainpc: [3, /2 natively, 0 through the bridge\); the error-bus port is closed/] },
    findings: [],
    noFindings: [/mainpc/],
  },
  {
    name: 'native publishes older than the window do not count',
    kv: 1,
    publishers: [pub('mainpc', 'Alpha', { nats: 3, lastNats: NOW - 20 * 60_000 })],
    want: { mainpc: [0, /Alpha, Bravo reach no one/] },
    findings: [/mainpc is effectively in phase 0 zmq while KV says 1/],
  },
  {
    name: 'overlapping streams are a finding and a report line',
    kv: 0,
    bridges: ['mainpc'],
    streams: [
      { name: 'ERRORS', subjects: ['errors.>'], messages: 1 },
      { name: 'AGENT_ERRORS', subjects: ['errors.agents.>'], messages: 1 },
    ],
    want: { mainpc: [1, /through the bridge/] },
    findings: [/streams: .*ERRORS and AGENT_ERRORS claim overlapping subjects/],
  },
];

describe('doctor: effective phase per machine', () => {
  for (const c of cases) {
    test(c.name, () => {
      const machines = fleet();
      const probes = Object.fromEntries(
        Object.entries(c.probes ?? {}).map(([k, holder]) => [k, { holder }]),
      );
      const topology = buildTopology({ machines, env, bridges: c.bridges ?? [], probes });
      const d = diagnose({
        topology,
        machines,
        bridges: Object.fromEntries((c.bridges ?? []).map((m) => [m, bridge(m)])),
        kv: phaseValue(c.kv),
        streams: c.streams ?? ONE_STREAM,
        publishers: c.publishers ?? [],
        now: NOW,
        windowMs: 10 * 60_000,
      });
      for (const [machine, [phase, why]] of Object.entries(c.want)) {
        const m = d.machines.find((x) => x.id === machine)!;
        assert.equal(m.effective.phase, phase, `${machine}: ${m.effective.why}`);
        assert.match(m.effective.why, why);
      }
      const all = d.findings.join('\n');
      for (const f of c.findings) assert.match(all, f);
      for (const f of c.noFindings ?? []) assert.doesNotMatch(all, f);
      const lines = doctorLines(d).join('\n');
      assert.match(lines, /^phase in KV: \d /);
      assert.match(lines, /mainpc \(10\.0\.0\.16\): effectively phase/);
      if (c.streams) assert.match(lines, /overlap: ERRORS and AGENT_ERRORS/);
    });
  }

  test('the report says who binds what, who connects, and what is lost with and without the bridge', () => {
    const machines = fleet();
    const d = diagnose({
      topology: buildTopology({
        machines,
        env,
        bridges: [],
        probes: { [`${PC2}:7150`]: { holder: 'pub', detail: 'PUB (ZMTP 3.1, NULL)' } },
      }),
      machines,
      bridges: {},
      publishers: [],
      now: NOW,
      windowMs: 60_000,
    });
    const lines = doctorLines(d);
    assert.ok(lines.includes('phase in KV: unknown (no NATS)'));
    assert.ok(
      lines.includes(
        `  port 7150: config: CentralErrorBus's PUB (tcp://*:7150); probe: pub (PUB (ZMTP 3.1, NULL))`,
      ),
      lines.join('\n'),
    );
    assert.ok(lines.includes('    PUBs that config and env aim here: Alpha, Bravo'));
    assert.ok(lines.includes('  lost without the bridge (2): Alpha, Bravo'));
    assert.ok(lines.includes('  lost even with the bridge (1): Auth'));
    assert.ok(
      lines.includes('  bridge: not running (start: opsdeck agent --machine mainpc --bridge)'),
    );
  });
});

// Issue 12: every claim of the doctor and of its scorecard lines is checked against the traffic
// the same run observed. Random traffic over the fleet's publishers; the invariants must hold.
describe('no claim the observed traffic contradicts', () => {
  const machines = fleet();
  const topology = buildTopology({ machines, env, bridges: [] });
  const routes = topology.routes.filter((r) => r.copy === 'own');
  // A small deterministic generator: the same cases every run.
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const window = 60_000;
  for (let round = 0; round < 40; round++) {
    const seen = (): number | undefined =>
      rand() < 0.5 ? undefined : rand() < 0.8 ? NOW - rand() * window * 0.9 : NOW - window * 2;
    const publishers = routes.map((r) => {
      const p = pub(r.machine, r.agent);
      const z = seen();
      const n = seen();
      const b = seen();
      if (z !== undefined) Object.assign(p, { zmq: 1 + Math.floor(rand() * 50), lastZmq: z });
      if (n !== undefined) Object.assign(p, { nats: 1 + Math.floor(rand() * 50), lastNats: n });
      if (b !== undefined)
        Object.assign(p, { bridged: 1 + Math.floor(rand() * 50), lastBridged: b });
      return p;
    });
    test(`random traffic ${round}`, () => {
      const d = diagnose({
        topology,
        machines,
        bridges: {},
        publishers,
        now: NOW,
        windowMs: window,
      });
      const fresh = (t: number | undefined) => t !== undefined && t > NOW - window;
      for (const m of d.machines)
        for (const p of m.publishers) {
          const s = publishers.find((x) => x.machine === m.id && x.agent === p.agent)!;
          const heard = fresh(s.lastNats) || fresh(s.lastBridged) || fresh(s.lastZmq);
          assert.equal(p.observed, heard, `${p.agent}: observed`);
          // A publisher heard from is never called lost, on screen or in the findings.
          if (heard) {
            assert.ok(
              !m.lostEvenWithBridge.includes(p),
              `${p.agent} heard, yet lost even with the bridge`,
            );
            assert.ok(
              !d.findings.some(
                (f) =>
                  f.startsWith(`${m.id}/${p.agent} (`) &&
                  /reach|nothing listens|delivers nothing/.test(f) &&
                  !f.includes('not seen'),
              ),
              `${p.agent} heard, yet a finding says its errors are lost`,
            );
            assert.notEqual(p.reach, 'nobody', `${p.agent} heard, yet it reaches nobody`);
            assert.match(p.evidence, /^seen in the last 1 min: /);
          } else {
            assert.match(p.evidence, /^not seen in the last 1 min; predicted from config and env$/);
          }
          if (fresh(s.lastNats)) assert.equal(p.reach, 'native');
        }
      // The scorecard line counts exactly the publishers heard from.
      const lines = doctorMetrics(d);
      for (const m of d.machines) {
        const line = lines.find((l) => l.label === `${m.id}: publishers heard from`)!;
        const heard = new Set(m.publishers.filter((p) => p.observed).map((p) => p.agent)).size;
        assert.match(line.value, new RegExp(`^${heard}/`));
      }
    });
  }

  test('a publisher predicted lost but seen on its bus is reported as a contradicted prediction', () => {
    const d = diagnose({
      topology,
      machines,
      bridges: {},
      publishers: [pub('mainpc', 'Alpha', { bridged: 181, lastBridged: NOW - 1000 })],
      now: NOW,
      windowMs: window,
    });
    const alpha = d.machines[0]!.publishers.find((p) => p.agent === 'Alpha')!;
    assert.equal(alpha.reach, 'bridge');
    assert.match(alpha.evidence, /181 through the bridge/);
    assert.ok(!d.machines[0]!.lostEvenWithBridge.includes(alpha));
    // Native NATS copies say nothing about the ZMQ route: no contradiction from them.
    const native = diagnose({
      topology,
      machines,
      bridges: {},
      publishers: [pub('pc2', 'Auth', { nats: 3, lastNats: NOW - 1000 })],
      now: NOW,
      windowMs: window,
    });
    assert.equal(
      native.machines[1]!.publishers.find((p) => p.agent === 'Auth')!.contradicted,
      undefined,
    );
    const zmqSeen = diagnose({
      topology,
      machines,
      bridges: {},
      publishers: [pub('pc2', 'Auth', { zmq: 3, lastZmq: NOW - 1000 })],
      now: NOW,
      windowMs: window,
    });
    const auth = zmqSeen.machines[1]!.publishers.find((p) => p.agent === 'Auth')!;
    assert.match(auth.contradicted!, /PUB-PUB pair delivers nothing, yet its errors arrived/);
    assert.ok(zmqSeen.findings.some((f) => f.startsWith('pc2/Auth: config and env predict')));
  });
});
