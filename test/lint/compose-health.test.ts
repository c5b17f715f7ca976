import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { parseCompose } from '../../source/core/lint/compose.js';
import { checkComposeHealth, interpolate } from '../../source/core/lint/compose-health.js';
import { placeCompose } from '../../source/core/lint/compose-place.js';
import { portMaps } from '../../source/core/lint/fleet-ports.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { brief, machineFrom, py, realDir, skipReal } from './helpers.js';

const mainpc = machineFrom(
  `
  agent_groups:
    core:
      ServiceRegistry:
        script_path: main_pc_code/agents/service_registry_agent.py
        port: \${PORT_OFFSET}+7200
        health_check_port: \${PORT_OFFSET}+8200
      ModelOps:
        script_path: model_ops_coordinator/app.py
        port: 7212
        health_check_port: 8212
        config:
          zmq_port: 7211
          grpc_port: 7212
          rest_port: 8008
  `,
  'mainpc',
);

function lint(
  yaml: string,
  machines: Machine[] = [mainpc],
  file = 'docker-compose.mainpc.yml',
  baseAgent = new Map<string, boolean>(),
) {
  const compose = parseCompose(py([yaml] as unknown as TemplateStringsArray), file);
  const place = placeCompose(file, compose, machines);
  return checkComposeHealth(compose, {
    place,
    ports: portMaps(machines, (s) => baseAgent.get(s)),
    env: {},
  });
}

describe('compose-health on samples', () => {
  test('curl of a BaseAgent ZMQ health port is an error that names the agent and suggests the HTTP port', () => {
    const findings = lint(`
      services:
        registry:
          command: python -m main_pc_code.agents.service_registry_agent
          healthcheck:
            test: ["CMD", "curl", "-f", "http://localhost:8200/health"]
    `);
    assert.deepEqual(brief(findings), ['5:compose-health:error']);
    assert.match(
      findings[0]!.message,
      /8200 is ServiceRegistry's health_check_port on mainpc: a ZMQ socket/,
    );
    assert.match(findings[0]!.hint, /curl -f http:\/\/localhost:8201\/health/);
  });

  test('curl of the HTTP port (health+1) or a REST port passes; so does a non-BaseAgent script', () => {
    const findings = lint(
      `
      services:
        registry:
          build: .
          healthcheck:
            test: ["CMD-SHELL", "curl -f http://localhost:8201/health || exit 1"]
        moc:
          build: .
          healthcheck:
            test: curl -f http://127.0.0.1:8008/health
        other:
          build: .
          healthcheck:
            test: ["CMD", "wget", "-q", "--spider", "http://localhost:7200/health"]
      `,
      [mainpc],
      'docker-compose.mainpc.yml',
      new Map([['main_pc_code/agents/service_registry_agent.py', false]]),
    );
    assert.deepEqual(findings, []);
  });

  test('curl of a config zmq_port or grpc_port fails; a remote host is not judged', () => {
    const findings = lint(`
      services:
        a:
          build: .
          healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:7211/health"] }
        b:
          build: .
          healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:7212/health"] }
        c:
          build: .
          healthcheck: { test: ["CMD", "curl", "-f", "http://mainpc:8200/health"] }
    `);
    // 7212 is ModelOps's BaseAgent port and its gRPC port: both unreachable over HTTP/1.1
    assert.deepEqual(brief(findings), ['4:compose-health:error', '7:compose-health:error']);
    assert.match(findings[0]!.message, /ModelOps's config\.zmq_port/);
  });

  test('missing, disabled and NONE health checks; third-party images only get info', () => {
    const findings = lint(`
      services:
        agent:
          build: .
        off:
          build: .
          healthcheck:
            disable: true
        none:
          build: .
          healthcheck:
            test: ["NONE"]
        redis:
          image: redis:7
    `);
    assert.deepEqual(brief(findings), [
      '2:compose-health:warning',
      '6:compose-health:warning',
      '10:compose-health:warning',
      '12:compose-health:info',
    ]);
  });

  test('service_healthy on a service without a check is an error; with a check it is fine', () => {
    const findings = lint(`
      services:
        redis:
          image: redis:7
        nats:
          image: nats:2
          healthcheck: { test: ["CMD", "nc", "-z", "localhost", "4222"] }
        app:
          build: .
          healthcheck: { test: ["CMD", "true"] }
          depends_on:
            redis: { condition: service_healthy }
            nats: { condition: service_healthy }
    `);
    assert.deepEqual(brief(findings), ['2:compose-health:info', '11:compose-health:error']);
  });

  test('a port glued to ${PORT_OFFSET} is a warning; ${VAR:-default} alone is fine', () => {
    const findings = lint(`
      services:
        glued:
          build: .
          healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:\${PORT_OFFSET:-0}8201/health"] }
        whole:
          build: .
          healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:\${HEALTH_PORT:-8201}/health"] }
    `);
    assert.deepEqual(brief(findings), ['4:compose-health:warning']);
    assert.match(findings[0]!.message, /PORT_OFFSET=1000 it becomes 10008201/);
  });

  test('override files are not asked for health checks', () => {
    assert.deepEqual(
      lint(
        `services: { moc: { ports: ["7212:7212"] } }`,
        [mainpc],
        'docker-compose.mainpc.override.yaml',
      ),
      [],
    );
  });

  test('compose interpolation', () => {
    assert.equal(interpolate('${A:-1}${B-2}${C}$D', { B: '', D: 'x' }), '1x');
    assert.equal(interpolate('${A:-1}', { A: '' }), '1');
    assert.equal(interpolate('${A-1}', { A: '' }), '');
  });
});

describe('compose-health on the real compose files', { skip: skipReal }, () => {
  const fleet = skipReal
    ? undefined
    : loadFleet(
        {
          mainpc: realDir + 'mainpc.startup_config.yaml',
          pc2: realDir + 'pc2.startup_config.yaml',
        },
        {},
      );
  const run = (name: string) => {
    const compose = parseCompose(readFileSync(realDir + name, 'utf8'), name);
    const place = placeCompose(name, compose, fleet!.machines);
    return {
      place,
      findings: checkComposeHealth(compose, {
        place,
        ports: portMaps(fleet!.machines, () => undefined),
        env: {},
      }),
    };
  };
  const named = (findings: { message: string; severity: string }[], re: RegExp) =>
    findings.filter((f) => re.test(f.message)).map((f) => f.severity);

  test('infra_core group file: both agents curl their ZMQ health ports (upstream-protocols b3)', () => {
    const { place, findings } = run('docker-compose.group-infra_core.yml');
    assert.deepEqual(place.machines, ['mainpc']);
    assert.deepEqual(
      named(
        findings,
        /"service_registry" health check .*8200 is ServiceRegistry's health_check_port on mainpc/,
      ),
      ['error'],
    );
    assert.deepEqual(
      named(
        findings,
        /"system_digital_twin" health check .*8220 is SystemDigitalTwin's health_check_port on mainpc/,
      ),
      ['error'],
    );
    assert.deepEqual(named(findings, /"redis" has no healthcheck/), ['info']);
  });

  test('pc2 infra group: ResourceManager and the observability hub probe ZMQ ports; redis and nats are fine', () => {
    const { place, findings } = run('docker-compose.group-pc2_infra_core.yml');
    assert.deepEqual(place.machines, ['pc2']);
    assert.deepEqual(
      named(findings, /"resource_manager" .*8113 is ResourceManager's health_check_port on pc2/),
      ['error'],
    );
    assert.deepEqual(
      named(
        findings,
        /"observability_hub" .*9110 is UnifiedObservabilityCenter's health_check_port on pc2/,
      ),
      ['error'],
    );
    assert.equal(
      findings.filter((f) => /redis_pc2_infra|nats_pc2_infra/.test(f.message)).length,
      0,
    );
  });

  test('mainpc.yml: gpu_intensive curls ModelOps zmq_port 7211, memory_system curls MemoryFusionHub 5713; 9000 is no agent port any more', () => {
    const { findings } = run('docker-compose.mainpc.yml');
    assert.deepEqual(
      named(findings, /"gpu_intensive" .*7211 is ModelOpsCoordinator's config\.zmq_port on mainpc/),
      ['error'],
    );
    assert.deepEqual(
      named(findings, /"memory_system" .*5713 is MemoryFusionHub's port on mainpc/),
      ['error'],
    );
    assert.deepEqual(named(findings, /"core_services"/), []);
  });

  test('root.yml: health ports glued to ${PORT_OFFSET:-0}, and 8200 is still ZMQ', () => {
    const { place, findings } = run('docker-compose.root.yml');
    assert.deepEqual(place.machines, ['mainpc']);
    assert.equal(named(findings, /builds its health port by gluing/).length, 11);
    assert.deepEqual(named(findings, /"infra_core" health check .*8200 is ServiceRegistry's/), [
      'error',
    ]);
  });

  test('dockerdir pc2: services without any health check are warnings; memory-orchestrator has one', () => {
    const { findings } = run('docker-compose.dockerdir-pc2.yml');
    assert.deepEqual(named(findings, /"task-processing" has no healthcheck/), ['warning']);
    assert.deepEqual(named(findings, /"memory-orchestrator"/), []);
  });

  test('MFH hub: curl of its metrics port (HTTP) passes, on both machines the hub runs on', () => {
    const { place, findings } = run('docker-compose.hub-memory_fusion_hub.yml');
    assert.deepEqual(place.machines.sort(), ['mainpc', 'pc2']);
    assert.deepEqual(named(findings, /"mfh"/), []);
  });
});
