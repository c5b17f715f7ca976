// Health replies, one parser per protocol the fleet speaks (upstream-protocols b1-b3), into
// one reading. A reply in the wrong protocol is evidence too: it says what the agent speaks.
import { sanitise } from '../errors/sanitise.js';
import type { HealthProtocol } from './replies.js';
import { jsonObject, textOf } from '../text.js';

export type ReplyState = 'healthy' | 'degraded' | 'unhealthy';

export interface Reading {
  state: ReplyState;
  /** One short sanitised line for the screen. */
  reason: string;
  uptimeSec?: number;
  /** The protocol the reply came over (HTTP stays `http`, whatever answered it). */
  protocol: HealthProtocol;
  /** The name the reply carries (BaseAgent's message, WP-07's agent_name, ResourceManager's service). */
  name?: string;
  /** An HTTP reply in BaseAgent's own shape: the agent is a BaseAgent reached over its HTTP mirror. */
  baseAgentMirror?: boolean;
}

export type Parsed = { ok: true; reading: Reading } | { ok: false; reason: string };

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const clip = (s: string, n = 120) => sanitise(s.length > n ? `${s.slice(0, n)}…` : s);

/** `"<name> is <state>"`: BaseAgent's message names the agent (its self.name). */
const nameInMessage = (body: Dict): string | undefined => {
  const m = typeof body.message === 'string' ? /^(.+) is [a-z]+$/.exec(body.message) : null;
  return m?.[1];
};

/** ResourceManager's own health loop: `{status, service, initialization_status, port, health_port}`. */
const isRmLoopReply = (body: Dict): boolean =>
  typeof body.service === 'string' && 'initialization_status' in body && !('health_checks' in body);

/** BaseAgent `_get_health_status()` or ResourceManager's own `{status: ok|initializing}`. */
function fromBaseAgent(body: Dict): Parsed {
  const status = textOf(body.status);
  const checks = isDict(body.health_checks) ? body.health_checks : {};
  const failing = Object.entries(checks)
    .filter(([, v]) => v === false)
    .map(([k]) => k);
  const uptime = num(body.uptime) ?? num(body.uptime_seconds);
  const rmLoop = isRmLoopReply(body);
  const name = rmLoop ? String(body.service) : nameInMessage(body);
  const withUptime = (r: Omit<Reading, 'protocol' | 'uptimeSec'>): Parsed => ({
    ok: true,
    reading: {
      ...r,
      protocol: rmLoop ? 'json-rm' : 'base-agent',
      ...(uptime !== undefined ? { uptimeSec: uptime } : {}),
      ...(name !== undefined ? { name: clip(name, 80) } : {}),
    },
  });
  if (status === 'error' && typeof body.error === 'string') {
    // The main socket's error reply (unknown action / invalid JSON): alive, but not a health answer.
    return withUptime({ state: 'unhealthy', reason: clip(`error reply: ${body.error}`) });
  }
  const why = failing.length
    ? `failing: ${failing.join(', ')}`
    : typeof body.message === 'string'
      ? body.message
      : status;
  switch (status) {
    case 'ok':
      return withUptime({
        state: 'healthy',
        reason: clip(typeof body.message === 'string' ? body.message : 'ok'),
      });
    case 'degraded':
    case 'initializing':
      return withUptime({
        state: 'degraded',
        reason: clip(status === 'initializing' ? 'initializing' : why),
      });
    case 'error':
    case 'unhealthy':
      return withUptime({
        state: 'unhealthy',
        reason: clip(typeof body.error === 'string' ? body.error : why),
      });
    default:
      return { ok: false, reason: clip(`unknown status "${status}" in a BaseAgent-style reply`) };
  }
}

/** UnifiedHealthMixin (WP-07): `{agent_name, health_metrics{status, uptime_seconds...}, schema}`. */
function fromUnified(body: Dict): Parsed {
  const m = isDict(body.health_metrics) ? body.health_metrics : {};
  const status = textOf(m.status);
  if (status !== 'healthy' && status !== 'degraded' && status !== 'unhealthy') {
    return { ok: false, reason: clip(`WP-07 reply with unknown status "${status}"`) };
  }
  const errors = num(m.error_count);
  const reason =
    status === 'healthy'
      ? 'healthy'
      : [
          num(m.cpu_percent) !== undefined ? `cpu ${num(m.cpu_percent)}%` : '',
          num(m.memory_percent) !== undefined ? `mem ${num(m.memory_percent)}%` : '',
          errors ? `${errors} errors` : '',
          typeof m.last_error === 'string' ? m.last_error : '',
        ]
          .filter(Boolean)
          .join(', ') || status;
  const uptime = num(m.uptime_seconds);
  return {
    ok: true,
    reading: {
      state: status,
      reason: clip(reason),
      protocol: 'unified',
      ...(uptime !== undefined ? { uptimeSec: uptime } : {}),
      ...(typeof body.agent_name === 'string' ? { name: clip(body.agent_name, 80) } : {}),
    },
  };
}

/** A reply read from a ZMQ health socket (BaseAgent, UnifiedHealthMixin, ResourceManager). */
export function parseZmqHealth(text: string): Parsed {
  if (text === 'Unknown health request') {
    return {
      ok: true,
      reading: {
        state: 'unhealthy',
        reason: 'WP-07 agent did not understand the request',
        protocol: 'unified',
      },
    };
  }
  const body = jsonObject(text);
  if (!body) return { ok: false, reason: clip(`not JSON: ${text}`) };
  if (body.schema === 'WP-07-unified-health' || isDict(body.health_metrics))
    return fromUnified(body);
  if ('status' in body) return fromBaseAgent(body);
  return { ok: false, reason: clip(`no status in reply: ${text}`) };
}

/** GET /health: BaseAgent's HTTP mirror, FastAPI services, BaseHealthMixin, ModelOps' 503. */
export function parseHttpHealth(
  status: number,
  text: string,
  asked: HealthProtocol = 'http',
): Parsed {
  const body = jsonObject(text);
  if (status === 404) return { ok: false, reason: 'HTTP 404: no /health here' };
  if (!body)
    return status >= 200 && status < 300
      ? { ok: true, reading: { state: 'healthy', reason: `HTTP ${status}`, protocol: asked } }
      : {
          ok: true,
          reading: { state: 'unhealthy', reason: clip(`HTTP ${status}: ${text}`), protocol: asked },
        };
  // BaseAgent's HTTP mirror serves the full health JSON: the reply is read the same way, but the
  // protocol used stays `http` (the ZMQ health socket is what upstream's own client asks).
  if ('health_checks' in body || 'health_status' in body) {
    const parsed = fromBaseAgent(body);
    return parsed.ok
      ? { ok: true, reading: { ...parsed.reading, protocol: asked, baseAgentMirror: true } }
      : parsed;
  }
  const protocol = asked;
  const s = textOf(body.status);
  if (status >= 200 && status < 300 && (s === 'ok' || s === 'healthy'))
    return { ok: true, reading: { state: 'healthy', reason: 'ok', protocol } };
  if (s === 'degraded')
    return { ok: true, reading: { state: 'degraded', reason: 'degraded', protocol } };
  const detail = Object.entries(body)
    .filter(([k, v]) => k !== 'status' && v === false)
    .map(([k]) => k);
  const uptime = num(body.uptime_seconds);
  return {
    ok: true,
    reading: {
      state: 'unhealthy',
      reason: clip(
        `HTTP ${status}${s ? ` ${s}` : ''}${detail.length ? `: ${detail.join(', ')} false` : ''}`,
      ),
      protocol,
      ...(uptime !== undefined ? { uptimeSec: uptime } : {}),
    },
  };
}

/** What GET /metrics answered, judged by its body (upstream-protocols b3a), in words. */
export interface MetricsAnswer {
  instrumented: boolean;
  answer: string;
}

export function judgeMetrics(status: number, text: string): MetricsAnswer {
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  if (status === 200 && /^# (HELP|TYPE) /m.test(text))
    return { instrumented: true, answer: `200 with Prometheus text (${series} samples)` };
  // BaseAgent's do_GET raises after sending 200 and writes a second response into the body.
  const late = /^HTTP\/1\.[01] (\d{3})[^\r\n]*/.exec(text);
  if (status === 200 && late)
    return {
      instrumented: false,
      answer: `200 with an HTTP ${late[1]} error page as its body (not Prometheus text)`,
    };
  const first = clip(text.split('\n')[0] ?? '', 60);
  if (status === 200)
    return { instrumented: false, answer: `200 but not Prometheus text: ${first || '(empty)'}` };
  return { instrumented: false, answer: `HTTP ${status}${first ? `: ${first}` : ''}` };
}
