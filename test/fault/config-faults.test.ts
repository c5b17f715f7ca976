// Fault injection on config files, through the real binary: the gaps left by the tests that
// already cover config faults. Not repeated here:
//   test/core/fleet-bad-input.test.ts   alias bomb refused by the loader within 1 s, duplicate
//                                       keys (warned, both lines), wrong types (path and line)
//   test/cli/config.test.ts             unreadable file (permission denied, as nobody when root)
//   test/cli/migrate.test.ts            migrate: unreadable, disk full (original intact, no temp
//                                       file), two runs at once (one wins, the other refuses)
//   test/adapters/atomic-file.test.ts   ENOSPC at every write stage on a real tmpfs, the lock
// Added: the alias bomb refused by every command that reads the fleet (and migrate writing
// nothing), wrong types stopping `status` before it probes anything, and a config that is not
// a file at all (`/dev/zero`, a 20 MiB log) refused at once instead of read into memory.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import { BIN, host, ROOT, tempDir } from './helpers.js';

const tmp = tempDir('config');
after(() => tmp.remove());

const GOOD_PC2 =
  'pc2_services:\n- {name: Bravo, script_path: b.py, port: 7101, health_check_port: 8101}\n';
let bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
for (const [prev, n] of [...'abcdefgh'].map((c, i) => [c, 'bcdefghi'[i]!]))
  bomb += `${n}: &${n} [${Array(10).fill(`*${prev}`).join(', ')}]\n`;
bomb += 'agent_groups: {g: {A: {script_path: a.py, port: 5000, config: {bomb: *i}}}}\n';

const file = (name: string, text: string) => {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
};
const pc2 = file('pc2.yaml', GOOD_PC2);
const env = { PATH: process.env.PATH, MAINPC_IP: host(99), PC2_IP: host(99) };

/** The command in this process (commander, the loader, the action): its own time, no start-up. */
async function inProcess(
  args: string[],
): Promise<{ code: number; out: string; err: string; ms: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    cwd: tmp.dir,
    ask: () => Promise.resolve(''),
  };
  const started = performance.now();
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n'), ms: performance.now() - started };
}

/** The real binary; SIGKILL on timeout (a process stuck in a synchronous read ignores SIGTERM). */
function binary(
  args: string[],
  timeout = 30_000,
): { code: number | null; stdout: string; stderr: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
}

describe('config faults', () => {
  const commands: Record<string, (mainpc: string) => string[]> = {
    'config validate': (m) => ['config', 'validate', '--mainpc', m, '--pc2', pc2],
    'config show --json': (m) => ['config', 'show', '--json', '--mainpc', m, '--pc2', pc2],
    'status --json': (m) => [
      'status',
      '--json',
      '--mainpc',
      m,
      '--pc2',
      pc2,
      '--collect',
      '0ms',
      '--timeout',
      '100ms',
    ],
    'ports check': (m) => ['ports', 'check', '--mainpc', m, '--pc2', pc2],
    'config migrate': (m) => ['config', 'migrate', m],
  };

  test('alias bomb: every command that reads the fleet refuses it at once, exit 2, nothing written', async () => {
    const bad = file('bomb.yaml', bomb);
    for (const [name, argv] of Object.entries(commands)) {
      const before = readdirSync(tmp.dir).sort();
      const r = await inProcess(argv(bad));
      assert.equal(r.code, 2, `${name}: ${r.err}`);
      assert.match(r.err, /alias bomb/, name);
      assert.equal(r.out.trim().startsWith('{'), false, `${name}: no half-made JSON document`);
      // Expanded, the bomb takes minutes and gigabytes: a generous deadline tells the two apart
      // on a loaded machine (the time of a refusal is no test's business: bench/ has figures).
      assert.ok(r.ms < 15_000, `${name}: refused in ${Math.round(r.ms)} ms`);
      assert.equal(readFileSync(bad, 'utf8'), bomb, `${name}: the file is untouched`);
      assert.deepEqual(
        readdirSync(tmp.dir).sort(),
        before,
        `${name}: no backup, temp or lock file left`,
      );
    }
    // And the real binary says the same with the same exit code.
    const r = binary(commands['config validate']!(bad));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bomb\.yaml:\d+:\d+: error: .*alias bomb/);
  });

  test('wrong types: status stops before probing anything, exit 2, file:line named', async () => {
    const bad = file(
      'wrong-types.yaml',
      'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: [17981], health_check_port: 18981}\n',
    );
    const r = await inProcess(commands['status --json']!(bad));
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /wrong-types\.yaml:3:\d+: error: .*port/);
    assert.equal(r.out, '', 'no snapshot: nothing was probed');
  });

  test('not a config file: /dev/zero and a 20 MiB log are refused at once, not read into memory', () => {
    const log = file('huge.log', 'x'.repeat(20 * 1024 * 1024));
    for (const path of ['/dev/zero', log]) {
      // Before the cap, /dev/zero took 47 s and 16 GB before the process died of bad_alloc.
      const r = binary(['config', 'validate', '--mainpc', path, '--pc2', pc2], 20_000);
      assert.equal(r.code, 2, `${path}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `cannot read ${path.replace(/[/.]/g, '\\$&')}: larger than 2 MiB: not a fleet config`,
        ),
      );
    }
  });

  test('a 15 MB config (135,000 agents, valid YAML): refused before parsing, by every reader', () => {
    // Under the old 16 MiB cap it was parsed: 8.2 s and 814 MB in the issue, 45 s and 1.4 GB for
    // this one. The deadline is generous: what counts is that nothing of it is parsed.
    const lines = ['agent_groups:'];
    for (let n = 0; lines.length < 135_000; n++) {
      if (n % 1000 === 0) lines.push(`  group${n / 1000}:`);
      lines.push(
        `    Agent${n}: {script_path: agents/a${n}.py, port: ${10000 + (n % 50000)}, health_check_port: ${20000 + (n % 40000)}, dependencies: [Agent${n - 1}]}`,
      );
    }
    const big = file('big.yaml', `${lines.join('\n')}\n`);
    assert.ok(statSync(big).size > 15_000_000, `${statSync(big).size} bytes`);
    for (const args of [
      ['config', 'validate', '--mainpc', big, '--pc2', pc2],
      ['config', 'migrate', big, '--dry-run'],
    ]) {
      const r = binary(args, 30_000);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /big\.yaml: larger than 2 MiB: not a fleet config/);
    }
  });

  test('a directory where the config should be: refused, exit 2', async () => {
    const r = await inProcess(['config', 'validate', '--mainpc', tmp.dir, '--pc2', pc2]);
    assert.equal(r.code, 2);
    assert.match(r.err, /is a directory/);
  });
});
