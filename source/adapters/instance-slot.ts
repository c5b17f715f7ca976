// A numbered slot per running instance, held by a pid file: two consoles of one user on one
// host (two SSH sessions) must not share a JetStream durable consumer, or each sees half the
// errors with nothing dropped and no gap. The lowest free slot is taken, so a console that
// restarts (or one that replaces a killed one) gets slot 0 back and resumes where it stopped.
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** True while `pid` runs (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An empty or unreadable pid file older than this is taken as left by a crash between its
 * creation and its write (a claim in progress writes its pid within microseconds).
 */
export const EMPTY_CLAIM_STALE_MS = 10_000;

export type Holder = { pid: number } | { empty: true; ageMs: number };

/** Who holds a pid file: its pid, or how long it has been empty. */
export function readHolder(path: string, now = Date.now()): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(/^\s*(\d+)/.exec(text)?.[1]);
  if (Number.isInteger(pid) && pid > 0) return { pid };
  try {
    return { empty: true, ageMs: now - statSync(path).mtimeMs };
  } catch {
    return undefined;
  }
}

/** Whether a holder is gone: its process ended, or its file stayed empty too long. */
export const holderGone = (h: Holder): boolean =>
  'pid' in h ? !processAlive(h.pid) : h.ageMs > EMPTY_CLAIM_STALE_MS;

/** Where this user's slots live: the runtime dir (cleared at boot), else a private temp folder. */
export function slotDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'opsdeck');
  let uid: number | string;
  try {
    uid = userInfo().uid;
  } catch {
    uid = process.getuid?.() ?? 'user';
  }
  return join(tmpdir(), `opsdeck-${uid}`);
}

export interface Slot {
  n: number;
  release(): void;
}

/** Takes the lowest free slot of `name` in `dir` (slots 0..max-1); throws when all are held. */
export function claimSlot(dir: string, name: string, max = 64): Slot {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let n = 0; n < max; n++) {
    const path = join(dir, `${name}.${n}.pid`);
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = readHolder(path);
        if (holder && !holderGone(holder)) break; // held: the next slot
        try {
          unlinkSync(path); // its holder is gone: free
        } catch {
          /* another claimant removed it first */
        }
        continue;
      }
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return {
        n,
        release() {
          if (released) return;
          released = true;
          const h = readHolder(path);
          if (h && 'pid' in h && h.pid === process.pid) {
            try {
              unlinkSync(path);
            } catch {
              /* already gone */
            }
          }
        },
      };
    }
  }
  throw new Error(`all ${max} slots of ${name} in ${dir} are held by running processes`);
}
