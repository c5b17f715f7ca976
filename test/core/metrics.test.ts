// The exporter's page, built by hand: the text format's rules (checked by promtool where it is
// installed), the families for a machine, and the error counters' bounded labels.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { initialHealth, observe, type AgentHealth } from '../../source/core/health/state.js';
import { attributionFor, ErrorTally } from '../../source/core/metrics/errors.js';
import { exposition, Histogram, type Family } from '../../source/core/metrics/exposition.js';
import { fleetFamilies } from '../../source/core/metrics/fleet.js';

const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
const NO_PROMTOOL = PROMTOOL
  ? false
  : 'promtool not installed: apt-get install prometheus (scripts/install-system-deps.sh)';

/** promtool's verdict on a page: its exit code and what it said. */
function promtool(page: string): { code: number | null; said: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
  return { code: r.status, said: `${r.stdout}${r.stderr}` };
}

const YAML = `agent_groups:
  core:
    ServiceRegistry: {script_path: a.py, port: 7200, health_check_port: 8200}
    UnifiedSystemAgent: {script_path: b.py, port: 7201, health_check_port: 8201}
  speech:
    NLUAgent: {script_path: c.py, port: 5709}
`;
const machine: Machine = loadConfigText(YAML, 'mainpc.yaml', { env: {} }).machines[0]!;
const pc2: Machine = loadConfigText(
  `agent_groups:\n  hubs:\n    MemoryFusionHub: {script_path: m.py, port: 5713}\n    Tutor: {script_path: t.py, port: 7108}\n`,
  'pc2.yaml',
  { env: {}, machine: 'pc2' },
).machines[0]!;

const NOW = 1_750_000_000_000;
const reply = (at: number, state: 'healthy' | 'degraded' = 'healthy'): AgentHealth =>
  observe(initialHealth(), {
    kind: 'reply',
    reading: { state, reason: state, protocol: 'base-agent' },
    latencyMs: 2,
    at,
  });

describe('the text format', () => {
  test('HELP and TYPE once per family, label values escaped, a histogram cumulative to +Inf', () => {
    const h = new Histogram([0.01, 0.1, 1]);
    for (const v of [0.005, 0.05, 0.05, 5]) h.observe(v);
    const page = exposition([
      {
        name: 'x_total',
        help: 'line one\nback\\slash',
        type: 'counter',
        samples: [{ labels: { agent: 'a"b\\c\nd' }, value: 3 }],
      },
      { name: 'lat_seconds', help: 'h', type: 'histogram', samples: h.samples({ agent: 'A' }) },
      { name: 'g', help: 'g', type: 'gauge', samples: [{ labels: {}, value: Number.NaN }] },
    ]);
    assert.equal(
      page,
      [
        '# HELP x_total line one\\nback\\\\slash',
        '# TYPE x_total counter',
        'x_total{agent="a\\"b\\\\c\\nd"} 3',
        '# HELP lat_seconds h',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{agent="A",le="0.01"} 1',
        'lat_seconds_bucket{agent="A",le="0.1"} 3',
        'lat_seconds_bucket{agent="A",le="1"} 3',
        'lat_seconds_bucket{agent="A",le="+Inf"} 4',
        'lat_seconds_sum{agent="A"} 5.105',
        'lat_seconds_count{agent="A"} 4',
        '# HELP g g',
        '# TYPE g gauge',
        'g NaN',
        '',
      ].join('\n'),
    );
  });

  test('a bad metric or label name, or a family twice, is refused (a bug here, never output)', () => {
    const f = (over: Partial<Family>): Family => ({
      name: 'ok',
      help: 'h',
      type: 'gauge',
      samples: [],
      ...over,
    });
    assert.throws(() => exposition([f({ name: 'has-dash' })]), /not a metric name/);
    assert.throws(() => exposition([f({}), f({})]), /twice/);
    assert.throws(
      () => exposition([f({ samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] })]),
      /not a label name/,
    );
  });

  test('promtool accepts a page with hostile label values', { skip: NO_PROMTOOL }, () => {
    const page = exposition([
      {
        name: 'opsdeck_test_total',
        help: 'quotes, backslashes, newlines and escapes in values',
        type: 'counter',
        samples: [{ labels: { agent: 'x"\\\n\u001b[2J' }, value: 1 }],
      },
    ]);
    const r = promtool(page);
    assert.equal(r.code, 0, r.said);
  });
});

describe("a machine's families", () => {
  const moved: AgentHealth = {
    ...reply(NOW),
    moved: { port: 5000, healthPort: 5001, how: 'its name answered on 5001' },
  };
  const down: AgentHealth = observe(reply(NOW - 1000), {
    kind: 'refused',
    reason: 'nothing listens',
    at: NOW,
  });
  const health = new Map<string, AgentHealth>([
    ['mainpc/ServiceRegistry', { ...reply(NOW, 'degraded'), instrumented: false }],
    ['mainpc/UnifiedSystemAgent', down],
    ['mainpc/NLUAgent', moved],
  ]);
  const latency = new Map([['ServiceRegistry', new Histogram()]]);
  latency.get('ServiceRegistry')!.observe(0.002);
  const families = fleetFamilies({
    machine: 'mainpc',
    probed: { model: machine, health },
    latency,
    sample: {
      machine: 'mainpc',
      ts: NOW,
      source: 'agent',
      gpu: { name: 'RTX 4090', totalMb: 24576, usedMb: 1024, utilPct: 5 },
      cpuPct: 12.5,
      ramTotalMb: 64000,
      ramUsedMb: 32000,
      throttleLevel: 0,
      throttle: {
        level: null,
        thresholds: { cpu: 70, memory: 80, gpu: 80 },
        nice: { want: 0, at: 3, of: 3 },
        summary: 'no level',
        at: NOW,
      },
      agents: [],
    },
    sampleAgeMs: 400,
    bridge: {
      state: 'running',
      received: 9,
      published: 7,
      duplicates: 1,
      dropped: 1,
      malformed: 0,
      queued: 0,
      gaps: 2,
      since: NOW,
    },
    phase: { phase: 1, name: 'dual-publish' },
    version: '0.1.0',
    startedAt: NOW,
  });
  const page = exposition(families);
  const value = (series: string) => {
    const line = page.split('\n').find((l) => l.startsWith(`${series} `));
    assert.ok(line, `no ${series} in\n${page}`);
    return Number(line.slice(series.length + 1));
  };
  const agent = (a: string, group: string) => `machine="mainpc",agent="${a}",group="${group}"`;

  test('every agent: up, one state of six, protocol, drift kind, and its own /metrics when checked', () => {
    assert.equal(value(`opsdeck_agent_up{${agent('ServiceRegistry', 'core')}}`), 1);
    assert.equal(value(`opsdeck_agent_up{${agent('UnifiedSystemAgent', 'core')}}`), 0);
    assert.equal(
      value(`opsdeck_agent_state{${agent('ServiceRegistry', 'core')},state="degraded"}`),
      1,
    );
    assert.equal(
      value(`opsdeck_agent_state{${agent('ServiceRegistry', 'core')},state="healthy"}`),
      0,
    );
    assert.equal(
      value(`opsdeck_agent_state{${agent('UnifiedSystemAgent', 'core')},state="unreachable"}`),
      1,
    );
    const states = page
      .split('\n')
      .filter((l) => l.startsWith('opsdeck_agent_state{') && l.endsWith(' 1'));
    assert.equal(states.length, 3, 'exactly one state per agent');
    assert.equal(value(`opsdeck_agent_info{${agent('NLUAgent', 'speech')},protocol="base"}`), 1);
    assert.equal(value(`opsdeck_agent_port_drift{${agent('NLUAgent', 'speech')},kind="moved"}`), 1);
    assert.equal(
      value(`opsdeck_agent_port_drift{${agent('ServiceRegistry', 'core')},kind="moved"}`),
      0,
    );
    assert.equal(value(`opsdeck_agent_instrumented{${agent('ServiceRegistry', 'core')}}`), 0);
    assert.doesNotMatch(page, /opsdeck_agent_instrumented\{[^}]*NLUAgent/, 'not checked: absent');
    assert.equal(
      value(`opsdeck_agent_health_latency_seconds_count{${agent('ServiceRegistry', 'core')}}`),
      1,
    );
  });

  test('the machine, its throttle read back (absent when the parts agree on no level), bridge, phase', () => {
    assert.equal(value('opsdeck_machine_cpu_percent{machine="mainpc"}'), 12.5);
    assert.equal(
      value('opsdeck_machine_vram_used_bytes{machine="mainpc",gpu="RTX 4090"}'),
      1024 * 1024 * 1024,
    );
    assert.doesNotMatch(page, /^opsdeck_machine_throttle_level\{/m);
    assert.equal(value('opsdeck_machine_throttle_known{machine="mainpc"}'), 0);
    assert.equal(value('opsdeck_bridge_up{machine="mainpc"}'), 1);
    assert.equal(value('opsdeck_bridge_forwarded_total{machine="mainpc"}'), 7);
    assert.equal(value('opsdeck_bridge_dropped_total{machine="mainpc"}'), 1);
    assert.equal(value('opsdeck_bridge_gaps_total{machine="mainpc"}'), 2);
    assert.equal(value('opsdeck_errorbus_phase{machine="mainpc"}'), 1);
  });

  test('promtool accepts the page', { skip: NO_PROMTOOL }, () => {
    const r = promtool(page);
    assert.equal(r.code, 0, r.said);
  });

  test('without a fleet config: the machine only, and it says so', () => {
    const bare = exposition(
      fleetFamilies({ machine: 'pc2', latency: new Map(), version: '0.1.0', startedAt: NOW }),
    );
    assert.match(bare, /^opsdeck_exporter_probing\{machine="pc2"\} 0$/m);
    assert.doesNotMatch(bare, /opsdeck_agent_/);
    assert.match(bare, /^opsdeck_bridge_up\{machine="pc2"\} 0$/m);
  });
});

describe('error counters', () => {
  const fleet = [machine, pc2, { ...pc2, id: 'other', agents: [{ ...pc2.agents[0]! }] }];
  const sev = 'error' as const;

  test("zmq: what this machine's bridge received, under the agent's fleet name; an unknown name is folded", () => {
    const t = new ErrorTally(attributionFor('mainpc', fleet));
    t.zmq({ agent: 'NLUAgent', severity: sev });
    t.zmq({ agent: 'NLUAgent', severity: sev });
    t.zmq({ agent: 'Tutor', severity: 'warning' }); // a PC2 agent seen on MainPC's bus
    t.zmq({ agent: '\u001b[2Jrogue "name"', severity: sev });
    const page = exposition(t.families('mainpc'));
    assert.match(
      page,
      /^opsdeck_errors_total\{machine="mainpc",agent="NLUAgent",group="speech",severity="error",bus="zmq"\} 2$/m,
    );
    assert.match(
      page,
      /^opsdeck_errors_total\{machine="mainpc",agent="Tutor",group="hubs",severity="warning",bus="zmq"\} 1$/m,
    );
    assert.match(
      page,
      /^opsdeck_errors_total\{machine="mainpc",agent="other",group="",severity="error",bus="zmq"\} 1$/m,
    );
    assert.match(
      page,
      /^opsdeck_errors_folded_total\{machine="mainpc",reason="unknown-agent"\} 1$/m,
    );
    assert.doesNotMatch(page, /rogue/, 'nothing from the wire becomes a label');
  });

  test('nats: each error counted once across the machines; shared and unknown names by the first machine as any', () => {
    const main = new ErrorTally(attributionFor('mainpc', fleet));
    const two = new ErrorTally(attributionFor('pc2', fleet));
    const errors = [
      { agent: 'NLUAgent', severity: sev, ids: ['a'] }, // MainPC only
      { agent: 'Tutor', severity: sev, ids: ['b'] }, // PC2 only
      { agent: 'MemoryFusionHub', severity: sev, ids: ['c'] }, // on pc2 and other
      { agent: 'Nobody', severity: sev, ids: ['d'] },
      { agent: 'NLUAgent', severity: sev, ids: ['a'] }, // upstream's second copy of 'a'
    ];
    const counted = errors.map((e) => [main.nats(e, NOW), two.nats(e, NOW)]);
    assert.deepEqual(counted, [
      [true, false],
      [false, true],
      [true, false],
      [true, false],
      [false, false],
    ]);
    const page = exposition(main.families('mainpc'));
    assert.match(page, /agent="MemoryFusionHub",group="hubs",severity="error",bus="nats"\} 1$/m);
    assert.match(page, /machine="any",agent="MemoryFusionHub"/);
    assert.match(page, /machine="any",agent="other",group="",severity="error",bus="nats"\} 1$/m);
    // The same id after the copy window is a new error.
    assert.equal(main.nats({ agent: 'NLUAgent', severity: sev, ids: ['a'] }, NOW + 60_000), true);
  });

  test('past the series cap, new series fold into other and say so', () => {
    const t = new ErrorTally(attributionFor('mainpc', fleet), 2);
    t.zmq({ agent: 'NLUAgent', severity: 'error' });
    t.zmq({ agent: 'NLUAgent', severity: 'warning' });
    t.zmq({ agent: 'NLUAgent', severity: 'info' });
    t.zmq({ agent: 'ServiceRegistry', severity: 'info' });
    t.zmq({ agent: 'NLUAgent', severity: 'error' }); // an existing series still counts
    const page = exposition(t.families('mainpc'));
    assert.match(page, /agent="NLUAgent",group="speech",severity="error",bus="zmq"\} 2$/m);
    assert.match(page, /agent="other",group="",severity="info",bus="zmq"\} 2$/m);
    assert.match(page, /^opsdeck_errors_folded_total\{machine="mainpc",reason="series-cap"\} 2$/m);
  });
});
