// The real fleet's files (../shared/fixtures/real) load with the shape and numbers upstream has.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, loadFleet } from '../../source/adapters/fleet-files.js';

const realDir = fileURLToPath(new URL('../../../shared/fixtures/real/', import.meta.url));
const skip = existsSync(realDir)
  ? false
  : `real fixtures not found at ${realDir} (../shared is absent)`;
const real = (name: string) => realDir + name;

describe('real fleet configs', { skip }, () => {
  test('MainPC: 49 agents in 11 groups, nested docker_groups read as 13 docker groups', () => {
    const r = loadConfigFile(real('mainpc.startup_config.yaml'), { env: {} });
    assert.equal(r.ok, true);
    assert.equal(r.shape, 'agent-groups');
    const m = r.machines[0]!;
    assert.equal(m.id, 'mainpc');
    assert.equal(m.agents.length, 49);
    const groups = [...new Set(m.agents.map((a) => a.group))];
    assert.deepEqual(groups, [
      'foundation_services',
      'utility_services',
      'gpu_infrastructure',
      'reasoning_services',
      'vision_processing',
      'learning_knowledge',
      'language_processing',
      'speech_services',
      'audio_interface',
      'emotion_system',
      'translation_services',
    ]);
    assert.equal(Object.keys(m.globals.dockerGroups ?? {}).length, 13);
    assert.deepEqual(m.globals.healthChecks, {
      intervalSeconds: 30,
      timeoutSeconds: 10,
      retries: 3,
    });
    const sr = m.agents.find((a) => a.name === 'ServiceRegistry')!;
    assert.equal(sr.port.raw, '${PORT_OFFSET}+7200');
    assert.equal(sr.port.value, 7200);
    assert.equal(sr.healthPort.value, 8200);
    assert.deepEqual(sr.loc, { file: real('mainpc.startup_config.yaml'), line: 60, col: 5 });
    const audio = m.agents.find((a) => a.name === 'AudioCapture')!;
    assert.equal(audio.port.value, 6550, 'quoted expression');
    const moc = m.agents.find((a) => a.name === 'ModelOpsCoordinator')!;
    assert.deepEqual(
      moc.implicitPorts.map((p) => `${p.key}=${p.value}`),
      ['http=8213', 'zmq_port=7211', 'grpc_port=7212', 'rest_port=8212'],
    );
    const apc = m.agents.find((a) => a.name === 'AffectiveProcessingCenter')!;
    assert.ok(apc.implicitPorts.some((p) => p.key === 'pub_address' && p.value === 5560));
    const sdt = m.agents.find((a) => a.name === 'SystemDigitalTwin')!;
    assert.deepEqual(sdt.dependencies, ['ServiceRegistry']);
    assert.ok(
      !sdt.implicitPorts.some((p) => p.value === 6379),
      'redis.port is a client port, nested, not bound',
    );
  });

  test('PORT_OFFSET shifts every port', () => {
    const r = loadConfigFile(real('mainpc.startup_config.yaml'), { env: { PORT_OFFSET: '10000' } });
    assert.equal(
      r.machines[0]!.agents.find((a) => a.name === 'ServiceRegistry')!.port.value,
      17200,
    );
  });

  test('PC2: 23 agents, host 0.0.0.0, network ranges, error bus port, docker groups as groups', () => {
    const r = loadConfigFile(real('pc2.startup_config.yaml'), { env: {} });
    assert.equal(r.ok, true);
    assert.equal(r.shape, 'pc2-services');
    const m = r.machines[0]!;
    assert.equal(m.id, 'pc2');
    assert.equal(m.agents.length, 23);
    assert.ok(m.agents.every((a) => a.host === '0.0.0.0'));
    assert.equal(m.globals.errorBusPort?.value, 7150);
    assert.deepEqual(m.globals.network?.agentPorts, { start: 7100, end: 7199 });
    assert.deepEqual(m.globals.network?.healthCheckPorts, { start: 8100, end: 8199 });
    const ceb = m.agents.find((a) => a.name === 'CentralErrorBus')!;
    assert.equal(ceb.group, 'error_bus');
    assert.equal(ceb.port.value, 7150);
    const relay = m.agents.find((a) => a.name === 'SpeechRelayService')!;
    assert.deepEqual(relay.dependencies, ['VisionProcessingAgent', 'StreamingTTSAgent']);
  });

  test('both machines together: the fleet the console shows', () => {
    const fleet = loadFleet(
      { mainpc: real('mainpc.startup_config.yaml'), pc2: real('pc2.startup_config.yaml') },
      { MAINPC_IP: '127.0.0.1', PC2_IP: '127.0.0.2' },
    );
    assert.equal(fleet.ok, true);
    assert.deepEqual(
      fleet.machines.map((m) => `${m.id}@${m.host}:${m.agents.length}`),
      ['mainpc@127.0.0.1:49', 'pc2@127.0.0.2:23'],
    );
    const both = fleet.machines[0]!.agents.map((a) => a.name).filter((n) =>
      fleet.machines[1]!.agents.some((b) => b.name === n),
    );
    assert.deepEqual(both.sort(), [
      'MemoryFusionHub',
      'SelfHealingSupervisor',
      'UnifiedObservabilityCenter',
    ]);
  });

  test('v3 unified with its overrides: both machines, PC2 resource limits from overrides.pc2.yaml', () => {
    const r = loadConfigFile(real('unified.startup_config.v3.yaml'), { env: {} });
    assert.equal(r.ok, true, r.diagnostics.map((d) => d.message).join('\n'));
    assert.equal(r.shape, 'v3-unified');
    assert.deepEqual(
      r.machines.map((m) => m.id),
      ['mainpc', 'pc2'],
    );
    const [mainpc, pc2] = r.machines;
    assert.equal(mainpc!.globals.resourceLimits?.vram_gb, 24);
    assert.equal(pc2!.globals.resourceLimits?.vram_gb, 12);
    assert.ok(pc2!.agents.some((a) => a.name === 'TieredResponder'));
    assert.ok(
      !mainpc!.agents.some((a) => a.name === 'TieredResponder'),
      'pc2_services is not enabled on mainpc',
    );
    assert.ok(
      mainpc!.agents.some((a) => a.name === 'ServiceRegistry') &&
        pc2!.agents.some((a) => a.name === 'ServiceRegistry'),
    );
  });

  test('root config: agent_groups with top-level docker_groups', () => {
    const r = loadConfigFile(real('root.startup_config.yaml'), { env: {} });
    assert.equal(r.ok, true);
    assert.equal(r.shape, 'agent-groups');
    assert.ok(Object.keys(r.machines[0]!.globals.dockerGroups ?? {}).includes('emotion_system'));
  });

  test('every startup config in the folder loads without errors', () => {
    const files = readdirSync(realDir).filter((f) => /startup_config/.test(f));
    assert.ok(files.length >= 4);
    for (const f of files) {
      const r = loadConfigFile(real(f), { env: {} });
      assert.equal(r.ok, true, `${f}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
      assert.ok(
        r.machines.every((m) => m.agents.length > 0),
        f,
      );
    }
  });

  test('files that are not fleet configs are refused with the keys seen', () => {
    const r = loadConfigFile(real('network_config.yaml'), { env: {} });
    assert.equal(r.ok, false);
    assert.match(r.diagnostics[0]!.message, /unknown config shape: top-level keys seen: /);
  });
});
