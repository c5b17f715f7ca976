// The audit trail: one JSON line per operator action, appended and fsynced before the action
// reports success, so a crash right after cannot lose the record. Never holds secrets: callers
// pass arguments through `redactArgs` first.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { AuditEntry, AuditRead } from '../core/audit.js';
import type { AuditLog } from '../core/seams/files.js';

export type { AuditEntry, AuditRead } from '../core/audit.js';

/** Default: $OPSDECK_AUDIT, else ~/.local/state/opsdeck/audit.jsonl. */
export function auditPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return (
    env.OPSDECK_AUDIT ??
    join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'opsdeck', 'audit.jsonl')
  );
}

export function operator(env: Readonly<Record<string, string | undefined>> = process.env): string {
  let user = env.USER ?? env.LOGNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  const ssh = env.SSH_CONNECTION?.split(' ')[0];
  return ssh ? `${user}@${ssh}` : user;
}

const SECRET = /pass|secret|token|key|jwt|credential|private/i;

/** Drops values whose names say they are secret; the audit says a secret was given, not which. */
export function redactArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).map(([k, v]) => [k, SECRET.test(k) && v !== undefined ? '[redacted]' : v]),
  );
}

export function appendAudit(
  entry: Omit<AuditEntry, 'time' | 'operator'> & Partial<Pick<AuditEntry, 'time' | 'operator'>>,
  path = auditPath(),
): AuditEntry {
  const full: AuditEntry = {
    time: entry.time ?? new Date().toISOString(),
    operator: entry.operator ?? operator(),
    ...entry,
    args: redactArgs(entry.args),
  };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'a', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(full)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return full;
}

const OUTCOMES: readonly string[] = [
  'ok',
  'refused',
  'failed',
  'cancelled',
  'started',
  'interrupted',
];

/** A parsed line must look like an entry: every field of the right type. */
function checkEntry(value: unknown): AuditEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('not a JSON object');
  const v = value as Record<string, unknown>;
  const missing = (['time', 'operator', 'machine', 'action'] as const).filter(
    (k) => typeof v[k] !== 'string',
  );
  if (missing.length > 0) throw new Error(`missing or not text: ${missing.join(', ')}`);
  if (Number.isNaN(Date.parse(v.time as string)))
    throw new Error(`time "${String(v.time).slice(0, 40)}" is not a date`);
  if (!OUTCOMES.includes(v.outcome as string))
    throw new Error(`outcome ${JSON.stringify(v.outcome)} is not one of ${OUTCOMES.join(', ')}`);
  if (typeof v.args !== 'object' || v.args === null || Array.isArray(v.args))
    throw new Error('args is not an object');
  if (v.detail !== undefined && typeof v.detail !== 'string') throw new Error('detail is not text');
  return value as AuditEntry;
}

/** Reads the trail; a damaged line is reported with its number, the rest still read. */
export function readAudit(path = auditPath()): AuditRead {
  if (!existsSync(path)) return { entries: [], bad: [] };
  const entries: AuditEntry[] = [];
  const bad: AuditRead['bad'] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        entries.push(checkEntry(JSON.parse(line)));
      } catch (error) {
        bad.push({ line: i + 1, reason: (error as Error).message });
      }
    });
  return { entries, bad };
}

/** The trail at `path` as the stores see it (the AuditLog port). */
export function auditLog(path = auditPath()): AuditLog {
  return {
    stamp() {
      try {
        const st = statSync(path);
        return `${st.size}:${st.mtimeMs}`;
      } catch {
        return 'absent';
      }
    },
    read: () => readAudit(path),
    append(line) {
      appendAudit(line, path);
    },
  };
}
