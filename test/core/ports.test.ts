// Port registry and conflict rules: each rule on small fixtures (one case that fires, one that
// must not), then the clashes upstream-protocols.md section f lists for the real fleet files.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import type { Env } from '../../source/core/fleet/port-expr.js';
import { sharesHost } from '../../source/core/ports/hosts.js';
import { portMatrix, renderMatrixMarkdown } from '../../source/core/ports/matrix.js';
import { buildRegistry } from '../../source/core/ports/registry.js';
import {
  checkPorts,
  reservedPorts,
  type PortFinding,
  type PortRule,
} from '../../source/core/ports/rules.js';

const fixtures = fileURLToPath(new URL('../fixtures/ports/', import.meta.url));
const realDir = fileURLToPath(new URL('../../../shared/fixtures/real/', import.meta.url));
const skipReal = existsSync(realDir)
  ? false
  : `real fixtures not found at ${realDir} (../shared is absent)`;

/** Two hosts that do not share a box, so only same-machine rules fire. */
const APART: Env = { MAINPC_IP: '192.168.100.16', PC2_IP: '192.168.100.17' };

function fleet(mainpc: string, pc2: string, env: Env = {}, dir = fixtures) {
  const f = loadFleet({ mainpc: dir + mainpc, pc2: dir + pc2 }, env);
  assert.equal(f.ok, true, JSON.stringify(f.diagnostics));
  return f.machines;
}
const check = (mainpc: string, pc2: string, env: Env = {}, dir = fixtures) =>
  checkPorts(fleet(mainpc, pc2, env, dir), { env }).findings;

const of = (findings: PortFinding[], rule: PortRule, machines: string) =>
  findings.filter((f) => f.rule === rule && f.machines.join('+') === machines);
function one(findings: PortFinding[], rule: PortRule, machines: string, port: number): PortFinding {
  const hits = of(findings, rule, machines).filter((f) => f.port === port);
  assert.equal(
    hits.length,
    1,
    `expected one ${rule} on ${machines} at ${port}, got ${hits.length}`,
  );
  return hits[0]!;
}
/** Owners as `machine agent key@line`: names both owners and where each is defined. */
const owners = (f: PortFinding) =>
  f.owners.map((o) => `${o.machine} ${o.agent} ${o.key}@${o.loc.line}`);
const ports = (findings: PortFinding[]) => findings.map((f) => f.port);

describe('port registry', () => {
  test('every binding: configured port and health, derived port+1 and HTTP, config{} ports, with locations', () => {
    const [mainpc] = fleet('clean-mainpc.yaml', 'clean-pc2.yaml');
    const reg = buildRegistry([mainpc!]);
    const rows = reg.bindings.map(
      (b) =>
        `${b.agent} ${b.kind} ${b.key} ${b.port} ${b.derived ? 'derived' : 'configured'} @${b.loc.line}`,
    );
    assert.deepEqual(rows, [
      'ServiceRegistry port port 7210 configured @7',
      'ServiceRegistry health health_check_port 8210 configured @8',
      'ServiceRegistry http http 8211 derived @8',
      'NLUAgent port port 5709 configured @13',
      'NLUAgent http http 5711 derived @13',
      'NLUAgent health health 5710 derived @13',
      'ObservabilityHub port port 9000 configured @16',
      'ObservabilityHub health health_check_port 9001 configured @17',
      'ObservabilityHub http http 9002 derived @17',
      'MemoryFusionHub port port 5713 configured @21',
      'MemoryFusionHub health health_check_port 6713 configured @22',
      'MemoryFusionHub http http 6714 derived @22',
      'MemoryFusionHub config zmq_port 5720 configured @24',
      'MemoryFusionHub config grpc_port 5721 configured @25',
    ]);
    assert.ok(
      !reg.bindings.some((b) => b.port === 6379),
      'redis_port is a port the hub connects to',
    );
    assert.equal(reg.bindings[0]!.rule, 'port: ${PORT_OFFSET}+7210');
    assert.equal(
      reg.bindings.find((b) => b.key === 'zmq_port')!.rule,
      'config.zmq_port: ${PORT_OFFSET}+5720',
    );
  });
});

describe('port rules on small fleets', () => {
  test('a clean fleet has no findings, even on one shared host', () => {
    assert.deepEqual(check('clean-mainpc.yaml', 'clean-pc2.yaml'), []);
  });

  test('machine-clash: two configured ports, named with both owners and lines', () => {
    const f = one(
      check('clash-mainpc.yaml', 'clash-pc2.yaml', APART),
      'machine-clash',
      'mainpc',
      5600,
    );
    assert.deepEqual(owners(f), ['mainpc AgentA port@6', 'mainpc AgentB port@10']);
    assert.equal(f.severity, 'error');
    assert.equal(f.derived, false);
    assert.match(f.message, /5600 on mainpc is bound by 2 agents: AgentA port, AgentB port/);
  });

  test('machine-clash through a derived HTTP port is marked derived', () => {
    const f = one(
      check('clash-mainpc.yaml', 'clash-pc2.yaml', APART),
      'machine-clash',
      'mainpc',
      6601,
    );
    assert.deepEqual(owners(f), ['mainpc AgentA http@7', 'mainpc AgentC health_check_port@15']);
    assert.equal(f.derived, true);
    assert.deepEqual(
      f.owners.map((o) => o.kind),
      ['http', 'health'],
    );
  });

  test('self-clash: one agent binding its port twice gets its own wording', () => {
    const findings = check('clash-mainpc.yaml', 'clash-pc2.yaml', APART);
    const hub = one(findings, 'self-clash', 'mainpc', 5700);
    assert.deepEqual(owners(hub), ['mainpc Hub port@19', 'mainpc Hub zmq_port@22']);
    assert.equal(hub.derived, false);
    assert.match(hub.message, /^Hub binds 5700 twice on mainpc \(port and config\.zmq_port\)/);
    const rest = one(findings, 'self-clash', 'mainpc', 6711);
    assert.deepEqual(owners(rest), ['mainpc RestHub http@27', 'mainpc RestHub rest_port@29']);
    assert.equal(rest.derived, true);
    assert.equal(of(findings, 'self-clash', 'mainpc').length, 2, 'Hub grpc_port 5701 is its own');
    assert.deepEqual(
      of(findings, 'machine-clash', 'mainpc').map((f) => f.port),
      [5600, 6601],
      'a self-clash is not a machine-clash',
    );
  });

  test('reserved: error bus, ObservabilityHub and NATS ports taken by other agents', () => {
    const findings = check('clash-mainpc.yaml', 'clash-pc2.yaml', APART);
    const bus = one(findings, 'reserved', 'mainpc', 7150);
    assert.deepEqual(owners(bus), ['mainpc VisionProcessingAgent port@33']);
    assert.equal(bus.reserved?.name, 'the ZMQ error bus');
    assert.equal(bus.reserved?.loc, undefined, 'MainPC has no error_bus_port: the fleet default');
    assert.deepEqual(owners(one(findings, 'reserved', 'mainpc', 9000)), [
      'mainpc DashboardAgent port@37',
    ]);
    const nats = one(findings, 'reserved', 'mainpc', 4222);
    assert.deepEqual(owners(nats), ['mainpc NatsNeighbour http@42']);
    assert.equal(nats.derived, true);
  });

  test('reserved: PC2 CentralErrorBus owns 7150; an agent publishing there is flagged, with error_bus_port located', () => {
    const findings = check('clean-mainpc.yaml', 'clash-pc2.yaml', APART);
    const bus = one(findings, 'reserved', 'pc2', 7150);
    assert.deepEqual(owners(bus), ['pc2 RogueAgent pub_address@16']);
    assert.equal(bus.reserved?.loc?.line, 31);
    assert.deepEqual(owners(one(findings, 'machine-clash', 'pc2', 7150)), [
      'pc2 CentralErrorBus port@5',
      'pc2 RogueAgent pub_address@16',
    ]);
  });

  test('reserved: CentralErrorBus alone on 7150, ObservabilityHub alone on 9000 are not findings', () => {
    const findings = check('clean-mainpc.yaml', 'clean-pc2.yaml');
    assert.deepEqual(
      findings.filter((f) => f.rule === 'reserved'),
      [],
    );
  });

  test('reserved: a NATS port from NATS_SERVERS is reserved too', () => {
    const [mainpc] = fleet('clean-mainpc.yaml', 'clean-pc2.yaml');
    assert.deepEqual(
      reservedPorts(mainpc!, { NATS_SERVERS: 'nats://a:4222,nats://b:5709' }).map(
        (r) => `${r.port} ${r.name}`,
      ),
      ['7150 the ZMQ error bus', '9000 the ObservabilityHub', '4222 NATS', '5709 NATS'],
    );
    const findings = checkPorts([mainpc!], { env: { NATS_URL: 'nats://nats:5709' } }).findings;
    assert.deepEqual(owners(one(findings, 'reserved', 'mainpc', 5709)), [
      'mainpc NLUAgent port@13',
    ]);
  });

  test('out-of-range: configured port and health port outside pc2_network, as warnings', () => {
    const findings = check('clash-mainpc.yaml', 'clash-pc2.yaml', APART);
    const range = of(findings, 'out-of-range', 'pc2');
    assert.deepEqual(
      range.map((f) => `${owners(f).join()} ${f.range?.name} ${f.severity}`),
      [
        'pc2 OutAgent port@19 agent_ports warning',
        'pc2 OutAgent health_check_port@20 health_check_ports warning',
      ],
    );
    assert.equal(of(findings, 'out-of-range', 'mainpc').length, 0, 'MainPC declares no ranges');
  });

  test('out-of-range: derived ports leaving the ranges are not findings', () => {
    const findings = check('clean-mainpc.yaml', 'clean-pc2.yaml');
    assert.equal(
      findings.length,
      0,
      'EdgeAgent port+1 health 7198 and AsyncProcessor HTTP 8200 are outside the health range',
    );
  });

  test('host-clash: equal ports on two machines that share a host, derived ones marked', () => {
    const findings = check('cross-mainpc.yaml', 'cross-pc2.yaml');
    assert.deepEqual(ports(findings), [5713, 6713, 6714, 6720]);
    assert.ok(
      findings.every((f) => f.rule === 'host-clash' && f.machines.join('+') === 'mainpc+pc2'),
    );
    const n = one(findings, 'host-clash', 'mainpc+pc2', 6720);
    assert.deepEqual(owners(n), ['mainpc Neighbour health_check_port@11', 'pc2 Other http@13']);
    assert.equal(n.derived, true);
    assert.equal(one(findings, 'host-clash', 'mainpc+pc2', 5713).derived, false);
    assert.match(n.message, /which share a host \(localhost\)/);
  });

  for (const [hosts, clash] of [
    [{}, true],
    [{ MAINPC_IP: '127.0.0.1', PC2_IP: 'localhost' }, true],
    [{ MAINPC_IP: '0.0.0.0' }, true],
    [{ MAINPC_IP: '127.0.0.1', PC2_IP: '127.0.0.2' }, false],
    [{ MAINPC_IP: '192.168.100.16', PC2_IP: '192.168.100.17' }, false],
    [{ MAINPC_IP: 'mainpc-service', PC2_IP: 'pc2-service' }, false],
  ] as const) {
    test(`host-clash ${clash ? 'fires' : 'does not fire'} with ${JSON.stringify(hosts)}`, () => {
      assert.equal(check('cross-mainpc.yaml', 'cross-pc2.yaml', hosts).length, clash ? 4 : 0);
    });
  }

  test('sharesHost', () => {
    const table: Array<[string, string, boolean]> = [
      ['localhost', 'localhost', true],
      ['localhost', '127.0.0.1', true],
      ['LOCALHOST', '::1', true],
      ['[::1]', '127.0.0.1', true],
      ['0.0.0.0', '127.0.0.2', true],
      ['*', '0.0.0.0', true],
      ['127.0.0.1', '127.0.0.2', false],
      ['0.0.0.0', '192.168.100.17', false],
      ['192.168.100.16', '192.168.100.16', true],
      ['192.168.100.16', '192.168.100.17', false],
      ['mainpc', 'MainPC', true],
    ];
    for (const [a, b, want] of table) assert.equal(sharesHost(a, b), want, `${a} vs ${b}`);
  });
});

describe('port matrix', () => {
  test('rows sorted by port per machine, with conflicts naming the other side', () => {
    const matrix = portMatrix(checkPorts(fleet('clash-mainpc.yaml', 'clash-pc2.yaml', APART)));
    const mainpc = matrix.machines[0]!;
    assert.deepEqual(
      mainpc.rows.map((r) => r.port),
      [...mainpc.rows.map((r) => r.port)].sort((a, b) => a - b),
    );
    const a = mainpc.rows.find((r) => r.agent === 'AgentA' && r.kind === 'http')!;
    assert.deepEqual(a.conflicts, [
      {
        rule: 'machine-clash',
        severity: 'error',
        derived: true,
        with: ['AgentC health_check_port'],
      },
    ]);
    const hub = mainpc.rows.find((r) => r.agent === 'Hub' && r.kind === 'port')!;
    assert.deepEqual(
      hub.conflicts.map((c) => c.with),
      [['itself config.zmq_port']],
    );
    const out = matrix.machines[1]!.rows.find((r) => r.agent === 'OutAgent' && r.kind === 'port')!;
    assert.deepEqual(out.conflicts[0]?.with, ['pc2_network.agent_ports 7100-7199']);
    const clean = mainpc.rows.find((r) => r.agent === 'Hub' && r.key === 'grpc_port')!;
    assert.deepEqual(clean.conflicts, []);
  });

  test('a host-clash row names only the owners on the other machine', () => {
    const matrix = portMatrix(checkPorts(fleet('cross-mainpc.yaml', 'cross-pc2.yaml')));
    const row = matrix.machines[1]!.rows.find((r) => r.agent === 'Other' && r.kind === 'http')!;
    assert.deepEqual(row.conflicts, [
      {
        rule: 'host-clash',
        severity: 'error',
        derived: true,
        with: ['mainpc Neighbour health_check_port'],
      },
    ]);
  });

  test('markdown: a table per machine and every finding with its owners', () => {
    const md = renderMatrixMarkdown(
      portMatrix(checkPorts(fleet('clash-mainpc.yaml', 'clash-pc2.yaml', APART))),
      {
        path: (f) => f.slice(fixtures.length),
      },
    );
    assert.match(md, /^# Port allocation matrix$/m);
    assert.match(md, /^## mainpc \(192\.168\.100\.16\)$/m);
    assert.match(
      md,
      /^\| 5600 \| AgentA \| port \| `port: 5600` \| clash-mainpc\.yaml:6 \| \*\*machine-clash\*\* with AgentB port \|$/m,
    );
    assert.match(
      md,
      /^\| 6601 \| AgentA \| http \(derived\) \| `health_check_port\+1 \(BaseAgent HTTP \/health, \/metrics\)` \| clash-mainpc\.yaml:7 \| \*\*machine-clash\*\* with AgentC health_check_port \|$/m,
    );
    assert.match(
      md,
      /^\| 5713 \| OutAgent \| port \| `port: 5713` \| clash-pc2\.yaml:19 \| out-of-range with pc2_network\.agent_ports 7100-7199 \|$/m,
    );
    assert.match(
      md,
      /^- \*\*error\*\* `reserved` 7150: 7150 is reserved for the ZMQ error bus, but RogueAgent config\.pub_address binds it on pc2$/m,
    );
    assert.match(md, /^ {2}- reserved by clash-pc2\.yaml:31$/m);
  });
});

describe('real fleet ports (upstream-protocols f)', { skip: skipReal }, () => {
  const real = () => check('mainpc.startup_config.yaml', 'pc2.startup_config.yaml', {}, realDir);
  const apart = () =>
    check('mainpc.startup_config.yaml', 'pc2.startup_config.yaml', APART, realDir);

  test('MainPC: the derived-HTTP clashes upstream lists, exactly', () => {
    const clashes = of(apart(), 'machine-clash', 'mainpc');
    assert.deepEqual(
      ports(clashes),
      [
        6580, 6613, 6625, 6637, 6638, 6704, 6705, 6706, 6709, 6710, 6711, 6801, 6802, 7551, 7552,
        7553, 8201, 8202, 9008,
      ],
    );
    assert.ok(clashes.every((f) => f.derived && f.owners.some((o) => o.kind === 'http')));
  });

  test('MainPC 8201: ServiceRegistry HTTP vs UnifiedSystemAgent health', () => {
    const f = one(apart(), 'machine-clash', 'mainpc', 8201);
    assert.deepEqual(owners(f), [
      'mainpc ServiceRegistry http@63',
      'mainpc UnifiedSystemAgent health_check_port@132',
    ]);
    assert.equal(f.owners[0]!.rule, 'health_check_port+1 (BaseAgent HTTP /health, /metrics)');
    assert.ok(f.owners.every((o) => o.loc.file === realDir + 'mainpc.startup_config.yaml'));
  });

  test('MainPC 6580, 9008, 7551-7553, 6801/6802 with their owners', () => {
    const f = apart();
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 6580)), [
      'mainpc LearningManager health_check_port@355',
      'mainpc StreamingLanguageAnalyzer http@532',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 9008)), [
      'mainpc SelfHealingSupervisor health_check_port@139',
      'mainpc ObservabilityDashboardAPI http@614',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 7551)), [
      'mainpc AudioCapture http@480',
      'mainpc FusedAudioPreprocessor health_check_port@487',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 7552)), [
      'mainpc FusedAudioPreprocessor http@487',
      'mainpc WakeWordDetector health_check_port@523',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 7553)), [
      'mainpc StreamingSpeechRecognition health_check_port@504',
      'mainpc WakeWordDetector http@523',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 6801)), [
      'mainpc STTService http@463',
      'mainpc TTSService health_check_port@471',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'mainpc', 6802)), [
      'mainpc DynamicIdentityAgent health_check_port@446',
      'mainpc TTSService http@471',
    ]);
  });

  test('hubs binding BaseAgent and their own transport on one number: MFH 5713, RTAP 5557, APC 5560, ModelOps 7212/8212, PC2 UOC 9100', () => {
    const f = apart();
    const self = (m: string) =>
      of(f, 'self-clash', m).map(
        (x) => `${x.port} ${x.owners.map((o) => `${o.agent}.${o.key}`).join('=')}`,
      );
    assert.deepEqual(self('mainpc'), [
      '5557 RealTimeAudioPipeline.port=RealTimeAudioPipeline.zmq_port',
      '5560 AffectiveProcessingCenter.port=AffectiveProcessingCenter.pub_address',
      '5713 MemoryFusionHub.port=MemoryFusionHub.zmq_port',
      '7212 ModelOpsCoordinator.port=ModelOpsCoordinator.grpc_port',
      '8212 ModelOpsCoordinator.health_check_port=ModelOpsCoordinator.rest_port',
    ]);
    assert.deepEqual(self('pc2'), [
      '5557 RealTimeAudioPipelinePC2.port=RealTimeAudioPipelinePC2.zmq_port',
      '5713 MemoryFusionHub.port=MemoryFusionHub.zmq_port',
      '9100 UnifiedObservabilityCenter.port=UnifiedObservabilityCenter.prometheus_port',
    ]);
    const mfh = one(f, 'self-clash', 'mainpc', 5713);
    assert.deepEqual(owners(mfh), [
      'mainpc MemoryFusionHub port@147',
      'mainpc MemoryFusionHub zmq_port@154',
    ]);
    assert.match(mfh.message, /MemoryFusionHub binds 5713 twice on mainpc/);
  });

  test('PC2: the derived-HTTP clashes upstream lists, exactly', () => {
    const f = apart();
    assert.deepEqual(
      ports(of(f, 'machine-clash', 'pc2')),
      [8101, 8102, 8116, 8119, 8123, 8124, 8127, 8130],
    );
    assert.deepEqual(owners(one(f, 'machine-clash', 'pc2', 8116)), [
      'pc2 TaskScheduler http@137',
      'pc2 AuthenticationAgent health_check_port@145',
    ]);
    assert.deepEqual(owners(one(f, 'machine-clash', 'pc2', 8130)), [
      'pc2 AdvancedRouter http@210',
      'pc2 SpeechRelayService health_check_port@250',
    ]);
  });

  test('PC2 CentralErrorBus on 7150 is not a reserved-port finding; nothing else takes a reserved port', () => {
    const f = real();
    assert.deepEqual(
      f.filter((x) => x.rule === 'reserved'),
      [],
    );
  });

  test('PC2: the hubs and the supervisor sit outside pc2_network ranges (warnings)', () => {
    const range = of(apart(), 'out-of-range', 'pc2');
    assert.deepEqual(
      range.map((x) => `${x.owners[0]!.agent} ${x.port}`),
      [
        'RealTimeAudioPipelinePC2 5557',
        'MemoryFusionHub 5713',
        'SelfHealingSupervisor 7009',
        'UnifiedObservabilityCenter 9100',
        'RealTimeAudioPipelinePC2 6557',
        'MemoryFusionHub 6713',
        'SelfHealingSupervisor 9008',
        'UnifiedObservabilityCenter 9110',
      ],
    );
    assert.ok(range.every((x) => x.severity === 'warning'));
  });

  test('both machines on localhost (upstream default): MFH, RTAP, UOC, SelfHealingSupervisor clash across machines', () => {
    const f = real();
    const across = of(f, 'host-clash', 'mainpc+pc2');
    for (const port of [5713, 6713, 5557, 9100, 9110, 7009, 9008]) {
      const x = one(f, 'host-clash', 'mainpc+pc2', port);
      assert.equal(x.derived, false, `${port} is configured on both`);
    }
    const sel = (port: number) =>
      one(f, 'host-clash', 'mainpc+pc2', port).owners.map(
        (o) => `${o.machine} ${o.agent} ${o.key}`,
      );
    assert.deepEqual(sel(5713), [
      'mainpc MemoryFusionHub port',
      'mainpc MemoryFusionHub zmq_port',
      'pc2 MemoryFusionHub port',
      'pc2 MemoryFusionHub zmq_port',
    ]);
    assert.deepEqual(sel(5557), [
      'mainpc RealTimeAudioPipeline port',
      'mainpc RealTimeAudioPipeline zmq_port',
      'pc2 RealTimeAudioPipelinePC2 port',
      'pc2 RealTimeAudioPipelinePC2 zmq_port',
    ]);
    assert.deepEqual(sel(9008), [
      'mainpc SelfHealingSupervisor health_check_port',
      'mainpc ObservabilityDashboardAPI http',
      'pc2 SelfHealingSupervisor health_check_port',
    ]);
    assert.deepEqual(sel(9110), [
      'mainpc UnifiedObservabilityCenter health_check_port',
      'pc2 UnifiedObservabilityCenter health_check_port',
    ]);
    // derived-only ones across machines: SmartHomeAgent health 8125 vs RemoteConnectorAgent HTTP
    assert.equal(one(f, 'host-clash', 'mainpc+pc2', 8125).derived, true);
    assert.deepEqual(
      of(apart(), 'host-clash', 'mainpc+pc2'),
      [],
      'distinct MAINPC_IP / PC2_IP: no cross-machine clash',
    );
    assert.ok(across.length >= 7);
  });
});
