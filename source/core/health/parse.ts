// Health replies, one parser per protocol the fleet speaks (upstream-protocols b1-b3), into
// one reading. A reply in the wrong protocol is evidence too: it says what the agent speaks.
import { sanitise } from '../errors/sanitise.js';
import type { HealthProtocol } from './replies.js';

export type ReplyState = 'healthy' | 'degraded' | 'unhealthy';

export interface Reading {
  state: ReplyState;
  /** One short sanitised line for the screen. */
  reason: string;
  uptimeSec?: number;
  /** The protocol the reply proves the agent speaks (may differ from the one asked). */
  protocol: HealthProtocol;
}

export type Parsed = { ok: true; reading: Reading } | { ok: false; reason: string };

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const clip = (s: string, n = 120) => sanitise(s.length > n ? `${s.slice(0, n)}…` : s);

function json(text: string): Dict | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isDict(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** BaseAgent `_get_health_status()` or ResourceManager's own `{status: ok|initializing}`. */
function fromBaseAgent(body: Dict): Parsed {
  const status = String(body.status ?? '');
  const checks = isDict(body.health_checks) ? body.health_checks : {};
  const failing = Object.entries(checks)
    .filter(([, v]) => v === false)
    .map(([k]) => k);
  const uptime = num(body.uptime) ?? num(body.uptime_seconds);
  const withUptime = (r: Omit<Reading, 'protocol' | 'uptimeSec'>): Parsed => ({
    ok: true,
    reading: {
      ...r,
      protocol: 'base-agent',
      ...(uptime !== undefined ? { uptimeSec: uptime } : {}),
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
  const status = String(m.status ?? '');
  if (status !== 'healthy' && status !== 'degraded' && status !== 'unhealthy') {
    return { ok: false, reason: clip(`WP-07 reply with unknown status "${status}"`) };
  }
  const errors = num(m.error_count);
  const reason =
    status === 'healthy'
      ? 'healthy'
      : [
          num(m.cpu_percent) !== undefined ? `cpu ${m.cpu_percent}%` : '',
          num(m.memory_percent) !== undefined ? `mem ${m.memory_percent}%` : '',
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
  const body = json(text);
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
  const body = json(text);
  if (status === 404) return { ok: false, reason: 'HTTP 404: no /health here' };
  if (!body)
    return status >= 200 && status < 300
      ? { ok: true, reading: { state: 'healthy', reason: `HTTP ${status}`, protocol: asked } }
      : {
          ok: true,
          reading: { state: 'unhealthy', reason: clip(`HTTP ${status}: ${text}`), protocol: asked },
        };
  // BaseAgent's HTTP endpoint serves the full health JSON: its fields say which protocol it is.
  const protocol: HealthProtocol =
    'health_checks' in body || 'health_status' in body ? 'base-agent' : asked;
  if (protocol === 'base-agent') {
    const parsed = fromBaseAgent(body);
    return parsed.ok ? { ok: true, reading: { ...parsed.reading, protocol } } : parsed;
  }
  const s = String(body.status ?? '');
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
