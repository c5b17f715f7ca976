import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { parseCompose } from '../../source/core/lint/compose.js';
import {
  consolidate,
  consolidationFindings,
  differsIn,
  mergedMoves,
  serviceKey,
} from '../../source/core/lint/compose-plan.js';
import { placeCompose } from '../../source/core/lint/compose-place.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { machineFrom, py, realDir, skipReal } from './helpers.js';

const mainpc = machineFrom(
  `
  agent_groups:
    core:
      Registry: { script_path: main_pc_code/agents/registry.py, port: 7200 }
      Twin: { script_path: main_pc_code/agents/twin.py, port: 7220 }
    hubs:
      Memory: { script_path: memory_hub/app.py, port: 5713 }
  `,
  'mainpc',
);

const placedOf = (files: Record<string, string>, machines: Machine[] = [mainpc]) =>
  Object.entries(files).map(([file, yaml]) => {
    const compose = parseCompose(py([yaml] as unknown as TemplateStringsArray), file);
    return { compose, relPath: file, place: placeCompose(file, compose, machines) };
  });

describe('compose-consolidation', () => {
  test('service names match across spellings', () => {
    assert.equal(serviceKey('core_services'), serviceKey('core-services-group'));
    assert.notEqual(serviceKey('core_services'), serviceKey('core'));
  });

  test('a copy is deleted, a variant with extra services deprecated, the best variant renamed to the canonical name', () => {
    const placed = placedOf({
      'docker-compose.mainpc.yml': `
        services:
          core: { command: python -m main_pc_code.agents.registry, ports: ["7200:7200"] }
      `,
      'docker-compose.mainpc.FIXED.yml': `
        services:
          core: { command: python -m main_pc_code.agents.registry, ports: ["7200:7200"] }
          twin: { command: python main_pc_code/agents/twin.py }
      `,
      'docker-compose.mainpc.UPDATED.yml': `
        services:
          core: { command: python -m main_pc_code.agents.registry, ports: ["7201:7200"] }
          extra: { image: busybox }
      `,
      'memory_hub/docker-compose.yml': `
        services:
          mfh: { build: . }
          redis: { image: redis:7 }
      `,
      'docker-compose.mainpc.override.yaml': `services: { core: { ports: ["9999:9999"] } }`,
    });
    const [plan] = consolidate(placed, [mainpc]);
    assert.equal(plan!.machine, 'mainpc');
    assert.deepEqual(plan!.variants, [
      'docker-compose.mainpc.FIXED.yml',
      'docker-compose.mainpc.UPDATED.yml',
      'docker-compose.mainpc.yml',
    ]);
    assert.deepEqual(plan!.units, ['memory_hub/docker-compose.yml']);
    assert.equal(plan!.superset, undefined);
    assert.deepEqual(plan!.contains, {
      'docker-compose.mainpc.FIXED.yml': ['docker-compose.mainpc.yml'],
      'docker-compose.mainpc.UPDATED.yml': ['docker-compose.mainpc.yml'],
    });
    assert.equal(plan!.truth!.file, 'docker-compose.mainpc.FIXED.yml');
    assert.match(plan!.truth!.why, /deploys 2 of the 3 mainpc agents/);
    const core = plan!.rows.find((r) => r.key === 'core')!;
    assert.deepEqual(core.differs, ['ports']);
    const moves = Object.fromEntries(
      plan!.moves.map((m) => [m.file, `${m.action}${m.to ? ` -> ${m.to}` : ''}`]),
    );
    assert.deepEqual(moves, {
      'docker-compose.mainpc.yml': 'delete', // the same core as FIXED: nothing is lost
      'docker-compose.mainpc.UPDATED.yml': 'deprecate',
      'memory_hub/docker-compose.yml': 'keep',
      'docker-compose.mainpc.override.yaml': 'keep',
      'docker-compose.mainpc.FIXED.yml': 'rename -> docker-compose.mainpc.yml',
    });
    assert.match(
      plan!.moves.find((m) => m.file === 'docker-compose.mainpc.UPDATED.yml')!.why,
      /has 1 service .* lacks \(extra\)/,
    );
    assert.match(
      plan!.moves.find((m) => m.file === 'memory_hub/docker-compose.yml')!.why,
      /running Memory, which docker-compose\.mainpc\.FIXED\.yml does not deploy/,
    );
  });

  test('an identical copy is deleted; a broken file is deleted; a single variant gives no findings', () => {
    const placed = placedOf({
      'a/docker-compose.mainpc.yml': `services: { core: { command: python -m main_pc_code.agents.registry } }`,
      'b/docker-compose.mainpc.yml': `services: { core: { command: python -m main_pc_code.agents.registry } }`,
      'c/docker-compose.mainpc.yml': `services: [unclosed`,
    });
    const [plan] = consolidate(placed, [mainpc]);
    assert.deepEqual(
      plan!.moves.map((m) => `${m.action} ${m.file}`),
      [
        'delete b/docker-compose.mainpc.yml',
        'delete c/docker-compose.mainpc.yml',
        'keep a/docker-compose.mainpc.yml',
      ],
    );
    const single = consolidate(
      placedOf({ 'docker-compose.mainpc.yml': `services: { core: { image: x } }` }),
      [mainpc],
    );
    assert.deepEqual(consolidationFindings(single), []);
  });

  test('as findings: info per moved file and per differing service of the source of truth', () => {
    const placed = placedOf({
      'docker-compose.mainpc.yml': `services: { core: { command: python -m main_pc_code.agents.registry, image: a } }`,
      'docker-compose.mainpc-2.yml': `services: { core: { command: python -m main_pc_code.agents.registry, image: b } }`,
    });
    const findings = consolidationFindings(consolidate(placed, [mainpc]));
    assert.ok(findings.every((f) => f.severity === 'info' && f.rule === 'compose-consolidation'));
    assert.deepEqual(findings.map((f) => `${f.file}:${f.line}`).sort(), [
      'docker-compose.mainpc-2.yml:1',
      'docker-compose.mainpc.yml:1',
      'docker-compose.mainpc.yml:1',
    ]);
  });
});

describe('compose-consolidation on the real compose files', { skip: skipReal }, () => {
  test('mainpc and pc2 variants: comparison, supersets and the plan', () => {
    const fleet = loadFleet(
      { mainpc: realDir + 'mainpc.startup_config.yaml', pc2: realDir + 'pc2.startup_config.yaml' },
      {},
    );
    const placed = readdirSync(realDir)
      .filter((f) => f.startsWith('docker-compose.'))
      .map((f) => {
        const compose = parseCompose(readFileSync(realDir + f, 'utf8'), f);
        return { compose, relPath: f, place: placeCompose(f, compose, fleet.machines) };
      });
    const plans = consolidate(placed, fleet.machines);
    const mainpcPlan = plans.find((p) => p.machine === 'mainpc')!;
    const pc2Plan = plans.find((p) => p.machine === 'pc2')!;
    assert.equal(mainpcPlan.variants.length, 8);
    assert.ok(
      mainpcPlan.variants.includes('docker-compose.mainpc-FIXED.yml') &&
        mainpcPlan.variants.includes('docker-compose.dockerdir-mainpc-UPDATED.yml'),
    );
    assert.deepEqual(mainpcPlan.overrides, ['docker-compose.mainpc-override.yml']);
    assert.deepEqual(mainpcPlan.broken, []);
    // FIXED drops the ./data:/app/data:ro mounts of three services and nothing else
    assert.deepEqual(mainpcPlan.contains['docker-compose.mainpc-FIXED.yml'], [
      'docker-compose.mainpc.yml',
    ]);
    const differ = mainpcPlan.rows
      .map(
        (r) =>
          [
            r.key,
            differsIn(r, 'docker-compose.mainpc.yml', 'docker-compose.mainpc-FIXED.yml'),
          ] as const,
      )
      .filter(([, d]) => d.length > 0);
    assert.deepEqual(differ.sort(), [
      ['audiospeech', ['volumes']],
      ['languagepipeline', ['volumes']],
      ['learningservices', ['volumes']],
    ]);
    assert.equal(mainpcPlan.superset, undefined);
    assert.equal(mainpcPlan.truth!.file, 'docker-compose.mainpc-FIXED.yml');
    assert.equal(pc2Plan.truth!.file, 'docker-compose.pc2-config.yml');
    const moves = Object.fromEntries(mergedMoves(plans).map((m) => [m.file, m.action]));
    assert.equal(moves['docker-compose.mainpc-FIXED.yml'], 'rename');
    assert.equal(moves['docker-compose.mainpc.yml'], 'rename'); // moved aside for the FIXED file
    assert.match(
      mergedMoves(plans).find((m) => m.file === 'docker-compose.mainpc.yml')!.why,
      /audiospeech \(volumes\); languagepipeline \(volumes\); learningservices \(volumes\) differ/,
    );
    assert.equal(moves['docker-compose.dockerdir-mainpc-UPDATED.yml'], 'deprecate');
    assert.equal(moves['docker-compose.hub-memory_fusion_hub.yml'], 'keep');
    assert.equal(moves['docker-compose.mainpc-override.yml'], 'keep');
    assert.equal(moves['docker-compose.group-pc2_infra_core.yml'], 'deprecate');
    // dist.yml does not parse and names no machine: it is in no plan (the syntax rule reports it)
    assert.equal(moves['docker-compose.dist.yml'], undefined);
  });
});
