// `opsdeck lint` through the real binary (bin/opsdeck.js over dist/; npm test builds dist/ first).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutReadOverride } from '../support/no-read-override.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/opsdeck.js');
const REAL = resolve(ROOT, '../shared/fixtures/real');
const noDist = existsSync(join(ROOT, 'dist/cli.js'))
  ? false
  : 'dist/ is not built (npm test builds it; or run npm run build)';
const noReal = existsSync(REAL) ? false : `real fixtures not found at ${REAL}`;

const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-lint-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
/** A temp folder with the given files (path -> text). */
function tree(files: Record<string, string>): string {
  const dir = join(scratch, `case-${n++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

const opsdeck = (args: string[], cwd: string, denyReads = false) => {
  const [cmd, argv] = denyReads
    ? withoutReadOverride(process.execPath, [BIN, ...args])
    : [process.execPath, [BIN, ...args]];
  const r = spawnSync(cmd, argv, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

interface JsonFinding {
  rule: string;
  severity: string;
  file: string;
  line: number;
  col: number;
  message: string;
  hint: string;
}

const REQ_CLIENT = `import zmq
class Client:
    def __init__(self):
        self.sock = zmq.Context().socket(zmq.REQ)
    def ask(self):
        self.sock.send_json({"action": "ping"})
        return self.sock.recv_json()
`;

describe('opsdeck lint (binary)', { skip: noDist }, () => {
  test('findings print as file:line:col with severity, rule and a fix; exit 1 at the default threshold', () => {
    const dir = tree({ 'agents/client.py': REQ_CLIENT });
    const r = opsdeck(['lint', '.'], dir);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stdout,
      /^agents\/client\.py:7:16: error: self\.sock\.recv_json\(\) on a REQ socket .* \[zmq-recv-timeout\]\n {4}fix: /m,
    );
    assert.match(
      r.stdout,
      /1 findings \(1 errors, 0 warnings, 0 info\) in 1 Python files and 0 compose files/,
    );
    assert.match(r.stderr, /note: no fleet config found/);
  });

  test('--fail-on, --rule and --json', () => {
    const dir = tree({
      'a.py': REQ_CLIENT,
      'b.py':
        'import asyncio, threading\ndef w():\n    asyncio.run(main())\nthreading.Thread(target=w).start()\n',
    });
    assert.equal(opsdeck(['lint', '--rule', 'asyncio-threads', '.'], dir).status, 1); // a warning at the default threshold
    assert.equal(
      opsdeck(['lint', '--rule', 'asyncio-threads', '--fail-on', 'error', '.'], dir).status,
      0,
    );
    const r = opsdeck(['lint', '--json', '--rule', 'zmq-recv-timeout,asyncio-threads', '.'], dir);
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout) as {
      findings: JsonFinding[];
      summary: { total: number; bySeverity: Record<string, number>; files: { python: number } };
    };
    assert.deepEqual(
      out.findings.map((f) => `${f.file}:${f.line}:${f.rule}:${f.severity}`),
      ['a.py:7:zmq-recv-timeout:error', 'b.py:3:asyncio-threads:warning'],
    );
    assert.deepEqual(Object.keys(out.findings[0]!).sort(), [
      'col',
      'file',
      'hint',
      'line',
      'message',
      'rule',
      'severity',
    ]);
    assert.deepEqual(out.summary.bySeverity, { error: 1, warning: 1, info: 0 });
    assert.equal(out.summary.files.python, 2);
  });

  test('a clean tree exits 0', () => {
    const dir = tree({
      'ok.py':
        'import zmq\ndef f(ctx):\n    s = ctx.socket(zmq.REQ)\n    s.setsockopt(zmq.RCVTIMEO, 1000)\n    return s.recv()\n',
    });
    const r = opsdeck(['lint', '.'], dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 findings/);
  });

  test('bad input: missing path, unknown rule, bad --fail-on, a config that does not load: exit 2 with a message', () => {
    const dir = tree({ 'x.py': 'pass\n', 'bad.yaml': 'agent_groups: [\n' });
    let r = opsdeck(['lint', 'nope'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /nope: no such file or folder/);
    r = opsdeck(['lint', '--rule', 'zmq', '.'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown rule "zmq"; known: zmq-recv-timeout/);
    r = opsdeck(['lint', '--fail-on', 'fatal', '.'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--fail-on must be one of error, warning, info/);
    r = opsdeck(['lint', '--mainpc', 'bad.yaml', '.'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.yaml:2:1: error: YAML syntax error/);
  });

  test('broken files are findings with file:line and the rest of the run goes on', () => {
    const dir = tree({
      'broken.py': 'def f(:\n    pass\n',
      'empty_block.py': 'if x:\n    # nothing\n',
      'client.py': REQ_CLIENT,
      'docker-compose.yml': 'services:\n  a: [unclosed\n',
    });
    symlinkSync(join(dir, 'gone.py'), join(dir, 'dangling.py')); // unreadable even for root
    const r = opsdeck(['lint', '--json', '.'], dir);
    assert.equal(r.status, 1, r.stderr);
    const { findings } = JSON.parse(r.stdout) as { findings: JsonFinding[] };
    const at = (file: string) =>
      findings.filter((f) => f.file === file).map((f) => `${f.line}:${f.rule}:${f.severity}`);
    assert.deepEqual(at('broken.py'), ['1:syntax:error']);
    assert.deepEqual(at('empty_block.py'), ['1:syntax:error']);
    assert.match(
      findings.find((f) => f.file === 'empty_block.py')!.message,
      /expected an indented block/,
    );
    assert.deepEqual(at('client.py'), ['7:zmq-recv-timeout:error']);
    assert.deepEqual(at('docker-compose.yml'), ['3:syntax:error']);
    assert.deepEqual(at('dangling.py'), ['1:syntax:error']);
    assert.match(
      findings.find((f) => f.file === 'dangling.py')!.message,
      /cannot read dangling\.py: no such file/,
    );
  });

  test('an unreadable file is a finding, not a crash', () => {
    const dir = tree({ 'unreadable.py': 'pass\n', 'client.py': REQ_CLIENT });
    chmodSync(join(dir, 'unreadable.py'), 0o000);
    const r = opsdeck(['lint', '--json', '.'], dir, true);
    assert.equal(r.status, 1, r.stderr);
    const { findings } = JSON.parse(r.stdout) as { findings: JsonFinding[] };
    assert.deepEqual(
      findings.map((f) => `${f.file}:${f.line}:${f.rule}`),
      ['client.py:7:zmq-recv-timeout', 'unreadable.py:1:syntax'],
    );
    assert.match(findings[1]!.message, /cannot read unreadable\.py: permission denied/);
  });

  test('a tree big enough for worker threads gives the same report', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 320; i++)
      files[`pkg${i % 8}/m${i}.py`] = i % 40 === 0 ? REQ_CLIENT : `x = ${i}\n`;
    const dir = tree(files);
    const r = opsdeck(['lint', '--json', '.'], dir);
    assert.equal(r.status, 1, r.stderr);
    const { findings, summary } = JSON.parse(r.stdout) as {
      findings: JsonFinding[];
      summary: { files: { python: number } };
    };
    assert.equal(summary.files.python, 320);
    assert.deepEqual(
      findings.map((f) => `${f.file}:${f.line}`),
      Array.from({ length: 8 }, (_, k) => `pkg0/m${k * 40}.py:7`).sort(),
    );
  });

  test(
    'an upstream checkout: configs are found, and the script drifts from its config',
    { skip: noReal },
    () => {
      const dir = tree({
        'main_pc_code/agents/nlu_agent.py': [
          'from common.core.base_agent import BaseAgent',
          'from main_pc_code.utils.config_loader import load_config',
          'config = load_config()',
          'class NLUAgent(BaseAgent):',
          '    def __init__(self, port: int = None, name: str = None, **kwargs):',
          '        agent_port = int(config.get("port", 5558)) if port is None else int(port)',
          '        super().__init__(port=agent_port, name="NLUAgent")',
          'if __name__ == "__main__":',
          '    NLUAgent().run()',
          '',
        ].join('\n'),
      });
      mkdirSync(join(dir, 'pc2_code/config'), { recursive: true });
      mkdirSync(join(dir, 'main_pc_code/config'), { recursive: true });
      copyFileSync(
        join(REAL, 'mainpc.startup_config.yaml'),
        join(dir, 'main_pc_code/config/startup_config.yaml'),
      );
      copyFileSync(
        join(REAL, 'pc2.startup_config.yaml'),
        join(dir, 'pc2_code/config/startup_config.yaml'),
      );
      const r = opsdeck(['lint', '--json', '--rule', 'config-drift', '.'], dir);
      assert.equal(r.status, 1, r.stderr);
      const { findings, notes } = JSON.parse(r.stdout) as {
        findings: JsonFinding[];
        notes: string[];
      };
      assert.deepEqual(notes, []);
      assert.deepEqual(
        findings.map((f) => `${f.file}:${f.line}:${f.rule}`),
        ['main_pc_code/agents/nlu_agent.py:7:config-drift'],
      );
      assert.match(
        findings[0]!.message,
        /binds 5558, but the config says 5709 for NLUAgent on mainpc/,
      );
    },
  );
});

describe('opsdeck lint over the real fixture folder (binary)', { skip: noDist || noReal }, () => {
  const fleet = [
    '--mainpc',
    join(REAL, 'mainpc.startup_config.yaml'),
    '--pc2',
    join(REAL, 'pc2.startup_config.yaml'),
  ];

  test('findings by name across the rules that read compose files and configs', () => {
    const r = opsdeck(['lint', '--json', ...fleet, REAL], ROOT);
    assert.equal(r.status, 1, r.stderr);
    const { findings, summary } = JSON.parse(r.stdout) as {
      findings: JsonFinding[];
      summary: { files: { compose: number } };
    };
    assert.equal(
      summary.files.compose,
      readdirSync(REAL).filter((f) => f.startsWith('docker-compose.')).length,
    );
    const has = (file: string, rule: string, severity: string, re: RegExp) =>
      assert.ok(
        findings.some(
          (f) =>
            f.file.endsWith(file) &&
            f.rule === rule &&
            f.severity === severity &&
            re.test(f.message),
        ),
        `expected ${rule} ${severity} in ${file} matching ${re}`,
      );
    has('docker-compose.dist.yml', 'syntax', 'error', /YAML syntax error: Missing closing "quote/);
    has(
      'docker-compose.group-infra_core.yml',
      'compose-health',
      'error',
      /"service_registry" health check requests http:\/\/localhost:8200\/, but 8200 is ServiceRegistry's health_check_port on mainpc/,
    );
    has(
      'docker-compose.group-pc2_infra_core.yml',
      'compose-health',
      'error',
      /"resource_manager" .* 8113 is ResourceManager's health_check_port on pc2/,
    );
    has(
      'docker-compose.pc2.yml',
      'compose-health',
      'error',
      /"vision_processing" .* 7150 is CentralErrorBus's port on pc2/,
    );
    has(
      'docker-compose.pc2-config.yml',
      'compose-health',
      'warning',
      /"infra_core" builds its health port by gluing/,
    );
    has(
      'docker-compose.dockerdir-pc2.yml',
      'compose-health',
      'warning',
      /"task-processing" has no healthcheck/,
    );
    has(
      'pc2.startup_config.yaml',
      'sqlite-writers',
      'info',
      /MemoryFusionHub on pc2 .*\/workspace\/memory\.db/,
    );
    has(
      'docker-compose.mainpc-FIXED.yml',
      'compose-consolidation',
      'info',
      /proposed: rename to .*docker-compose\.mainpc\.yml/,
    );
    assert.equal(
      findings.filter(
        (f) =>
          f.file.endsWith('docker-compose.hub-model_ops_coordinator.yml') &&
          f.rule === 'sqlite-writers',
      ).length,
      0,
    );
  });

  test('lint compose --plan prints the moves and changes nothing', () => {
    const dir = join(scratch, 'plan');
    mkdirSync(dir);
    for (const f of readdirSync(REAL)) copyFileSync(join(REAL, f), join(dir, f));
    const before = Object.fromEntries(
      readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
    );
    const r = opsdeck(
      [
        'lint',
        'compose',
        '--plan',
        '--mainpc',
        'mainpc.startup_config.yaml',
        '--pc2',
        'pc2.startup_config.yaml',
        '.',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^mainpc: source of truth docker-compose\.mainpc-FIXED\.yml/m);
    assert.match(
      r.stdout,
      /^ {2}rename {4}docker-compose\.mainpc-FIXED\.yml -> docker-compose\.mainpc\.yml$/m,
    );
    assert.match(r.stdout, /^ {2}deprecate docker-compose\.dockerdir-mainpc-UPDATED\.yml$/m);
    assert.match(r.stdout, /^ {2}keep {6}docker-compose\.mainpc-override\.yml$/m);
    assert.match(r.stdout, /^pc2: source of truth docker-compose\.pc2-config\.yml/m);
    assert.match(r.stdout, /nothing was changed/);
    const afterRun = Object.fromEntries(
      readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
    );
    assert.deepEqual(afterRun, before);
    const cmp = opsdeck(
      [
        'lint',
        'compose',
        '--mainpc',
        'mainpc.startup_config.yaml',
        '--pc2',
        'pc2.startup_config.yaml',
        '.',
      ],
      dir,
    );
    assert.equal(cmp.status, 0, cmp.stderr);
    assert.match(
      cmp.stdout,
      /docker-compose\.mainpc-FIXED\.yml has every service of docker-compose\.mainpc\.yml/,
    );
    assert.match(cmp.stdout, /audiospeech: in 2 files, differs in volumes/);
  });
});
