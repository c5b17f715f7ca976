// What `opsdeck agent --metrics` exports for its machine, as Prometheus families: every agent's
// health as its prober sees it (the console's prober: same states, MOVED, drift), the machine's
// resources and throttle read back, error counters, the bridge and the error-bus phase. Pure:
// the daemon gathers the inputs (agent/metrics.ts), this turns them into families.
//
// Labels: `machine` on every series, `agent` and `group` on agent series; a few fixed-vocabulary
// ones (state, kind, protocol, bus, severity). Nothing from the wire becomes a label unless it is
// a fleet-config name.
import type { Machine } from '../fleet/model.js';
import type { AgentHealth, AgentState } from '../health/state.js';
import type { ResourceSample } from '../resources/sample.js';
import { driftFindings, type DriftFinding } from '../ports/drift.js';
import { protocolLabel } from '../ui/view.js';
import type { Family, Histogram, Labels } from './exposition.js';
import { agentKey } from '../fleet/agent-key.js';

export const AGENT_STATES: readonly AgentState[] = [
  'healthy',
  'degraded',
  'unhealthy',
  'unreachable',
  'unknown',
  'stale',
];
export const DRIFT_KINDS: readonly DriftFinding['kind'][] = ['moved', 'wrong-agent', 'port-held'];

/** What the bridge says of itself (agent/bridge.ts BridgeStats), as far as metrics need. */
export interface BridgeFigures {
  state: string;
  received: number;
  published: number;
  duplicates: number;
  dropped: number;
  malformed: number;
  queued: number;
  gaps: number;
  since: number;
}

export interface ExportInput {
  machine: string;
  /**
   * This machine from the fleet config and its agents' health (keyed `machine/Agent`, as the
   * prober keeps them); absent: no fleet config, so nothing is probed.
   */
  probed?: { model: Machine; health: ReadonlyMap<string, AgentHealth> };
  /** Probe latencies per agent name. */
  latency: ReadonlyMap<string, Histogram>;
  /** The daemon's last resources sample, and its age. */
  sample?: ResourceSample;
  sampleAgeMs?: number;
  bridge?: BridgeFigures;
  phase?: { phase: number; name: string };
  version: string;
  /** ms since the epoch. */
  startedAt: number;
}

const bool = (b: boolean): number => (b ? 1 : 0);
const MB = 1024 * 1024;

// Long: a table, one entry per exported metric family, in exposition order.
export function fleetFamilies(i: ExportInput): Family[] {
  const machine = i.machine;
  const at: Labels = { machine };
  const p = i.probed;
  const agents = (p?.model.agents ?? []).map((a) => ({
    a,
    labels: { machine, agent: a.name, group: a.group },
    h: p?.health.get(agentKey(machine, a.name)),
  }));
  const drift = p ? driftFindings([p.model], p.health) : [];
  const driftOf = new Map(drift.map((d) => [d.agent, d.kind]));
  const families: Family[] = [
    {
      name: 'opsdeck_exporter_info',
      help: 'The opsdeck agent serving these metrics: its version; 1.',
      type: 'gauge',
      samples: [{ labels: { machine, version: i.version }, value: 1 }],
    },
    {
      name: 'opsdeck_exporter_start_time_seconds',
      help: 'When this opsdeck agent started (a reset of its counters follows a change).',
      type: 'gauge',
      samples: [{ labels: at, value: i.startedAt / 1000 }],
    },
    {
      name: 'opsdeck_exporter_probing',
      help: "1 when this agent probes its machine's agents (it has the fleet config), else 0 and no agent series.",
      type: 'gauge',
      samples: [{ labels: at, value: bool(p !== undefined) }],
    },
  ];

  if (p) {
    families.push(
      {
        name: 'opsdeck_agent_up',
        help: 'The agent answers its health probe (state healthy or degraded): 1, else 0.',
        type: 'gauge',
        samples: agents.map((x) => ({
          labels: x.labels,
          value: bool(x.h?.state === 'healthy' || x.h?.state === 'degraded'),
        })),
      },
      {
        name: 'opsdeck_agent_state',
        help: "The agent's health state as opsdeck's prober shows it (status --json's state): 1 for the current one.",
        type: 'gauge',
        samples: agents.flatMap((x) =>
          AGENT_STATES.map((state) => ({
            labels: { ...x.labels, state },
            value: bool((x.h?.state ?? 'unknown') === state),
          })),
        ),
      },
      {
        name: 'opsdeck_agent_info',
        help: 'The protocol the last answer came over, as status --json names it (base, json-rm, wp07, http, pub; none before one): 1.',
        type: 'gauge',
        samples: agents.map((x) => ({
          labels: { ...x.labels, protocol: x.h?.protocol ? protocolLabel(x.h.protocol) : 'none' },
          value: 1,
        })),
      },
      {
        name: 'opsdeck_agent_health_latency_seconds',
        help: "How long the agent took to answer its health probe, from its own machine's opsdeck agent.",
        type: 'histogram',
        samples: agents.flatMap((x) => i.latency.get(x.a.name)?.samples(x.labels) ?? []),
      },
      {
        name: 'opsdeck_agent_port_drift',
        help: 'Config vs reality: moved (answers on other ports), wrong-agent (its health port answers as another agent), port-held (held by something that is not it). 1 for the one seen.',
        type: 'gauge',
        samples: agents.flatMap((x) =>
          DRIFT_KINDS.map((kind) => ({
            labels: { ...x.labels, kind },
            value: bool(driftOf.get(x.a.name) === kind),
          })),
        ),
      },
      {
        name: 'opsdeck_agent_instrumented',
        help: "The agent's own /metrics serves Prometheus text (judged by its body; upstream's BaseAgent answers 200 with an error page): 1, else 0; absent until checked.",
        type: 'gauge',
        samples: agents
          .filter((x) => x.h?.instrumented !== undefined)
          .map((x) => ({ labels: x.labels, value: bool(x.h!.instrumented!) })),
      },
    );
  }

  const s = i.sample;
  if (s) {
    const gpu = s.gpu;
    families.push(
      {
        name: 'opsdeck_machine_sample_age_seconds',
        help: "Age of this machine's last resources sample (the figures below).",
        type: 'gauge',
        samples: [{ labels: at, value: (i.sampleAgeMs ?? 0) / 1000 }],
      },
      {
        name: 'opsdeck_machine_cpu_percent',
        help: 'CPU in use on this machine, percent.',
        type: 'gauge',
        samples: [{ labels: at, value: s.cpuPct }],
      },
      {
        name: 'opsdeck_machine_ram_used_bytes',
        help: 'RAM in use on this machine.',
        type: 'gauge',
        samples: [{ labels: at, value: s.ramUsedMb * MB }],
      },
      {
        name: 'opsdeck_machine_ram_total_bytes',
        help: 'RAM of this machine.',
        type: 'gauge',
        samples: [{ labels: at, value: s.ramTotalMb * MB }],
      },
      {
        name: 'opsdeck_machine_vram_used_bytes',
        help: 'GPU memory in use (nvidia-smi); absent without a GPU.',
        type: 'gauge',
        samples: gpu ? [{ labels: { ...at, gpu: gpu.name }, value: gpu.usedMb * MB }] : [],
      },
      {
        name: 'opsdeck_machine_vram_total_bytes',
        help: 'GPU memory (nvidia-smi); absent without a GPU.',
        type: 'gauge',
        samples: gpu ? [{ labels: { ...at, gpu: gpu.name }, value: gpu.totalMb * MB }] : [],
      },
      {
        name: 'opsdeck_machine_gpu_utilization_percent',
        help: 'GPU utilisation (nvidia-smi), percent; absent without a GPU.',
        type: 'gauge',
        samples: gpu ? [{ labels: { ...at, gpu: gpu.name }, value: gpu.utilPct }] : [],
      },
      {
        name: 'opsdeck_machine_throttle_level',
        help: "The throttle level read back from the machine (ResourceManager's thresholds and the agents' nice values agree on it); absent when they agree on none.",
        type: 'gauge',
        samples:
          s.throttle && s.throttle.level !== null ? [{ labels: at, value: s.throttle.level }] : [],
      },
      {
        name: 'opsdeck_machine_throttle_known',
        help: 'A throttle level could be read back (1), or the parts disagree or could not be read (0).',
        type: 'gauge',
        samples: [
          { labels: at, value: bool(s.throttle?.level !== undefined && s.throttle.level !== null) },
        ],
      },
    );
  }

  const b = i.bridge;
  families.push({
    name: 'opsdeck_bridge_up',
    help: "This agent's error-bus bridge (--bridge) is running: 1; stopped, closed in phase 3, or not run: 0.",
    type: 'gauge',
    samples: [{ labels: at, value: bool(b?.state === 'running') }],
  });
  if (b)
    families.push(
      counter(
        'opsdeck_bridge_received_total',
        'ZMQ error frames the bridge received.',
        at,
        b.received,
      ),
      counter(
        'opsdeck_bridge_forwarded_total',
        'Errors the bridge forwarded that JetStream stored (acked, new).',
        at,
        b.published,
      ),
      counter(
        'opsdeck_bridge_duplicates_total',
        "Forwarded errors JetStream already had (same Nats-Msg-Id): re-sends, or both machines' bridges carrying one error.",
        at,
        b.duplicates,
      ),
      counter(
        'opsdeck_bridge_dropped_total',
        'Errors the bridge dropped because its queue was full (NATS down or slow).',
        at,
        b.dropped,
      ),
      counter(
        'opsdeck_bridge_malformed_total',
        'Frames the bridge could not decode.',
        at,
        b.malformed,
      ),
      counter(
        'opsdeck_bridge_gaps_total',
        'Times a bridge SUB lost its connection to a bound PUB (CentralErrorBus): what that PUB sent meanwhile is lost, and nothing counts it.',
        at,
        b.gaps,
      ),
      {
        name: 'opsdeck_bridge_queued',
        help: 'Errors waiting to go to NATS (and awaiting an ack).',
        type: 'gauge',
        samples: [{ labels: at, value: b.queued }],
      },
    );
  if (i.phase)
    families.push({
      name: 'opsdeck_errorbus_phase',
      help: 'The error-bus migration phase (KV opsdeck/errorbus.phase): 0 zmq, 1 dual-publish, 2 nats-consumers, 3 zmq-off.',
      type: 'gauge',
      samples: [{ labels: at, value: i.phase.phase }],
    });
  return families;
}

const counter = (name: string, help: string, labels: Labels, value: number): Family => ({
  name,
  help,
  type: 'counter',
  samples: [{ labels, value }],
});
