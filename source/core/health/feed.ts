// The health feed: what `opsdeck agent --health` publishes on opsdeck.<machine>.health after
// probing its own machine's agents, so a console can take the results instead of probing across
// the network (`--health-from agents`). The payload is the prober's own per-agent record
// (core/health/state.ts), so both modes show the same states, protocols, MOVED, cause, via/note.
//
// Bounded: every string is clipped (the sender and the reader use the same limits), the history
// is capped, and a machine's agents go out in parts of at most AGENTS_PER_PART, so one message
// stays far below NATS' 1 MB payload limit however large the fleet. Schema-versioned; the reader
// checks every field, sanitises every string (it reaches the terminal) and refuses the rest.
import { sanitise } from '../errors/sanitise.js';
import { HEALTH_PROTOCOLS, type HealthProtocol } from './replies.js';
import type { AgentHealth, AgentState, Sample } from './state.js';

export const HEALTH_SCHEMA = 'opsdeck.health/1';
export const healthSubject = (machine: string): string => `opsdeck.${machine}.health`;
/** Every machine's feed, for a console. */
export const HEALTH_SUBJECTS = 'opsdeck.*.health';

export const AGENTS_PER_PART = 32;
/** Longest text kept per field: longer than anything the prober writes (its raw replies: 401). */
export const TEXT_LIMIT = 1000;
export const HISTORY_LIMIT = 60;
/** A message larger than this is refused unread. */
export const MESSAGE_LIMIT = 512 * 1024;

export interface HealthFeedPart {
  schema: typeof HEALTH_SCHEMA;
  machine: string;
  /** The sender's clock (ms) when it was sent: the reader moves every time by its own offset. */
  at: number;
  /** How often the sender probes (ms): the reader calls the feed stale after a few of these. */
  intervalMs: number;
  /** One number per round of parts; `part` of `parts`. */
  seq: number;
  part: number;
  parts: number;
  agents: Record<string, AgentHealth>;
}

const STATES: readonly AgentState[] = [
  'unknown',
  'healthy',
  'degraded',
  'unhealthy',
  'unreachable',
  'stale',
];
const MACHINE = /^[A-Za-z0-9_-]{1,64}$/;

const clip = (s: string): string => (s.length > TEXT_LIMIT ? s.slice(0, TEXT_LIMIT) : s);

/** The parts one round sends: the agents in name order, AGENTS_PER_PART at a time. */
export function healthParts(
  machine: string,
  agents: ReadonlyMap<string, AgentHealth>,
  at: number,
  intervalMs: number,
  seq: number,
): HealthFeedPart[] {
  const names = [...agents.keys()].sort();
  const parts = Math.max(1, Math.ceil(names.length / AGENTS_PER_PART));
  return Array.from({ length: parts }, (_, part) => ({
    schema: HEALTH_SCHEMA,
    machine,
    at,
    intervalMs,
    seq,
    part,
    parts,
    agents: Object.fromEntries(
      names
        .slice(part * AGENTS_PER_PART, (part + 1) * AGENTS_PER_PART)
        .map((name) => [name, bounded(agents.get(name)!)]),
    ),
  }));
}

/** The record as sent: strings clipped, history capped. */
function bounded(h: AgentHealth): AgentHealth {
  const out: AgentHealth = {
    ...h,
    reason: clip(h.reason),
    history: h.history.slice(-HISTORY_LIMIT),
  };
  for (const k of ['lastReply', 'metricsAnswer', 'via', 'note', 'answeredAs'] as const)
    if (out[k] !== undefined) out[k] = clip(out[k]);
  if (out.moved) out.moved = { ...out.moved, how: clip(out.moved.how) };
  return out;
}

export type ReadPart = { ok: true; part: HealthFeedPart } | { ok: false; reason: string };

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? clip(sanitise(v)) : undefined;
const port = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65535;

/** One message from the wire, checked field by field; anything not understood is refused. */
export function readHealthPart(data: Uint8Array): ReadPart {
  if (data.byteLength > MESSAGE_LIMIT)
    return { ok: false, reason: `${data.byteLength} bytes (limit ${MESSAGE_LIMIT})` };
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!isDict(v)) return { ok: false, reason: 'not a JSON object' };
  if (v.schema !== HEALTH_SCHEMA)
    return {
      ok: false,
      reason: `schema ${sanitise(String(v.schema)).slice(0, 40)}, expected ${HEALTH_SCHEMA}`,
    };
  if (typeof v.machine !== 'string' || !MACHINE.test(v.machine))
    return { ok: false, reason: 'machine must be a short name' };
  for (const k of ['at', 'intervalMs', 'seq', 'part', 'parts'] as const)
    if (!finite(v[k]) || v[k] < 0) return { ok: false, reason: `${k} must be a number` };
  const parts = v.parts as number;
  const part = v.part as number;
  if (
    !Number.isInteger(parts) ||
    parts < 1 ||
    parts > 1000 ||
    !Number.isInteger(part) ||
    part >= parts
  )
    return { ok: false, reason: 'part must be an index below parts (1-1000)' };
  if (!isDict(v.agents)) return { ok: false, reason: 'agents must be an object' };
  const names = Object.keys(v.agents);
  if (names.length > AGENTS_PER_PART * 4)
    return {
      ok: false,
      reason: `${names.length} agents in one part (limit ${AGENTS_PER_PART * 4})`,
    };
  const agents: Record<string, AgentHealth> = {};
  for (const name of names) {
    const clean = sanitise(name).slice(0, 80);
    const h = readAgent(v.agents[name]);
    if (typeof h === 'string') return { ok: false, reason: `${clean}: ${h}` };
    agents[clean] = h;
  }
  return {
    ok: true,
    part: {
      schema: HEALTH_SCHEMA,
      machine: v.machine,
      at: v.at as number,
      intervalMs: v.intervalMs as number,
      seq: v.seq as number,
      part,
      parts,
      agents,
    },
  };
}

const isState = (v: unknown): v is AgentState => STATES.includes(v as AgentState);
const isProtocol = (v: unknown): v is HealthProtocol =>
  HEALTH_PROTOCOLS.includes(v as HealthProtocol);

/** One agent's record, or what is wrong with it. */
function readAgent(v: unknown): AgentHealth | string {
  if (!isDict(v)) return 'not an object';
  if (!isState(v.state)) return 'state is not one of the prober states';
  const reason = text(v.reason);
  if (reason === undefined) return 'reason must be text';
  if (!finite(v.since)) return 'since must be a number';
  if (!Array.isArray(v.history)) return 'history must be a list';
  const history: Sample[] = [];
  for (const s of v.history.slice(-HISTORY_LIMIT)) {
    if (!isDict(s) || !isState(s.state)) return 'history holds something that is not a sample';
    history.push({ state: s.state, ...(finite(s.latencyMs) ? { latencyMs: s.latencyMs } : {}) });
  }
  const h: AgentHealth = { state: v.state, reason, since: v.since, history };
  for (const k of ['latencyMs', 'lastReplyAt', 'lastProbeAt', 'uptimeSec'] as const) {
    if (v[k] === undefined) continue;
    if (!finite(v[k])) return `${k} must be a number`;
    h[k] = v[k];
  }
  for (const k of ['lastReply', 'metricsAnswer', 'via', 'note', 'answeredAs'] as const) {
    if (v[k] === undefined) continue;
    const t = text(v[k]);
    if (t === undefined) return `${k} must be text`;
    h[k] = t;
  }
  if (v.protocol !== undefined) {
    if (!isProtocol(v.protocol)) return 'protocol is not one opsdeck knows';
    h.protocol = v.protocol;
  }
  if (v.instrumented !== undefined) {
    if (typeof v.instrumented !== 'boolean') return 'instrumented must be true or false';
    h.instrumented = v.instrumented;
  }
  if (v.cause !== undefined) {
    if (v.cause !== 'refused' && v.cause !== 'timeout') return 'cause must be refused or timeout';
    h.cause = v.cause;
  }
  if (v.moved !== undefined) {
    const m = v.moved;
    if (!isDict(m) || !port(m.port) || !port(m.healthPort) || typeof m.how !== 'string')
      return 'moved must be {port, healthPort, how}';
    h.moved = { port: m.port, healthPort: m.healthPort, how: clip(sanitise(m.how)) };
  }
  if (v.pending !== undefined) {
    const p = v.pending;
    if (!isDict(p) || !isState(p.state) || !finite(p.streak))
      return 'pending must be {state, streak}';
    h.pending = { state: p.state, streak: p.streak };
  }
  return h;
}

/** The record with every time moved by `delta` ms: the sender's clock onto the reader's. */
export function shiftTimes(h: AgentHealth, delta: number): AgentHealth {
  if (delta === 0) return h;
  const out: AgentHealth = { ...h, since: h.since === 0 ? 0 : h.since + delta };
  for (const k of ['lastReplyAt', 'lastProbeAt'] as const)
    if (out[k] !== undefined) out[k] = out[k] + delta;
  return out;
}
