// What each health protocol the fleet speaks answers, byte for byte (upstream-protocols b1-b3).
// Pure: the caller supplies the agent's state and the clock; the simulator sends the bytes, and
// the console's tests compare their parsers against the same builders.
import { pyDumps, pyFloat, type PyValue } from '../py/json.js';
import { isoformat } from '../py/time.js';

/** The protocol an agent answers health probes with (P1.2 measures adoption of each). */
export type HealthProtocol =
  | 'base-agent' // common/core/base_agent.py: ZMQ REP health socket, any payload; HTTP on health+1
  | 'unified' // common/health/unified_health.py UnifiedHealthMixin (WP-07), plain-string requests
  | 'json-rm' // pc2_code/agents/resource_manager.py's own health loop: JSON objects only
  | 'http' // FastAPI / BaseHealthMixin services: GET /health -> {"status":"ok"}
  | 'pub'; // no health port (CentralErrorBus): alive when its PUB greets or its frames arrive

export const HEALTH_PROTOCOLS: readonly HealthProtocol[] = [
  'base-agent',
  'unified',
  'json-rm',
  'http',
  'pub',
];

/** How each protocol is named on screen, in `--json` and in the README's protocol table. */
export const PROTOCOL_LABEL: Record<HealthProtocol, string> = {
  'base-agent': 'base',
  unified: 'wp07',
  'json-rm': 'json-rm',
  http: 'http',
  pub: 'pub',
};

/**
 * The health request upstream's own client sends (scripts/docker_health_check.py::
 * check_zmq_service). Every agent opsdeck knows parses it: BaseAgent answers any payload,
 * ResourceManager's loop wants exactly this, and the WP-07 mixin answers "Unknown health request"
 * without harm. The bare string `health_check` is only for agents known to speak WP-07: it wedges
 * ResourceManager.
 */
export const JSON_HEALTH_REQUEST = '{"action": "health_check"}';
export const WP07_HEALTH_REQUEST = 'health_check';

/** What a health reply depends on. Times are ms since the epoch. */
export interface HealthState {
  name: string;
  port: number;
  healthPort: number;
  startedAt: number;
  now: number;
  /**
   * Upstream's real cause of `degraded`: the Redis ready key (`agent:ready:<name>`, setex 300 s,
   * never refreshed) is gone, so the ready_signal check fails while port and Redis pass.
   */
  degraded: boolean;
  activeThreads: number;
  /** `redis_host` as StandardizedHealthChecker reports it (`localhost:6379` by default). */
  redisHost?: string;
  /** Fields a subclass adds with `status.update(...)` (ResourceManager: service, additional_info). */
  extra?: Record<string, PyValue>;
}

const uptime = (s: HealthState): number => Math.max(0, (s.now - s.startedAt) / 1000);

/** BaseAgent._get_health_status(): the dict every BaseAgent health endpoint returns. */
export function baseAgentHealth(s: HealthState): Record<string, PyValue> {
  const ready = !s.degraded;
  const state = ready ? 'healthy' : 'degraded';
  const readySignal: Record<string, PyValue> = ready
    ? {
        status: 'ready',
        timestamp: isoformat(s.startedAt),
        port: s.port,
        details: {
          initialized_at: isoformat(s.startedAt),
          uptime: pyFloat(0.000_731),
          port: s.port,
          health_check_port: s.healthPort,
        },
      }
    : {};
  const status: Record<string, PyValue> = {
    status: ready ? 'ok' : 'degraded',
    ready,
    initialized: true,
    message: `${s.name} is ${state}`,
    timestamp: isoformat(s.now),
    uptime: pyFloat(uptime(s)),
    active_threads: s.activeThreads,
    health_checks: { port_accessible: true, redis_connected: true, ready_signal: ready },
    health_details: {
      port: s.port,
      redis_host: s.redisHost ?? 'localhost:6379',
      ready_signal: readySignal,
    },
    health_status: state,
  };
  return { ...status, ...s.extra };
}

export const baseAgentHealthBytes = (s: HealthState): string => pyDumps(baseAgentHealth(s));

/** Python's str() of a JSON value, as `f"Unknown action: {action}"` prints it. */
export function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  return pyRepr(value);
}

function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pyDumps(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const body = value
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t');
    return `${quote}${quote === "'" ? body.replace(/'/g, "\\'") : body}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
    .join(', ')}}`;
}

const pyTypeName = (value: unknown): string =>
  value === null
    ? 'NoneType'
    : Array.isArray(value)
      ? 'list'
      : typeof value === 'string'
        ? 'str'
        : typeof value === 'boolean'
          ? 'bool'
          : typeof value === 'number'
            ? Number.isInteger(value)
              ? 'int'
              : 'float'
            : 'dict';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(payload: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(payload);
  } catch {
    return undefined;
  }
}

/** Parses a request as Python's `json.loads(message.decode())` would, or says which step failed. */
export function parsePyRequest(
  payload: Uint8Array,
): { ok: true; value: unknown } | { ok: false; failed: 'utf8' | 'json' } {
  const text = decodeUtf8(payload);
  if (text === undefined) return { ok: false, failed: 'utf8' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, failed: 'json' };
  }
}

export const HEALTH_ACTIONS: readonly string[] = ['ping', 'health', 'health_check'];

/**
 * BaseAgent.run() + handle_request(): the reply on the main socket. `handle` lets a subclass
 * (ResourceManager) answer its own actions first; it returns undefined for the rest.
 */
export function baseAgentMainReply(
  payload: Uint8Array,
  s: HealthState,
  handle?: (request: Record<string, unknown>) => Record<string, PyValue> | undefined,
): Record<string, PyValue> {
  const parsed = parsePyRequest(payload);
  if (!parsed.ok)
    return {
      status: 'error',
      error: parsed.failed === 'utf8' ? 'Invalid UTF-8 request' : 'Invalid JSON request',
    };
  const request = parsed.value;
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    // request.get(...) on a non-dict raises AttributeError; run() replies with str(e).
    return { status: 'error', error: `'${pyTypeName(request)}' object has no attribute 'get'` };
  }
  const dict = request as Record<string, unknown>;
  const own = handle?.(dict);
  if (own) return own;
  const action = dict.action;
  if (typeof action === 'string' && HEALTH_ACTIONS.includes(action)) return baseAgentHealth(s);
  return { status: 'error', error: `Unknown action: ${pyStr(action)}` };
}

/** BaseAgent._health_check_loop: any payload, JSON or not, gets the health status. */
export const baseAgentHealthReply = (
  _payload: Uint8Array,
  s: HealthState,
): Record<string, PyValue> => baseAgentHealth(s);

// ---------------------------------------------------------------------------------------------
// UnifiedHealthMixin (WP-07)

export interface UnifiedState {
  name: string;
  startedAt: number;
  now: number;
  cpuPercent: number;
  memoryPercent: number;
  activeThreads: number;
  zmqConnections: number;
  errorCount: number;
  lastError: string | null;
  /** For detailed_health. */
  platform?: string;
  pythonVersion?: string;
  disk?: { totalGb: number; usedGb: number };
  networkConnections?: number;
}

/** `_determine_health_status`: CPU or memory over 90 unhealthy, over 70 or >10 errors degraded. */
export function unifiedStatus(
  s: Pick<UnifiedState, 'cpuPercent' | 'memoryPercent' | 'errorCount'>,
): 'healthy' | 'degraded' | 'unhealthy' {
  if (s.cpuPercent > 90 || s.memoryPercent > 90) return 'unhealthy';
  if (s.cpuPercent > 70 || s.memoryPercent > 70) return 'degraded';
  if (s.errorCount > 10) return 'degraded';
  return 'healthy';
}

export function unifiedHealth(s: UnifiedState): Record<string, PyValue> {
  return {
    agent_name: s.name,
    health_metrics: {
      timestamp: isoformat(s.now),
      status: unifiedStatus(s),
      uptime_seconds: pyFloat(Math.max(0, (s.now - s.startedAt) / 1000)),
      cpu_percent: pyFloat(s.cpuPercent),
      memory_percent: pyFloat(s.memoryPercent),
      zmq_connections: s.zmqConnections,
      active_threads: s.activeThreads,
      error_count: s.errorCount,
      last_error: s.lastError,
      dependencies_status: {},
      custom_metrics: {},
    },
    version: '1.0',
    schema: 'WP-07-unified-health',
  };
}

export type UnifiedReply =
  | { kind: 'json'; body: Record<string, PyValue> }
  | { kind: 'string'; body: string }
  // recv_string() raised on non-UTF-8: the loop counts an error and never replies, so the REP
  // socket stays in its send state and answers nothing again until the agent restarts.
  | { kind: 'wedge' };

/** `_health_monitor_loop`: plain strings `health_check` / `detailed_health`, else a raw string. */
export function unifiedReply(payload: Uint8Array, s: UnifiedState): UnifiedReply {
  const text = decodeUtf8(payload);
  if (text === undefined) return { kind: 'wedge' };
  if (text === 'health_check') return { kind: 'json', body: unifiedHealth(s) };
  if (text === 'detailed_health') {
    const disk = s.disk ?? { totalGb: 931.5, usedGb: 402.25 };
    const gb = 1024 ** 3;
    const total = Math.round(disk.totalGb * gb);
    const used = Math.round(disk.usedGb * gb);
    return {
      kind: 'json',
      body: {
        ...unifiedHealth(s),
        system_info: {
          python_version: s.pythonVersion ?? '3.10.12 (main, Jul 29 2024, 16:56:48) [GCC 11.4.0]',
          platform: s.platform ?? 'Linux-5.15.0-119-generic-x86_64-with-glibc2.35',
          disk_usage: {
            total_gb: pyFloat(total / gb),
            used_gb: pyFloat(used / gb),
            free_gb: pyFloat((total - used) / gb),
            percent: pyFloat((used / total) * 100),
          },
          network_connections: s.networkConnections ?? 0,
        },
      },
    };
  }
  return { kind: 'string', body: 'Unknown health request' };
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

// BaseHTTPRequestHandler.send_error's page (Python 3.10+ DEFAULT_ERROR_MESSAGE).
const pythonErrorPage = (code: number, message: string, explain: string): string =>
  `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: ${code}</p>
        <p>Message: ${message}.</p>
        <p>Error code explanation: ${code} - ${explain}.</p>
    </body>
</html>
`;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * How BaseAgent's `/metrics` behaves. `upstream`: the exporter exists (the default), and
 * do_GET writes `generate_latest()`'s bytes with `.encode()`, which raises after the 200 and
 * its headers went out; the handler's `send_error(500)` then writes a whole second response
 * into the body. `off`: ENABLE_PROMETHEUS_METRICS=false, no exporter, a 503. `fixed`: the text
 * the exporter would serve once that one line is fixed (for tests of a really instrumented fleet).
 */
export type MetricsMode = 'upstream' | 'off' | 'fixed';
export const METRICS_MODES: readonly MetricsMode[] = ['upstream', 'off', 'fixed'];

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** email.utils.formatdate(usegmt=True), as BaseHTTPRequestHandler.date_time_string writes it. */
export function httpDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`;
}

/** The response send_error(500) writes after a response already went out (HTTP/1.0). */
export function lateErrorResponse(now: number, python = '3.10.12'): string {
  const page = pythonErrorPage(500, 'Internal Server Error', 'Server got itself in trouble');
  return [
    'HTTP/1.0 500 Internal Server Error',
    `Server: BaseHTTP/0.6 Python/${python}`,
    `Date: ${httpDate(now)}`,
    'Connection: close',
    'Content-Type: text/html;charset=utf-8',
    `Content-Length: ${new TextEncoder().encode(page).length}`,
    '',
    page,
  ].join('\r\n');
}

/**
 * BaseAgent's HTTP server on health+1: `/health` (always 200), `/metrics` (see MetricsMode),
 * `/metrics/summary` (JSON), anything else 404.
 */
export function baseAgentHttp(
  method: string,
  path: string,
  s: HealthState,
  metrics: { mode: MetricsMode; text: () => string; summary: () => Record<string, PyValue> },
): HttpReply {
  if (method !== 'GET') {
    return {
      status: 501,
      contentType: 'text/html;charset=utf-8',
      body: pythonErrorPage(
        501,
        `Unsupported method ('${method}')`,
        'Server does not support this operation',
      ),
    };
  }
  const route = path.split('?')[0];
  if (route === '/health')
    return { status: 200, contentType: 'application/json', body: baseAgentHealthBytes(s) };
  if (route === '/metrics') {
    if (metrics.mode === 'off')
      return {
        status: 503,
        contentType: 'text/plain',
        body: 'Prometheus metrics not enabled or available',
      };
    if (metrics.mode === 'upstream')
      return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: lateErrorResponse(s.now) };
    return { status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: metrics.text() };
  }
  if (route === '/metrics/summary')
    return { status: 200, contentType: 'application/json', body: pyDumps(metrics.summary()) };
  return {
    status: 404,
    contentType: 'text/html;charset=utf-8',
    body: pythonErrorPage(404, 'Not Found', 'Nothing matches the given URI'),
  };
}

/** FastAPI services and BaseHealthMixin: `/health`, `/healthz`, `/ready` -> `{"status":"ok"}`. */
export function plainHttp(method: string, path: string, degraded: boolean): HttpReply {
  const route = path.split('?')[0];
  const json = 'application/json';
  if (route === '/health' || route === '/healthz' || route === '/ready') {
    if (method !== 'GET' && method !== 'HEAD')
      return { status: 405, contentType: json, body: '{"detail":"Method Not Allowed"}' };
    // model_ops_coordinator's REST answers an unhealthy kernel with 503 and status "unhealthy".
    return degraded
      ? { status: 503, contentType: json, body: '{"status":"unhealthy"}' }
      : { status: 200, contentType: json, body: '{"status":"ok"}' };
  }
  return { status: 404, contentType: json, body: '{"detail":"Not Found"}' };
}

// ---------------------------------------------------------------------------------------------
// ResourceManager's own health loop (pc2_code/agents/resource_manager.py::_start_health_check)

export interface RmHealthState {
  initialized: boolean;
  port: number;
  healthPort: number;
  now: number;
}

export type RmHealthReply = { kind: 'json'; body: Record<string, PyValue> } | { kind: 'wedge' };

/**
 * `recv_json()` then `request.get('action')`: anything but a JSON object raises before the reply
 * is sent, the loop sleeps and calls recv_json() again on a REP socket that must send first, and
 * every later request goes unanswered ("Operation cannot be accomplished in current state").
 */
export function rmHealthReply(payload: Uint8Array, s: RmHealthState): RmHealthReply {
  const parsed = parsePyRequest(payload);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null)
    return { kind: 'wedge' };
  if (Array.isArray(parsed.value)) return { kind: 'wedge' };
  const action = (parsed.value as Record<string, unknown>).action;
  if (action !== 'health_check') {
    return {
      kind: 'json',
      body: {
        status: 'unknown_action',
        message: `Unknown action: ${action === undefined ? 'none' : pyStr(action)}`,
      },
    };
  }
  return {
    kind: 'json',
    body: {
      status: s.initialized ? 'ok' : 'initializing',
      service: 'ResourceManager',
      initialization_status: s.initialized ? 'complete' : 'in_progress',
      port: s.port,
      health_port: s.healthPort,
      timestamp: isoformat(s.now),
    },
  };
}
