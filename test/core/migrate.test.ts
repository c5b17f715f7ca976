import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { findOverrides, loadConfigFile, mergeDocker } from '../../source/adapters/fleet-files.js';
import { loadConfigText } from '../../source/core/fleet/load.js';
import {
  compareMachines,
  migrateText,
  type MigrateOptions,
  type MigrateResult,
} from '../../source/core/fleet/migrate.js';
import type { Machine } from '../../source/core/fleet/model.js';
import type { Env } from '../../source/core/fleet/port-expr.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REAL = resolve(ROOT, '../shared/fixtures/real');
const HISTORIC = join(ROOT, 'test/fixtures/migrate');
const noReal = existsSync(REAL)
  ? false
  : `real fixtures not found at ${REAL} (../shared/fixtures/real beside the repo)`;

interface Case {
  name: string;
  file: string;
  real: boolean;
  machine?: string;
  expect: 'migrated' | 'already-canonical';
}

const cases: Case[] = [
  {
    name: 'list era (category lists)',
    file: join(HISTORIC, 'list-era.yaml'),
    real: false,
    expect: 'migrated',
  },
  {
    name: 'one-off (settings + core_agents)',
    file: join(HISTORIC, 'one-off.yaml'),
    real: false,
    expect: 'migrated',
  },
  {
    name: 'PC2 agent_groups with group_config',
    file: join(HISTORIC, 'pc2-agent-groups.yaml'),
    real: false,
    expect: 'already-canonical',
  },
  {
    name: 'PC2 phase-1 variant',
    file: join(HISTORIC, 'pc2-phase1.yaml'),
    real: false,
    expect: 'migrated',
  },
  {
    name: 'PC2 PR-era flow maps + second list',
    file: join(HISTORIC, 'pc2-pr-flow.yaml'),
    real: false,
    expect: 'migrated',
  },
  {
    name: 'real MainPC',
    file: join(REAL, 'mainpc.startup_config.yaml'),
    real: true,
    expect: 'migrated',
  },
  { name: 'real PC2', file: join(REAL, 'pc2.startup_config.yaml'), real: true, expect: 'migrated' },
  {
    name: 'real repo-root config',
    file: join(REAL, 'root.startup_config.yaml'),
    real: true,
    expect: 'already-canonical',
  },
  {
    name: 'real v3 unified, mainpc',
    file: join(REAL, 'unified.startup_config.v3.yaml'),
    real: true,
    machine: 'mainpc',
    expect: 'migrated',
  },
  {
    name: 'real v3 unified, pc2',
    file: join(REAL, 'unified.startup_config.v3.yaml'),
    real: true,
    machine: 'pc2',
    expect: 'migrated',
  },
];

function migrate(file: string, env: Env = {}, machine?: string): MigrateResult {
  const options: MigrateOptions = { env, ...(machine ? { machine } : {}) };
  if (machine) options.overrides = mergeDocker(findOverrides(file, ['mainpc', 'pc2'], env), env);
  return migrateText(readFileSync(file, 'utf8'), file, options);
}

function migrated(
  file: string,
  env: Env = {},
  machine?: string,
): Extract<MigrateResult, { ok: true }> {
  const result = migrate(file, env, machine);
  assert.ok(result.ok, `migrate failed: ${JSON.stringify(!result.ok && result.diagnostics)}`);
  return result;
}

/** The machine as the loader reads the original file (v3: the chosen machine, overrides applied). */
function original(file: string, env: Env, machine?: string): Machine {
  const loaded = loadConfigFile(file, { env });
  assert.ok(
    loaded.ok,
    `original does not load: ${JSON.stringify(loaded.diagnostics.filter((d) => d.severity === 'error'))}`,
  );
  const m = machine ? loaded.machines.find((x) => x.id === machine) : loaded.machines[0];
  assert.ok(m);
  return m;
}

/** Everything the fleet runs on, per agent; written out here rather than borrowed from migrate.ts. */
const view = (m: Machine) =>
  Object.fromEntries(
    m.agents.map((a) => [
      a.name,
      {
        machine: a.machine,
        group: a.group,
        script: a.scriptPath,
        host: a.host,
        port: a.port.value,
        portAsWritten: a.port.raw,
        health: a.healthPort.value,
        healthImplicit: a.healthPortImplicit,
        required: a.required,
        dependencies: a.dependencies,
        config: a.config,
        env: a.env,
        params: a.params,
      },
    ]),
  );

/** Locations move with the text; everything else must not. */
const withoutLocs = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(withoutLocs)
    : value && typeof value === 'object'
      ? Object.fromEntries(
          Object.entries(value)
            .filter(([k]) => k !== 'loc')
            .map(([k, v]) => [k, withoutLocs(v)]),
        )
      : value;

const commentLines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('#'));

const counts = (items: string[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
};

describe('config migrate: the fleet is the same after migration (every fixture)', () => {
  for (const c of cases) {
    for (const env of [{}, { PORT_OFFSET: '1000' }] as Env[]) {
      test(
        `${c.name}${env.PORT_OFFSET ? ' (PORT_OFFSET=1000)' : ''}`,
        { skip: c.real && noReal },
        () => {
          const result = migrated(c.file, env, c.machine);
          assert.equal(result.status, c.expect);
          const before = original(c.file, env, c.machine);
          const loaded = loadConfigText(result.text, c.file, { env, machine: before.id });
          assert.ok(loaded.ok, JSON.stringify(loaded.diagnostics));
          assert.equal(loaded.shape === 'v3-unified', false, 'the output is a single-machine file');
          const after = loaded.machines[0]!;
          assert.ok(before.agents.length > 0);
          assert.deepEqual(view(after), view(before));
          assert.deepEqual(withoutLocs(after.globals), withoutLocs(before.globals));
          // The fleet's own comparison agrees (and is exercised for a real difference below).
          assert.deepEqual(compareMachines(before, after), []);
        },
      );
    }
  }

  for (const c of cases.filter((x) => !x.machine)) {
    test(`${c.name}: loads as the same machine by default`, { skip: c.real && noReal }, () => {
      const result = migrated(c.file);
      const before = original(c.file, {});
      const after = loadConfigText(result.text, c.file, { env: {} }).machines[0]!;
      if (c.file.endsWith('pc2-pr-flow.yaml')) {
        // A PC2 list without pc2_network says nothing that marks it as PC2 once it is agent_groups:
        // the fleet loads it as PC2 by where it lives (--pc2, pc2_code/config/), not by content.
        assert.equal(after.id, 'mainpc');
        return;
      }
      assert.equal(after.id, before.id);
    });
  }
});

describe('config migrate: idempotent, comments kept', () => {
  for (const c of cases) {
    test(
      `${c.name}: a second run is already canonical and changes nothing`,
      { skip: c.real && noReal },
      () => {
        const first = migrated(c.file, {}, c.machine);
        const second = migrateText(first.text, c.file, { env: {} });
        assert.ok(second.ok);
        assert.equal(second.status, 'already-canonical');
        assert.equal(second.text, first.text);
        assert.deepEqual(second.notes, []);
      },
    );
  }

  for (const c of cases.filter((x) => !x.machine)) {
    test(`${c.name}: every comment line survives`, { skip: c.real && noReal }, () => {
      const text = readFileSync(c.file, 'utf8');
      const kept = counts(commentLines(migrated(c.file).text));
      for (const [line, n] of counts(commentLines(text))) {
        assert.ok((kept.get(line) ?? 0) >= n, `comment lost: ${line}`);
      }
    });
  }
});

describe('config migrate: duplicate keys', () => {
  test('a canonical file with duplicate keys is not "already canonical": the earlier ones go', () => {
    const text =
      'agent_groups:\n  core:\n    A: {script_path: a.py, port: 7200, port: 7300}\n    B: {script_path: b.py, port: 7201}\n    B: {script_path: c.py, port: 7202}\n';
    const r = migrateText(text, 'dup.yaml', { env: {} });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.status, 'migrated');
    assert.deepEqual(r.notes, [
      'removed 2 duplicate keys that PyYAML ignores (the earlier of each): agent_groups.core.B, agent_groups.core.A.port',
    ]);
    assert.equal(
      r.text,
      'agent_groups:\n  core:\n    A: {script_path: a.py, port: 7300}\n    B: {script_path: c.py, port: 7202}\n',
    );
    // The same fleet PyYAML reads, and canonical now.
    const agents = (t: string) =>
      loadConfigText(t, 'x.yaml', { env: {} }).machines[0]!.agents.map(
        (a) => `${a.name}:${a.scriptPath}:${a.port.value}`,
      );
    assert.deepEqual(agents(r.text), agents(text));
    const again = migrateText(r.text, 'dup.yaml', { env: {} });
    assert.ok(again.ok && again.status === 'already-canonical');
  });
});

describe(
  'config migrate: real MainPC (docker_groups mis-indented inside agent_groups)',
  { skip: noReal },
  () => {
    const file = join(REAL, 'mainpc.startup_config.yaml');
    test('moves docker_groups and its 12 sibling pseudo-groups to a top-level docker_groups', () => {
      const text = readFileSync(file, 'utf8');
      const result = migrated(file);
      const data = parse(result.text, { version: '1.1' }) as Record<
        string,
        Record<string, unknown>
      >;
      assert.deepEqual(Object.keys(data), [
        'global_settings',
        'hybrid_inference_policy',
        'agent_groups',
        'docker_groups',
      ]);
      const groups = data.agent_groups!;
      assert.equal(Object.keys(groups).length, 11);
      assert.ok(
        Object.values(groups).every((g) =>
          Object.values(g as object).every((a) => 'script_path' in (a as object)),
        ),
      );
      const docker = Object.keys(data.docker_groups!);
      assert.deepEqual(docker, [
        'infra_core',
        'observability',
        'core_hubs',
        'vision_gpu',
        'speech_gpu',
        'learning_gpu',
        'reasoning_gpu',
        'language_stack',
        'utility_cpu',
        'gpu_scheduler',
        'translation_proxy',
        'observability_ui',
        'self_healing',
      ]);
      const loaded = loadConfigText(result.text, file, { env: {} });
      assert.equal(loaded.machines[0]!.agents.length, 49);
      assert.equal(new Set(loaded.machines[0]!.agents.map((a) => a.group)).size, 11);
      // Agent order and everything above agent_groups are untouched, byte for byte.
      assert.deepEqual(
        loaded.machines[0]!.agents.map((a) => a.name),
        original(file, {}).agents.map((a) => a.name),
      );
      const head = text.slice(0, text.indexOf('\nagent_groups:'));
      assert.ok(result.text.startsWith(head));
      assert.match(
        result.text,
        /\$\{PORT_OFFSET\}\+7200\n/,
        'port expressions are kept as written',
      );
      assert.match(
        result.text,
        /port: "\$\{PORT_OFFSET\}\+6550"/,
        'quoted expressions stay quoted',
      );
      assert.equal(
        loaded.diagnostics.some((d) => d.code === 'nested-docker-groups'),
        false,
      );
    });
  },
);

describe('config migrate: real PC2 (pc2_services list)', { skip: noReal }, () => {
  const file = join(REAL, 'pc2.startup_config.yaml');
  test('groups agents by docker_groups membership, keeps host and the other top-level blocks', () => {
    const result = migrated(file);
    const data = parse(result.text, { version: '1.1' }) as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    assert.deepEqual(Object.keys(data), [
      'global_settings',
      'agent_groups',
      'health_checks',
      'pc2_network',
      'error_bus_port',
      'docker_groups',
    ]);
    const groups = data.agent_groups!;
    assert.ok(groups.error_bus!.CentralErrorBus);
    assert.ok(
      groups.pc2_services!.RealTimeAudioPipelinePC2,
      'agents in no docker group stay in pc2_services',
    );
    const agents = Object.values(groups).flatMap((g) => Object.values(g));
    assert.equal(agents.length, 23);
    assert.ok(agents.every((a) => a.host === '0.0.0.0' && !('name' in a)));
    assert.match(result.text, /error_bus_port: \$\{PORT_OFFSET\}\+7150/);
    // Within a group the list order is kept.
    assert.deepEqual(Object.keys(groups.async_pipeline!), [
      'TieredResponder',
      'AsyncProcessor',
      'CacheManager',
      'TaskScheduler',
      'AdvancedRouter',
    ]);
    assert.match(
      result.text,
      /# DECOMMISSIONED: Legacy memory agents replaced by MemoryFusionHub\n {4}# - name: MemoryOrchestratorService/,
    );
  });
});

describe('config migrate: real v3 unified', { skip: noReal }, () => {
  const file = join(REAL, 'unified.startup_config.v3.yaml');
  test('without a machine it refuses and names the machines, at machine_profiles', () => {
    const result = migrate(file);
    assert.equal(result.ok, false);
    const d = result.diagnostics.find((x) => x.code === 'machine-required');
    assert.ok(d);
    assert.match(d.message, /mainpc, pc2/);
    assert.equal(
      d.loc.line,
      readFileSync(file, 'utf8').split('\n').indexOf('machine_profiles:') + 1,
    );
  });
  test('an unknown machine is refused', () => {
    const result = migrate(file, {}, 'pc9');
    assert.equal(result.ok, false);
    assert.ok(
      result.diagnostics.some((d) => d.code === 'unknown-machine' && /mainpc, pc2/.test(d.message)),
    );
  });
  test('pc2: its groups only, disabled agents gone, override config and globals merged', () => {
    const result = migrated(file, {}, 'pc2');
    const data = parse(result.text, { version: '1.1' }) as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    assert.equal('version' in data || 'machine_profiles' in data, false);
    assert.deepEqual(Object.keys(data.agent_groups!), [
      'core_services',
      'memory_system',
      'utility_services',
      'pc2_services',
    ]);
    assert.deepEqual(data.agent_groups!.memory_system!.MemoryOrchestratorService!.config, {
      memory_pool_size_gb: 8,
      cache_retention_hours: 24,
      sync_frequency: 30,
    });
    const limits = data.global_settings!.resource_limits as unknown as Record<string, unknown>;
    assert.equal(limits.vram_gb, 12);
    assert.equal(limits.max_threads, 4, 'keys the override does not set are kept');
    assert.match(result.text, /^# Resolved for machine pc2 from unified\.startup_config\.v3\.yaml/);
    assert.ok(
      result.notes.some((n) => /gpu_settings/.test(n)),
      'override blocks with no place are named',
    );
  });
  test('CONFIG_OVERRIDE=docker is applied as the loader applies it', () => {
    const env = { CONFIG_OVERRIDE: 'docker' };
    const result = migrated(file, env, 'mainpc');
    const after = loadConfigText(result.text, file, { env, machine: 'mainpc' }).machines[0]!;
    assert.equal(after.globals.resourceLimits?.memory_mb, 3072);
    assert.deepEqual(
      withoutLocs(after.globals),
      withoutLocs(original(file, env, 'mainpc').globals),
    );
  });
});

describe('config migrate: historic shapes', () => {
  test('list era: one group per category, env_vars and params kept, last duplicate wins', () => {
    const file = join(HISTORIC, 'list-era.yaml');
    const result = migrated(file);
    const data = parse(result.text, { version: '1.1' }) as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    assert.deepEqual(Object.keys(data.agent_groups!), [
      'core_services',
      'main_pc_gpu_services',
      'monitoring_security',
    ]);
    const registry = data.agent_groups!.core_services!.ServiceRegistry!;
    assert.deepEqual(registry.env_vars, { REGISTRY_BACKEND: 'memory' });
    assert.deepEqual(registry.params, { ttl: 30 });
    assert.equal(registry.startup_priority, 1);
    assert.equal(data.agent_groups!.monitoring_security!.TinyLlamaService!.port, 5616);
    assert.equal(data.agent_groups!.main_pc_gpu_services!.TinyLlamaService, undefined);
    assert.ok(result.notes.some((n) => /dropped 1 earlier duplicate.*TinyLlamaService/.test(n)));
    assert.deepEqual(Object.keys(data.global_settings!), [
      'environment',
      'resource_limits',
      'health_checks',
    ]);
    assert.ok('volumes' in data && 'network' in data);
    assert.match(
      result.text,
      /^# MainPC launcher config, list era/,
      'the header comment stays on top',
    );
    const agents = loadConfigText(result.text, file, { env: {} }).machines[0]!.agents;
    assert.equal(agents.find((a) => a.name === 'ModelManagerAgent')!.healthPort.value, 5571);
  });

  test('one-off: script, health_port and critical renamed; settings become global_settings', () => {
    const file = join(HISTORIC, 'one-off.yaml');
    const result = migrated(file);
    const data = parse(result.text, { version: '1.1' }) as Record<string, unknown>;
    assert.deepEqual(Object.keys(data), [
      'global_settings',
      'error_bus_port',
      'error_bus_host',
      'agent_groups',
    ]);
    assert.equal(data.error_bus_port, 7150);
    const agents = Object.values(
      data.agent_groups as Record<string, Record<string, Record<string, unknown>>>,
    ).flatMap((g) => Object.values(g));
    assert.equal(agents.length, 4);
    for (const a of agents) {
      assert.ok('script_path' in a && 'required' in a);
      assert.equal('script' in a || 'health_port' in a || 'critical' in a, false);
    }
    assert.deepEqual(
      result.notes.filter((n) => n.startsWith('renamed')),
      [
        'renamed script -> script_path in 4 agents',
        'renamed health_port -> health_check_port in 3 agents',
        'renamed critical -> required in 4 agents',
        'renamed settings -> global_settings',
      ],
    );
    const bus = loadConfigText(result.text, file, { env: {} }).machines[0]!.globals.errorBusPort;
    assert.equal(bus?.value, 7150);
  });

  test('PC2 agent_groups: group_config stays where it is; the file is already canonical', () => {
    const file = join(HISTORIC, 'pc2-agent-groups.yaml');
    const result = migrated(file);
    assert.equal(result.status, 'already-canonical');
    assert.equal(result.text, readFileSync(file, 'utf8'));
    assert.equal(result.machine, 'pc2');
  });

  test('PC2 phase-1: per-agent environment becomes env_vars; logging, startup and the phase-1 blocks stay', () => {
    const file = join(HISTORIC, 'pc2-phase1.yaml');
    const result = migrated(file);
    const data = parse(result.text, { version: '1.1' }) as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    const hub = data.agent_groups!.pc2_services!.ObservabilityHub!;
    assert.deepEqual(hub.env_vars, { PROMETHEUS_ENABLED: 'true', SCOPE: 'pc2_agents' });
    assert.equal('environment' in hub, false);
    assert.deepEqual(hub.logging, { level: 'DEBUG' });
    assert.deepEqual(Object.keys(data), [
      'phase1_config',
      'startup_sequence',
      'logging',
      'prometheus',
      'migration',
      'agent_groups',
      'pc2_network',
    ]);
  });

  test('PC2 PR era: class/module kept, both lists merged, grouped by docker group', () => {
    const file = join(HISTORIC, 'pc2-pr-flow.yaml');
    const result = migrated(file);
    const data = parse(result.text, { version: '1.1' }) as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    assert.deepEqual(Object.keys(data.agent_groups!.pc2_infra_core!), [
      'ResourceManager',
      'MemoryOrchestratorService',
    ]);
    assert.deepEqual(Object.keys(data.agent_groups!.pc2_services!), [
      'TieredResponder',
      'DreamWorldAgent',
    ]);
    assert.equal(
      data.agent_groups!.pc2_services!.TieredResponder!.module,
      'pc2_code.agents.tiered_responder',
    );
    assert.equal('core_services' in data, false);
    assert.doesNotMatch(result.text, /\{name:/, 'flow maps become block maps keyed by name');
  });
});

describe('config migrate: small cases', () => {
  const run = (text: string, options: Partial<MigrateOptions> = {}) =>
    migrateText(text, 'cfg.yaml', { env: {}, ...options });

  test('a key the loader shadows is removed, not renamed into a duplicate', () => {
    const result = run(
      'agent_groups:\n  core:\n    A:\n      script: old.py\n      script_path: new.py\n      port: 5000\n',
    );
    assert.ok(result.ok);
    assert.equal(result.status, 'migrated');
    assert.doesNotMatch(result.text, /old\.py/);
    assert.deepEqual(result.notes, ['removed script (shadowed by script_path) in 1 agent']);
  });

  test('YAML merge keys survive the move from list to groups', () => {
    const text = [
      'x-base: &base {host: 0.0.0.0, required: true}',
      'pc2_services:',
      '- {<<: *base, name: A, script_path: a.py, port: 7100}',
      '- {<<: *base, name: B, script_path: b.py, port: 7101, required: false}',
      '',
    ].join('\n');
    const result = run(text);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.diagnostics));
    const after = loadConfigText(result.text, 'cfg.yaml', { env: {}, machine: 'pc2' }).machines[0]!;
    assert.deepEqual(
      after.agents.map((a) => [a.name, a.host, a.required]),
      [
        ['A', '0.0.0.0', true],
        ['B', '0.0.0.0', false],
      ],
    );
  });

  test('bad YAML is refused with its line and column, and no text', () => {
    const result = run('agent_groups:\n  core:\n    A: {script_path: a.py, port: [1,\n');
    assert.equal(result.ok, false);
    const d = result.diagnostics[0]!;
    assert.equal(d.code, 'yaml-syntax');
    assert.ok(d.loc.line >= 3, `line ${d.loc.line}`);
    assert.equal(d.loc.file, 'cfg.yaml');
  });

  test('an unknown shape is refused, naming the keys it saw', () => {
    const result = run('services:\n  web: {image: nginx}\n');
    assert.equal(result.ok, false);
    assert.match(result.diagnostics[0]!.message, /top-level keys seen: services/);
  });

  test('a config the loader rejects is refused with the loader’s finding', () => {
    const result = run(
      'agent_groups:\n  core:\n    A:\n      script_path: a.py\n      port: ${NOPE}+1\n',
    );
    assert.equal(result.ok, false);
    assert.ok(result.diagnostics.some((d) => d.code === 'port-unresolvable' && d.loc.line === 5));
  });

  test('a machine cannot be chosen for a single-machine file', () => {
    const result = run('agent_groups:\n  core:\n    A: {script_path: a.py, port: 5000}\n', {
      machine: 'pc2',
    });
    assert.equal(result.ok, false);
    assert.equal(result.diagnostics[0]!.code, 'machine-not-applicable');
  });

  test('duplicate-key warnings of the input are passed on (and the file is migrated: not canonical)', () => {
    const result = run(
      'agent_groups:\n  core:\n    A: {script_path: a.py, port: 5000, port: 5001}\n',
    );
    assert.ok(result.ok);
    assert.equal(result.status, 'migrated');
    assert.ok(result.diagnostics.some((d) => d.code === 'duplicate-key'));
  });

  test('the safety net sees a changed port, a lost agent and changed globals', () => {
    const a = loadConfigText(
      'agent_groups:\n  g:\n    A: {script_path: a.py, port: 5000}\n    B: {script_path: b.py, port: 5002}\n',
      'a',
      { env: {} },
    ).machines[0]!;
    const b = loadConfigText(
      'global_settings: {resource_limits: {cpu_percent: 5}}\nagent_groups:\n  g:\n    A: {script_path: a.py, port: 5010}\n',
      'b',
      { env: {} },
    ).machines[0]!;
    assert.deepEqual(compareMachines(a, b), [
      'machine resourceLimits differs',
      'agent B would be lost',
      'agent A: port differs',
      'agent A: health differs',
      'agent A: implicit differs',
    ]);
  });
});
