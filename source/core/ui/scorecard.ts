// The action plan's success metrics, measured from what the console already knows.
// Anything not measured says so and how to measure it: an empty cell is never "fine".
import type { Machine } from '../fleet/model.js';
import type { ErrorCounters, PublisherStats } from '../errors/pipeline.js';
import type { AgentHealth } from '../health/state.js';
import { HEALTH_PROTOCOLS, type HealthProtocol } from '../health/replies.js';

const PROTOCOL_WORDS: Record<HealthProtocol, string> = {
  'base-agent': 'BaseAgent ZMQ health',
  unified: 'UnifiedHealthMixin (WP-07, the target)',
  'json-rm': "ResourceManager's own JSON loop",
  http: 'HTTP /health',
  pub: 'no health port (judged by its PUB)',
};
import { doctorMetrics, type Diagnosis } from '../errorbus/doctor.js';
import type { LintSummary } from '../lint/finding.js';
import type { SampleExporter } from '../resources/sample.js';
import { agentKey } from '../fleet/agent-key.js';

export type Verdict = 'good' | 'warn' | 'bad' | 'unknown';

export interface Metric {
  label: string;
  value: string;
  verdict: Verdict;
  note?: string;
}

export interface Section {
  plan: string;
  title: string;
  metrics: Metric[];
}

export interface ScorecardInput {
  machines: readonly Machine[];
  health: ReadonlyMap<string, AgentHealth>;
  counters: ErrorCounters;
  publishers: readonly PublisherStats[];
  /** Per machine: is its config already in the canonical agent_groups form? */
  canonical: Readonly<Record<string, boolean | undefined>>;
  portConflicts: number;
  phase?: { phase: number; name: string };
  /** Why the phase is unknown or what it rests on (the phase store's note). */
  phaseNote?: string;
  /** Per machine: unauthenticated control refused? undefined = not probed. */
  auth?: Readonly<Record<string, boolean | undefined>>;
  /** Days until the first cert/token expires, if known. */
  expiryDays?: number;
  /** The error-bus diagnosis (errorbus doctor): topology, lost publishers, effective phases. */
  errorbus?: Diagnosis;
  /**
   * Per machine: what its opsdeck agent says it exports (`--metrics`, from its resources
   * samples); undefined: no exporter seen there.
   */
  exporters?: Readonly<Record<string, SampleExporter | undefined>>;
  /** `opsdeck lint` over the checkout: the plan's blind spots and compose clean-up. */
  lint?: {
    state: 'pending' | 'running' | 'done' | 'failed';
    summary?: LintSummary;
    error?: string;
  };
}

const pct = (n: number, d: number) => (d === 0 ? '-' : `${Math.round((n / d) * 100)}%`);

// Long: a table, one section per plan item with its metrics, in the plan's order.
export function scorecard(i: ScorecardInput): Section[] {
  const agents = i.machines.flatMap((m) =>
    m.agents.map((a) => ({ m, a, h: i.health.get(agentKey(m.id, a.name)) })),
  );
  const answered = agents.filter(
    (x) => x.h && (x.h.state === 'healthy' || x.h.state === 'degraded'),
  );
  const byProto = new Map<HealthProtocol, number>();
  for (const x of answered)
    if (x.h?.protocol) byProto.set(x.h.protocol, (byProto.get(x.h.protocol) ?? 0) + 1);
  const detected = [...byProto.values()].reduce((a, b) => a + b, 0);
  const checked = agents.filter((x) => x.h?.instrumented !== undefined);
  const instrumented = checked.filter((x) => x.h!.instrumented);
  const zmqPublishers = i.publishers.filter((p) => p.zmq > 0);
  const zmqOnly = zmqPublishers.filter((p) => p.nats === 0 && !(p.bridged ?? 0));
  const natsSeen = i.publishers.filter((p) => p.nats > 0);
  const bridgedOnly = i.publishers.filter((p) => p.nats === 0 && (p.bridged ?? 0) > 0);
  const canon = Object.entries(i.canonical);
  const auth = Object.entries(i.auth ?? {});

  return [
    {
      plan: 'P1.1',
      title: 'Single config schema',
      metrics: canon.map(([m, c]) => ({
        label: `${m} config canonical (agent_groups)`,
        value: c === undefined ? 'unknown' : c ? 'yes' : 'no',
        verdict: c === undefined ? 'unknown' : c ? 'good' : 'warn',
        ...(c === false
          ? { note: 'Actions > migrate config rewrites it (diff first, backup, atomic)' }
          : {}),
      })),
    },
    {
      plan: 'P1.2',
      title: 'Health check standardization',
      metrics: [
        {
          label: 'agents answering health probes',
          value: `${answered.length}/${agents.length} (${pct(answered.length, agents.length)})`,
          verdict:
            answered.length === agents.length
              ? 'good'
              : answered.length > agents.length * 0.8
                ? 'warn'
                : 'bad',
        },
        // By the protocol each agent's last answer came over: an agent reached only over HTTP
        // counts as HTTP, never as BaseAgent ZMQ health.
        ...HEALTH_PROTOCOLS.map((p): Metric => ({
          label: `answering over ${PROTOCOL_WORDS[p]}`,
          value: `${byProto.get(p) ?? 0} (${pct(byProto.get(p) ?? 0, detected)})`,
          verdict:
            p === 'unified'
              ? (byProto.get(p) ?? 0) === detected && detected > 0
                ? 'good'
                : 'warn'
              : 'unknown',
        })),
      ],
    },
    {
      plan: 'P1.3',
      title: 'Error bus ZMQ -> NATS',
      metrics: [
        {
          label: 'phase',
          value: i.phase ? `${i.phase.phase} ${i.phase.name}` : 'unknown',
          verdict: i.phase ? (i.phase.phase === 3 ? 'good' : 'warn') : 'unknown',
          ...(i.phase
            ? i.phaseNote
              ? { note: i.phaseNote }
              : {}
            : {
                note: i.phaseNote ?? 'needs NATS (the phase lives in KV opsdeck/errorbus.phase)',
              }),
        },
        {
          label: 'publishers seen on NATS',
          value: `${natsSeen.length + bridgedOnly.length}/${i.publishers.length} (${natsSeen.length} natively, ${bridgedOnly.length} only through the bridge)`,
          verdict:
            i.publishers.length === 0
              ? 'unknown'
              : natsSeen.length === i.publishers.length
                ? 'good'
                : 'warn',
          note: 'phase 3 needs every publisher natively on NATS; the bridge only carries ZMQ over',
        },
        {
          label: 'ZMQ-only publishers left',
          value:
            zmqOnly.length === 0
              ? zmqPublishers.length
                ? 'none'
                : '-'
              : `${zmqOnly.length}: ${zmqOnly
                  .slice(0, 6)
                  .map((p) => p.agent)
                  .join(', ')}${zmqOnly.length > 6 ? ', …' : ''}`,
          verdict: zmqOnly.length === 0 ? (zmqPublishers.length ? 'good' : 'unknown') : 'warn',
        },
        {
          label: 'errors matched on both buses',
          value: `${i.counters.matched} (zmq-only ${i.counters.zmqOnly}, nats-only ${i.counters.natsOnly})`,
          verdict: 'unknown',
        },
        ...(i.errorbus
          ? doctorMetrics(i.errorbus)
          : [
              {
                label: 'error-bus topology',
                value: 'not diagnosed yet',
                verdict: 'unknown' as Verdict,
                note: 'the console probes every 15 s; or run `opsdeck errorbus doctor`',
              },
            ]),
      ],
    },
    {
      plan: 'P1.4',
      title: 'Security',
      metrics: [
        ...(auth.length
          ? auth.map(([m, enforced]): Metric => ({
              label: `${m}: unauthenticated control refused`,
              value: enforced === undefined ? 'not probed' : enforced ? 'enforced' : 'NOT enforced',
              verdict: enforced === undefined ? 'unknown' : enforced ? 'good' : 'bad',
            }))
          : [
              {
                label: 'control auth enforced',
                value: 'not probed',
                verdict: 'unknown' as Verdict,
                note: 'run `opsdeck security probe`',
              },
            ]),
        {
          label: 'first cert/token expiry',
          value: i.expiryDays === undefined ? 'unknown' : `${i.expiryDays} days`,
          verdict:
            i.expiryDays === undefined
              ? 'unknown'
              : i.expiryDays > 30
                ? 'good'
                : i.expiryDays > 7
                  ? 'warn'
                  : 'bad',
          ...(i.expiryDays === undefined ? { note: 'run `opsdeck certs show`' } : {}),
        },
      ],
    },
    {
      plan: 'P2.1',
      title: 'Port conflicts',
      metrics: [
        {
          label: 'conflicts (ports check)',
          value: String(i.portConflicts),
          verdict: i.portConflicts === 0 ? 'good' : 'bad',
          note: 'screen 2 explains each',
        },
      ],
    },
    {
      plan: 'P3.1',
      title: 'Blind spots and compose clean-up (opsdeck lint)',
      metrics: lintMetrics(i.lint),
    },
    {
      plan: 'P2.2',
      title: 'Observability',
      metrics: [
        {
          label: 'agents whose /metrics serves Prometheus text',
          value: `${instrumented.length}/${checked.length} checked (${pct(instrumented.length, checked.length)})`,
          verdict:
            checked.length === 0
              ? 'unknown'
              : instrumented.length === checked.length
                ? 'good'
                : 'warn',
        },
        exportedMetric(i),
      ],
    },
  ];
}

/**
 * Beside the agents' own /metrics: opsdeck's exporter (`opsdeck agent --metrics`) covers every
 * agent of its machine whatever the agent does, so the plan's "all agents instrumented" is met
 * from outside when every machine runs one.
 */
function exportedMetric(i: ScorecardInput): Metric {
  const seen = i.machines.filter((m) => i.exporters?.[m.id]);
  const total = i.machines.reduce((n, m) => n + m.agents.length, 0);
  const exported = seen.reduce(
    (n, m) => n + Math.min(i.exporters![m.id]!.agents, m.agents.length),
    0,
  );
  const missing = i.machines.filter((m) => !i.exporters?.[m.id]).map((m) => m.id);
  if (seen.length === 0)
    return {
      label: 'agents opsdeck exports as Prometheus metrics',
      value: 'no exporter seen',
      verdict: 'unknown',
      note: 'run `opsdeck agent --metrics ADDR:PORT` on each machine; `opsdeck deploy grafana` writes the scrape config and dashboard',
    };
  return {
    label: 'agents opsdeck exports as Prometheus metrics',
    value: `${exported}/${total} (${pct(exported, total)})`,
    verdict: exported === total && missing.length === 0 ? 'good' : 'warn',
    note: [
      ...seen.map((m) => `${m.id} at ${i.exporters![m.id]!.address}`),
      ...missing.map((m) => `${m}: no exporter`),
    ].join('; '),
  };
}

function lintMetrics(lint: ScorecardInput['lint']): Metric[] {
  if (!lint || lint.state === 'pending' || lint.state === 'running')
    return [
      {
        label: 'lint over the checkout',
        value: lint ? 'running…' : 'not run',
        verdict: 'unknown',
        note: '`opsdeck lint PATH` for the full list',
      },
    ];
  if (lint.state === 'failed' || !lint.summary)
    return [
      {
        label: 'lint over the checkout',
        value: 'failed',
        verdict: 'unknown',
        ...(lint.error ? { note: lint.error } : {}),
      },
    ];
  const s = lint.summary;
  const rules = Object.entries(s.byRule)
    .map(([rule, c]) => [rule, c.error + c.warning] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return [
    {
      label: `findings (${s.files.python} py, ${s.files.compose} compose files)`,
      value: `${s.bySeverity.error} errors, ${s.bySeverity.warning} warnings, ${s.bySeverity.info} info`,
      // Nothing read is nothing known: no tick for a checkout with no files in it.
      verdict:
        s.files.python + s.files.compose === 0
          ? 'unknown'
          : s.bySeverity.error > 0
            ? 'bad'
            : s.bySeverity.warning > 0
              ? 'warn'
              : 'good',
      ...(s.files.python + s.files.compose === 0
        ? { note: 'no Python or compose file found under the checkout: run `opsdeck lint DIR`' }
        : {}),
    },
    ...rules
      .slice(0, 4)
      .map(([rule, n]): Metric => ({ label: `  ${rule}`, value: `${n}`, verdict: 'warn' })),
  ];
}

/** One key per metric line, in screen order: the scorecard's rows for the cursor. */
export const metricKeys = (sections: readonly Section[]): string[] =>
  sections.flatMap((s) => s.metrics.map((m) => `${s.plan}:${m.label}`));
