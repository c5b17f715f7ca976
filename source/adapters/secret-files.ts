// Writing keys and secrets: folders 0700, private files 0600, public files 0644, each through the
// one atomic writer (atomic-write.ts: temp file with its exact mode, the replaced file's owner,
// fsync, rename, folder fsync). A crash leaves the old file or the new, never half.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';

export { fsyncDir };

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
export const DIR_MODE = 0o700;

/** Creates the folder chain with 0700 (and tightens an existing folder we created). */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) chmodSync(dir, DIR_MODE);
}

/** Atomically replaces `file` with `data` at exactly `mode`, in a private folder. */
export function writeAtomic(file: string, data: string | Uint8Array, mode: number): void {
  ensurePrivateDir(dirname(file));
  writeFileAtomic(file, data, { mode });
}

/**
 * Atomically replaces `file` with a public file in a folder that is not opsdeck's to tighten
 * (Prometheus' config folder, a provisioning folder): a missing folder is made with the umask's
 * mode and an existing one is left as it is. `deploy grafana --out /etc/prometheus` had made
 * that folder 0700, which Prometheus, running as its own user, could then no longer read.
 */
export function writeShared(file: string, data: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, data, { mode: PUBLIC_MODE });
}

export const writeSecret = (file: string, data: string | Uint8Array): void =>
  writeAtomic(file, data, SECRET_MODE);
export const writePublic = (file: string, data: string | Uint8Array): void =>
  writeAtomic(file, data, PUBLIC_MODE);
