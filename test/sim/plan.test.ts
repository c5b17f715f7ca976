// The simulator's plan (pure): who binds what, who wins a clash, defaults per agent, and the
// overrides and control-request checks that refuse bad input before anything binds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { defaultHosts, isLoopback, planSim } from '../../source/sim/plan.js';
import { checkOverrides } from '../../source/sim/overrides.js';
import { parseControl } from '../../source/sim/control.js';

const mainpc = loadConfigText(
  `agent_groups:
  core:
    ServiceRegistry: {script_path: main_pc_code/agents/service_registry_agent.py, port: 7200, health_check_port: 8200}
    UnifiedSystemAgent: {script_path: main_pc_code/agents/unified_system_agent.py, port: 7201, health_check_port: 8201}
    MemoryFusionHub: {script_path: memory_fusion_hub/app.py, port: 5713, health_check_port: 6713, config: {zmq_port: 5713, grpc_port: 5714}}
    ObsApi: {script_path: services/obs_dashboard_api/server.py, port: 8001, health_check_port: 9007}
    StreamingTTSAgent: {script_path: main_pc_code/agents/streaming_tts_agent.py, port: 5562}
  gpu:
    ModelOps: {script_path: model_ops_coordinator/app.py, port: 7212, health_check_port: 8212, config: {vram_soft_limit_mb: 22000}}
`,
  'm.yaml',
  { env: {}, machine: 'mainpc' },
).machines;
const pc2 = loadConfigText(
  `pc2_services:
- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, port: 7150, health_check_port: 8150}
- {name: VisionProcessingAgent, script_path: pc2_code/agents/VisionProcessingAgent.py, port: 7150, health_check_port: 8160}
- {name: AuthenticationAgent, script_path: pc2_code/agents/ForPC2/AuthenticationAgent.py, port: 7116, health_check_port: 8116}
- {name: ResourceManager, script_path: pc2_code/agents/resource_manager.py, port: 7113, health_check_port: 8113}
error_bus_port: 7150
`,
  'p.yaml',
  { env: {}, machine: 'pc2' },
).machines;

describe('plan', () => {
  const plan = planSim([...mainpc, ...pc2], defaultHosts(['mainpc', 'pc2']));
  const agent = (m: number, name: string) => plan.machines[m]!.agents.find((a) => a.name === name)!;

  test('first claimant wins; every later one is a clash naming the holder', () => {
    assert.deepEqual(
      plan.machines[0]!.clashes.map((c) => `${c.agent} ${c.role} ${c.port} <- ${c.heldBy}`),
      [
        'UnifiedSystemAgent health 8201 <- ServiceRegistry http',
        'MemoryFusionHub config.zmq_port 5713 <- MemoryFusionHub main',
      ],
    );
    // VisionProcessingAgent on 7150 (the 9faad3d0 hazard) loses to the error bus.
    assert.deepEqual(
      plan.machines[1]!.clashes.map((c) => `${c.agent} ${c.role} ${c.port} <- ${c.heldBy}`),
      ['VisionProcessingAgent main 7150 <- CentralErrorBus main (error bus)'],
    );
  });

  test('binds per protocol: BaseAgent main+health+HTTP, http services no health+1, the bus agent is the PUB', () => {
    assert.deepEqual(
      agent(0, 'ServiceRegistry').binds.map((b) => `${b.role}:${b.port}:${b.kind}`),
      ['main:7200:zmq-rep', 'health:8200:zmq-rep', 'http:8201:http'],
    );
    assert.deepEqual(
      agent(0, 'ObsApi').binds.map((b) => `${b.role}:${b.port}:${b.kind}`),
      ['main:8001:http', 'health:9007:http'],
    );
    assert.deepEqual(
      agent(0, 'StreamingTTSAgent').binds.map((b) => b.port),
      [5562, 5563, 5564],
      'implicit health = port+1',
    );
    // error_bus.py binds its PUB (and an ipc SUB): no health port, whatever the config says.
    assert.deepEqual(
      agent(1, 'CentralErrorBus').binds.map((b) => `${b.role}:${b.port}:${b.kind}`),
      ['main:7150:bus'],
    );
  });

  test('defaults: protocol, error format, NATS library, VRAM', () => {
    assert.deepEqual(
      [
        agent(0, 'ServiceRegistry'),
        agent(0, 'ObsApi'),
        agent(0, 'StreamingTTSAgent'),
        agent(1, 'AuthenticationAgent'),
        agent(1, 'ResourceManager'),
        agent(1, 'CentralErrorBus'),
      ].map((a) => `${a.protocol}/${a.variant}/${a.natsLibrary}`),
      [
        'base-agent/A/errors',
        'http/A/error-stream',
        'base-agent/C/errors',
        'base-agent/B/errors',
        // ResourceManager's own JSON-only loops; CentralErrorBus has only its PUB.
        'json-rm/D/errors',
        'pub/none/error-stream',
      ],
    );
    assert.equal(agent(0, 'ModelOps').vramMb, 8800, '40% of its soft limit');
    assert.equal(agent(0, 'ServiceRegistry').vramMb, 0);
    assert.equal(plan.machines[1]!.gpu.totalMb, 12288);
  });

  test('overrides win, by name or machine/name; unknown names are warnings', () => {
    const o = checkOverrides(
      {
        agents: {
          ServiceRegistry: { protocol: 'unified' },
          'pc2/ResourceManager': { vram_mb: 10, down: true },
          Ghost: {},
        },
      },
      'o.yaml',
    );
    assert.ok(o.ok);
    const p = planSim([...mainpc, ...pc2], defaultHosts(['mainpc', 'pc2']), o.overrides);
    const sr = p.machines[0]!.agents.find((a) => a.name === 'ServiceRegistry')!;
    assert.deepEqual(
      sr.binds.map((b) => `${b.role}:${b.port}`),
      ['main:7200', 'health:8200'],
      'WP-07 binds no HTTP port',
    );
    assert.equal(p.machines[0]!.clashes.length, 1, "UnifiedSystemAgent's health port is free now");
    const rm = p.machines[1]!.agents.find((a) => a.name === 'ResourceManager')!;
    assert.deepEqual([rm.vramMb, rm.start.down], [10, true]);
    assert.deepEqual(p.warnings, ['overrides: no agent "Ghost" in this fleet (ignored)']);
  });

  test('loopback only', () => {
    assert.deepEqual(
      [
        '127.0.0.1',
        '127.0.11.2',
        '127.255.255.254',
        '10.0.0.1',
        '127.0.0.256',
        'localhost',
        '127.255.255.255',
      ].map(isLoopback),
      [true, true, true, false, false, false, false],
    );
  });
});

describe('bad input is refused with its path', () => {
  test('overrides', () => {
    const r = checkOverrides(
      {
        agents: { X: { protocol: 'grpc', vram: 1, slow_ms: -1 } },
        machines: { pc2: { gpu: '' } },
        seed: 1.5,
        extra: 1,
      },
      'o.yaml',
    );
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, [
      'o.yaml: extra: unknown key (known: agents, machines, defaults, seed, error_rate, wiring, wiring_env, ready_ttl_s, metrics)',
      'o.yaml: agents.X.protocol: must be one of base-agent, unified, json-rm, http, pub (got "grpc")',
      'o.yaml: agents.X.vram: unknown key (known: protocol, error_variant, nats_library, vram_mb, slow_ms, degraded, down, flood_per_s, free_port)',
      'o.yaml: agents.X.slow_ms: must be a number >= 0 (got -1)',
      'o.yaml: machines.pc2.gpu: must be a GPU name',
      'o.yaml: seed: must be an integer',
    ]);
    assert.deepEqual(checkOverrides(null, 'empty.yaml'), {
      ok: true,
      overrides: { defaults: {}, agents: {}, machines: {} },
    });
  });

  test('control requests', () => {
    const cases: [unknown, string][] = [
      [{ fault: 'slow', agent: 'A', ms: -5 }, 'ms must be a number of ms 0-2073600000, got -5'],
      // Past a Node timer: the reply came back after 1 ms.
      [
        { fault: 'slow', agent: 'A', ms: 3e9 },
        'ms must be a number of ms 0-2073600000, got 3000000000',
      ],
      // One tick makes a second's worth: 1e9 wedged the sim.
      [
        { fault: 'flood', agent: 'A', rate: 1e9, seconds: 1 },
        'rate must be errors per second 0-100000, got 1000000000',
      ],
      [
        { fault: 'log-flood', agent: 'A', rate: 1e6 },
        'rate must be log lines per second 0-100000, got 1000000',
      ],
      [
        { fault: 'flood', agent: 'A', rate: 5, seconds: 3e6 },
        'seconds must be a number of seconds > 0, at most 2073600, got 3000000',
      ],
      [{ fault: 'kill' }, 'fault kill needs an agent (name, or machine/name)'],
      [{ fault: 'bus-off' }, 'fault bus-off needs bus (zmq | nats)'],
      [{ fault: 'kill', agent: 'A', colour: 'red' }, 'unknown field(s) colour for fault kill'],
      [
        { fault: 'malformed', agent: 'A', kind: 'binary', count: 0 },
        'count must be an integer 1-10000, got 0',
      ],
      [{ fault: 'error', agent: 7 }, 'agent must be a string'],
      [[], 'request must be a JSON object {"fault": "...", ...}'],
    ];
    for (const [input, error] of cases)
      assert.deepEqual(parseControl(input), { ok: false, error }, JSON.stringify(input));
    assert.deepEqual(
      parseControl('{"fault": "flood", "agent": "pc2/X", "rate": 20, "seconds": 2}'),
      { ok: true, request: { fault: 'flood', agent: 'pc2/X', rate: 20, seconds: 2 } },
    );
  });
});
