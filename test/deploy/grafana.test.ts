// `opsdeck deploy grafana`: the dashboard loads by Grafana's documented JSON model
// (grafana-schema.ts), reads only metrics the exporter really exports, and the Prometheus config
// passes `promtool check config` and scrapes both machines at their addresses.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/run-cli.js';
import { grafanaDashboard, scrapeConfig } from '../../source/core/deploy/grafana.js';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { attributionFor, ErrorTally } from '../../source/core/metrics/errors.js';
import { Histogram } from '../../source/core/metrics/exposition.js';
import { fleetFamilies } from '../../source/core/metrics/fleet.js';
import { checkDashboard, expressions, metricsIn } from './grafana-schema.js';

const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-grafana-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const opsdeck = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { PATH: process.env.PATH, ...env }, dir);

/** Every family the exporter can write, with every optional part present. */
function exportedNames(): Set<string> {
  const m = loadConfigText(
    'agent_groups:\n  core:\n    A: {script_path: a.py, port: 7200}\n',
    'm.yaml',
    { env: {} },
  ).machines[0]!;
  const families = [
    ...fleetFamilies({
      machine: 'mainpc',
      probed: { model: m, health: new Map() },
      latency: new Map([['A', new Histogram()]]),
      sample: {
        machine: 'mainpc',
        ts: 0,
        source: 'agent',
        gpu: { name: 'g', totalMb: 1, usedMb: 1, utilPct: 1 },
        cpuPct: 1,
        ramTotalMb: 1,
        ramUsedMb: 1,
        throttleLevel: 0,
        agents: [],
      },
      bridge: {
        state: 'running',
        received: 0,
        published: 0,
        duplicates: 0,
        dropped: 0,
        malformed: 0,
        queued: 0,
        gaps: 0,
        since: 0,
      },
      phase: { phase: 0, name: 'zmq' },
      version: 'v',
      startedAt: 0,
    }),
    ...new ErrorTally(attributionFor('mainpc', [m])).families('mainpc'),
  ];
  return new Set(families.map((f) => f.name));
}

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(JSON.stringify(grafanaDashboard('0.1.0'))) as Record<
    string,
    unknown
  >;

  test('loads by the documented JSON model: fields, panel types, datasource refs, unique ids, gridPos', () => {
    assert.deepEqual(checkDashboard(dashboard), []);
    const panels = dashboard.panels as Array<{ type: string; title: string }>;
    const rows = panels.filter((p) => p.type === 'row').map((p) => p.title);
    assert.deepEqual(rows, [
      'Fleet overview',
      'Resources per machine',
      'Errors',
      'Agent drill-down ($agent)',
    ]);
    assert.ok(panels.some((p) => p.title === 'VRAM used' && p.type === 'timeseries'));
  });

  test('the check finds what Grafana would refuse (it can fail)', () => {
    const broken = JSON.parse(JSON.stringify(dashboard)) as {
      uid: string;
      panels: Array<Record<string, unknown>>;
      templating: { list: unknown[] };
    };
    broken.uid = 'x'.repeat(41);
    broken.panels[2]!.id = broken.panels[1]!.id;
    broken.panels[3]!.gridPos = { ...(broken.panels[2]!.gridPos as object) };
    broken.panels[4]!.type = 'graph-old';
    (broken.panels[5]!.targets as Array<Record<string, unknown>>)[0]!.expr = 'up{x="$nosuch"}';
    broken.panels[6]!.datasource = { type: 'loki', uid: '${datasource}' };
    broken.panels[7]!.gridPos = { x: 20, y: 0, w: 8, h: 4 };
    const problems = checkDashboard(broken);
    for (const expected of [
      /\$\.uid: up to 40/,
      /\$\.panels\[2\]\.id: unique/,
      /\$\.panels\[3\]\.gridPos: overlaps \$\.panels\[2\]/,
      /\$\.panels\[4\]\.type: a core panel type/,
      /\$\.panels\[5\]\.targets\[0\]\.expr: \$nosuch is not defined/,
      /\$\.panels\[6\]\.datasource: uid \$\{datasource\} names no datasource variable of type loki/,
      /\$\.panels\[7\]\.gridPos: inside the 24 columns/,
    ])
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${expected} not in:\n${problems.join('\n')}`,
      );
  });

  test('every metric it reads is one the exporter writes', () => {
    const names = exportedNames();
    const read = new Set(expressions(dashboard).flatMap(metricsIn));
    assert.ok(read.size >= 12, [...read].join(', '));
    const unknown = [...read].filter((n) => n !== 'up' && !names.has(n));
    assert.deepEqual(unknown, []);
  });
});

describe('opsdeck deploy grafana', () => {
  test(
    "the Prometheus config passes promtool and scrapes both machines' agents",
    { skip: PROMTOOL ? false : 'promtool not installed: apt-get install prometheus' },
    async () => {
      const secrets = join(dir, 'secrets');
      const gen = await opsdeck(['certs', 'generate', '--dir', secrets, '--yes'], {
        MAINPC_IP: '192.168.100.16',
        PC2_IP: '192.168.100.17',
      });
      assert.equal(gen.code, 0, gen.err);
      const out = join(dir, 'grafana');
      const r = await opsdeck(['deploy', 'grafana', '--out', out, '--secrets', secrets]);
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.out,
        /scrapes mainpc at 192\.168\.100\.16:9470, pc2 at 192\.168\.100\.17:9470/,
      );
      const check = spawnSync('promtool', ['check', 'config', join(out, 'prometheus.yml')], {
        encoding: 'utf8',
      });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
      const dash = JSON.parse(readFileSync(join(out, 'opsdeck-dashboard.json'), 'utf8')) as unknown;
      assert.deepEqual(checkDashboard(dash), []);
      // The plan the agents run from says the same address and port.
      const plan = await opsdeck(['deploy', 'plan', '--machine', 'pc2', '--secrets', secrets]);
      assert.equal(plan.code, 0, plan.err);
      assert.match(plan.out, /^metrics: "192\.168\.100\.17:9470"$/m);
    },
  );

  test('no secrets manifest: exit 2, says what to do, writes nothing', async () => {
    const out = join(dir, 'nothing');
    const r = await opsdeck(['deploy', 'grafana', '--out', out, '--secrets', join(dir, 'none')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /no manifest\.json in .*none: run opsdeck certs generate first/);
    assert.equal(existsSync(out), false);
    const bad = await opsdeck(['deploy', 'grafana', '--out', out, '--metrics-port', '70000']);
    assert.equal(bad.code, 2);
    assert.match(
      bad.err,
      /option '--metrics-port <port>' argument '70000' is invalid\. expected a port 1-65535/,
    );
  });

  test("an existing --out folder keeps its mode (Prometheus' own folder is not made 0700)", async () => {
    const secrets = join(dir, 'secrets-mode');
    const gen = await opsdeck(['certs', 'generate', '--dir', secrets, '--yes']);
    assert.equal(gen.code, 0, gen.err);
    const out = join(dir, 'prometheus-etc');
    mkdirSync(out);
    chmodSync(out, 0o755);
    const r = await opsdeck(['deploy', 'grafana', '--out', out, '--secrets', secrets]);
    assert.equal(r.code, 0, r.err);
    assert.equal(statSync(out).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, 'prometheus.yml')).mode & 0o777, 0o644);
  });

  test('a machine known by name is scraped by name; by address when it has one', () => {
    const text = scrapeConfig(
      [
        { id: 'mainpc', host: '10.0.0.5' },
        { id: 'pc2', host: 'localhost' },
      ],
      9470,
      'h',
    );
    assert.match(text, /targets: \['10\.0\.0\.5:9470'\]/);
    assert.match(text, /targets: \['pc2:9470'\]/);
  });
});
