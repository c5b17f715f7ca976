// What `opsdeck agent --health` / `--metrics` adds to the daemon: the local prober and its
// feed on opsdeck.<machine>.health (local-health.ts), and the Prometheus exporter: probe
// latencies, error counters (from the bridge's frames and native NATS publishes), the bridge's
// figures, the error-bus phase, and the daemon's own resources sample, built into /metrics at
// every scrape (core/metrics/fleet.ts). Starts before NATS is reached (probing and /metrics need
// no NATS); `attach` adds what does.
import type { NatsConnection, Subscription } from 'nats';
import type { Machine } from '../core/fleet/model.js';
import { BRIDGE_HEADER } from '../core/errors/bridge.js';
import { decodeNats } from '../core/errors/decode.js';
import { attributionFor, ErrorTally } from '../core/metrics/errors.js';
import { exposition, Histogram } from '../core/metrics/exposition.js';
import { fleetFamilies } from '../core/metrics/fleet.js';
import type { SampleExporter } from '../core/resources/sample.js';
import type { Log } from '../adapters/journal.js';
import { PhaseStore } from '../stores/phase-store.js';
import { natsBus } from '../adapters/nats-bus.js';
import type { RunningAgent } from './agent.js';
import type { BridgeOptions, RunningBridge } from './bridge.js';
import { runLocalHealth, type LocalHealth } from './local-health.js';
import {
  listenText,
  serveMetrics,
  type ListenAddress,
  type MetricsServer,
} from './metrics-server.js';

export interface ObserveOptions {
  machine: string;
  /** The fleet config, when the agent has one: this machine's agents are probed from it. */
  fleet?: readonly Machine[];
  /** Probe this machine's agents and publish the results (--health; --metrics implies it). */
  health: boolean;
  /** Serve /metrics here. */
  metrics?: ListenAddress;
  intervalMs: number;
  version: string;
  startedAt: number;
  log: Log;
}

export interface Observer {
  /** Where /metrics is served and what it covers, for the resources sample. */
  exporter: () => SampleExporter | undefined;
  /** The bridge's frames, counted per agent (pass to the bridge's onFrame). */
  onBridgeFrame: NonNullable<BridgeOptions['onFrame']>;
  /** The page /metrics serves now. */
  render(): string;
  local: LocalHealth | undefined;
  attach(nc: NatsConnection, parts: { agent?: RunningAgent; bridge?: RunningBridge }): void;
  stop(): Promise<void>;
}

/** Binds /metrics (a port that cannot be bound rejects with the reason) and starts probing. */
export async function startObserver(o: ObserveOptions): Promise<Observer> {
  const model = o.fleet?.find((m) => m.id === o.machine);
  const probe = (o.health || o.metrics !== undefined) && model !== undefined;
  let agent: RunningAgent | undefined;
  let bridge: RunningBridge | undefined;
  const latency = new Map<string, Histogram>();
  const prefix = `${o.machine}/`;
  const local = probe
    ? runLocalHealth({
        machine: model,
        intervalMs: o.intervalMs,
        timeoutMs: Math.min(1000, o.intervalMs),
        evidence: {
          // Where the agent's process listens, from this daemon's own last sample.
          process: (_m, name) => {
            const s = agent?.last();
            if (!s || Date.now() - s.ts > o.intervalMs * 3) return undefined;
            const a = s.agents.find((x) => x.name === name);
            return a?.pid !== undefined && a.ports ? { pid: a.pid, ports: a.ports } : undefined;
          },
        },
        onProbe: (key, h) => {
          const ms = h.history.at(-1)?.latencyMs;
          if (ms === undefined || !key.startsWith(prefix)) return;
          const name = key.slice(prefix.length);
          let hist = latency.get(name);
          if (!hist) latency.set(name, (hist = new Histogram()));
          hist.observe(ms / 1000);
        },
      })
    : undefined;
  if ((o.health || o.metrics) && !model)
    o.log(
      o.fleet
        ? `health: the fleet config has no machine ${o.machine}: nothing to probe`
        : 'health: no fleet config (--root, --mainpc, --pc2): nothing to probe; /metrics has the machine only',
      'warning',
    );
  const tally = new ErrorTally(attributionFor(o.machine, o.fleet ?? []));
  const phase = new PhaseStore();

  const render = () =>
    exposition([
      ...fleetFamilies({
        machine: o.machine,
        ...(local && model ? { probed: { model, health: local.store.getSnapshot().agents } } : {}),
        latency,
        ...(() => {
          const s = agent?.last();
          return s ? { sample: s, sampleAgeMs: Math.max(0, Date.now() - s.ts) } : {};
        })(),
        ...(bridge ? { bridge: bridge.stats() } : {}),
        ...(phase.getSnapshot().value ? { phase: phase.getSnapshot().value! } : {}),
        version: o.version,
        startedAt: o.startedAt,
      }),
      ...tally.families(o.machine),
    ]);

  let server: MetricsServer | undefined;
  if (o.metrics) {
    try {
      server = await serveMetrics(o.metrics, render);
    } catch (error) {
      local?.stop();
      throw error;
    }
    o.log(
      `metrics: http://${listenText(server.address)}/metrics (${probe ? `${model.agents.length} agents of ${o.machine}` : 'the machine only'})`,
      'notice',
    );
  }
  if (local)
    o.log(`health: probing ${model!.agents.length} agents of ${o.machine} from here`, 'info');

  let errorsSub: Subscription | undefined;
  return {
    local,
    render,
    exporter: () =>
      server
        ? { address: listenText(server.address), agents: probe ? model.agents.length : 0 }
        : undefined,
    onBridgeFrame: (d) => (d.ok ? tally.zmq(d.event) : tally.malformedOn('zmq')),
    attach(nc, parts) {
      agent = parts.agent;
      bridge = parts.bridge;
      local?.attach(nc);
      if (!server) return;
      void phase.watch(natsBus(nc));
      // Native NATS errors; a bridged copy (marked) is counted by its bridge's exporter as zmq.
      errorsSub = nc.subscribe('errors.>', {
        callback: (err, m) => {
          if (err || m.headers?.get(BRIDGE_HEADER)) return;
          const now = Date.now();
          const d = decodeNats(m.subject, m.data, o.machine, now);
          if (d.ok) tally.nats(d.event, now);
          else tally.malformedOn('nats');
        },
      });
    },
    async stop() {
      errorsSub?.unsubscribe();
      phase.close();
      local?.stop();
      await server?.close();
    },
  };
}
