// BaseAgent's /metrics: the text prometheus_client's generate_latest() writes for the per-agent
// registry of common/utils/prometheus_exporter.py::PrometheusExporter (same names, help texts,
// label order, `_created` families and Go-style floats), and its /metrics/summary JSON.
import { floatRepr, pyFloat, type PyValue } from '../py/json.js';
import { isoformat } from '../py/time.js';

/** prometheus_client's floatToGoString. */
export function goFloat(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  const s = floatRepr(value);
  const dot = s.indexOf('.');
  if (value > 0 && dot > 6 && !s.includes('e')) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (pairs: [string, string][]): string =>
  pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;

export const HEALTH_ENUM_STATES = [
  'healthy',
  'unhealthy',
  'unknown',
  'starting',
  'stopping',
] as const;
export type HealthEnumState = (typeof HEALTH_ENUM_STATES)[number];

/** prometheus_client's default histogram buckets. */
export const DEFAULT_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

export interface RequestSeries {
  method: string;
  endpoint: string;
  status: string;
  count: number;
  /** Sum of durations, seconds. */
  seconds: number;
  /** Cumulative counts per DEFAULT_BUCKETS bound (same length). */
  buckets: number[];
  /** Epoch seconds the series was first seen (the `_created` samples). */
  created: number;
}

export interface MetricsState {
  agent: string;
  port: number;
  hostname: string;
  /** Epoch ms. */
  startedAt: number;
  now: number;
  health: HealthEnumState;
  requests: RequestSeries[];
  errors: { errorType: string; severity: string; count: number; created: number }[];
  cpuPercent: number;
  rssBytes: number;
  vmsBytes: number;
  diskRead: number;
  diskWrite: number;
  openFds: number;
}

/** Records one request into the series list (what PrometheusExporter.record_request does). */
export function recordRequest(
  series: RequestSeries[],
  method: string,
  endpoint: string,
  status: string,
  seconds: number,
  nowMs: number,
): void {
  let s = series.find((x) => x.method === method && x.endpoint === endpoint && x.status === status);
  if (!s) {
    s = {
      method,
      endpoint,
      status,
      count: 0,
      seconds: 0,
      buckets: DEFAULT_BUCKETS.map(() => 0),
      created: nowMs / 1000,
    };
    series.push(s);
  }
  s.count += 1;
  s.seconds += seconds;
  DEFAULT_BUCKETS.forEach((bound, i) => {
    if (seconds <= bound) s.buckets[i]! += 1;
  });
}

// Long: the exposition text in prometheus_client's own order, family after family; a table read top
// to bottom.
export function metricsText(m: MetricsState): string {
  const out: string[] = [];
  const family = (name: string, help: string, type: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const agent: [string, string] = ['agent', m.agent];

  // Counter + its _created gauge family, as generate_latest splits them.
  const reqHelp = 'Total requests handled by the agent';
  family('agent_requests_total', reqHelp, 'counter');
  for (const r of m.requests)
    out.push(
      `agent_requests_total${labels([agent, ['method', r.method], ['endpoint', r.endpoint], ['status', r.status]])} ${goFloat(r.count)}`,
    );
  if (m.requests.length) {
    family('agent_requests_created', reqHelp, 'gauge');
    for (const r of m.requests)
      out.push(
        `agent_requests_created${labels([agent, ['method', r.method], ['endpoint', r.endpoint], ['status', r.status]])} ${goFloat(r.created)}`,
      );
  }

  // The histogram's label set has no status; series that differ only by status merge.
  const durHelp = 'Request processing duration in seconds';
  family('agent_request_duration_seconds', durHelp, 'histogram');
  const merged = new Map<
    string,
    {
      method: string;
      endpoint: string;
      count: number;
      seconds: number;
      buckets: number[];
      created: number;
    }
  >();
  for (const r of m.requests) {
    const key = `${r.method}\u0000${r.endpoint}`;
    const h = merged.get(key) ?? {
      method: r.method,
      endpoint: r.endpoint,
      count: 0,
      seconds: 0,
      buckets: DEFAULT_BUCKETS.map(() => 0),
      created: r.created,
    };
    h.count += r.count;
    h.seconds += r.seconds;
    h.buckets = h.buckets.map((b, i) => b + r.buckets[i]!);
    h.created = Math.min(h.created, r.created);
    merged.set(key, h);
  }
  for (const h of merged.values()) {
    const base: [string, string][] = [agent, ['method', h.method], ['endpoint', h.endpoint]];
    DEFAULT_BUCKETS.forEach((bound, i) =>
      out.push(
        `agent_request_duration_seconds_bucket${labels([...base, ['le', goFloat(bound)]])} ${goFloat(h.buckets[i]!)}`,
      ),
    );
    out.push(
      `agent_request_duration_seconds_bucket${labels([...base, ['le', '+Inf']])} ${goFloat(h.count)}`,
    );
    out.push(`agent_request_duration_seconds_count${labels(base)} ${goFloat(h.count)}`);
    out.push(`agent_request_duration_seconds_sum${labels(base)} ${goFloat(h.seconds)}`);
  }
  if (merged.size) {
    family('agent_request_duration_seconds_created', durHelp, 'gauge');
    for (const h of merged.values())
      out.push(
        `agent_request_duration_seconds_created${labels([agent, ['method', h.method], ['endpoint', h.endpoint]])} ${goFloat(h.created)}`,
      );
  }

  family('agent_health_status', 'Current health status of the agent', 'gauge');
  for (const state of HEALTH_ENUM_STATES)
    out.push(
      `agent_health_status${labels([agent, ['agent_health_status', state]])} ${goFloat(state === m.health ? 1 : 0)}`,
    );

  family('agent_uptime_seconds', 'Agent uptime in seconds', 'gauge');
  out.push(
    `agent_uptime_seconds${labels([agent])} ${goFloat(Math.max(0, (m.now - m.startedAt) / 1000))}`,
  );

  const errHelp = 'Total errors encountered by the agent';
  family('agent_errors_total', errHelp, 'counter');
  for (const e of m.errors)
    out.push(
      `agent_errors_total${labels([agent, ['error_type', e.errorType], ['severity', e.severity]])} ${goFloat(e.count)}`,
    );
  if (m.errors.length) {
    family('agent_errors_created', errHelp, 'gauge');
    for (const e of m.errors)
      out.push(
        `agent_errors_created${labels([agent, ['error_type', e.errorType], ['severity', e.severity]])} ${goFloat(e.created)}`,
      );
  }

  // Labelled families nobody has set yet print only their HELP and TYPE lines.
  family('agent_active_connections', 'Number of active connections', 'gauge');
  family('agent_queue_size', 'Current queue size', 'gauge');

  family('agent_info_info', 'Information about the agent', 'gauge');
  out.push(
    `agent_info_info${labels([
      ['agent_name', m.agent],
      ['agent_port', String(m.port)],
      ['hostname', m.hostname],
      ['start_time', isoformat(m.startedAt)],
      ['prometheus_available', 'True'],
    ])} 1.0`,
  );

  family('agent_cpu_usage_percent', 'CPU usage percentage for the agent process', 'gauge');
  out.push(`agent_cpu_usage_percent${labels([agent])} ${goFloat(m.cpuPercent)}`);
  family('agent_memory_usage_bytes', 'Memory usage in bytes', 'gauge');
  out.push(`agent_memory_usage_bytes${labels([agent, ['type', 'rss']])} ${goFloat(m.rssBytes)}`);
  out.push(`agent_memory_usage_bytes${labels([agent, ['type', 'vms']])} ${goFloat(m.vmsBytes)}`);
  const created = m.startedAt / 1000;
  family('agent_disk_io_bytes_total', 'Total disk I/O in bytes', 'counter');
  out.push(
    `agent_disk_io_bytes_total${labels([agent, ['direction', 'read']])} ${goFloat(m.diskRead)}`,
  );
  out.push(
    `agent_disk_io_bytes_total${labels([agent, ['direction', 'write']])} ${goFloat(m.diskWrite)}`,
  );
  family('agent_disk_io_bytes_created', 'Total disk I/O in bytes', 'gauge');
  out.push(
    `agent_disk_io_bytes_created${labels([agent, ['direction', 'read']])} ${goFloat(created)}`,
  );
  out.push(
    `agent_disk_io_bytes_created${labels([agent, ['direction', 'write']])} ${goFloat(created)}`,
  );
  family('agent_network_bytes_total', 'Total network traffic in bytes', 'counter');
  family('agent_open_file_descriptors', 'Number of open file descriptors', 'gauge');
  out.push(`agent_open_file_descriptors${labels([agent])} ${goFloat(m.openFds)}`);
  return `${out.join('\n')}\n`;
}

/** PrometheusExporter.get_metrics_summary(). */
export function metricsSummary(m: MetricsState): Record<string, PyValue> {
  return {
    agent_name: m.agent,
    agent_port: m.port,
    uptime_seconds: pyFloat(Math.max(0, (m.now - m.startedAt) / 1000)),
    prometheus_available: true,
    metrics_enabled: true,
    system_metrics_enabled: true,
    timestamp: isoformat(m.now),
    cpu_percent: pyFloat(m.cpuPercent),
    memory_rss_mb: pyFloat(m.rssBytes / 1024 / 1024),
    memory_vms_mb: pyFloat(m.vmsBytes / 1024 / 1024),
  };
}
