// The real binary: `opsdeck ports check|matrix`, exit codes, output and --json shape
// (dist/ is built by npm test before the tests run).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const fx = fileURLToPath(new URL('../fixtures/ports/', import.meta.url));
const realDir = fileURLToPath(new URL('../../../shared/fixtures/real/', import.meta.url));
const skipReal = existsSync(realDir)
  ? false
  : `real fixtures not found at ${realDir} (../shared is absent)`;

// The hosts and NATS URL come from the environment: pin them so the runner's own env cannot leak in.
const baseEnv = {
  ...process.env,
  PORT_OFFSET: '',
  MAINPC_IP: '',
  MAIN_PC_IP: '',
  MAINPC_HOST: '',
  MAIN_PC_HOST: '',
  PC2_IP: '',
  PC2_HOST: '',
  NATS_SERVERS: '',
  NATS_URL: '',
};
const run = (args: string[], env: Record<string, string> = {}, cwd = process.cwd()) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...baseEnv, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const pair = (mainpc: string, pc2: string) => ['--mainpc', fx + mainpc, '--pc2', fx + pc2];
const tmp = () => mkdtempSync(join(tmpdir(), 'opsdeck-ports-'));

interface CheckJson {
  ok: boolean;
  machines: Array<{ id: string; host: string; file: string }>;
  summary: { errors: number; warnings: number; derived: number; byRule: Record<string, number> };
  findings: Array<{
    rule: string;
    severity: string;
    port: number;
    machines: string[];
    derived: boolean;
    message: string;
    owners: Array<{
      machine: string;
      agent: string;
      kind: string;
      key: string;
      loc: { file: string; line: number; col: number };
    }>;
  }>;
}

describe('opsdeck ports check', () => {
  test('a clean fleet: exit 0', () => {
    const r = run(['ports', 'check', ...pair('clean-mainpc.yaml', 'clean-pc2.yaml')]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(
      r.out,
      "0 conflicts (0 only through BaseAgent's derived ports), 0 warnings on 2 machines\n",
    );
  });

  test('conflicts: exit 1, grouped by machine, each finding with both owners at file:line:col', () => {
    const r = run(['ports', 'check', ...pair('clash-mainpc.yaml', 'clash-pc2.yaml')], {
      MAINPC_IP: '192.168.100.16',
      PC2_IP: '192.168.100.17',
    });
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /^mainpc \(192\.168\.100\.16\): 7 findings$/m);
    assert.match(r.out, /^pc2 \(192\.168\.100\.17\): 4 findings$/m);
    assert.doesNotMatch(r.out, /shared host/);
    assert.match(
      r.out,
      /^ {2}error {3}6601 {2}machine-clash \(derived\): 6601 on mainpc is bound by 2 agents: AgentA http \(health\+1\), AgentC health_check_port$/m,
    );
    assert.match(r.out, /^ +mainpc AgentA http \(health\+1\) +\S*clash-mainpc\.yaml:7:\d+$/m);
    assert.match(r.out, /^ +mainpc AgentC health_check_port +\S*clash-mainpc\.yaml:15:\d+$/m);
    assert.match(r.out, /^ +reserved for the ZMQ error bus +\S*clash-pc2\.yaml:31:\d+$/m);
    assert.match(r.out, /^ +reserved for NATS +\(fleet default\)$/m);
    assert.match(r.out, /^ +pc2_network\.agent_ports 7100-7199 +\S*clash-pc2\.yaml$/m);
    assert.match(
      r.out,
      /^9 conflicts \(3 only through BaseAgent's derived ports\), 2 warnings on 2 machines$/m,
    );
  });

  test('machines on one host: the cross-machine group names the shared host', () => {
    const r = run(['ports', 'check', ...pair('cross-mainpc.yaml', 'cross-pc2.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.out, /^mainpc \+ pc2 \(shared host localhost\): 4 findings$/m);
    const apart = run(['ports', 'check', ...pair('cross-mainpc.yaml', 'cross-pc2.yaml')], {
      MAINPC_IP: '127.0.0.1',
      PC2_IP: '127.0.0.2',
    });
    assert.equal(apart.code, 0, apart.out);
  });

  test('--json: the findings with owners and locations; exit 1 still', () => {
    const r = run(['ports', 'check', '--json', ...pair('cross-mainpc.yaml', 'cross-pc2.yaml')]);
    assert.equal(r.code, 1, r.err);
    const json = JSON.parse(r.out) as CheckJson;
    assert.equal(json.ok, false);
    assert.deepEqual(
      json.machines.map((m) => `${m.id}@${m.host}`),
      ['mainpc@localhost', 'pc2@localhost'],
    );
    assert.deepEqual(json.summary, {
      errors: 4,
      warnings: 0,
      derived: 2,
      byRule: {
        'self-clash': 0,
        'machine-clash': 0,
        'host-clash': 4,
        reserved: 0,
        'out-of-range': 0,
      },
    });
    const f = json.findings.find((x) => x.port === 6720)!;
    assert.equal(f.rule, 'host-clash');
    assert.equal(f.severity, 'error');
    assert.equal(f.derived, true);
    assert.deepEqual(f.machines, ['mainpc', 'pc2']);
    assert.deepEqual(
      f.owners.map((o) => [o.machine, o.agent, o.kind, o.key, o.loc.file, o.loc.line]),
      [
        ['mainpc', 'Neighbour', 'health', 'health_check_port', fx + 'cross-mainpc.yaml', 11],
        ['pc2', 'Other', 'http', 'http', fx + 'cross-pc2.yaml', 13],
      ],
    );
  });

  test('warnings alone exit 0; --strict makes them exit 1', () => {
    const args = [
      'ports',
      'check',
      '--mainpc',
      fx + 'clean-mainpc.yaml',
      '--pc2',
      fx + 'range-pc2.yaml',
    ];
    const r = run(args);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /0 conflicts .*, 2 warnings on 2 machines/);
    assert.equal(run([...args, '--strict']).code, 1);
  });

  test('bad input: exit 2 with the reason, and no findings printed', () => {
    const missing = run(['ports', 'check', '--mainpc', '/nonexistent/startup_config.yaml']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read \/nonexistent\/startup_config\.yaml: no such file/);
    assert.equal(missing.out, '');
    const dir = tmp();
    writeFileSync(
      join(dir, 'bad.yaml'),
      'agent_groups:\n  core:\n    A: {script_path: a.py, port: "${NOPE}+1"}\n',
    );
    const bad = run(['ports', 'check', '--json', '--mainpc', join(dir, 'bad.yaml')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /bad\.yaml:3:\d+: error: A: port: .*\$\{NOPE\} is not set/);
    assert.equal(bad.out, '');
    assert.equal(run(['ports', 'check', '--bogus']).code, 2);
    assert.equal(run(['ports']).code, 2, 'a group without a subcommand is a usage error');
  });
});

describe('opsdeck ports matrix', () => {
  test('markdown to stdout, exit 0 even with conflicts', () => {
    const r = run(['ports', 'matrix', ...pair('clash-mainpc.yaml', 'clash-pc2.yaml')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^# Port allocation matrix$/m);
    assert.match(
      r.out,
      /^\| 5600 \| AgentB \| port \| `port: 5600` \| \S*clash-mainpc\.yaml:10 \| \*\*machine-clash\*\* with AgentA port \|$/m,
    );
    assert.match(
      r.out,
      /^\| 7150 \| CentralErrorBus \| port \| `port: 7150` \| \S*clash-pc2\.yaml:5 \| \*\*machine-clash\*\* with RogueAgent config\.pub_address; \*\*host-clash\*\* with mainpc VisionProcessingAgent port \|$/m,
    );
  });

  test('--format json --out FILE writes the matrix and nothing to stdout', () => {
    const dir = tmp();
    const out = join(dir, 'matrix.json');
    const r = run([
      'ports',
      'matrix',
      '--format',
      'json',
      '--out',
      out,
      ...pair('cross-mainpc.yaml', 'cross-pc2.yaml'),
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, /wrote .*matrix\.json/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as {
      machines: Array<{
        id: string;
        rows: Array<{ port: number; agent: string; kind: string; conflicts: unknown[] }>;
      }>;
      findings: unknown[];
    };
    assert.deepEqual(
      json.machines.map((m) => m.id),
      ['mainpc', 'pc2'],
    );
    assert.deepEqual(
      json.machines[0]!.rows.map((r) => `${r.port} ${r.agent} ${r.kind} ${r.conflicts.length}`),
      [
        '5713 MemoryFusionHub port 1',
        '5800 Neighbour port 0',
        '6713 MemoryFusionHub health 1',
        '6714 MemoryFusionHub http 1',
        '6720 Neighbour health 1',
        '6721 Neighbour http 0',
      ],
    );
    assert.equal(json.findings.length, 4);
    assert.deepEqual(readdirSync(dir), ['matrix.json'], 'no temp file left behind');
  });

  test('bad input: an unknown format or an unwritable --out exits 2 and writes nothing', () => {
    const xml = run([
      'ports',
      'matrix',
      '--format',
      'xml',
      ...pair('clean-mainpc.yaml', 'clean-pc2.yaml'),
    ]);
    assert.equal(xml.code, 2);
    assert.match(xml.err, /argument 'xml' is invalid. Allowed choices are md, json/);
    const dir = tmp();
    const r = run([
      'ports',
      'matrix',
      '--out',
      join(dir, 'missing/matrix.md'),
      ...pair('clean-mainpc.yaml', 'clean-pc2.yaml'),
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /cannot write .*missing\/matrix\.md: the folder does not exist; nothing was written/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('opsdeck ports on the real fleet files', { skip: skipReal }, () => {
  const real = (name: string) => realDir + name;

  test('check: exit 1 with ServiceRegistry HTTP vs UnifiedSystemAgent health at 8201, both located', () => {
    const r = run([
      'ports',
      'check',
      '--mainpc',
      real('mainpc.startup_config.yaml'),
      '--pc2',
      real('pc2.startup_config.yaml'),
    ]);
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.out,
      /^ {2}error {3}8201 {2}machine-clash \(derived\): 8201 on mainpc is bound by 2 agents: ServiceRegistry http \(health\+1\), UnifiedSystemAgent health_check_port$/m,
    );
    assert.match(
      r.out,
      /^ +mainpc ServiceRegistry http \(health\+1\) +\S*mainpc\.startup_config\.yaml:63:7$/m,
    );
    assert.match(
      r.out,
      /^ +mainpc UnifiedSystemAgent health_check_port +\S*mainpc\.startup_config\.yaml:132:7$/m,
    );
    assert.match(r.out, /^mainpc \+ pc2 \(shared host localhost\): \d+ findings$/m);
    assert.match(
      r.out,
      /^52 conflicts \(33 only through BaseAgent's derived ports\), 8 warnings on 2 machines$/m,
    );
  });

  test('check --json on distinct hosts: no cross-machine finding, the PC2 list from upstream f', () => {
    const r = run(
      [
        'ports',
        'check',
        '--json',
        '--mainpc',
        real('mainpc.startup_config.yaml'),
        '--pc2',
        real('pc2.startup_config.yaml'),
      ],
      {
        MAINPC_IP: '192.168.100.16',
        PC2_IP: '192.168.100.17',
      },
    );
    assert.equal(r.code, 1);
    const json = JSON.parse(r.out) as CheckJson;
    assert.equal(json.summary.byRule['host-clash'], 0);
    const pc2 = json.findings
      .filter((f) => f.rule === 'machine-clash' && f.machines[0] === 'pc2')
      .map((f) => f.port);
    assert.deepEqual(pc2, [8101, 8102, 8116, 8119, 8123, 8124, 8127, 8130]);
  });

  for (const [label, args] of [
    [
      'v3 unified (both machine profiles)',
      ['--mainpc', 'unified.startup_config.v3.yaml', '--pc2', 'unified.startup_config.v3.yaml'],
    ],
    ['repo-root config', ['--mainpc', 'root.startup_config.yaml']],
  ] as const) {
    test(`${label}: check and matrix run through`, () => {
      const files = args.map((a, i) => (i % 2 ? real(a) : a));
      const check = run(['ports', 'check', ...files]);
      assert.ok(check.code === 0 || check.code === 1, `exit ${check.code}: ${check.err}`);
      assert.match(
        check.out,
        /^\d+ conflicts \(\d+ only through BaseAgent's derived ports\), \d+ warnings on \d machines?$/m,
      );
      assert.doesNotMatch(check.err, /^opsdeck: /m);
      const matrix = run(['ports', 'matrix', '--format', 'json', ...files]);
      assert.equal(matrix.code, 0, matrix.err);
      const json = JSON.parse(matrix.out) as { machines: Array<{ rows: unknown[] }> };
      assert.ok(json.machines.every((m) => m.rows.length > 0));
    });
  }
});
