// The one atomic writer (adapters/atomic-write.ts), through each of its callers: configs
// (atomic-file.ts), keys (secret-files.ts) and reports (text-out.ts). Each must write a temp
// file, give it its exact mode and the old file's owner, fsync it, rename it over the target and
// fsync the folder, in that order (strace shows the system calls); a failure leaves the old file
// and no temp file.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtomicWriteError, writeFileAtomic } from '../../source/adapters/atomic-write.js';
import { writeReport, WriteError } from '../../source/adapters/text-out.js';

const CHILD = fileURLToPath(new URL('./atomic-write-child.ts', import.meta.url));
const HAS_STRACE = spawnSync('strace', ['-V']).status === 0;
const IS_ROOT = process.getuid?.() === 0;
const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-atomic-write-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
const folder = (): string => {
  const dir = join(scratch, `case-${n++}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
};
const mode = (file: string) => statSync(file).mode & 0o7777;

/** The system calls on `dir` and the files in it, as `call(path...)` without fds and flags. */
function traced(kind: string, file: string, dir: string): string[] {
  const log = join(scratch, `strace-${n++}.log`);
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-y',
      '-qq',
      '-o',
      log,
      '-e',
      'trace=openat,fsync,fchmod,fchown,rename,renameat,renameat2',
      process.execPath,
      '--import',
      'tsx',
      CHILD,
      kind,
      file,
    ],
    { encoding: 'utf8', env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.test.json' } },
  );
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir) && / = \d+/.test(l))
    .map((l) => {
      const call = /^\d+\s+(\w+)\(/.exec(l)?.[1] ?? '?';
      // Quoted paths and the paths strace -y prints for fds, the folder written D.
      const paths = [...l.matchAll(/"([^"]+)"|<([^>]+)>/g)]
        .map((m) => m[1] ?? m[2]!)
        .filter((p) => p.startsWith(dir))
        .map((p) => p.replace(dir, 'D').replace(/opsdeck-\d+-[0-9a-f]+/, 'T'));
      return `${call}(${[...new Set(paths)].join(', ')})`;
    });
}

/** `want` appears in `calls` in order (other calls may come between). */
function inOrder(calls: string[], want: string[]): void {
  let at = 0;
  for (const call of want) {
    const next = calls.indexOf(call, at);
    assert.ok(next >= 0, `${call} missing after call ${at} in:\n${calls.join('\n')}`);
    at = next + 1;
  }
}

describe('the one atomic writer', () => {
  for (const [kind, name, want] of [
    ['report', 'matrix.md', 0o644],
    ['secret', 'signing.jwk', 0o600],
    ['public', 'jwks.json', 0o644],
    ['config', 'startup_config.yaml', 0o640],
  ] as const) {
    test(`${kind}: temp file, exact mode, fsync, rename, folder fsync, in that order`, (t) => {
      if (!HAS_STRACE) return t.skip('strace not installed');
      const dir = folder();
      const file = join(dir, name);
      if (kind === 'config') writeFileSync(file, 'agent_groups: {}\n', { mode: 0o640 });
      const calls = traced(kind, file, dir);
      const temp = `D/.${name}.T.tmp`;
      inOrder(calls, [
        `openat(${temp})`,
        `fchmod(${temp})`,
        `fsync(${temp})`,
        `rename(${temp}, D/${name})`,
        'openat(D)',
        'fsync(D)',
      ]);
      // Nothing renamed before the temp file is durable (a config's last look may come between).
      assert.ok(calls.indexOf(`fsync(${temp})`) < calls.findIndex((c) => c.startsWith('rename')));
      assert.equal(readFileSync(file, 'utf8'), `written by ${kind}\n`);
      assert.equal(mode(file), want);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.endsWith('.tmp')),
        [],
      );
    });
  }

  test('the mode is exact whatever the umask; a replaced file keeps its mode unless one is given', () => {
    const dir = folder();
    const file = join(dir, 'a');
    const old = process.umask(0o077);
    try {
      writeFileAtomic(file, 'one', { mode: 0o644 });
      assert.equal(mode(file), 0o644);
      writeFileAtomic(file, 'two');
      assert.equal(mode(file), 0o644);
      writeFileAtomic(file, 'three', { mode: 0o600 });
      assert.equal(mode(file), 0o600);
    } finally {
      process.umask(old);
    }
    assert.equal(readFileSync(file, 'utf8'), 'three');
  });

  test("a replaced file keeps its owner and group (root writing another user's file)", (t) => {
    if (!IS_ROOT) return t.skip('needs root to own a file as another user');
    const dir = folder();
    const file = join(dir, 'b');
    writeFileSync(file, 'old');
    chownSync(file, 4242, 4343);
    writeFileAtomic(file, 'new');
    const st = statSync(file);
    assert.deepEqual([st.uid, st.gid], [4242, 4343]);
  });

  test('refused before the rename: the old file and no temp file', () => {
    const dir = folder();
    const file = join(dir, 'c');
    writeFileSync(file, 'old');
    assert.throws(
      () =>
        writeFileAtomic(file, 'new', {
          beforeRename: () => {
            throw new Error('changed meanwhile');
          },
        }),
      /changed meanwhile/,
    );
    assert.equal(readFileSync(file, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['c']);
  });

  test('a missing folder: a stage, a system code and a message; a report says so plainly', () => {
    const file = join(scratch, 'missing', 'matrix.md');
    assert.throws(
      () => writeFileAtomic(file, 'x'),
      (error: unknown) =>
        error instanceof AtomicWriteError &&
        error.stage === 'temp' &&
        error.code === 'ENOENT' &&
        error.unchanged &&
        /cannot write a temporary copy of .*matrix\.md: no such file or directory/.test(
          error.message,
        ),
    );
    assert.throws(
      () => writeReport(file, 'x'),
      (error: unknown) =>
        error instanceof WriteError &&
        /cannot write .*matrix\.md: the folder does not exist; nothing was written/.test(
          error.message,
        ),
    );
  });

  test('a symbolic link is replaced, not followed (configs follow it in atomic-file.ts)', () => {
    const dir = folder();
    writeFileSync(join(dir, 'target'), 'kept');
    symlinkSync('target', join(dir, 'link'));
    writeFileAtomic(join(dir, 'link'), 'new');
    assert.equal(lstatSync(join(dir, 'link')).isSymbolicLink(), false);
    assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'kept');
    assert.throws(() => readlinkSync(join(dir, 'link')));
  });
});
