// One line of an agent's log as opsdeck carries it: upstream's JSON lines
// (common/utils/logger_util.py JsonFormatter: timestamp, level, agent, message, exc_info, extras)
// parsed into time / level / message / extra; log_setup.py's plain text
// (`%(asctime)s - %(name)s - %(levelname)s - %(message)s`) read for its level; anything else
// passed through as it is. Every field is sanitised and capped before it leaves the machine.
import { sanitise } from '../errors/sanitise.js';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Longest message carried; the rest is cut and said so. */
export const MAX_MESSAGE_CHARS = 2000;
/** Longest extra value, and at most this many extra keys. */
const MAX_EXTRA_CHARS = 400;
const MAX_EXTRA_KEYS = 12;

export interface LogLine {
  kind: 'line';
  /** As the agent wrote it (upstream: `2025-01-31T10:00:00Z`); absent for plain lines without one. */
  at?: string;
  level?: LogLevel;
  message: string;
  /** Every other field of a JSON line (agent, exc_info, request_id...), as text. */
  extra?: Record<string, string>;
  /** `json` or `plain`: how it was read. */
  format: 'json' | 'plain';
}

/** Lines a watcher did not get (its rate cap), in their place in the stream. */
export interface LogSkipped {
  kind: 'skipped';
  count: number;
  why: string;
}

/** Something about the stream itself: the file rotated, was truncated, the source changed. */
export interface LogNote {
  kind: 'note';
  text: string;
}

export type LogItem = LogLine | LogSkipped | LogNote;

const LEVEL_ALIASES: Record<string, LogLevel> = {
  DEBUG: 'DEBUG',
  INFO: 'INFO',
  WARNING: 'WARNING',
  WARN: 'WARNING',
  ERROR: 'ERROR',
  CRITICAL: 'CRITICAL',
  FATAL: 'CRITICAL',
};

export const levelOf = (text: unknown): LogLevel | undefined =>
  typeof text === 'string' ? LEVEL_ALIASES[text.trim().toUpperCase()] : undefined;

/** Cut to `max` characters, saying how much was cut. */
export function cap(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more chars)` : text;
}

const clean = (text: string, max: number) => cap(sanitise(text), max);

const TIME_KEYS = ['timestamp', 'time', 'asctime', '@timestamp', 'ts'];
const LEVEL_KEYS = ['level', 'levelname', 'severity'];
const MESSAGE_KEYS = ['message', 'msg'];

// log_setup.py's default format; asctime is `2025-01-31 10:00:00,123`.
const PLAIN =
  /^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?Z?)\s+-\s+(\S+)\s+-\s+(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\s+-\s?(.*)$/;
// Other plain lines that still say their level: `ERROR: ...`, `[WARNING] ...`, `... - ERROR - ...`.
const LOOSE = /(?:^|[\s[(|-])(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)(?:[\]):|\s-]|$)/;

function fromJson(value: Record<string, unknown>): LogLine | undefined {
  const msgKey = MESSAGE_KEYS.find((k) => typeof value[k] === 'string');
  if (!msgKey) return undefined;
  const timeKey = TIME_KEYS.find(
    (k) => typeof value[k] === 'string' || typeof value[k] === 'number',
  );
  const levelKey = LEVEL_KEYS.find((k) => levelOf(value[k]) !== undefined);
  const extra: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (k === msgKey || k === timeKey || k === levelKey) continue;
    if (n++ >= MAX_EXTRA_KEYS) {
      extra['…'] = `${Object.keys(value).length - MAX_EXTRA_KEYS - 3} more fields`;
      break;
    }
    let text: string;
    try {
      text = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
    } catch {
      text = String(v);
    }
    extra[clean(k, 64)] = clean(text, MAX_EXTRA_CHARS);
  }
  const level = levelKey ? levelOf(value[levelKey]) : undefined;
  return {
    kind: 'line',
    format: 'json',
    message: clean(value[msgKey] as string, MAX_MESSAGE_CHARS),
    ...(timeKey ? { at: clean(String(value[timeKey]), 40) } : {}),
    ...(level ? { level } : {}),
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

/** One raw line of a log file or `docker logs` as a LogLine. Never throws. */
export function parseLogLine(raw: string): LogLine {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') && trimmed.length <= 256 * 1024) {
    try {
      const value = JSON.parse(trimmed) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const line = fromJson(value as Record<string, unknown>);
        if (line) return line;
      }
    } catch {
      /* plain below */
    }
  }
  const m = PLAIN.exec(text);
  if (m)
    return {
      kind: 'line',
      format: 'plain',
      at: clean(m[1]!, 40),
      level: levelOf(m[3])!,
      message: clean(m[4]!, MAX_MESSAGE_CHARS),
      extra: { logger: clean(m[2]!, 120) },
    };
  const loose = LOOSE.exec(text.slice(0, 200));
  const level = loose ? levelOf(loose[1]) : undefined;
  return {
    kind: 'line',
    format: 'plain',
    message: clean(text, MAX_MESSAGE_CHARS),
    ...(level ? { level } : {}),
  };
}

/** A line's extra fields as `k=v k=v`, but the agent's name (the row already says whose). */
export const extraText = (extra: LogLine['extra']): string =>
  extra
    ? Object.entries(extra)
        .filter(([k]) => k !== 'agent')
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
    : '';

/** A line as one row of text (the CLI without --json, the view's filter): time level message extra. */
export function lineText(item: LogItem): string {
  if (item.kind === 'skipped') return `··· ${item.count} lines skipped (${item.why}) ···`;
  if (item.kind === 'note') return `--- ${item.text} ---`;
  return [item.at, item.level, item.message, extraText(item.extra)].filter(Boolean).join(' ');
}

/** Symbol and word per level: never colour alone. */
export const LEVEL_LOOK: Record<LogLevel, { symbol: string; word: string }> = {
  DEBUG: { symbol: '·', word: 'DEBUG' },
  INFO: { symbol: '●', word: 'INFO' },
  WARNING: { symbol: '▲', word: 'WARN' },
  ERROR: { symbol: '✖', word: 'ERROR' },
  CRITICAL: { symbol: '‼', word: 'CRIT' },
};
