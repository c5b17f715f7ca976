// The smaller ports: what the console's file-backed stores, the lint run, the log view and the
// security scorecard need from outside. Each is implemented by one adapter (named on it) and
// injected where the store is built (console.tsx, source/wiring/).
import type { AuditLine, AuditRead } from '../audit.js';
import type { LoadResult } from '../fleet/model.js';
import type { Env } from '../fleet/port-expr.js';
import type { LogItem } from '../logs/line.js';
import type { ProbeResult } from '../security/probe.js';
import type { Cancel } from './clock.js';

/** The audit trail (adapters/audit.ts, auditLog). */
export interface AuditLog {
  /** Changes whenever the file does (its size and time; `absent`). */
  stamp(): string;
  read(): AuditRead;
  /** Appends one line, fsynced; throws when the log cannot be written. */
  append(line: AuditLine): void;
}

/** The fleet's config files as they are now (adapters/fleet-files.ts, configFiles). */
export interface ConfigFiles {
  /** Changes whenever the file does (inode, size, time), or names why it cannot be looked at. */
  stamp(file: string): string;
  /** The text; throws (with a `code`) when it cannot be read. */
  read(file: string): string;
  load(file: string, options: { env: Env; machine?: string }): LoadResult;
}

/** `opsdeck lint --json` run on a checkout behind the console (adapters/lint-run.ts). */
export type LintRunner = (
  root: string,
  files: readonly string[],
  on: { error(message: string): void; exit(code: number | null, out: string): void },
) => Cancel;

export interface LogWatchHandlers {
  /** The daemon accepted: where it reads from. */
  opened?(info: { source: string; rate: number; ttlMs: number }): void;
  items(items: LogItem[]): void;
  /** The stream ended (not following, the source ended, refused, the daemon gone). */
  end(reason: string, failed: boolean): void;
}

export interface LogWatch {
  stop(): void;
}

/** Opens one agent's log stream from its machine's daemon (adapters/log-client.ts, watchLogs). */
export type LogWatcher = (
  target: { machine: string; agent: string; lines: number; follow: boolean },
  on: LogWatchHandlers,
) => LogWatch;

/** The days left of each cert and token in a secrets folder (adapters/certs.ts). */
export type CertsCheck = (dir: string) => ReadonlyArray<{ daysLeft: number | null }>;

/**
 * Asks each machine whether it refuses an unauthenticated control request
 * (adapters/security-probe.ts); undefined when it cannot ask now (the connection is gone).
 */
export type EnforcementProbe = (
  machines: readonly string[],
  timeoutMs: number,
) => Promise<ProbeResult[]> | undefined;
