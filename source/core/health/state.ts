// Per-agent health as the console shows it, and the hysteresis that keeps it from flapping.
// Ambiguous evidence (a timeout, a garbled reply) must repeat before it changes the state, like
// Consul's failures_before_critical; definitive evidence (connection refused) applies at once,
// so a killed agent turns red within one interval plus the probe timeout.
import type { Reading } from './parse.js';
import type { HealthProtocol } from './replies.js';

export type AgentState = 'unknown' | 'healthy' | 'degraded' | 'unhealthy' | 'unreachable' | 'stale';

/** How a result was obtained and what else was seen, for the operator (`judged by ...`). */
interface Evidence {
  /** The request and where it went: `ZMQ {"action": "health_check"} to 127.0.0.2:8113`. */
  via?: string;
  /** Something seen beside the verdict: `HTTP /health on 8114 answers ok (BaseAgent's mirror)`. */
  note?: string;
}

export type ProbeOutcome = Evidence &
  (
    | { kind: 'reply'; reading: Reading; latencyMs: number; at: number; raw?: string }
    | {
        kind: 'bad-reply';
        reason: string;
        latencyMs: number;
        at: number;
        protocol?: HealthProtocol;
        raw?: string;
      }
    | { kind: 'timeout'; timeoutMs: number; at: number }
    | { kind: 'refused'; reason: string; at: number }
  );

/** Where an agent really answers when it is not where its config says (upstream-code.ts). */
export interface Moved {
  port: number;
  healthPort: number;
  /** How it was found: `its name answered on 5001 (scan of 5000-5099)`. */
  how: string;
}

export interface Sample {
  state: AgentState;
  latencyMs?: number;
}

export interface AgentHealth {
  state: AgentState;
  reason: string;
  /** When the state last changed (ms epoch); 0 before any probe. */
  since: number;
  /** Latency of the last answer. */
  latencyMs?: number;
  protocol?: HealthProtocol;
  /** Last time anything answered, and what (sanitised, clipped). */
  lastReplyAt?: number;
  lastReply?: string;
  lastProbeAt?: number;
  uptimeSec?: number;
  /** Does /metrics serve Prometheus text? undefined until checked. */
  instrumented?: boolean;
  /** What GET /metrics answered, in words (`200 with an HTTP 500 error page as its body`). */
  metricsAnswer?: string;
  /** Why it is unreachable: nothing listens (`refused`) or nothing answered (`timeout`). */
  cause?: 'refused' | 'timeout';
  /** How the last result was obtained. */
  via?: string;
  /** Evidence beside the verdict (an HTTP mirror that answers while ZMQ is silent). */
  note?: string;
  /** Found answering away from its configured ports. */
  moved?: Moved;
  /** The name the reply carried when it is another agent's: the probe reached the wrong process. */
  answeredAs?: string;
  /** A different state seen but not yet confirmed. */
  pending?: { state: AgentState; streak: number };
  /** Oldest first, for sparklines. */
  history: Sample[];
}

export interface Hysteresis {
  /** Consecutive results needed to move to a worse state. */
  downAfter: number;
  /** Consecutive results needed to move to a better state. */
  upAfter: number;
  historySize: number;
}

export const DEFAULT_HYSTERESIS: Hysteresis = { downAfter: 2, upAfter: 2, historySize: 30 };

export const initialHealth = (): AgentHealth => ({
  state: 'unknown',
  reason: 'not probed yet',
  since: 0,
  history: [],
});

const RANK: Record<AgentState, number> = {
  unknown: 0,
  stale: 0,
  healthy: 1,
  degraded: 2,
  unhealthy: 3,
  unreachable: 4,
};

function observed(o: ProbeOutcome): { state: AgentState; reason: string } {
  switch (o.kind) {
    case 'reply':
      return { state: o.reading.state, reason: o.reading.reason };
    case 'bad-reply':
      return { state: 'unhealthy', reason: `bad reply: ${o.reason}` };
    case 'timeout':
      return { state: 'unreachable', reason: `no reply within ${o.timeoutMs} ms` };
    case 'refused':
      return { state: 'unreachable', reason: o.reason };
  }
}

export function observe(
  h: AgentHealth,
  o: ProbeOutcome,
  policy: Hysteresis = DEFAULT_HYSTERESIS,
): AgentHealth {
  const seen = observed(o);
  const history = [
    ...h.history,
    { state: seen.state, ...('latencyMs' in o ? { latencyMs: o.latencyMs } : {}) },
  ].slice(-policy.historySize);
  const { note: _note, via: _via, cause: _cause, ...kept } = h;
  const next: AgentHealth = {
    ...kept,
    history,
    lastProbeAt: o.at,
    ...(o.via !== undefined ? { via: o.via } : {}),
    ...(o.note !== undefined ? { note: o.note } : {}),
    ...(o.kind === 'refused' || o.kind === 'timeout'
      ? { cause: o.kind === 'refused' ? ('refused' as const) : ('timeout' as const) }
      : {}),
  };
  // A latency is shown only while the agent answers: an old figure beside DOWN reads as alive.
  if (o.kind === 'refused' || o.kind === 'timeout') delete next.latencyMs;
  if (o.kind === 'reply' || o.kind === 'bad-reply') {
    next.latencyMs = o.latencyMs;
    next.lastReplyAt = o.at;
    if (o.raw !== undefined) next.lastReply = o.raw;
  }
  if (o.kind === 'reply') {
    next.protocol = o.reading.protocol;
    if (o.reading.uptimeSec !== undefined) next.uptimeSec = o.reading.uptimeSec;
  } else if (o.kind === 'bad-reply' && o.protocol) {
    next.protocol = o.protocol;
  }

  const adopt = (): AgentHealth => {
    const { pending: _pending, ...rest } = next;
    return {
      ...rest,
      state: seen.state,
      reason: seen.reason,
      since: seen.state === h.state ? h.since : o.at,
    };
  };
  if (
    seen.state === h.state ||
    h.state === 'unknown' ||
    h.state === 'stale' ||
    o.kind === 'refused'
  )
    return adopt();
  const need = RANK[seen.state] > RANK[h.state] ? policy.downAfter : policy.upAfter;
  const streak = h.pending?.state === seen.state ? h.pending.streak + 1 : 1;
  if (streak >= need) return adopt();
  return { ...next, pending: { state: seen.state, streak } };
}

/** No result for too long (prober stopped, remote data old): say so instead of showing old green. */
export function markStale(h: AgentHealth, now: number, staleAfterMs: number): AgentHealth {
  if (h.state === 'unknown' || h.state === 'stale' || h.lastProbeAt === undefined) return h;
  if (now - h.lastProbeAt <= staleAfterMs) return h;
  return {
    ...h,
    state: 'stale',
    reason: `no probe result for ${Math.round((now - h.lastProbeAt) / 1000)} s`,
    since: now,
  };
}
