// Changing a config file the fleet runs from, safely: an exclusive lock beside it, a backup
// before the first byte changes, then the one atomic writer (atomic-write.ts: temp file, mode,
// owner, fsync, rename, folder fsync), but only if the file is still exactly what was read.
// Whatever fails, the original is intact and no temp file remains.
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  rmdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  AtomicWriteError,
  fsyncDir,
  keepOwner,
  reasonOf,
  statOf,
  unlinkQuietly,
  writeAll,
  writeFileAtomic,
} from './atomic-write.js';
import { EMPTY_CLAIM_STALE_MS, processAlive } from './instance-slot.js';
import { MAX_CONFIG_BYTES } from './fleet-files.js';

export { reasonOf };

/** What a file was when it was read: a change to any of these means someone else wrote it. */
export interface Fingerprint {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface FileSnapshot {
  bytes: Buffer;
  text: string;
  fingerprint: Fingerprint;
  mode: number;
}

export type FileErrorKind = 'unreadable' | 'locked' | 'changed' | 'write-failed' | 'no-backup';

/** A refusal or failure with a message fit for the operator; the file is unchanged when thrown. */
export class FileError extends Error {
  constructor(
    readonly kind: FileErrorKind,
    message: string,
    /** The system error code behind it (ENOENT, EACCES, ENOSPC...), when there is one. */
    readonly errno?: string,
  ) {
    super(message);
  }
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Reads a file and its fingerprint from one open descriptor. */
export function readSnapshot(file: string): FileSnapshot {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new FileError(
      'unreadable',
      `cannot read ${file}: ${reasonOf(error)}`,
      (error as NodeJS.ErrnoException).code,
    );
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw new FileError('unreadable', `cannot read ${file}: is a directory`);
    const chunks: Buffer[] = [];
    const chunk = Buffer.alloc(64 * 1024);
    let size = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
      // Read as the loader reads (/dev/zero never ends; a huge file is not a fleet config).
      if ((size += n) > MAX_CONFIG_BYTES)
        throw new FileError(
          'unreadable',
          `cannot read ${file}: larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB: not a fleet config`,
          'EFBIG',
        );
    }
    const bytes = Buffer.concat(chunks);
    return {
      bytes,
      text: bytes.toString('utf8'),
      fingerprint: { size: bytes.length, mtimeMs: stat.mtimeMs, sha256: sha256(bytes) },
      mode: stat.mode & 0o7777,
    };
  } catch (error) {
    if (error instanceof FileError) throw error;
    throw new FileError(
      'unreadable',
      `cannot read ${file}: ${reasonOf(error)}`,
      (error as NodeJS.ErrnoException).code,
    );
  } finally {
    closeSync(fd);
  }
}

/** The file as readSnapshot reads it, or undefined when it does not exist. */
export function snapshotIfPresent(file: string): FileSnapshot | undefined {
  try {
    return readSnapshot(file);
  } catch (error) {
    if (error instanceof FileError && error.errno === 'ENOENT') return undefined;
    throw error;
  }
}

/** The file's fingerprint now, or undefined when it does not exist. */
export const fingerprintOf = (file: string): Fingerprint | undefined =>
  snapshotIfPresent(file)?.fingerprint;

export const sameFingerprint = (a: Fingerprint | undefined, b: Fingerprint | undefined): boolean =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.sha256 === b.sha256);

// ---------------------------------------------------------------------------------------------
// Lock

export const lockPathOf = (file: string): string =>
  join(dirname(file), `.${basename(file)}.opsdeck.lock`);

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string'
      ? (owner as LockOwner)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a lock held by nobody can be taken over, or undefined while it may still be held. Its
 * process is gone (same host), or it stayed without an owner too long: a process killed between
 * creating it and writing its pid leaves it empty, and would block every later run.
 */
function staleLock(
  path: string,
  owner: LockOwner | undefined,
  now = Date.now(),
): string | undefined {
  if (owner)
    return owner.host === hostname() && !processAlive(owner.pid)
      ? `opsdeck pid ${owner.pid} (since ${owner.since}) is gone`
      : undefined;
  let ageMs: number;
  try {
    ageMs = now - statSync(path).mtimeMs;
  } catch {
    return 'it was removed meanwhile';
  }
  return ageMs > EMPTY_CLAIM_STALE_MS
    ? `it held no owner for ${Math.round(ageMs / 1000)} s (an opsdeck killed while taking it)`
    : undefined;
}

/** `.<name>.opsdeck-<pid>-<hex>.tmp`: the temp copies of `file` (atomic-write.ts's tempPathOf). */
const tempPattern = (file: string): RegExp =>
  new RegExp(
    `^\\.${basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.opsdeck-(\\d+)-[0-9a-f]+\\.tmp$`,
  );

/** Removes temp copies of `file` whose process is gone (killed mid-write); says which. */
function removeDeadTemps(file: string, note: (line: string) => void): void {
  const pattern = tempPattern(file);
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    unlinkQuietly(join(dirname(file), name));
    note(`removed ${join(dirname(file), name)}, left by opsdeck pid ${pid}, which is gone`);
  }
}

/**
 * Takes the lock beside `file` (O_CREAT|O_EXCL: exactly one process can), runs `fn`, and removes
 * the lock whatever happens. A stale lock (its process gone, or ownerless past a few seconds) is
 * taken over, and the temp copies a killed run left are removed; `note` hears of both.
 */
export async function withLock<T>(
  file: string,
  fn: () => Promise<T> | T,
  note: (line: string) => void = () => undefined,
): Promise<T> {
  const path = lockPathOf(file);
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new FileError(
          'write-failed',
          `cannot create the lock ${path}: ${reasonOf(error)}; nothing was changed`,
          (error as NodeJS.ErrnoException).code,
        );
      }
      const owner = readOwner(path);
      const stale = attempt < 2 ? staleLock(path, owner) : undefined;
      if (stale) {
        unlinkQuietly(path);
        note(`recovered the stale lock ${path}: ${stale}`);
        continue;
      }
      const who = owner
        ? `pid ${owner.pid} on ${owner.host}, since ${owner.since}`
        : 'a process taking the lock right now';
      throw new FileError(
        'locked',
        `${file} is being changed by another opsdeck (${who}); nothing was done. If no opsdeck is running, remove ${path}`,
      );
    }
  }
  try {
    removeDeadTemps(file, note);
    return await fn();
  } finally {
    const owner = readOwner(path);
    if (owner && owner.pid === me.pid && owner.since === me.since) unlinkQuietly(path);
  }
}

/**
 * The file a path names: a symbolic link's target, so that the target is changed and the link
 * kept (a rename over the link would replace it with a regular file, the target untouched).
 */
export function realTarget(file: string): string {
  let link = false;
  try {
    link = lstatSync(file).isSymbolicLink();
  } catch {
    return file; // absent: written as a new file
  }
  if (!link) return file;
  try {
    return realpathSync(file);
  } catch (error) {
    let to = '?';
    try {
      to = readlinkSync(file);
    } catch {
      /* keep "?" */
    }
    throw new FileError(
      'unreadable',
      `${file} is a symbolic link to ${to}, which cannot be followed (${reasonOf(error)}); nothing was changed`,
      (error as NodeJS.ErrnoException).code,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Backups: backup/<name>.<UTC timestamp> beside the file; the newest is what rollback restores.

export const backupDirOf = (file: string): string => join(dirname(file), 'backup');

const stampOf = (date: Date): string => date.toISOString().replace(/[-:]/g, '');

const backupPattern = (file: string): RegExp =>
  new RegExp(
    `^${basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d{8}T\\d{6}(\\.\\d{3})?Z(-\\d{2})?$`,
  );

/** Restorable backups of `file`, oldest first (the timestamps sort as text). */
export function listBackups(file: string): string[] {
  const dir = backupDirOf(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = backupPattern(file);
  return names
    .filter((n) => pattern.test(n))
    .sort()
    .map((n) => join(dir, n));
}

export const newestBackup = (file: string): string | undefined => listBackups(file).at(-1);

/** Removes backup/ if this write made it and nothing is left in it (a refused write leaves no trace). */
function dropMadeDir(made: string | undefined): void {
  if (made === undefined) return;
  try {
    rmdirSync(made);
  } catch {
    /* not empty (another write's backup landed) or already gone: keep it */
  }
}

/**
 * Writes `bytes` durably to a new file in backup/; `suffix` marks copies rollback must not pick.
 * `made` is backup/ when this call created it, so a failed write can take it away again.
 */
function writeBackup(
  file: string,
  bytes: Buffer,
  mode: number,
  now: Date,
  suffix = '',
  owner?: { uid: number; gid: number },
): { path: string; made: string | undefined } {
  const dir = backupDirOf(file);
  let made: string | undefined;
  // backup/ is shared by every file in the folder: a refused write of a neighbour may take it
  // away (it made it, and it was empty) between this mkdir and the open. Once more then.
  for (let attempt = 0; ; attempt++) {
    made = mkdirSync(dir, { recursive: true }) === undefined ? made : dir;
    try {
      return { path: writeBackupIn(dir, file, bytes, mode, now, suffix, owner), made };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 0) continue;
      dropMadeDir(made);
      throw error;
    }
  }
}

function writeBackupIn(
  dir: string,
  file: string,
  bytes: Buffer,
  mode: number,
  now: Date,
  suffix: string,
  owner?: { uid: number; gid: number },
): string {
  const stem = join(dir, `${basename(file)}.${stampOf(now)}`);
  for (let n = 0; n < 100; n++) {
    const path = `${stem}${n === 0 ? '' : `-${String(n).padStart(2, '0')}`}${suffix}`;
    let fd: number;
    try {
      fd = openSync(path, 'wx', mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    try {
      writeAll(fd, bytes);
      keepOwner(fd, owner, file); // its owner can roll back
      fsyncSync(fd);
    } catch (error) {
      closeSync(fd);
      unlinkQuietly(path);
      throw error;
    }
    closeSync(fd);
    fsyncDir(dir);
    return path;
  }
  throw new Error(`too many backups of ${basename(file)} within one millisecond`);
}

// ---------------------------------------------------------------------------------------------
// The write

export interface ReplaceOptions {
  /** The file as it was read (or 'absent' for a new file): anything else now means refuse. */
  expected: Fingerprint | 'absent';
  /** Bytes to keep in backup/ before replacing (normally the bytes that were read). */
  backup?: Buffer;
  /** Appended to the backup's name so rollback does not pick it up (e.g. `.replaced`). */
  backupSuffix?: string;
  /** Permission bits for the new file; default: the old file's, else 0644. */
  mode?: number;
  now?: Date;
  /**
   * Called once the new text is durable in its temp file, right before the rename: where a
   * caller records that the change is under way (the audit), so that a kill right after the
   * rename cannot leave a changed file with no record.
   */
  beforeRename?: (backup: string | undefined) => void;
}

export interface ReplaceResult {
  backup?: string;
}

/** Replaces `file` with `text` atomically; throws FileError with the file untouched on any failure. */
export function replaceFile(file: string, text: string, options: ReplaceOptions): ReplaceResult {
  const old = options.expected === 'absent' ? undefined : statOf(file);
  const mode = options.mode ?? old?.mode ?? 0o644;
  let backup: string | undefined;
  let madeDir: string | undefined;
  try {
    if (options.backup) {
      const now = options.now ?? new Date();
      const owner = old ? { uid: old.uid, gid: old.gid } : undefined;
      try {
        const kept = writeBackup(file, options.backup, mode, now, options.backupSuffix, owner);
        backup = kept.path;
        madeDir = kept.made;
      } catch (error) {
        if (error instanceof AtomicWriteError) throw error;
        throw new FileError(
          'write-failed',
          `cannot write the backup of ${file}: ${reasonOf(error)}; the file is unchanged`,
          (error as NodeJS.ErrnoException).code,
        );
      }
    }
    writeFileAtomic(file, text, {
      mode,
      beforeRename: () => {
        // Last look before the rename: someone may have saved the file since it was read.
        const now = fingerprintOf(file);
        const unchanged =
          options.expected === 'absent'
            ? now === undefined
            : sameFingerprint(now, options.expected);
        if (!unchanged) {
          throw new FileError(
            'changed',
            options.expected === 'absent'
              ? `${file} appeared while migrating; nothing was written`
              : `${file} changed after it was read (someone else wrote it); nothing was written. Run the command again`,
          );
        }
        options.beforeRename?.(backup);
      },
    });
    return backup ? { backup } : {};
  } catch (error) {
    // The backup goes with a write that did not happen; once the rename is done it stays.
    const replaced = error instanceof AtomicWriteError && !error.unchanged;
    if (backup && !replaced) {
      unlinkQuietly(backup);
      dropMadeDir(madeDir);
    }
    if (error instanceof FileError) throw error;
    if (error instanceof AtomicWriteError)
      throw new FileError(
        'write-failed',
        error.unchanged ? `${error.message}; the file is unchanged` : error.message,
        error.code,
      );
    throw error;
  }
}

export interface RollbackResult {
  restored: string;
  /** Where the replaced content was kept (not a restorable backup), if the file existed. */
  kept?: string;
  status: 'restored' | 'already-current';
}

/** Restores the newest backup of `file`; keeps the replaced content beside the backups. */
export function rollback(
  file: string,
  now = new Date(),
  beforeRename?: (restored: string) => void,
): RollbackResult {
  const restored = newestBackup(file);
  if (!restored)
    throw new FileError(
      'no-backup',
      `no backup of ${file} in ${backupDirOf(file)}; nothing was changed`,
    );
  const backup = readSnapshot(restored);
  let current: FileSnapshot | undefined;
  try {
    current = readSnapshot(file);
  } catch (error) {
    if (!(error instanceof FileError && error.errno === 'ENOENT')) throw error;
  }
  if (current && current.fingerprint.sha256 === backup.fingerprint.sha256)
    return { restored, status: 'already-current' };
  const result = replaceFile(file, backup.text, {
    expected: current ? current.fingerprint : 'absent',
    ...(current ? { backup: current.bytes, backupSuffix: '.replaced' } : {}),
    mode: current?.mode ?? backup.mode,
    now,
    ...(beforeRename ? { beforeRename: () => beforeRename(restored) } : {}),
  });
  return { restored, status: 'restored', ...(result.backup ? { kept: result.backup } : {}) };
}
