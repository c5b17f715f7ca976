// Each config shape the fleet has used loads into the same model (project fixtures).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../source/adapters/fleet-files.js';
import type { Agent, LoadResult } from '../../source/core/fleet/model.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/shapes/${name}`, import.meta.url));
const load = (name: string, env: Record<string, string> = {}) =>
  loadConfigFile(fixture(name), { env });
const agent = (r: LoadResult, name: string, machine?: string): Agent => {
  const found = r.machines
    .filter((m) => !machine || m.id === machine)
    .flatMap((m) => m.agents)
    .find((a) => a.name === name);
  assert.ok(found, `agent ${name} not loaded`);
  return found;
};

describe('shapes', () => {
  test('list era: category lists become groups; env_vars, params, implicit health port', () => {
    const r = load('list-era.yaml');
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.equal(r.shape, 'category-lists');
    assert.equal(r.machines[0]!.id, 'mainpc');
    assert.deepEqual(
      r.machines[0]!.agents.map((a) => `${a.group}/${a.name}`),
      [
        'core_services/ServiceRegistry',
        'core_services/SystemDigitalTwin',
        'main_pc_gpu_services/ModelManagerAgent',
        'monitoring_security/PredictiveHealthMonitor',
      ],
    );
    const sdt = agent(r, 'SystemDigitalTwin');
    assert.equal(sdt.port.value, 7220);
    assert.equal(sdt.port.raw, '${PORT_OFFSET}+7220');
    assert.equal(sdt.healthPort.value, 7221, 'BaseAgent health port is port+1 when absent');
    assert.equal(sdt.healthPortImplicit, true);
    assert.deepEqual(sdt.env, { REDIS_HOST: 'localhost', DB_POOL: '4' });
    assert.deepEqual(agent(r, 'ModelManagerAgent').params, { vram_budget_mb: 20000 });
    assert.equal(agent(r, 'ModelManagerAgent').description, 'Loads and evicts models');
    assert.deepEqual(r.machines[0]!.globals.healthChecks, {
      intervalSeconds: 20,
      timeoutSeconds: 5,
      retries: 2,
    });
  });

  test('one-off: script, health_port and critical are read as script_path, health_check_port, required', () => {
    const r = load('one-off.yaml');
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.equal(r.shape, 'core-agents');
    const sr = agent(r, 'ServiceRegistry');
    assert.equal(sr.scriptPath, 'main_pc_code/agents/service_registry_agent.py');
    assert.equal(sr.healthPort.value, 8200);
    assert.equal(sr.required, true);
    const mc = agent(r, 'MemoryClient');
    assert.equal(mc.group, 'memory_agents');
    assert.equal(mc.required, false);
    assert.equal(mc.healthPort.value, 5714);
    assert.equal(r.machines[0]!.globals.errorBusPort?.value, 7150);
    assert.equal(r.machines[0]!.globals.healthChecks?.intervalSeconds, 15);
  });

  test('PC2 agent_groups: group_config is metadata, not an agent; the machine is pc2', () => {
    const r = load('pc2-agent-groups.yaml', { PORT_OFFSET: '100' });
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.equal(r.shape, 'pc2-agent-groups');
    assert.equal(r.machines[0]!.id, 'pc2');
    assert.deepEqual(
      r.machines[0]!.agents.map((a) => a.name),
      ['MemoryOrchestratorService', 'CacheManager', 'ResourceManager'],
    );
    assert.equal(agent(r, 'CacheManager').port.value, 7202, 'PORT_OFFSET=100 is added');
    assert.equal(agent(r, 'CacheManager').host, '0.0.0.0');
  });

  test('PC2 PR era: class/module flow maps and a second core_services list', () => {
    const r = load('pc2-pr-era.yaml');
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.equal(r.shape, 'pc2-services');
    assert.deepEqual(
      r.machines[0]!.agents.map((a) => `${a.group}/${a.name}`),
      [
        'pc2_services/TieredResponder',
        'pc2_services/ResourceManager',
        'core_services/HealthMonitor',
      ],
    );
  });

  test('PC2 phase-1 variant: per-agent environment, network ranges, error bus port', () => {
    const r = load('pc2-phase1.yaml', { PORT_OFFSET: '' });
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    const rm = agent(r, 'ResourceManager');
    assert.deepEqual(rm.env, { GPU_THRESHOLD: '80' });
    const g = r.machines[0]!.globals;
    assert.deepEqual(g.network, {
      host: '0.0.0.0',
      agentPorts: { start: 7100, end: 7199 },
      healthCheckPorts: { start: 8100, end: 8199 },
    });
    assert.equal(g.errorBusPort?.value, 7150);
    assert.equal(g.errorBusPort?.raw, '${PORT_OFFSET}+7150');
  });

  test('MainPC quirk: nested docker_groups and {description, agents} siblings are not agents', () => {
    const r = load('mainpc-quirk.yaml');
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.equal(r.shape, 'agent-groups');
    const m = r.machines[0]!;
    assert.deepEqual(
      m.agents.map((a) => a.name),
      ['ServiceRegistry', 'UnifiedSystemAgent', 'MemoryFusionHub', 'NLUAgent'],
    );
    assert.deepEqual(Object.keys(m.globals.dockerGroups ?? {}).sort(), [
      'infra_core',
      'language_stack',
      'observability',
    ]);
    assert.deepEqual(m.globals.dockerGroups?.language_stack?.agents, ['NLUAgent']);
    assert.ok(r.diagnostics.some((d) => d.code === 'nested-docker-groups' && d.loc.line === 35));
  });

  test('implicit ports: HTTP = health+1, config{} bind ports and tcp://* addresses, not client ports', () => {
    const r = load('mainpc-quirk.yaml');
    const mfh = agent(r, 'MemoryFusionHub');
    assert.deepEqual(
      mfh.implicitPorts.map((p) => `${p.kind}:${p.key}=${p.value}`),
      [
        'http:http=6714',
        'config:zmq_port=5713',
        'config:grpc_port=5714',
        'config:pub_address=5715',
      ],
    );
    const nlu = agent(r, 'NLUAgent');
    assert.equal(nlu.healthPort.value, 5710);
    assert.deepEqual(
      nlu.implicitPorts.map((p) => `${p.kind}=${p.value}`),
      ['http=5711', 'health=5710'],
    );
    assert.equal(mfh.implicitPorts[1]!.loc.line, 27, 'config port located at its own line');
  });

  test('v3 unified: machine profiles pick groups; overrides deep-merge and disable agents', () => {
    const r = load('v3.yaml');
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.equal(r.shape, 'v3-unified');
    const ids = r.machines.map((m) => `${m.id}:${m.agents.map((a) => a.name).join(',')}`);
    assert.deepEqual(ids, [
      'mainpc:ServiceRegistry,ModelManagerSuite',
      'pc2:ServiceRegistry,TieredResponder',
    ]);
    assert.deepEqual(agent(r, 'ModelManagerSuite').config, {
      vram_budget_percentage: 80,
      vram_limit_gb: 20,
    });
    const [mainpc, pc2] = r.machines;
    assert.equal(mainpc!.globals.resourceLimits?.vram_gb, 24);
    assert.equal(mainpc!.globals.healthChecks?.intervalSeconds, 20);
    assert.equal(pc2!.globals.resourceLimits?.cpu_percent, 70);
    assert.equal(
      pc2!.globals.resourceLimits?.memory_mb,
      2048,
      'base value kept where the override is silent',
    );
  });

  test('every agent has a source location pointing at its key', () => {
    const r = load('pc2-agent-groups.yaml');
    const rm = agent(r, 'ResourceManager');
    assert.equal(rm.loc.line, 28);
    assert.equal(rm.loc.col, 5);
    assert.equal(rm.port.loc.line, 31);
  });

  test('hosts come from MAINPC_IP / PC2_IP (legacy names too), default localhost', () => {
    assert.equal(load('list-era.yaml').machines[0]!.host, 'localhost');
    assert.equal(load('list-era.yaml', { MAIN_PC_IP: '127.0.0.1' }).machines[0]!.host, '127.0.0.1');
    assert.equal(load('pc2-pr-era.yaml', { PC2_IP: '127.0.0.2' }).machines[0]!.host, '127.0.0.2');
  });
});
