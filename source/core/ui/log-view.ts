// What the log view shows (pure): the items under its anchor (all of them while following), the
// filter applied (`level:warn` keeps WARNING and worse; other words must all appear), and the
// window of rows that fits from the bottom, scrolled up by `scroll` rows.
import { extraText, LOG_LEVELS, lineText, type LogItem, type LogLevel } from '../logs/line.js';
import { levelOf } from '../logs/line.js';
import { columns } from './width.js';

export interface LogFilter {
  minLevel?: LogLevel;
  words: string[];
}

export function parseLogFilter(text: string): LogFilter {
  const words: string[] = [];
  let minLevel: LogLevel | undefined;
  for (const w of text.toLowerCase().split(/\s+/).filter(Boolean)) {
    const m = /^(?:level|lvl|sev):(\w+)$/.exec(w);
    const level = m ? levelOf(m[1]) : undefined;
    if (level) minLevel = level;
    else words.push(w);
  }
  return { ...(minLevel ? { minLevel } : {}), words };
}

const rank = (l: LogLevel) => LOG_LEVELS.indexOf(l);

export function matchesLog(item: LogItem, f: LogFilter): boolean {
  // What the stream says about itself (skipped lines, rotation) is always shown.
  if (item.kind !== 'line') return true;
  if (f.minLevel && (!item.level || rank(item.level) < rank(f.minLevel))) return false;
  if (f.words.length === 0) return true;
  const text = lineText(item).toLowerCase();
  return f.words.every((w) => text.includes(w));
}

/** The rows the view may show: under the anchor (paused), filtered. */
export function logRows(
  s: { items: readonly LogItem[]; first: number; total: number },
  anchor: number | undefined,
  filter: string,
): LogItem[] {
  const end = anchor === undefined ? s.items.length : Math.max(0, anchor - s.first);
  const under = s.items.slice(0, end);
  const f = parseLogFilter(filter);
  return f.minLevel || f.words.length ? under.filter((i) => matchesLog(i, f)) : under;
}

/** The `HH:MM:SS` of a line's time, when it has one. */
export function clock(at: string | undefined): string {
  const m = at ? /(\d\d:\d\d:\d\d)/.exec(at) : null;
  return m ? m[1]! : '        ';
}

/** A row's text after its time and level (message, then extra fields but the agent's name). */
export function rowBody(item: LogItem): { message: string; extra: string } {
  if (item.kind !== 'line') return { message: lineText(item), extra: '' };
  return { message: item.message, extra: extraText(item.extra) };
}

/** Terminal lines a row takes: 1 cut, or its wrapped height. Time + level take 17 columns. */
export function rowHeight(item: LogItem, wrap: boolean, width: number): number {
  if (!wrap) return 1;
  const { message, extra } = rowBody(item);
  const cols = 17 + columns(message) + (extra ? 1 + columns(extra) : 0);
  return Math.max(1, Math.ceil(cols / Math.max(20, width)));
}

/** The rows that fill `height` lines from the bottom, `scroll` rows up. */
export function logWindow(
  rows: readonly LogItem[],
  scroll: number,
  height: number,
  wrap: boolean,
  width: number,
): LogItem[] {
  const end = Math.max(0, rows.length - scroll);
  const out: LogItem[] = [];
  let used = 0;
  for (let i = end - 1; i >= 0; i--) {
    const h = rowHeight(rows[i]!, wrap, width);
    if (used + h > height && out.length > 0) break;
    out.unshift(rows[i]!);
    used += h;
  }
  return out;
}
