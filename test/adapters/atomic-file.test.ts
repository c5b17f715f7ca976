import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backupDirOf,
  FileError,
  listBackups,
  lockPathOf,
  newestBackup,
  readSnapshot,
  replaceFile,
  rollback,
  withLock,
} from '../../source/adapters/atomic-file.js';

const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-atomic-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
/** A fresh folder with one file in it. */
function fixture(text = 'agent_groups: {}\n'): { dir: string; file: string } {
  const dir = join(scratch, `case-${n++}`);
  mkdirSync(dir);
  const file = join(dir, 'startup_config.yaml');
  writeFileSync(file, text);
  return { dir, file };
}

const entries = (dir: string): string[] => readdirSync(dir).sort();

const rejectsWith = async (fn: () => unknown, kind: FileError['kind'], message: RegExp) => {
  await assert.rejects(
    async () => fn(),
    (error: unknown) => {
      assert.ok(error instanceof FileError, `expected a FileError, got ${String(error)}`);
      assert.equal(error.kind, kind);
      assert.match(error.message, message);
      return true;
    },
  );
};

describe('atomic file: read and replace', () => {
  test('a snapshot has size, mtime and sha256 of the bytes read', () => {
    const { file } = fixture('abc\n');
    const snap = readSnapshot(file);
    assert.equal(snap.text, 'abc\n');
    assert.equal(snap.fingerprint.size, 4);
    assert.equal(
      snap.fingerprint.sha256,
      'edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb',
    );
    assert.equal(snap.fingerprint.mtimeMs, statSync(file).mtimeMs);
  });

  test('a missing file is a clear unreadable error', async () => {
    const { dir } = fixture();
    await rejectsWith(
      () => readSnapshot(join(dir, 'nope.yaml')),
      'unreadable',
      /cannot read .*nope\.yaml: no such file or directory/,
    );
  });

  test('replace writes the text, keeps a backup of what was read, keeps the mode, leaves nothing else', () => {
    const { dir, file } = fixture('old: 1\n');
    chmodSync(file, 0o640);
    const snap = readSnapshot(file);
    const result = replaceFile(file, 'new: 2\n', {
      expected: snap.fingerprint,
      backup: snap.bytes,
      now: new Date('2025-08-19T10:11:12.345Z'),
    });
    assert.equal(readFileSync(file, 'utf8'), 'new: 2\n');
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(result.backup, join(dir, 'backup', 'startup_config.yaml.20250819T101112.345Z'));
    assert.equal(readFileSync(result.backup, 'utf8'), 'old: 1\n');
    assert.deepEqual(entries(dir), ['backup', 'startup_config.yaml']);
  });

  test('a file changed between read and write is left alone: no write, no temp file, no backup', async () => {
    const { dir, file } = fixture('old: 1\n');
    const snap = readSnapshot(file);
    writeFileSync(file, 'old: 1\nedited: by someone else\n');
    await rejectsWith(
      () => replaceFile(file, 'new: 2\n', { expected: snap.fingerprint, backup: snap.bytes }),
      'changed',
      /changed after it was read.*nothing was written/,
    );
    assert.equal(readFileSync(file, 'utf8'), 'old: 1\nedited: by someone else\n');
    // backup/ did not exist before: the refused write takes away the folder it made too.
    assert.deepEqual(entries(dir), ['startup_config.yaml']);
  });

  test('a refused write keeps a backup/ folder that was already there, and its backups', async () => {
    const { dir, file } = fixture('old: 1\n');
    mkdirSync(backupDirOf(file));
    writeFileSync(join(backupDirOf(file), 'startup_config.yaml.20250101T000000Z'), 'older\n');
    const snap = readSnapshot(file);
    writeFileSync(file, 'edited\n');
    await rejectsWith(
      () => replaceFile(file, 'new: 2\n', { expected: snap.fingerprint, backup: snap.bytes }),
      'changed',
      /nothing was written/,
    );
    assert.deepEqual(entries(dir), ['backup', 'startup_config.yaml']);
    assert.deepEqual(entries(backupDirOf(file)), ['startup_config.yaml.20250101T000000Z']);
  });

  test('the same bytes with a new mtime still count as a change', async () => {
    const { file } = fixture('same\n');
    const snap = readSnapshot(file);
    writeFileSync(file, 'same\n');
    const later = new Date(snap.fingerprint.mtimeMs + 5000);
    (await import('node:fs')).utimesSync(file, later, later);
    await rejectsWith(
      () => replaceFile(file, 'x\n', { expected: snap.fingerprint }),
      'changed',
      /changed after it was read/,
    );
  });

  test('a new file that appeared meanwhile is not overwritten', async () => {
    const { dir } = fixture();
    const out = join(dir, 'out.yaml');
    writeFileSync(out, 'someone: else\n');
    await rejectsWith(() => replaceFile(out, 'x\n', { expected: 'absent' }), 'changed', /appeared/);
    assert.equal(readFileSync(out, 'utf8'), 'someone: else\n');
  });
});

describe('atomic file: lock', () => {
  test('one holder at a time; the second is refused with who holds it', async () => {
    const { file } = fixture();
    await withLock(file, async () => {
      assert.ok(existsSync(lockPathOf(file)));
      await rejectsWith(
        () => withLock(file, () => 'never'),
        'locked',
        new RegExp(`being changed by another opsdeck \\(pid ${process.pid} `),
      );
      assert.ok(
        existsSync(lockPathOf(file)),
        'the refused caller does not remove the holder’s lock',
      );
    });
    assert.equal(existsSync(lockPathOf(file)), false);
  });

  test('the lock is removed when the work throws', async () => {
    const { file } = fixture();
    await assert.rejects(
      withLock(file, () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(existsSync(lockPathOf(file)), false);
  });

  test('a lock left by a process that is gone is taken over', async () => {
    const { file } = fixture();
    const dead = spawnSync(process.execPath, ['-e', 'process.pid'], { encoding: 'utf8' }).pid;
    writeFileSync(
      lockPathOf(file),
      JSON.stringify({
        pid: dead,
        host: (await import('node:os')).hostname(),
        since: '2025-01-01T00:00:00Z',
      }),
    );
    assert.equal(await withLock(file, () => 'ran'), 'ran');
    assert.equal(existsSync(lockPathOf(file)), false);
  });
});

describe('atomic file: backups and rollback', () => {
  test('backups sort by time; two in one millisecond both survive', () => {
    const { file } = fixture('v1\n');
    const now = new Date('2025-08-19T10:00:00.000Z');
    let snap = readSnapshot(file);
    replaceFile(file, 'v2\n', { expected: snap.fingerprint, backup: snap.bytes, now });
    snap = readSnapshot(file);
    replaceFile(file, 'v3\n', { expected: snap.fingerprint, backup: snap.bytes, now });
    const names = listBackups(file).map((p) => p.split('/').pop());
    assert.deepEqual(names, [
      'startup_config.yaml.20250819T100000.000Z',
      'startup_config.yaml.20250819T100000.000Z-01',
    ]);
    assert.equal(readFileSync(newestBackup(file)!, 'utf8'), 'v2\n');
  });

  test('rollback restores the newest backup and keeps what it replaced', () => {
    const { file } = fixture('original\n');
    const snap = readSnapshot(file);
    replaceFile(file, 'migrated\n', { expected: snap.fingerprint, backup: snap.bytes });
    const result = rollback(file);
    assert.equal(result.status, 'restored');
    assert.equal(readFileSync(file, 'utf8'), 'original\n');
    assert.match(result.kept!, /\.replaced$/);
    assert.equal(readFileSync(result.kept!, 'utf8'), 'migrated\n');
    assert.equal(listBackups(file).length, 1, 'the kept copy is not a backup rollback would pick');
    assert.equal(rollback(file).status, 'already-current');
  });

  test('rollback without a backup is refused and changes nothing', async () => {
    const { dir, file } = fixture('x\n');
    await rejectsWith(() => rollback(file), 'no-backup', /no backup of .* in .*backup/);
    assert.deepEqual(entries(dir), ['startup_config.yaml']);
  });
});

// A real full disk: a tiny tmpfs. Mounting needs root (or CAP_SYS_ADMIN); otherwise the test says why it skipped.
describe('atomic file: disk full', () => {
  const mnt = join(scratch, 'tmpfs');
  let skip: string | false = false;
  before(() => {
    mkdirSync(mnt);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], {
      encoding: 'utf8',
    });
    if (r.status !== 0)
      skip = `cannot mount a tmpfs to fill (${(r.stderr || r.error?.message || 'mount failed').trim()}); run as root to test a real ENOSPC`;
  });
  after(() => {
    if (!skip) spawnSync('umount', [mnt]);
  });

  /** Fills the tmpfs so that only `room` bytes (page-rounded) stay free. */
  const fill = (dir: string, room: number) => {
    const { bavail, bsize } = statfsSync(dir);
    const free = bavail * bsize;
    writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, free - room)));
  };

  for (const stage of ['backup', 'temporary copy'] as const) {
    test(`ENOSPC while writing the ${stage}: original intact, no temp file, no backup`, async (t) => {
      if (skip) return t.skip(skip);
      const dir = join(mnt, stage.replace(' ', '-'));
      mkdirSync(dir);
      mkdirSync(join(dir, 'backup'));
      const file = join(dir, 'startup_config.yaml');
      const original = 'agent_groups:\n' + '  # padding\n'.repeat(1500);
      writeFileSync(file, original);
      // Room for the backup but not the new text too, or not even for the backup.
      fill(dir, stage === 'backup' ? 4096 : original.length + 4096);
      const snap = readSnapshot(file);
      await rejectsWith(
        () =>
          replaceFile(file, original + 'more: 1\n'.repeat(1000), {
            expected: snap.fingerprint,
            backup: snap.bytes,
          }),
        'write-failed',
        stage === 'backup'
          ? /cannot write the backup of .*no space left on device; the file is unchanged/
          : /cannot write a temporary copy of .*no space left on device/,
      );
      assert.equal(readFileSync(file, 'utf8'), original);
      assert.deepEqual(entries(dir), ['backup', 'filler', 'startup_config.yaml']);
      assert.deepEqual(entries(join(dir, 'backup')), []);
      rmSync(dir, { recursive: true });
    });
  }
});
