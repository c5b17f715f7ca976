// The real binary, every command that prints config text: an agent name carrying an OSC title
// change, a screen wipe and a bidi override (legal YAML: "\e" and "\u202e" escapes) renamed the
// operator's tmux pane through `config validate`, `config show` and `ports check`; a binary file
// given as a config printed 2.35 MB of raw control bytes. Every byte a command prints now goes
// through one sanitiser; JSON keeps the data with the unsafe characters as \u escapes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-tty-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Anything a terminal acts on: C0 (but tab and newline), DEL, C1, bidi overrides and isolates. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;
const EVIL = String.raw`Evil\e]0;pwned\a\e[2J\u202eXnamE`;
const SHOWN = 'EvilXnamE';

// Two agents on one port, so ports check has a finding naming the evil one; its group and its
// script path carry the same bytes.
const mainpc = join(dir, 'mainpc.yaml');
writeFileSync(
  mainpc,
  `agent_groups:
  "core\\e[31m":
    "${EVIL}": {script_path: "evil\\e]52;c;b3Bz\\a.py", port: 7200, health_check_port: 8200, env_vars: {NOTE: "a\\u202eb"}}
    Other: {script_path: o.py, port: 7200, health_check_port: 8201}
`,
);
const pc2 = join(dir, 'pc2.yaml');
writeFileSync(
  pc2,
  `pc2_services:
- {name: Bravo, script_path: b.py, host: 0.0.0.0, port: 7101, health_check_port: 8101}
error_bus_port: 7150
`,
);
const fleet = ['--mainpc', mainpc, '--pc2', pc2];

const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PORT_OFFSET: '', OPSDECK_AUDIT: join(dir, 'audit.jsonl') },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** What a command printed carries no byte a terminal would act on. */
function inert(what: string, text: string): void {
  const hit = UNSAFE.exec(text);
  // The character, not the match: the match holds all of the text, megabytes to print on failure.
  assert.equal(
    hit?.[0],
    undefined,
    `${what} printed ${JSON.stringify(hit?.[0])} in ${JSON.stringify(text.slice(Math.max(0, (hit?.index ?? 0) - 40), (hit?.index ?? 0) + 40))}`,
  );
}

describe('config text reaches the terminal inert', () => {
  test('config validate: the name shown without its escapes, and warned about with file:line:col', () => {
    const r = run(['config', 'validate', ...fleet]);
    inert('validate stdout', r.out);
    inert('validate stderr', r.err);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.out,
      new RegExp(
        `mainpc\\.yaml:3:5: warning: agent "${SHOWN}": name, group, script_path hold terminal control characters or bidi overrides`,
      ),
    );
  });

  test('config show, text and --json (JSON keeps a value with a bidi character, as an escape)', () => {
    const text = run(['config', 'show', ...fleet]);
    inert('show', text.out + text.err);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, new RegExp(`^  ${SHOWN} +core +port 7200`, 'm'));
    const json = run(['config', 'show', '--json', ...fleet]);
    inert('show --json', json.out + json.err);
    const doc = JSON.parse(json.out) as {
      machines: Array<{ agents: Array<{ name: string; env: Record<string, string> }> }>;
    };
    assert.deepEqual(
      doc.machines[0]!.agents.map((a) => a.name),
      [SHOWN, 'Other'],
    );
    assert.equal(doc.machines[0]!.agents[0]!.env.NOTE, 'a\u202eb');
    assert.ok(json.out.includes('"NOTE": "a\\u202eb"'));
  });

  test('ports check, text and --json', () => {
    const text = run(['ports', 'check', ...fleet]);
    inert('ports check', text.out + text.err);
    assert.equal(text.code, 1);
    assert.match(text.out, new RegExp(SHOWN));
    const json = run(['ports', 'check', '--json', ...fleet]);
    inert('ports check --json', json.out + json.err);
    assert.ok(JSON.parse(json.out));
  });

  test('ports matrix: markdown, JSON, and the report file', () => {
    for (const args of [[], ['--format', 'json']]) {
      const r = run(['ports', 'matrix', ...args, ...fleet]);
      inert(`ports matrix ${args.join(' ')}`, r.out + r.err);
      assert.match(r.out, new RegExp(SHOWN));
    }
    const out = join(dir, 'matrix.md');
    const r = run(['ports', 'matrix', '--out', out, ...fleet]);
    assert.equal(r.code, 0, r.err);
    inert('the matrix file', readFileSync(out, 'utf8'));
  });

  test('config migrate --dry-run: the diff of the file itself is shown inert', () => {
    const raw = join(dir, 'raw.yaml');
    // A list-era file (migrate rewrites it) whose name holds the bytes as YAML escapes.
    writeFileSync(
      raw,
      `core_services:\n- {name: "${EVIL}", script_path: a.py, port: 7300, health_check_port: 8300}\n`,
    );
    const r = run(['config', 'migrate', raw, '--dry-run']);
    inert('migrate --dry-run', r.out + r.err);
    assert.equal(r.code, 1, r.err);
  });

  test('an error quoting the file, and a file name with escapes, on stderr', () => {
    const bad = join(dir, 'bad\u001b]0;name\u0007.yaml');
    writeFileSync(
      bad,
      `agent_groups:\n  core:\n    A: {script_path: a.py, port: "\${NOPE\u202e}"}\n`,
    );
    const r = run(['config', 'validate', '--mainpc', bad, '--pc2', pc2]);
    inert('error', r.out + r.err);
    assert.equal(r.code, 2);
    assert.match(r.err, /bad\.yaml:3:/);
  });

  test('a binary file as a config: one short clear message (file, line, column), exit 2', () => {
    const junk = join(dir, 'junk.yaml');
    writeFileSync(junk, randomBytes(2 * 1024 * 1024));
    const r = run(['config', 'validate', '--mainpc', junk, '--pc2', pc2]);
    inert('binary config', r.out + r.err);
    assert.equal(r.code, 2);
    assert.ok(r.err.length < 1000, `${r.err.length} bytes on stderr`);
    assert.match(r.err, /junk\.yaml:\d+:\d+: error: cannot read .*junk\.yaml: not UTF-8 text/);
    // Valid UTF-8 but control bytes: PyYAML's own refusal, located.
    const ctl = join(dir, 'ctl.yaml');
    writeFileSync(
      ctl,
      `agent_groups:\n  core:\n    A: {script_path: a.py, port: 7200}\n${'\u001b[2J\u0007'.repeat(100_000)}`,
    );
    const c = run(['config', 'validate', '--mainpc', ctl, '--pc2', pc2]);
    inert('control bytes', c.out + c.err);
    assert.equal(c.code, 2);
    assert.ok(c.err.length < 1000, `${c.err.length} bytes on stderr`);
    assert.match(
      c.err,
      /ctl\.yaml:4:1: error: unacceptable character #x001b: special characters are not allowed/,
    );
  });
});
