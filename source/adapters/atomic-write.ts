// The one atomic writer: every file opsdeck writes whole (configs, keys and certificates, reports)
// goes through writeFileAtomic. The new bytes go to a temp file in the same folder, created
// O_EXCL, given their exact mode and the replaced file's owner and group, fsynced, renamed over
// the target, and the folder fsynced. A crash leaves the old file or the new, never half; a
// failure before the rename leaves the old file and no temp file.
// What the callers add: atomic-file.ts a lock, a backup and a last look at the file before the
// rename (configs); secret-files.ts private folders and 0600 keys; text-out.ts its messages.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/** A system error in words (`no space left on device`), else the error's own message. */
export const reasonOf = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (code && REASONS[code]) ?? (error instanceof Error ? error.message : String(error));
};

/** Where a write failed: before `sync-folder`, the target is unchanged. */
export type WriteStage = 'temp' | 'owner' | 'rename' | 'sync-folder';

/** A failed write, its message fit for the operator; `code` is the system error (ENOSPC...). */
export class AtomicWriteError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly stage: WriteStage,
    message: string,
    cause: unknown,
  ) {
    super(message, { cause });
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
  /** True unless the new file is in place (only its folder's sync failed). */
  get unchanged(): boolean {
    return this.stage !== 'sync-folder';
  }
}

export interface Owner {
  uid: number;
  gid: number;
}

export interface AtomicWriteOptions {
  /** Exact permission bits of the new file (umask does not narrow them); default: the replaced file's, else 0644. */
  mode?: number;
  /**
   * Runs once the new bytes are durable in the temp file, right before the rename: a last check
   * (throw to refuse; the error passes through unchanged and the temp file is removed) or a
   * record that the change is under way.
   */
  beforeRename?: () => void;
}

/** `.<name>.opsdeck-<pid>-<hex>.tmp`: the temp copy's name, which names the process writing it. */
export const tempPathOf = (file: string): string =>
  join(
    dirname(file),
    `.${basename(file)}.opsdeck-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );

/**
 * Replaces `file` with `data` atomically and durably. A symbolic link at `file` is replaced, not
 * followed (atomic-file.ts's realTarget follows it, for configs). Throws AtomicWriteError.
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  const dir = dirname(file);
  const old = statOf(file);
  const mode = options.mode ?? old?.mode ?? 0o644;
  // The new file keeps the old one's owner and group: replacing another user's file as root must
  // not leave it root's, locking its owner out.
  const owner = old ? { uid: old.uid, gid: old.gid } : undefined;
  const temp = tempPathOf(file);
  let created = false;
  try {
    const fd = openTemp(temp, mode, file);
    created = true;
    try {
      at('temp', file, () => {
        writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
        fchmodSync(fd, mode); // umask may have narrowed it at creation
      });
      keepOwner(fd, owner, file);
      at('temp', file, () => fsyncSync(fd));
    } finally {
      closeSync(fd);
    }
    options.beforeRename?.();
    at('rename', file, () => renameSync(temp, file));
    created = false;
  } finally {
    if (created) unlinkQuietly(temp);
  }
  at('sync-folder', file, () => fsyncDir(dir));
}

function openTemp(temp: string, mode: number, file: string): number {
  try {
    return openSync(temp, 'wx', mode);
  } catch (error) {
    throw new AtomicWriteError('temp', messageOf('temp', file, error), error);
  }
}

/** Runs one step, turning a system error into an AtomicWriteError of that stage. */
function at(stage: Exclude<WriteStage, 'owner'>, file: string, step: () => void): void {
  try {
    step();
  } catch (error) {
    throw new AtomicWriteError(stage, messageOf(stage, file, error), error);
  }
}

function messageOf(stage: Exclude<WriteStage, 'owner'>, file: string, error: unknown): string {
  const why = reasonOf(error);
  switch (stage) {
    case 'temp':
      return `cannot write a temporary copy of ${file}: ${why}`;
    case 'rename':
      return `cannot rename the new text over ${file}: ${why}`;
    case 'sync-folder':
      return `${file} was written but its folder could not be synced: ${why}`;
  }
}

export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Makes a rename or a new file in `dir` durable; filesystems that cannot sync a folder are let be. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Mode bits, owner and group of `file`, or undefined when it does not exist. */
export function statOf(file: string): ({ mode: number } & Owner) | undefined {
  try {
    const st = statSync(file);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

/** Gives a new file the owner and group of the one it replaces (only root can give it away). */
export function keepOwner(fd: number, owner: Owner | undefined, of: string): void {
  if (!owner) return;
  const now = fstatSync(fd);
  if (now.uid === owner.uid && now.gid === owner.gid) return;
  try {
    fchownSync(fd, owner.uid, owner.gid);
  } catch (error) {
    throw new AtomicWriteError(
      'owner',
      `cannot give the new ${of} the owner ${owner.uid}:${owner.gid} of the old one: ${reasonOf(error)}`,
      error,
    );
  }
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
