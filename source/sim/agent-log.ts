// A simulated agent's log file as upstream's BaseAgent writes it: one JSON object per line
// (common/utils/logger_util.py JsonFormatter: timestamp, level, agent, message, extras) in
// <root>/logs/<name lower-case>.log, rotated like logging.handlers.RotatingFileHandler
// (before a record that would pass maxBytes: .4 -> .5, ..., file -> .1, a new file).
import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Upstream: 10 MB, 5 backups (base_agent.py::_setup_logging). */
export const UPSTREAM_MAX_BYTES = 10 * 1024 * 1024;
export const UPSTREAM_BACKUPS = 5;

export type PyLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

export const simLogPath = (root: string, agent: string): string =>
  join(root, 'logs', `${agent.toLowerCase()}.log`);

/** JsonFormatter's timestamp: whole seconds, UTC, `Z`. */
const stamp = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

export class SimLogWriter {
  private size: number;
  /** Records written, rotations done (tests and the sim's status). */
  written = 0;
  rotations = 0;
  /** Writes that failed (the folder removed under it): counted, never thrown into the sim. */
  failed = 0;

  constructor(
    readonly path: string,
    private readonly agent: string,
    private readonly maxBytes = UPSTREAM_MAX_BYTES,
    private readonly backups = UPSTREAM_BACKUPS,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.size = existsSync(path) ? statSync(path).size : 0;
  }

  /** One record as JsonFormatter renders it (json.dumps, ensure_ascii=False). */
  record(level: PyLevel, message: string, at: number, extra?: Record<string, unknown>): string {
    return `${JSON.stringify({ timestamp: stamp(at), level, agent: this.agent, message, ...extra })}\n`;
  }

  write(level: PyLevel, message: string, extra?: Record<string, unknown>, at = Date.now()): void {
    this.writeMany([this.record(level, message, at, extra)]);
  }

  /** Records in order, rotating between them as the handler would. */
  writeMany(records: readonly string[]): void {
    try {
      this.append(records);
    } catch {
      this.failed++;
    }
  }

  private append(records: readonly string[]): void {
    let buf = '';
    let bufBytes = 0;
    const flush = () => {
      if (!buf) return;
      appendFileSync(this.path, buf);
      this.size += bufBytes;
      buf = '';
      bufBytes = 0;
    };
    for (const r of records) {
      const n = Buffer.byteLength(r);
      if (
        this.maxBytes > 0 &&
        this.size + bufBytes + n >= this.maxBytes &&
        this.size + bufBytes > 0
      ) {
        flush();
        this.rotate();
      }
      buf += r;
      bufBytes += n;
      this.written++;
    }
    flush();
  }

  private rotate(): void {
    if (this.backups > 0) {
      rmSync(`${this.path}.${this.backups}`, { force: true });
      for (let i = this.backups - 1; i >= 1; i--)
        if (existsSync(`${this.path}.${i}`))
          renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      if (existsSync(this.path)) renameSync(this.path, `${this.path}.1`);
    } else rmSync(this.path, { force: true });
    this.size = 0;
    this.rotations++;
  }
}
