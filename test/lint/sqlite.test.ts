import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { parseCompose } from '../../source/core/lint/compose.js';
import { placeCompose } from '../../source/core/lint/compose-place.js';
import {
  checkSqliteCompose,
  checkSqliteConfig,
  sqlitePath,
} from '../../source/core/lint/sqlite.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { machineFrom, py, realDir, skipReal } from './helpers.js';

const fleet = (yaml: string, machine = 'mainpc') => machineFrom(yaml, machine);
const composeOf = (yaml: string, machines: Machine[], file = 'docker-compose.mainpc.yml') => {
  const compose = parseCompose(py([yaml] as unknown as TemplateStringsArray), file);
  return checkSqliteCompose(
    [{ compose, relPath: file, place: placeCompose(file, compose, machines) }],
    machines,
  );
};

describe('sqlite-writers', () => {
  test('paths: plain, relative, sqlite URLs and env defaults; not other URLs or non-db files', () => {
    assert.equal(sqlitePath('./data/../data/x.db'), 'data/x.db');
    assert.equal(sqlitePath('sqlite:////var/lib/a.sqlite3'), '/var/lib/a.sqlite3');
    assert.equal(sqlitePath('sqlite:///rel.db'), 'rel.db');
    assert.equal(sqlitePath('${DB:-/workspace/m.db}'), '/workspace/m.db');
    assert.equal(sqlitePath('postgres://h/db'), undefined);
    assert.equal(sqlitePath('models/phi.gguf'), undefined);
  });

  test('two agents of one machine on one file is a warning; one agent alone is not', () => {
    const m = fleet(`
      agent_groups:
        g:
          A: { script_path: a.py, port: 7000, config: { sqlite_path: data/shared.db } }
          B: { script_path: b.py, port: 7010, config: { store: { path: "./data/shared.db" } } }
          C: { script_path: c.py, port: 7020, config: { db_path: data/own.db } }
    `);
    const findings = checkSqliteConfig([m]);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.severity, 'warning');
    assert.match(
      findings[0]!.message,
      /^B on mainpc \(config\.store\.path\) and A on mainpc all open data\/shared\.db/,
    );
  });

  test('the same path on two machines is only info', () => {
    const a = fleet(
      `agent_groups: { g: { Hub: { script_path: h.py, port: 5713, config: { sqlite_path: /w/m.db } } } }`,
    );
    const b = fleet(
      `agent_groups: { g: { Hub: { script_path: h.py, port: 5713, config: { sqlite_path: /w/m.db } } } }`,
      'pc2',
    );
    assert.deepEqual(
      checkSqliteConfig([a, b]).map((f) => f.severity),
      ['info'],
    );
  });

  test('two services writing one database through one volume is a warning; separate volumes are fine', () => {
    const shared = composeOf(
      `
      services:
        a:
          environment: { STORE: /app/data/jobs.db }
          volumes: ["data:/app/data"]
        b:
          environment: [ "DB=sqlite:////app/data/jobs.db" ]
          volumes: ["data:/app/data"]
        c:
          environment: { STORE: /app/data/jobs.db }
          volumes: ["data-c:/app/data"]
      volumes: { data: {}, data-c: {} }
    `,
      [],
    );
    assert.deepEqual(
      shared.map((f) => `${f.line}:${f.severity}`),
      ['7:warning'],
    );
    assert.match(
      shared[0]!.message,
      /"a" \(env STORE\) and "b" \(env DB\) write jobs\.db on the same volume "data"/,
    );
  });

  test('an agent run by a service brings its config database; read-only mounts and replicas', () => {
    const m = fleet(
      `agent_groups: { core: { Twin: { script_path: main_pc_code/agents/twin.py, port: 7220, config: { db_path: data/twin.db } } } }`,
    );
    const findings = composeOf(
      `
      services:
        twin:
          command: python -m main_pc_code.agents.twin
          volumes: ["./data:/app/data"]
        reader:
          volumes: ["./data:/app/data:ro"]
        sidecar:
          volumes: ["./data:/app/data"]
        scaled:
          environment: { DB: /srv/x.db }
          volumes: ["x:/srv"]
          deploy: { replicas: 3 }
    `,
      [m],
    );
    assert.deepEqual(findings.map((f) => `${f.line}:${f.severity}`).sort(), [
      '11:warning',
      '4:info',
    ]);
    assert.match(
      findings.find((f) => f.severity === 'info')!.message,
      /"twin" keeps twin\.db \(Twin's config\.db_path\) on host folder \.\/data, which "sidecar" also mounts read-write/,
    );
  });
});

describe('sqlite-writers on the real fleet', { skip: skipReal }, () => {
  test('MemoryFusionHub uses /workspace/memory.db on both machines (info); no machine shares a file between agents', () => {
    const { machines } = loadFleet(
      { mainpc: realDir + 'mainpc.startup_config.yaml', pc2: realDir + 'pc2.startup_config.yaml' },
      {},
    );
    const findings = checkSqliteConfig(machines);
    assert.deepEqual(
      findings.map((f) => [f.severity, f.message.split(' (')[0]]),
      [['info', 'MemoryFusionHub on pc2']],
    );
    assert.match(
      findings[0]!.message,
      /\/workspace\/memory\.db, as MemoryFusionHub on mainpc does/,
    );
  });

  test("dockerdir mainpc subdir: SystemDigitalTwin's data/unified_memory.db sits on ../../data, mounted read-write by six other services (info)", () => {
    const { machines } = loadFleet(
      { mainpc: realDir + 'mainpc.startup_config.yaml', pc2: realDir + 'pc2.startup_config.yaml' },
      {},
    );
    const file = 'docker-compose.dockerdir-mainpc-subdir.yml';
    const compose = parseCompose(readFileSync(realDir + file, 'utf8'), file);
    const findings = checkSqliteCompose(
      [{ compose, relPath: file, place: placeCompose(file, compose, machines) }],
      machines,
    );
    assert.deepEqual(
      findings.map((f) => `${f.line}:${f.severity}`),
      ['99:info'],
    );
    assert.match(
      findings[0]!.message,
      /"system-digital-twin" keeps unified_memory\.db \(SystemDigitalTwin's config\.db_path\) on host folder \.\.\/\.\.\/data, which .*"service-registry".* also mount read-write/,
    );
  });

  test('ModelOps hub: both replicas name /app/data/learning_jobs.db but on separate volumes, so no finding', () => {
    const file = 'docker-compose.hub-model_ops_coordinator.yml';
    const compose = parseCompose(readFileSync(realDir + file, 'utf8'), file);
    assert.equal(
      compose.services.filter((s) => s.env.MOC_LEARNING_STORE === '/app/data/learning_jobs.db')
        .length,
      2,
    );
    assert.deepEqual(
      checkSqliteCompose([{ compose, relPath: file, place: placeCompose(file, compose, []) }], []),
      [],
    );
  });
});
