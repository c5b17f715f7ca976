// The real binary: `opsdeck config show|validate`, exit codes and messages (dist/ is built by npm test).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutReadOverride } from '../support/no-read-override.js';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const shapes = fileURLToPath(new URL('../fixtures/shapes/', import.meta.url));
const run = (args: string[], cwd = process.cwd()) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PORT_OFFSET: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const tmp = () => mkdtempSync(join(tmpdir(), 'opsdeck-cli-'));

describe('opsdeck config', () => {
  test('show lists machines with shape and each agent with file:line', () => {
    const r = run([
      'config',
      'show',
      '--mainpc',
      join(shapes, 'mainpc-quirk.yaml'),
      '--pc2',
      join(shapes, 'pc2-phase1.yaml'),
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^mainpc \(localhost\): 4 agents in 2 groups, agent-groups shape/m);
    assert.match(r.out, /^pc2 \(localhost\): 2 agents in 1 groups, pc2-services shape/m);
    assert.match(
      r.out,
      /NLUAgent\s+language_processing\s+port 5709\s+health 5710 \(port\+1\)\s+\S+mainpc-quirk\.yaml:32:5/,
    );
  });

  test('show --json prints the model', () => {
    const r = run(['config', 'show', '--json', '--pc2', join(shapes, 'pc2-pr-era.yaml')]);
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out) as {
      machines: Array<{ id: string; agents: Array<{ name: string; port: { value: number } }> }>;
    };
    assert.equal(json.machines[0]!.id, 'pc2');
    assert.deepEqual(
      json.machines[0]!.agents.map((a) => a.port.value),
      [7100, 7113, 7114],
    );
  });

  test('discovers both configs inside an upstream checkout', () => {
    const root = tmp();
    mkdirSync(join(root, 'main_pc_code/config'), { recursive: true });
    mkdirSync(join(root, 'pc2_code/config'), { recursive: true });
    writeFileSync(
      join(root, 'main_pc_code/config/startup_config.yaml'),
      readFileSync(join(shapes, 'mainpc-quirk.yaml')),
    );
    writeFileSync(
      join(root, 'pc2_code/config/startup_config.yaml'),
      readFileSync(join(shapes, 'pc2-phase1.yaml')),
    );
    const r = run(['config', 'show'], root);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^mainpc .*4 agents/m);
    assert.match(r.out, /^pc2 .*2 agents/m);
  });

  test('no config found: exit 2 with what was looked for', () => {
    const r = run(['config', 'show'], tmp());
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /no fleet config found in .*: expected main_pc_code\/config\/startup_config\.yaml or pc2_code\/config\/startup_config\.yaml/,
    );
  });

  test('bad YAML: exit 2, file:line:col on stderr, the file untouched', () => {
    const dir = tmp();
    const file = join(dir, 'bad.yaml');
    const text = 'agent_groups:\n  core:\n    A: {script_path: a.py, port: [1\n  other: 2\n';
    writeFileSync(file, text);
    const r = run(['config', 'validate', '--mainpc', file]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      new RegExp(`${file.replace(/[/.]/g, '\\$&')}:4:\\d+: error: YAML syntax error`),
    );
    assert.match(r.err, /nothing was done/);
    assert.equal(readFileSync(file, 'utf8'), text);
  });

  // As root every file is readable, so the binary drops to nobody (setpriv) to meet EACCES.
  test('unreadable file: exit 2, permission denied named', () => {
    const dir = tmp();
    const file = join(dir, 'locked.yaml');
    writeFileSync(file, 'agent_groups: {}\n');
    chmodSync(file, 0o000);
    const [cmd, argv] = withoutReadOverride(process.execPath, [
      bin,
      'config',
      'show',
      '--mainpc',
      file,
    ]);
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cannot read .*locked\.yaml: permission denied/);
  });

  test('missing file: exit 2', () => {
    const r = run(['config', 'show', '--mainpc', '/nonexistent/startup_config.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot read \/nonexistent\/startup_config\.yaml: no such file/);
  });

  test('validate: warnings are findings (exit 1), clean is 0', () => {
    const dir = tmp();
    const file = join(dir, 'dup.yaml');
    writeFileSync(
      file,
      'agent_groups:\n  a:\n    X: {script_path: x.py, port: 5000}\n  b:\n    X: {script_path: x.py, port: 5100}\n',
    );
    const dup = run(['config', 'validate', '--mainpc', file]);
    assert.equal(dup.code, 1);
    assert.match(dup.out, /dup\.yaml:5:5: warning: agent "X" is defined twice on mainpc/);
    const clean = run(['config', 'validate', '--pc2', join(shapes, 'pc2-pr-era.yaml')]);
    assert.equal(clean.code, 0, clean.err + clean.out);
    assert.match(clean.out, /1 machines, 3 agents, 0 warnings/);
  });

  test('usage errors exit 2; --help exits 0', () => {
    assert.equal(run(['config', 'nope']).code, 2);
    assert.equal(run(['config', 'show', '--bogus']).code, 2);
    const help = run(['config', 'show', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--mainpc <file>/);
  });
});
