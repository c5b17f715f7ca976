// Fault injection: `opsdeck config migrate` killed with SIGKILL at each step of its write (strace
// injects the signal at the exact system call: the lock's write, the temp file's fsync, the
// rename, the folder's fsync right after the rename), then run again. The file is always the
// original or the migrated text, never half; the next run recovers the stale lock (an empty one
// once it is older than a few seconds), removes the killed run's temp file, says both, and the
// audit trail records the killed run (`started`, then `interrupted` from the next run).
// Once: an empty lock blocked every later migrate; temp files stayed forever; a kill right after
// the rename left no audit line. Also: symbolic links, owner and group, exit codes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAudit } from '../../source/adapters/audit.js';
import { lockPathOf } from '../../source/adapters/atomic-file.js';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { BIN } from './helpers.js';

const HAS_STRACE = spawnSync('strace', ['-V']).status === 0;
const NEEDS_STRACE = HAS_STRACE ? false : 'strace not installed (apt-get install -y strace)';
const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-migrate-kill-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ORIGINAL = `pc2_services:
- {name: MemoryA, script_path: a.py, host: 0.0.0.0, port: 7101, health_check_port: 8101}
- {name: VisionB, script_path: b.py, host: 0.0.0.0, port: 7102, health_check_port: 8102, dependencies: [MemoryA]}
- {name: TutorC, script_path: c.py, host: 0.0.0.0, port: 7103, health_check_port: 8103}
error_bus_port: 7150
`;
const agents = (text: string) =>
  loadConfigText(text, 'x.yaml', { env: {}, machine: 'pc2' })
    .machines[0]!.agents.map((a) => `${a.name}:${a.port.value}:${a.healthPort.value}`)
    .join(',');

let n = 0;
function fixture(): { dir: string; file: string; audit: string } {
  const dir = join(scratch, `case-${n++}`);
  mkdirSync(dir);
  const file = join(dir, 'pc2.yaml');
  writeFileSync(file, ORIGINAL);
  return { dir, file, audit: join(dir, 'audit.jsonl') };
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}
function migrate(file: string, audit: string, strace: string[] = [], extra: string[] = []): Run {
  const cmd = strace.length ? 'strace' : process.execPath;
  const args = strace.length
    ? ['-f', '-qq', '-o', '/dev/null', ...strace, process.execPath, BIN]
    : [BIN];
  const r = spawnSync(cmd, [...args, 'config', 'migrate', file, '--yes', ...extra], {
    encoding: 'utf8',
    env: { ...process.env, OPSDECK_AUDIT: audit, NO_COLOR: '1' },
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));
const outcomes = (audit: string) => readAudit(audit).entries.map((e) => `${e.action}:${e.outcome}`);

const KILLS: Array<{ step: string; strace: (file: string) => string[]; migrated: boolean }> = [
  {
    step: 'the lock write',
    strace: (file) => [
      '-P',
      lockPathOf(file),
      '-e',
      'trace=write',
      '-e',
      'inject=write:signal=KILL',
    ],
    migrated: false,
  },
  {
    // fsync 1: the backup, 2: backup/, 3: the temp file.
    step: "the temp file's fsync",
    strace: () => ['-e', 'trace=fsync', '-e', 'inject=fsync:signal=KILL:when=3'],
    migrated: false,
  },
  {
    step: 'the rename',
    strace: () => ['-e', 'trace=rename', '-e', 'inject=rename:signal=KILL'],
    migrated: false,
  },
  {
    // fsync 4: the audit's "started" line, 5: the folder, right after the rename.
    step: 'right after the rename',
    strace: () => ['-e', 'trace=fsync', '-e', 'inject=fsync:signal=KILL:when=5'],
    migrated: true,
  },
];

describe('config migrate killed mid-write, then run again', { skip: NEEDS_STRACE }, () => {
  for (const kill of KILLS) {
    test(`SIGKILL at ${kill.step}: never half a file; the next run recovers and says so`, () => {
      const { dir, file, audit } = fixture();
      const killed = migrate(file, audit, kill.strace(file));
      assert.equal(killed.signal, 'SIGKILL', `${killed.status} ${killed.err}`);
      const left = readFileSync(file, 'utf8');
      assert.equal(
        left === ORIGINAL,
        !kill.migrated,
        `${kill.step}: the file is ${kill.migrated ? 'migrated' : 'the original'}`,
      );
      assert.equal(agents(left), agents(ORIGINAL), 'the same fleet either way');
      assert.ok(existsSync(lockPathOf(file)), 'the killed run left its lock');
      if (kill.step === 'the lock write') {
        assert.equal(readFileSync(lockPathOf(file), 'utf8'), '', 'an empty lock');
        // Fresh: maybe a run taking it right now. Refused (exit 1), the lock left alone.
        const fresh = migrate(file, audit);
        assert.equal(fresh.status, 1, fresh.err);
        assert.match(
          fresh.err,
          /being changed by another opsdeck \(a process taking the lock right now\)/,
        );
        assert.ok(existsSync(lockPathOf(file)));
        const old = new Date(Date.now() - 60_000);
        utimesSync(lockPathOf(file), old, old);
      }
      const again = migrate(file, audit);
      assert.equal(again.status, 0, again.err);
      assert.match(
        again.err,
        kill.step === 'the lock write'
          ? /recovered the stale lock .*\.pc2\.yaml\.opsdeck\.lock: it held no owner for \d+ s \(an opsdeck killed while taking it\)/
          : /recovered the stale lock .*\.pc2\.yaml\.opsdeck\.lock: opsdeck pid \d+ \(since .*\) is gone/,
      );
      if (kill.step === "the temp file's fsync" || kill.step === 'the rename')
        assert.match(
          again.err,
          /removed .*\.pc2\.yaml\.opsdeck-\d+-[0-9a-f]+\.tmp, left by opsdeck pid \d+, which is gone/,
        );
      assert.match(again.out, kill.migrated ? /already canonical/ : /^migrated /);
      assert.deepEqual(temps(dir), [], 'no temp file left');
      assert.equal(existsSync(lockPathOf(file)), false, 'no lock left');
      assert.equal(agents(readFileSync(file, 'utf8')), agents(ORIGINAL));
      const trail = outcomes(audit);
      if (kill.migrated) {
        // The killed run recorded that it was writing; the next run that it was interrupted.
        assert.deepEqual(trail, ['config.migrate:started', 'config.migrate:interrupted']);
      } else if (kill.step === 'the lock write') {
        assert.deepEqual(trail, [
          'config.migrate:refused',
          'config.migrate:interrupted',
          'config.migrate:started',
          'config.migrate:ok',
        ]);
      } else {
        assert.deepEqual(trail.slice(-3), [
          'config.migrate:interrupted',
          'config.migrate:started',
          'config.migrate:ok',
        ]);
      }
    });
  }
});

describe('config migrate: links, owners, exit codes', () => {
  test('a symbolic link: its target is migrated, the link kept', () => {
    const { dir, file, audit } = fixture();
    const link = join(dir, 'startup_config.yaml');
    symlinkSync('pc2.yaml', link);
    const r = migrate(link, audit);
    assert.equal(r.status, 0, r.err);
    assert.match(
      r.out,
      /^migrated .*pc2\.yaml \(the target of the symbolic link .*startup_config\.yaml\)/m,
    );
    assert.ok(lstatSync(link).isSymbolicLink(), 'still a link');
    assert.equal(readlinkSync(link), 'pc2.yaml');
    assert.match(readFileSync(file, 'utf8'), /^agent_groups:/);
    assert.deepEqual(readdirSync(join(dir, 'backup')).length, 1);
    const back = spawnSync(
      process.execPath,
      [BIN, 'config', 'migrate', link, '--rollback', '--yes'],
      {
        encoding: 'utf8',
        env: { ...process.env, OPSDECK_AUDIT: audit },
      },
    );
    assert.equal(back.status, 0, back.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  test("another user's file migrated as root keeps its owner, group and mode (and so does its backup)", (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own a file as another user');
    const { dir, file, audit } = fixture();
    chownSync(file, 4242, 4343);
    chmodSync(file, 0o640);
    const r = migrate(file, audit);
    assert.equal(r.status, 0, r.err);
    const st = statSync(file);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [4242, 4343, 0o640]);
    const backup = join(dir, 'backup', readdirSync(join(dir, 'backup'))[0]!);
    const b = statSync(backup);
    assert.deepEqual([b.uid, b.gid, b.mode & 0o777], [4242, 4343, 0o640]);
  });

  test('EPERM on the rename (an immutable file) is reported as such, exit 1, nothing changed', (t) => {
    const { dir, file, audit } = fixture();
    if (spawnSync('chattr', ['+i', file]).status !== 0)
      return t.skip('chattr +i needs root on a file system that supports it');
    try {
      const r = migrate(file, audit);
      assert.equal(r.status, 1, r.err);
      assert.match(
        r.err,
        /cannot rename the new text over .*pc2\.yaml: operation not permitted; the file is unchanged/,
      );
      assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
      assert.deepEqual(temps(dir), [], 'its temp file removed');
    } finally {
      spawnSync('chattr', ['-i', file]);
    }
  });

  test('the loser of a held lock is refused with exit 1, not 2 (bad input)', () => {
    const { file, audit } = fixture();
    writeFileSync(
      lockPathOf(file),
      JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }),
    );
    const r = migrate(file, audit);
    assert.equal(r.status, 1, r.err);
    assert.match(r.err, /being changed by another opsdeck \(pid \d+/);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });
});
