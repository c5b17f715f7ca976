// The real binary (bin/opsdeck.js over dist/), on copies in temp folders. npm test builds dist/ first.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../source/adapters/fleet-files.js';
import { readAudit } from '../../source/adapters/audit.js';
import { withoutReadOverride } from '../support/no-read-override.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/opsdeck.js');
const REAL = resolve(ROOT, '../shared/fixtures/real');
const noDist = existsSync(join(ROOT, 'dist/cli.js'))
  ? false
  : 'dist/ is not built (npm test builds it; or run npm run build)';
const noReal = existsSync(REAL) ? false : `real fixtures not found at ${REAL}`;
const skip = noDist || noReal;

const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-migrate-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
// Real runs append to the audit log: keep it out of the operator's home.
const AUDIT = join(scratch, 'audit.jsonl');

let n = 0;
/** A temp folder holding copies of the named real fixtures (writable). */
function copies(...names: string[]): string {
  const dir = join(scratch, `case-${n++}`);
  mkdirSync(dir);
  for (const name of names) {
    copyFileSync(join(REAL, name), join(dir, name));
    chmodSync(join(dir, name), 0o644);
  }
  return dir;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const opsdeck = (args: string[], cwd: string, extra: SpawnSyncOptions = {}): Run => {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', OPSDECK_AUDIT: AUDIT },
    ...extra,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
};

/** Starts the binary and returns its pid and a promise of its outcome; `onErr` sees stderr as it comes. */
function start(
  args: string[],
  cwd: string,
  onErr?: (chunk: string, stdin: NodeJS.WritableStream) => void,
  env: Record<string, string> = {},
) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', OPSDECK_AUDIT: AUDIT, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => {
    stderr += String(d);
    onErr?.(stderr, child.stdin);
  });
  const done = new Promise<Run>((res) =>
    child.on('close', (status) => res({ status, stdout, stderr })),
  );
  return { pid: child.pid, done };
}

const listing = (dir: string): string[] => readdirSync(dir).sort();
const agentsOf = (file: string, machine?: string) => {
  const r = loadConfigFile(file, { env: {}, ...(machine ? { machine } : {}) });
  assert.ok(r.ok, JSON.stringify(r.diagnostics.filter((d) => d.severity === 'error')));
  return r.machines[0]!.agents.map((a) => [
    a.name,
    a.group,
    a.port.value,
    a.healthPort.value,
    a.required,
    a.dependencies,
  ]);
};

const MAINPC = 'mainpc.startup_config.yaml';
const PC2 = 'pc2.startup_config.yaml';

describe('opsdeck config migrate (real binary)', { skip }, () => {
  test('--dry-run prints a unified diff and changes nothing', () => {
    const dir = copies(MAINPC);
    const file = join(dir, MAINPC);
    const before = readFileSync(file);
    const r = opsdeck(['config', 'migrate', MAINPC, '--dry-run'], dir);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^--- ${file}\\n\\+\\+\\+ ${file}\\n@@ -\\d+,\\d+ \\+\\d+,\\d+ @@\\n`),
    );
    assert.match(r.stdout, /^- {2}docker_groups:$/m);
    assert.match(r.stdout, /^\+docker_groups:$/m);
    assert.match(r.stderr, /would migrate .* \(agent-groups shape -> canonical agent_groups\)/);
    assert.deepEqual(readFileSync(file), before);
    assert.deepEqual(listing(dir), [MAINPC], 'no backup/, lock or temp file');

    // The diff is a real patch: applied to a copy it gives exactly what a real run writes.
    if (spawnSync('patch', ['--version']).status === 0) {
      const copy = join(dir, 'patched.yaml');
      copyFileSync(file, copy);
      const p = spawnSync('patch', ['-s', copy], { input: r.stdout + '\n', encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr + p.stdout);
      assert.equal(opsdeck(['config', 'migrate', MAINPC, '--yes'], dir).status, 0);
      assert.deepEqual(readFileSync(copy), readFileSync(file));
    }
  });

  test('a real run backs up, writes, and loads as the same 49 agents; a second run writes nothing', () => {
    const dir = copies(MAINPC);
    const file = join(dir, MAINPC);
    const original = readFileSync(file);
    const agentsBefore = agentsOf(file);
    const r = opsdeck(['config', 'migrate', MAINPC, '--target', 'agent_groups', '--yes'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^migrated .*mainpc\.startup_config\.yaml/);
    assert.match(r.stdout, /moved 13 docker groups/);
    const backups = listing(join(dir, 'backup'));
    assert.equal(backups.length, 1);
    assert.match(backups[0]!, /^mainpc\.startup_config\.yaml\.\d{8}T\d{6}\.\d{3}Z$/);
    assert.match(
      r.stdout,
      new RegExp(`backup: ${join(dir, 'backup', backups[0]!).replace(/\./g, '\\.')}`),
    );
    assert.deepEqual(readFileSync(join(dir, 'backup', backups[0]!)), original);
    assert.notDeepEqual(readFileSync(file), original);
    assert.equal(agentsOf(file).length, 49);
    assert.deepEqual(agentsOf(file), agentsBefore);
    assert.deepEqual(listing(dir), ['backup', MAINPC], 'no lock or temp file left');
    const audited = readAudit(AUDIT).entries.filter(
      (e) => e.action === 'config.migrate' && e.args.file === file,
    );
    // "started" before the rename (a kill right after it leaves a trace), "ok" before the report.
    assert.deepEqual(
      audited.map((e) => e.outcome),
      ['started', 'ok'],
    );
    assert.match(
      audited[1]!.detail!,
      new RegExp(`backup ${join(dir, 'backup', backups[0]!).replace(/\./g, '\\.')}`),
    );

    const migrated = readFileSync(file);
    const again = opsdeck(['config', 'migrate', MAINPC, '--yes'], dir);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already canonical/);
    assert.deepEqual(readFileSync(file), migrated);
    assert.equal(listing(join(dir, 'backup')).length, 1);
  });

  test('--rollback restores the newest backup (--dry-run first shows it)', () => {
    const dir = copies(PC2);
    const file = join(dir, PC2);
    const original = readFileSync(file);
    assert.equal(opsdeck(['config', 'migrate', PC2, '--yes'], dir).status, 0);
    const preview = opsdeck(['config', 'migrate', PC2, '--rollback', '--dry-run'], dir);
    assert.equal(preview.status, 1);
    assert.match(preview.stdout, /^\+pc2_services:$/m);
    assert.notDeepEqual(readFileSync(file), original);

    const r = opsdeck(['config', 'migrate', PC2, '--rollback', '--yes'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^restored .* from .*backup\/pc2\.startup_config\.yaml\.\d{8}T/);
    assert.deepEqual(readFileSync(file), original);
    const again = opsdeck(['config', 'migrate', PC2, '--rollback', '--yes'], dir);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /already the same as/);
  });

  test('--rollback with no backup is bad input', () => {
    const dir = copies(PC2);
    const r = opsdeck(['config', 'migrate', PC2, '--rollback', '--yes'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no backup of .*pc2\.startup_config\.yaml/);
  });

  test('a file changed between read and write is refused (edited while the question waits)', async () => {
    const dir = copies(MAINPC);
    const file = join(dir, MAINPC);
    let edited = false;
    const run = start(['config', 'migrate', MAINPC], dir, (stderr, stdin) => {
      if (edited || !/Type "yes" to run: .*\n> $/.test(stderr)) return;
      edited = true;
      writeFileSync(file, readFileSync(file, 'utf8') + '# edited by hand meanwhile\n');
      stdin.end('yes\n');
    });
    const r = await run.done;
    assert.ok(edited, `never asked: ${r.stderr}`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /changed after the preview was confirmed; nothing was written/);
    assert.match(readFileSync(file, 'utf8'), /# edited by hand meanwhile\n$/);
    assert.match(readFileSync(file, 'utf8'), /^ {2}docker_groups:$/m, 'not migrated');
    assert.deepEqual(listing(dir), [MAINPC], 'no backup, lock or temp file');
  });

  test('without --yes: the preview (target, notes, diff), then the exact words asked; no is nothing', async () => {
    const dir = copies(MAINPC);
    const audit = join(dir, '..', `audit-${process.pid}-no.jsonl`);
    const before = readFileSync(join(dir, MAINPC));
    let asked = '';
    const run = start(
      ['config', 'migrate', MAINPC],
      dir,
      (stderr, stdin) => {
        if (asked || !/\n> $/.test(stderr)) return;
        asked = stderr;
        stdin.end('y\n'); // only the word "yes" confirms
      },
      { OPSDECK_AUDIT: audit },
    );
    const r = await run.done;
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /^Migrate the fleet config to the agent_groups schema — target: .*mainpc\.startup_config\.yaml/,
    );
    assert.match(r.stdout, /^will migrate .*\n {2}- /m);
    assert.match(r.stdout, /^--- .*\n\+\+\+ /m);
    assert.match(
      asked,
      /Type "yes" to run: Migrate the fleet config to the agent_groups schema on \/.*mainpc\.startup_config\.yaml\n> $/,
    );
    assert.match(r.stderr, /not confirmed; nothing was changed \(--yes writes without asking/);
    assert.deepEqual(readFileSync(join(dir, MAINPC)), before);
    assert.deepEqual(listing(dir), [MAINPC]);
    const lines = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.machine, l.action, l.outcome]),
      [['mainpc', 'config.migrate', 'cancelled']],
      'the fleet machine, not the host name',
    );
  });

  test('Ctrl+C at the question: no lock left, nothing written, the next run asks again', async () => {
    const dir = copies(MAINPC);
    const before = readFileSync(join(dir, MAINPC));
    let pid: number | undefined;
    const run = start(['config', 'migrate', MAINPC], dir, (stderr) => {
      if (pid !== undefined || !/\n> $/.test(stderr)) return;
      pid = run.pid;
      process.kill(run.pid!, 'SIGINT');
    });
    await run.done;
    assert.ok(pid, 'it asked');
    assert.deepEqual(readFileSync(join(dir, MAINPC)), before);
    assert.deepEqual(listing(dir), [MAINPC], 'no lock, backup or temp file');
    const again = opsdeck(['config', 'migrate', MAINPC, '--yes'], dir);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /stale lock/);
  });

  test('--out: the source edited while the question waits is refused', async () => {
    const v3 = 'unified.startup_config.v3.yaml';
    const dir = copies(v3);
    const src = join(dir, v3);
    let edited = false;
    const run = start(
      ['config', 'migrate', v3, '--machine', 'pc2', '--out', 'pc2.yaml'],
      dir,
      (stderr, stdin) => {
        if (edited || !/\n> $/.test(stderr)) return;
        edited = true;
        writeFileSync(src, readFileSync(src, 'utf8') + '# edited meanwhile\n');
        stdin.end('yes\n');
      },
    );
    const r = await run.done;
    assert.ok(edited);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /unified\.startup_config\.v3\.yaml changed after the preview was confirmed/,
    );
    assert.deepEqual(listing(dir), [v3], 'no pc2.yaml written');
  });

  test('--rollback: an edit while the question waits is refused, not overwritten', async () => {
    const dir = copies(PC2);
    const file = join(dir, PC2);
    assert.equal(opsdeck(['config', 'migrate', PC2, '--yes'], dir).status, 0);
    let edited = false;
    const run = start(['config', 'migrate', PC2, '--rollback'], dir, (stderr, stdin) => {
      if (edited || !/\n> $/.test(stderr)) return;
      edited = true;
      writeFileSync(file, readFileSync(file, 'utf8') + '# edited meanwhile\n');
      stdin.end('yes\n');
    });
    const r = await run.done;
    assert.ok(edited);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /changed after the preview was confirmed; nothing was restored/);
    assert.match(readFileSync(file, 'utf8'), /# edited meanwhile\n$/);
  });

  test('no terminal and no --yes: nothing written, the way to write said', () => {
    const dir = copies(PC2);
    const before = readFileSync(join(dir, PC2));
    const r = opsdeck(['config', 'migrate', PC2], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not confirmed; nothing was changed \(--yes/);
    assert.deepEqual(readFileSync(join(dir, PC2)), before);
  });

  test('two runs at once on one file: one migrates, the other refuses or finds it canonical', async () => {
    const dir = copies(MAINPC);
    const file = join(dir, MAINPC);
    const agentsBefore = agentsOf(file);
    const [a, b] = await Promise.all([
      start(['config', 'migrate', MAINPC, '--yes'], dir).done,
      start(['config', 'migrate', MAINPC, '--yes'], dir).done,
    ]);
    const runs = [a, b];
    assert.equal(runs.filter((r) => /^migrated /.test(r.stdout)).length, 1, JSON.stringify(runs));
    const other = runs.find((r) => !/^migrated /.test(r.stdout))!;
    if (other.status === 1)
      assert.match(other.stderr, /being changed by another opsdeck \(pid \d+/);
    else assert.match(other.stdout, /already canonical/);
    assert.deepEqual(agentsOf(file), agentsBefore, 'the file is valid and the same fleet');
    assert.equal(listing(join(dir, 'backup')).length, 1);
    assert.deepEqual(listing(dir), ['backup', MAINPC]);
  });

  test('a run while another holds the lock is refused and leaves that lock alone', () => {
    const dir = copies(MAINPC);
    const file = join(dir, MAINPC);
    const before = readFileSync(file);
    const lock = join(dir, `.${MAINPC}.opsdeck.lock`);
    const holder = JSON.stringify({
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
    });
    writeFileSync(lock, holder);
    const r = opsdeck(['config', 'migrate', MAINPC, '--yes'], dir);
    assert.equal(r.status, 1, 'refused, as every action another holds');
    assert.match(
      r.stderr,
      new RegExp(
        `being changed by another opsdeck \\(pid ${process.pid} on .*nothing was done.*remove .*\\.opsdeck\\.lock`,
      ),
    );
    assert.deepEqual(readFileSync(file), before);
    assert.equal(readFileSync(lock, 'utf8'), holder);
  });

  test('an unreadable file: permission denied, exit 2, nothing written', () => {
    const dir = copies(PC2);
    const file = join(dir, PC2);
    chmodSync(file, 0o000);
    const [cmd, argv] = withoutReadOverride(process.execPath, [
      BIN,
      'config',
      'migrate',
      file,
      '--yes',
    ]);
    const run = spawnSync(cmd, argv, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', OPSDECK_AUDIT: AUDIT },
    });
    const r = { status: run.status, stderr: String(run.stderr) };
    chmodSync(file, 0o644);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim(), `opsdeck: cannot read ${file}: permission denied`);
    assert.deepEqual(listing(dir), [PC2]);
  });

  test('bad YAML: file:line:col of the error, exit 2, file untouched', () => {
    const dir = copies();
    const file = join(dir, 'broken.yaml');
    const text = 'agent_groups:\n  core:\n    A: {script_path: a.py, port: [5000,\n';
    writeFileSync(file, text);
    const r = opsdeck(['config', 'migrate', 'broken.yaml', '--yes'], dir);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      new RegExp(`^${file.replace(/\./g, '\\.')}:\\d+:\\d+: error: YAML syntax error`, 'm'),
    );
    assert.match(r.stderr, /nothing was changed/);
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.deepEqual(listing(dir), ['broken.yaml']);
  });

  test('v3 unified: refused in place; --machine pc2 --out writes that machine', () => {
    const dir = copies(
      'unified.startup_config.v3.yaml',
      'overrides.mainpc.yaml',
      'overrides.pc2.yaml',
      'overrides.docker.yaml',
    );
    const v3 = 'unified.startup_config.v3.yaml';
    const before = readFileSync(join(dir, v3));
    const inPlace = opsdeck(['config', 'migrate', v3, '--machine', 'pc2', '--yes'], dir);
    assert.equal(inPlace.status, 2);
    assert.match(inPlace.stderr, /refusing to rewrite it in place; pass --out FILE/);
    const noMachine = opsdeck(['config', 'migrate', v3, '--yes'], dir);
    assert.equal(noMachine.status, 2);
    assert.match(
      noMachine.stderr,
      /:27:1: error: .*several machines \(mainpc, pc2\).*--machine NAME/,
    );

    const r = opsdeck(
      ['config', 'migrate', v3, '--machine', 'pc2', '--out', 'pc2.yaml', '--yes'],
      dir,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(join(dir, v3)), before);
    const v3pc2 = loadConfigFile(join(dir, v3), { env: {} }).machines.find((m) => m.id === 'pc2')!;
    assert.deepEqual(
      agentsOf(join(dir, 'pc2.yaml'), 'pc2'),
      v3pc2.agents.map((a) => [
        a.name,
        a.group,
        a.port.value,
        a.healthPort.value,
        a.required,
        a.dependencies,
      ]),
    );
    assert.ok(!existsSync(join(dir, 'backup')), 'a new --out file has nothing to back up');
  });

  test('usage errors are bad input', () => {
    const dir = copies(PC2);
    assert.equal(
      opsdeck(['config', 'migrate', PC2, '--target', 'pc2_services', '--yes'], dir).status,
      2,
    );
    const machine = opsdeck(['config', 'migrate', PC2, '--machine', 'pc2', '--yes'], dir);
    assert.equal(machine.status, 2);
    assert.match(machine.stderr, /only for v3 unified files/);
    assert.equal(opsdeck(['config', 'migrate'], dir).status, 2);
    assert.deepEqual(listing(dir), [PC2]);
  });

  test('disk full during migrate: original intact, no temp file left', (t) => {
    const mnt = join(scratch, 'tmpfs');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt], {
      encoding: 'utf8',
    });
    if (m.status !== 0)
      return t.skip(
        `cannot mount a tmpfs to fill (${(m.stderr || 'mount failed').trim()}); run as root to test a real ENOSPC`,
      );
    try {
      const file = join(mnt, PC2);
      copyFileSync(join(REAL, PC2), file);
      const original = readFileSync(file);
      // Room for the backup (one file's worth), none for the new text.
      const { bavail, bsize } = statfsSync(mnt);
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(bavail * bsize - original.length - 4096));
      const r = opsdeck(['config', 'migrate', PC2, '--yes'], mnt);
      assert.equal(r.status, 1, r.stdout); // a failed action, not bad input
      assert.match(r.stderr, /no space left on device; the file is unchanged/);
      assert.deepEqual(readFileSync(file), original);
      assert.deepEqual(
        listing(mnt).filter((x) => x !== 'backup'),
        ['filler', PC2],
      );
      assert.deepEqual(existsSync(join(mnt, 'backup')) ? listing(join(mnt, 'backup')) : [], []);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});
