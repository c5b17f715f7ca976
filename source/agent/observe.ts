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
  const w = new AgentObserver(o);
  await w.listen();
  return {
    local: w.local,
    render: () => w.render(),
    exporter: () => w.exporter(),
    onBridgeFrame: (d) => (d.ok ? w.tally.zmq(d.event) : w.tally.malformedOn('zmq')),
    attach: (nc, parts) => w.attach(nc, parts),
    stop: () => w.stop(),
  };
}

/** The prober, the counters and the server of /metrics; the agent and bridge once attached. */
class AgentObserver {
  /** This machine in the fleet config; undefined: nothing to probe. */
  readonly model: Machine | undefined;
  readonly local: LocalHealth | undefined;
  readonly tally: ErrorTally;
  private readonly phase = new PhaseStore();
  /** Probe latencies per agent name. */
  private readonly latency = new Map<string, Histogram>();
  private agent: RunningAgent | undefined;
  private bridge: RunningBridge | undefined;
  private server: MetricsServer | undefined;
  private errorsSub: Subscription | undefined;

  constructor(private readonly o: ObserveOptions) {
    this.model = o.fleet?.find((m) => m.id === o.machine);
    const probe = (o.health || o.metrics !== undefined) && this.model !== undefined;
    this.local = probe ? this.startProbing(this.model) : undefined;
    if ((o.health || o.metrics) && !this.model)
      o.log(
        o.fleet
          ? `health: the fleet config has no machine ${o.machine}: nothing to probe`
          : 'health: no fleet config (--root, --mainpc, --pc2): nothing to probe; /metrics has the machine only',
        'warning',
      );
    this.tally = new ErrorTally(attributionFor(o.machine, o.fleet ?? []));
  }

  private startProbing(model: Machine): LocalHealth {
    const o = this.o;
    const prefix = `${o.machine}/`;
    return runLocalHealth({
      machine: model,
      intervalMs: o.intervalMs,
      timeoutMs: Math.min(1000, o.intervalMs),
      evidence: {
        // Where the agent's process listens, from this daemon's own last sample.
        process: (_m, name) => {
          const s = this.agent?.last();
          if (!s || Date.now() - s.ts > o.intervalMs * 3) return undefined;
          const a = s.agents.find((x) => x.name === name);
          return a?.pid !== undefined && a.ports ? { pid: a.pid, ports: a.ports } : undefined;
        },
      },
      onProbe: (key, h) => {
        const ms = h.history.at(-1)?.latencyMs;
        if (ms === undefined || !key.startsWith(prefix)) return;
        const name = key.slice(prefix.length);
        let hist = this.latency.get(name);
        if (!hist) this.latency.set(name, (hist = new Histogram()));
        hist.observe(ms / 1000);
      },
    });
  }

  /** The number of agents probed here, for the logs and the exporter. */
  private probed(): number {
    return this.local && this.model ? this.model.agents.length : 0;
  }

  /** Serves /metrics when asked to; a port that cannot be bound stops the probing and rejects. */
  async listen(): Promise<void> {
    const { o, model, local } = this;
    if (o.metrics) {
      try {
        this.server = await serveMetrics(o.metrics, () => this.render());
      } catch (error) {
        local?.stop();
        throw error;
      }
      o.log(
        `metrics: http://${listenText(this.server.address)}/metrics (${local ? `${this.probed()} agents of ${o.machine}` : 'the machine only'})`,
        'notice',
      );
    }
    if (local)
      o.log(`health: probing ${model!.agents.length} agents of ${o.machine} from here`, 'info');
  }

  render(): string {
    const { o, local, model, phase } = this;
    const s = this.agent?.last();
    return exposition([
      ...fleetFamilies({
        machine: o.machine,
        ...(local && model ? { probed: { model, health: local.store.getSnapshot().agents } } : {}),
        latency: this.latency,
        ...(s ? { sample: s, sampleAgeMs: Math.max(0, Date.now() - s.ts) } : {}),
        ...(this.bridge ? { bridge: this.bridge.stats() } : {}),
        ...(phase.getSnapshot().value ? { phase: phase.getSnapshot().value! } : {}),
        version: o.version,
        startedAt: o.startedAt,
      }),
      ...this.tally.families(o.machine),
    ]);
  }

  exporter(): SampleExporter | undefined {
    return this.server
      ? { address: listenText(this.server.address), agents: this.probed() }
      : undefined;
  }

  attach(nc: NatsConnection, parts: { agent?: RunningAgent; bridge?: RunningBridge }): void {
    this.agent = parts.agent;
    this.bridge = parts.bridge;
    this.local?.attach(nc);
    if (!this.server) return;
    void this.phase.watch(natsBus(nc));
    // Native NATS errors; a bridged copy (marked) is counted by its bridge's exporter as zmq.
    this.errorsSub = nc.subscribe('errors.>', {
      callback: (err, m) => {
        if (err || m.headers?.get(BRIDGE_HEADER)) return;
        const now = Date.now();
        const d = decodeNats(m.subject, m.data, this.o.machine, now);
        if (d.ok) this.tally.nats(d.event, now);
        else this.tally.malformedOn('nats');
      },
    });
  }

  async stop(): Promise<void> {
    this.errorsSub?.unsubscribe();
    this.phase.close();
    this.local?.stop();
    await this.server?.close();
  }
}
