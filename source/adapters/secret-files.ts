// Writing keys and secrets: folders 0700, private files 0600, public files 0644, each written
// to a temp file in the same folder (created with its final mode, O_EXCL), fsynced, renamed
// over the target, and the folder fsynced. A crash leaves the old file or the new, never half.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  constants,
} from 'node:fs';
import { dirname, join, basename } from 'node:path';

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
export const DIR_MODE = 0o700;

/** Creates the folder chain with 0700 (and tightens an existing folder we created). */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) chmodSync(dir, DIR_MODE);
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // some file systems refuse to fsync a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Atomically replaces `file` with `data` at `mode`. */
export function writeAtomic(file: string, data: string | Uint8Array, mode: number): void {
  const dir = dirname(file);
  ensurePrivateDir(dir);
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw error;
  }
  closeSync(fd);
  try {
    // umask may have narrowed the mode at creation; never widened it.
    chmodSync(temp, mode);
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw error;
  }
  fsyncDir(dir);
}

export const writeSecret = (file: string, data: string | Uint8Array): void =>
  writeAtomic(file, data, SECRET_MODE);
export const writePublic = (file: string, data: string | Uint8Array): void =>
  writeAtomic(file, data, PUBLIC_MODE);
