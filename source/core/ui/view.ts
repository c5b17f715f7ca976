// View models: store snapshots -> the rows the panes draw. Pure, so the key reducer and the
// panes agree on what is on screen, and tests can check rows without rendering.
import type { Agent, Machine } from '../fleet/model.js';
import type { ErrorRow } from '../errors/pipeline.js';
import type { PortFinding } from '../ports/rules.js';
import type { AgentHealth, AgentState } from '../health/state.js';
import { PROTOCOL_LABEL, type HealthProtocol } from '../health/replies.js';
import { columns, cutToColumns } from './width.js';
import { agentKey } from '../fleet/agent-key.js';

/** `base`, `wp07`, `json-rm`, `http`, `pub`: the protocol a result came over, as shown. */
export const protocolLabel = (p: HealthProtocol | undefined): string =>
  p ? PROTOCOL_LABEL[p] : '-';

export interface AgentRow {
  key: string;
  agent: Agent;
  health: AgentHealth | undefined;
  state: AgentState;
}

const shownPort = (r: AgentRow) => r.health?.moved?.port ?? r.agent.port.value;

export { agentKey };

const matches = (text: string, ...fields: string[]) => {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  return words.every((w) => fields.some((f) => f.toLowerCase().includes(w)));
};

// Worst first: what needs the operator sorts to the top.
const WORST: Record<AgentState, number> = {
  unreachable: 0,
  unhealthy: 1,
  degraded: 2,
  stale: 3,
  unknown: 4,
  healthy: 5,
};

export function agentRows(
  machine: Machine,
  health: ReadonlyMap<string, AgentHealth>,
  filter: string,
  sort: 'config' | 'state' | 'name' | 'port' | 'proto' | 'latency' = 'config',
): AgentRow[] {
  const rows = machine.agents
    .map((agent) => {
      const key = agentKey(machine.id, agent.name);
      const h = health.get(key);
      return { key, agent, health: h, state: h?.state ?? 'unknown' };
    })
    .filter((r) =>
      matches(
        filter,
        r.agent.name,
        r.agent.group,
        r.state,
        protocolLabel(r.health?.protocol),
        r.health?.moved ? 'moved' : '',
      ),
    );
  // Array.sort is stable: rows equal by the key keep config order.
  const by: Partial<Record<typeof sort, (a: AgentRow, b: AgentRow) => number>> = {
    name: (a, b) => a.agent.name.localeCompare(b.agent.name),
    state: (a, b) => WORST[a.state] - WORST[b.state],
    // The port it answers on (where it moved to, when it did), as the PORT column shows.
    port: (a, b) => shownPort(a) - shownPort(b),
    proto: (a, b) =>
      protocolLabel(a.health?.protocol).localeCompare(protocolLabel(b.health?.protocol)),
    // Slowest first; an agent not answering has no latency and sorts after every answer.
    latency: (a, b) => (b.health?.latencyMs ?? -1) - (a.health?.latencyMs ?? -1),
  };
  const cmp = by[sort];
  if (cmp) rows.sort(cmp);
  return rows;
}

/** A numeric series as a sparkline over [0, max]. */
export function levels(values: readonly number[], max: number, width: number): string {
  const tail = values.slice(-width);
  return tail
    .map((v) => SPARK[Math.max(0, Math.min(7, Math.round((v / (max || 1)) * 7)))]!)
    .join('');
}

/** Error filter: `machine:pc2 sev:error bus:nats agent:NLU` plus free text, all must match. */
export interface ErrorQuery {
  machine?: string;
  agent?: string;
  severity?: string;
  bus?: string;
  text: string[];
}

export function parseErrorQuery(text: string): ErrorQuery {
  const q: ErrorQuery = { text: [] };
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(machine|m|agent|a|sev|severity|s|bus|b):(.+)$/i.exec(word);
    if (!m) {
      q.text.push(word.toLowerCase());
      continue;
    }
    const value = m[2]!.toLowerCase();
    const field = m[1]!.toLowerCase();
    if (field.startsWith('m')) q.machine = value;
    else if (field.startsWith('a')) q.agent = value;
    else if (field.startsWith('s')) q.severity = value;
    else q.bus = value;
  }
  return q;
}

export function errorMatches(row: ErrorRow, q: ErrorQuery): boolean {
  const e = row.event;
  if (q.machine && !e.machine.toLowerCase().startsWith(q.machine)) return false;
  if (q.agent && !e.agent.toLowerCase().includes(q.agent)) return false;
  if (q.severity && !e.severity.startsWith(q.severity)) return false;
  // `both` rows match any bus; bridged (zmq->nats) rows match zmq, nats and bridge too.
  const bridged =
    row.bus === 'zmq->nats' && ['zmq', 'nats', 'bridge', 'bridged'].includes(q.bus ?? '');
  if (q.bus && row.bus !== q.bus && !(q.bus !== 'both' && row.bus === 'both') && !bridged)
    return false;
  const hay =
    `${e.machine} ${e.agent} ${e.severity} ${e.category} ${e.message} ${row.bus}`.toLowerCase();
  return q.text.every((w) => hay.includes(w));
}

export function errorRows(rows: readonly ErrorRow[], filter: string): readonly ErrorRow[] {
  if (!filter.trim()) return rows;
  const q = parseErrorQuery(filter);
  return rows.filter((r) => errorMatches(r, q));
}

/** Port findings matching every word (port, rule, machine, severity, owner, message). */
export function findingRows(
  findings: readonly PortFinding[],
  filter: string,
): readonly PortFinding[] {
  if (!filter.trim()) return findings;
  return findings.filter((f) =>
    matches(
      filter,
      String(f.port),
      f.rule,
      f.severity,
      f.machines.join(' '),
      f.message,
      ...f.owners.map((o) => `${o.machine}/${o.agent} ${o.key}`),
    ),
  );
}

const SPARK = '▁▂▃▄▅▆▇█';
const LEVEL: Record<AgentState, number> = {
  healthy: 0,
  degraded: 3,
  unhealthy: 5,
  unreachable: 7,
  unknown: 0,
  stale: 0,
};

/** Health history as a sparkline: height says how bad, a gap (space) says no data. */
export function sparkline(history: readonly { state: AgentState }[], width: number): string {
  const tail = history.slice(-width);
  const out = tail
    .map((s) => (s.state === 'unknown' || s.state === 'stale' ? ' ' : SPARK[LEVEL[s.state]]!))
    .join('');
  return out.padStart(width, ' ');
}

// What of an agent's health the agent tables draw only through the dead band, the sparkline or
// an age (latency, the history, when it last answered), or do not draw at all (the raw reply,
// uptime, when the state last changed: the agent detail and status --json, which hear every
// change; with --health-from agents `since` moves by the message's delay every round). Any
// other field that differs is shown.
const QUIET_FIELDS: ReadonlySet<string> = new Set([
  'latencyMs',
  'history',
  'lastReplyAt',
  'lastProbeAt',
  'lastReply',
  'uptimeSec',
  'since',
]);

/** The widest health sparkline a table draws (machine-pane.tsx: HISTORY). */
export const SPARKLINE_MAX = 40;

/** Equal, or objects (`moved`, `pending`) with the same values: the feed parses new ones each round. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (x[k] !== y[k]) return false;
  for (const k in y) if (!(k in x)) return false;
  return true;
}

/** The fields a table draws at once: every field but the quiet ones. */
function sameLoudFields(a: AgentHealth, b: AgentHealth): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  for (const f in x) if (!QUIET_FIELDS.has(f) && !sameValue(x[f], y[f])) return false;
  for (const f in y) if (!QUIET_FIELDS.has(f) && !(f in x)) return false;
  return true;
}

// An object's LAT cell (text and warning tone) and widest sparkline, worked out once per object:
// a probe round makes one per agent, and each is compared on every frame until the next.
const quietLooks = new WeakMap<AgentHealth, { latency: string; spark: string }>();
function quietLook(h: AgentHealth): { latency: string; spark: string } {
  let look = quietLooks.get(h);
  if (!look) {
    const ms = shownLatency(h);
    const warn = ms !== undefined && ms >= LATENCY_WARN_MS ? '!' : '';
    look = { latency: latencyText(ms) + warn, spark: sparkline(h.history, SPARKLINE_MAX) };
    quietLooks.set(h, look);
  }
  return look;
}

/**
 * How an agent table would draw `next` against `shown`: `none` when only a latency moved within
 * its dead band, a reply came in (its age is redrawn with time), or the history took a sample
 * that leaves the sparkline as it was; `later` when all that moved is a shown latency or a
 * sparkline (worth a frame, not at once: the screen may wait for the next one); `now` for
 * anything else (a state, a note, a port). Fields it does not know are taken as drawn now, so
 * a new one is never hidden.
 */
export function healthChange(
  shown: ReadonlyMap<string, AgentHealth>,
  next: ReadonlyMap<string, AgentHealth>,
): 'none' | 'later' | 'now' {
  if (shown === next) return 'none';
  if (shown.size !== next.size) return 'now';
  let change: 'none' | 'later' = 'none';
  for (const [key, b] of next) {
    const a = shown.get(key);
    if (a === b) continue;
    if (!a || !sameLoudFields(a, b)) return 'now';
    if (change === 'later') continue;
    const [la, lb] = [quietLook(a), quietLook(b)];
    if (la.latency !== lb.latency || la.spark !== lb.spark) change = 'later';
  }
  return change;
}

/** Would an agent table draw `next` differently from `shown` (now or later)? */
export const healthDrawnDifferently = (
  shown: ReadonlyMap<string, AgentHealth>,
  next: ReadonlyMap<string, AgentHealth>,
): boolean => healthChange(shown, next) !== 'none';

/** A bar like `█████░░░░░` for used/total. */
export function bar(used: number, total: number, width: number): string {
  // Clamped, not trusted: a negative count throws in repeat() and takes the whole frame down.
  const share = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  const filled = Number.isFinite(share) ? Math.round(share * width) : 0;
  return '█'.repeat(filled) + '░'.repeat(Math.max(0, width - filled));
}

/**
 * An age in coarse steps (0s, 5s, 10s ... 50s, 1m ... 59m, 1h ...), each shown from when it is
 * reached: an age on screen changes a few times a minute, not at every redraw. A healthy agent
 * probed every 2 s stays at 0s.
 */
export function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return '-';
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 10) return `${s - (s % 5)}s`;
  if (s < 60) return `${s - (s % 10)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/**
 * What a screen shows that moves with the clock alone, as one string: the clock (HH:MM) and
 * the age of every timestamp given. Two times with the same key draw the same screen, so the
 * heartbeat that keeps ages moving need not draw (hooks/use-now.ts).
 */
export function timeKey(now: number, stamps: Iterable<number | undefined>): string {
  let key = new Date(now).toISOString().slice(11, 16);
  for (const at of stamps) key += ` ${ago(at, now)}`;
  return key;
}

/** At and above this a latency is shown in the warning colour. */
export const LATENCY_WARN_MS = 500;

/**
 * The precision a latency is shown with: 5 ms below 10 ms, 10 ms below 100 ms, 50 ms below 1 s,
 * then 0.5 s. Coarse on purpose: a reply's latency jitters by several ms from round to round,
 * and a console is read for fast, slow or very slow.
 */
export const latencyStep = (ms: number): number =>
  ms < 10 ? 5 : ms < 100 ? 10 : ms < 1000 ? 50 : 500;

/**
 * The latency to show, with a dead band: the typical latency of the last replies (the median of
 * the last three; of two, the lower), except that the value shown moves only when that differs
 * from it by more than its displayed precision, or lands on the other side of the warning
 * threshold. One slow reply among fast ones (a GC pause, a busy machine) moves nothing; two in a
 * row do. Folded over the health history (oldest first), so it needs no state of its own.
 */
export function shownLatency(
  h: { history: readonly { latencyMs?: number }[]; latencyMs?: number } | undefined,
): number | undefined {
  // Not answering now: no latency, whatever the last reply took (a DOWN row must not look fast).
  if (!h || h.latencyMs === undefined) return undefined;
  let shown: number | undefined;
  let a: number | undefined; // the reply before the one before
  let b: number | undefined; // the reply before
  for (const { latencyMs: c } of h.history) {
    if (c === undefined) continue;
    const ms =
      b === undefined
        ? c
        : a === undefined
          ? Math.min(b, c)
          : Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    a = b;
    b = c;
    if (
      shown === undefined ||
      Math.abs(ms - shown) > latencyStep(shown) ||
      ms >= LATENCY_WARN_MS !== shown >= LATENCY_WARN_MS
    )
      shown = ms;
  }
  return shown ?? h.latencyMs;
}

/** A latency at its displayed precision: `<5ms`, `5ms`, `20ms`, `350ms`, `1.5s`, `12s`. */
export function latencyText(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 5) return '<5ms';
  const step = latencyStep(ms);
  const v = Math.round(ms / step) * step;
  if (v < 1000) return `${v}ms`;
  return v < 10_000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Fits text to a width in terminal columns (a wide character takes two): pads, or cuts with an ellipsis. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  if (width === 1 && columns(text) > 1) return '…';
  // Cut before a wide character that would straddle the edge: a column of padding is left.
  const shown = columns(text) > width ? `${cutToColumns(text, width - 1)}…` : text;
  const pad = ' '.repeat(width - columns(shown));
  return align === 'left' ? shown + pad : pad + shown;
}
