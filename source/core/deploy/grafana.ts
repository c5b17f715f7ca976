// What `opsdeck deploy grafana` writes: a Prometheus config that scrapes every machine's
// `opsdeck agent --metrics`, and a Grafana dashboard over what they export (core/metrics/fleet.ts):
// fleet overview, resources per machine, error rates, and a per-agent drill-down.
//
// The dashboard follows Grafana's JSON model (schemaVersion 39): panels with unique ids and a
// 24-column gridPos, rows holding their panels, every query on the dashboard's `datasource`
// variable (a Prometheus data source picked at import, so the same file works imported by hand
// or provisioned), and `machine` / `agent` variables read from the exporters' own labels.
import type { CertMachine } from '../security/artefacts.js';

/** The port `opsdeck agent --metrics` listens on when a plan sets it. */
export const METRICS_PORT = 9470;
export const DASHBOARD_UID = 'opsdeck-fleet';
export const SCRAPE_JOB = 'opsdeck';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Where a machine's agent serves /metrics: its address, or every interface when it has a name. */
export const metricsListen = (m: CertMachine, port: number): string =>
  `${IPV4.test(m.host) ? m.host : m.host === 'localhost' ? '127.0.0.1' : '0.0.0.0'}:${port}`;

/** Where Prometheus scrapes it: its address or name (the manifest's), else the machine id. */
export const metricsTarget = (m: CertMachine, port: number): string =>
  `${m.host && m.host !== 'localhost' ? m.host : m.id}:${port}`;

export function scrapeConfig(
  machines: readonly CertMachine[],
  port: number,
  header: string,
): string {
  return `${[
    `# ${header}`,
    "# Prometheus: every machine's `opsdeck agent --metrics`. Check it with `promtool check config`.",
    '# As a whole file, or take the scrape_configs entry into your own prometheus.yml.',
    'global:',
    '  scrape_interval: 15s',
    '  evaluation_interval: 15s',
    'scrape_configs:',
    `  - job_name: ${SCRAPE_JOB}`,
    '    metrics_path: /metrics',
    '    scrape_interval: 10s',
    '    scrape_timeout: 5s',
    // The series carry `machine` themselves: keep theirs (the target is the exporter, not the agent).
    '    honor_labels: true',
    '    static_configs:',
    ...machines.flatMap((m) => [
      `      - targets: ['${metricsTarget(m, port)}']`,
      '        labels:',
      `          exporter: '${m.id}'`,
    ]),
  ].join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// The dashboard

type Json = Record<string, unknown>;

const DS = { type: 'prometheus', uid: '${datasource}' };
const SEL = 'machine=~"$machine"';
const AGENT_SEL = 'machine=~"$machine",agent=~"$agent"';

interface PanelSpec {
  type: string;
  title: string;
  w: number;
  h: number;
  description?: string;
  targets: Array<{ expr: string; legend?: string; instant?: boolean; table?: boolean }>;
  fieldConfig?: Json;
  options?: Json;
  transformations?: Json[];
}

const stat = (
  title: string,
  expr: string,
  description: string,
  extra: Partial<PanelSpec> = {},
): PanelSpec => ({
  type: 'stat',
  title,
  w: 4,
  h: 4,
  description,
  targets: [{ expr, instant: true }],
  options: {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    colorMode: 'value',
  },
  ...extra,
});

const series = (
  title: string,
  targets: PanelSpec['targets'],
  description: string,
  unit = 'short',
  w = 12,
): PanelSpec => ({
  type: 'timeseries',
  title,
  w,
  h: 8,
  description,
  targets,
  fieldConfig: { defaults: { unit }, overrides: [] },
});

const ROWS: Array<{ title: string; panels: PanelSpec[] }> = [
  {
    title: 'Fleet overview',
    panels: [
      stat(
        'Agents answering',
        `sum(opsdeck_agent_up{${SEL}})`,
        'Agents whose health probe is answered (healthy or degraded), probed on each machine by its opsdeck agent.',
      ),
      stat(
        'Agents not answering',
        `count(opsdeck_agent_up{${SEL}} == 0)`,
        'Unreachable, unhealthy, not probed yet or stale.',
      ),
      stat(
        'Exporters scraped',
        `sum(up{job="${SCRAPE_JOB}"})`,
        'opsdeck agents Prometheus reached in its last scrape (one per machine).',
      ),
      stat(
        'Port drift',
        `sum(opsdeck_agent_port_drift{${SEL}})`,
        'Agents answering away from their configured ports (MOVED), health ports answering as another agent, or held by something else.',
      ),
      stat(
        'Error-bus phase',
        'max(opsdeck_errorbus_phase)',
        'KV opsdeck/errorbus.phase: 0 zmq, 1 dual-publish, 2 nats-consumers, 3 zmq-off.',
        {
          fieldConfig: {
            defaults: {
              mappings: [
                {
                  type: 'value',
                  options: {
                    '0': { text: '0 zmq' },
                    '1': { text: '1 dual-publish' },
                    '2': { text: '2 nats-consumers' },
                    '3': { text: '3 zmq-off' },
                  },
                },
              ],
            },
            overrides: [],
          },
        },
      ),
      stat(
        'Own /metrics real',
        `sum(opsdeck_agent_instrumented{${SEL}}) / count(opsdeck_agent_instrumented{${SEL}})`,
        "Share of checked agents whose own /metrics serves Prometheus text (the plan's P2.2); upstream's BaseAgent answers 200 with an error page.",
        { fieldConfig: { defaults: { unit: 'percentunit' }, overrides: [] } },
      ),
      {
        type: 'table',
        title: 'Agent states',
        w: 24,
        h: 10,
        description:
          "Every agent's state as opsdeck's prober sees it (the console's states), with its protocol.",
        targets: [{ expr: `opsdeck_agent_state{${SEL}} == 1`, instant: true, table: true }],
        transformations: [
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, Value: true, __name__: true, job: true, instance: true },
              renameByName: {},
            },
          },
        ],
      },
    ],
  },
  {
    title: 'Resources per machine',
    panels: [
      series(
        'VRAM used',
        [
          { expr: `opsdeck_machine_vram_used_bytes{${SEL}}`, legend: '{{machine}} used' },
          { expr: `opsdeck_machine_vram_total_bytes{${SEL}}`, legend: '{{machine}} total' },
        ],
        'GPU memory per machine (nvidia-smi on each machine).',
        'bytes',
        8,
      ),
      series(
        'CPU',
        [{ expr: `opsdeck_machine_cpu_percent{${SEL}}`, legend: '{{machine}}' }],
        'CPU in use per machine.',
        'percent',
        8,
      ),
      series(
        'RAM used',
        [{ expr: `opsdeck_machine_ram_used_bytes{${SEL}}`, legend: '{{machine}}' }],
        'RAM in use per machine.',
        'bytes',
        8,
      ),
      series(
        'Throttle level (read back)',
        [{ expr: `opsdeck_machine_throttle_level{${SEL}}`, legend: '{{machine}}' }],
        "The level ResourceManager's thresholds and the agents' nice values agree on; a gap: they agree on none.",
        'short',
        24,
      ),
    ],
  },
  {
    title: 'Errors',
    panels: [
      series(
        'Error rate by machine and bus',
        [
          {
            expr: `sum by (machine, bus) (rate(opsdeck_errors_total{${SEL}}[$__rate_interval]))`,
            legend: '{{machine}} {{bus}}',
          },
        ],
        "zmq: what each machine's bridge received from its ZMQ bus; nats: native NATS publishes.",
        'reqps',
      ),
      series(
        'Error rate by severity',
        [
          {
            expr: `sum by (severity) (rate(opsdeck_errors_total{${SEL}}[$__rate_interval]))`,
            legend: '{{severity}}',
          },
        ],
        'Severities normalised from the five upstream vocabularies.',
        'reqps',
      ),
      {
        type: 'table',
        title: 'Agents with the most errors (1 h)',
        w: 12,
        h: 8,
        description:
          'Per agent and bus over the last hour; agent=other: not in the fleet config, or folded.',
        targets: [
          {
            expr: `topk(15, sum by (machine, agent, bus) (increase(opsdeck_errors_total{${SEL}}[1h])))`,
            instant: true,
            table: true,
          },
        ],
      },
      series(
        'Bridge: forwarded, dropped, gaps',
        [
          {
            expr: `rate(opsdeck_bridge_forwarded_total{${SEL}}[$__rate_interval])`,
            legend: '{{machine}} forwarded/s',
          },
          {
            expr: `rate(opsdeck_bridge_dropped_total{${SEL}}[$__rate_interval])`,
            legend: '{{machine}} dropped/s',
          },
          {
            expr: `increase(opsdeck_bridge_gaps_total{${SEL}}[$__rate_interval])`,
            legend: '{{machine}} gaps',
          },
        ],
        "Each machine's `opsdeck agent --bridge`: errors carried from ZMQ into JetStream, dropped when its queue was full, and lost connections to a bound PUB.",
      ),
    ],
  },
  {
    title: 'Agent drill-down ($agent)',
    panels: [
      {
        type: 'state-timeline',
        title: 'Answering',
        w: 24,
        h: 8,
        description: 'Per agent: answering its health probe (1) or not (0), over time.',
        targets: [{ expr: `opsdeck_agent_up{${AGENT_SEL}}`, legend: '{{machine}} {{agent}}' }],
        fieldConfig: {
          defaults: {
            mappings: [
              {
                type: 'value',
                options: {
                  '0': { text: 'down', color: 'red' },
                  '1': { text: 'up', color: 'green' },
                },
              },
            ],
          },
          overrides: [],
        },
      },
      series(
        'Health probe latency p95',
        [
          {
            expr: `histogram_quantile(0.95, sum by (le, machine, agent) (rate(opsdeck_agent_health_latency_seconds_bucket{${AGENT_SEL}}[$__rate_interval])))`,
            legend: '{{machine}} {{agent}}',
          },
        ],
        "Answers only, measured on the agent's own machine.",
        's',
      ),
      series(
        'Errors by severity and bus',
        [
          {
            expr: `sum by (agent, severity, bus) (rate(opsdeck_errors_total{${AGENT_SEL}}[$__rate_interval]))`,
            legend: '{{agent}} {{severity}} {{bus}}',
          },
        ],
        "The selected agents' errors.",
        'reqps',
      ),
      {
        type: 'table',
        title: 'Protocol and drift',
        w: 24,
        h: 8,
        description: 'The protocol each answered over, and any drift from its configured ports.',
        targets: [
          { expr: `opsdeck_agent_info{${AGENT_SEL}}`, instant: true, table: true },
          { expr: `opsdeck_agent_port_drift{${AGENT_SEL}} == 1`, instant: true, table: true },
        ],
      },
    ],
  },
];

/** Places rows and panels left to right, top to bottom, on Grafana's 24-column grid. */
function layout(): Json[] {
  const panels: Json[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      if (x + p.w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panelJson(p, id++, { h: p.h, w: p.w, x, y }));
      x += p.w;
      rowHeight = Math.max(rowHeight, p.h);
    }
    y += rowHeight;
  }
  return panels;
}

function panelJson(p: PanelSpec, id: number, gridPos: Json): Json {
  return {
    id,
    type: p.type,
    title: p.title,
    ...(p.description ? { description: p.description } : {}),
    datasource: DS,
    gridPos,
    targets: p.targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr: t.expr,
      ...(t.legend ? { legendFormat: t.legend } : {}),
      ...(t.instant ? { instant: true, range: false } : { range: true }),
      ...(t.table ? { format: 'table' } : {}),
    })),
    fieldConfig: p.fieldConfig ?? { defaults: {}, overrides: [] },
    options: p.options ?? {},
    ...(p.transformations ? { transformations: p.transformations } : {}),
  };
}

/** A variable whose values a Prometheus query lists; "All" means all (`.*`). */
const queryVariable = (name: string, label: string, query: string): Json => ({
  name,
  label,
  type: 'query',
  datasource: DS,
  query: { query, refId: name },
  definition: query,
  refresh: 2,
  multi: true,
  includeAll: true,
  // All includes errors counted as machine=any (core/metrics/errors.ts).
  allValue: '.*',
  current: {},
  hide: 0,
  sort: 1,
});

export function grafanaDashboard(version: string): Json {
  return {
    id: null,
    uid: DASHBOARD_UID,
    title: 'opsdeck fleet',
    description: `The fleet as each machine's opsdeck agent exports it (opsdeck ${version}).`,
    tags: ['opsdeck'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    links: [],
    annotations: { list: [] },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          refresh: 1,
          regex: '',
        },
        queryVariable('machine', 'Machine', 'label_values(opsdeck_exporter_info, machine)'),
        queryVariable(
          'agent',
          'Agent',
          'label_values(opsdeck_agent_up{machine=~"$machine"}, agent)',
        ),
      ],
    },
    panels: layout(),
  };
}
