// `opsdeck agent`: the per-machine daemon. Every interval it publishes this machine's resources
// on opsdeck.<machine>.resources: CPU/RAM/VRAM, the fleet's agent processes it finds by script
// path (pid, listening ports, nice), and the throttle read back from the machine
// (ResourceManager's thresholds, the agents' nice values). It answers opsdeck.<machine>.control:
// status and ResourceManager's read-only actions for anyone, set_thresholds / set_throttle only
// with a JWT for this machine (--jwks); without a JWKS it refuses every state change and says why.
// The simulator runs this same daemon per simulated machine, with the sim as its MachineSource.
import type { Msg, NatsConnection, Subscription } from 'nats';
import { sanitise } from '../core/errors/sanitise.js';
import { matchProcesses, type AgentProcess, type ProcessRow } from '../core/fleet/processes.js';
import {
  decodeBody,
  machineControl,
  type ControlAuth,
  type MachineSide,
  type RmAnswer,
} from '../core/resources/machine-control.js';
import {
  resourcesSubject,
  type ResourceSample,
  type SampleAgent,
  type SampleExporter,
} from '../core/resources/sample.js';
import { readThrottle, type ThrottleReading } from '../core/resources/throttle.js';
import { vramByAgent } from '../core/resources/nvidia-smi.js';
import { GpuSampler, sampleMachine } from '../adapters/system-sampler.js';
import { parentPid, readProcessTable, renice } from '../adapters/proc-table.js';
import { ZmqPirate } from '../adapters/zmq-probe.js';
import type { Log } from '../adapters/journal.js';
import type { SampleSigner } from '../adapters/sample-sign.js';
import type { Lifecycle } from '../core/fleet/lifecycle.js';
import { serveLogs, type LogFinder, type LogServer } from './logs.js';

export const controlSubject = (machine: string) => `opsdeck.${machine}.control`;

/** The machine the daemon reads and acts on: the real one, or a simulated one. */
export interface MachineSource {
  /** Resources without the throttle reading (the daemon adds it). */
  sample(): Promise<{
    sample: Omit<ResourceSample, 'throttle' | 'throttleLevel'>;
    note?: string;
    /** VRAM per pid (MB; null: the driver does not say), when the GPU's processes are known. */
    vram?: ReadonlyMap<number, number | null>;
  }>;
  processes(): Promise<ProcessRow[]>;
  /** A process's parent (GPU memory a child of an agent holds is the agent's); default: none known. */
  parentOf?(pid: number): number | undefined;
  renice(
    pid: number,
    nice: number,
  ): Promise<{ ok: true; nice: number } | { ok: false; error: string }>;
}

export interface AgentOptions {
  machine: string;
  intervalMs: number;
  /** Log lines (one per event worth telling an operator), with a syslog priority. */
  log: Log;
  /** How state-changing control requests are checked; default: refused (no JWKS given). */
  auth?: ControlAuth;
  /** Upstream ResourceManager on this machine (tcp://127.0.0.1:7113). */
  resourceManager?: string;
  /** This machine's agents from the fleet config: their processes are found by script path. */
  agents?: ReadonlyArray<{ name: string; scriptPath: string }>;
  /** Default: this machine (systeminformation, nvidia-smi, /proc). */
  source?: MachineSource;
  /** Published with every sample, so the console can tell an old or a restarted agent. */
  version?: string;
  /** ms since the epoch; default: when runAgent is called. */
  startedAt?: number;
  /** `--metrics`: where /metrics is served, told in every sample (the console's scorecard). */
  exporter?: () => SampleExporter | undefined;
  /** Signs every sample (this machine's key): only signed samples may drive auto-throttle. */
  signer?: SampleSigner;
  /** Serves opsdeck.<machine>.logs from where this finds each agent's log. */
  logs?: LogFinder;
  /** Lines per second per log watcher (default 200). */
  logRate?: number;
  /** How long a log watch lives unrenewed (default 15 s). */
  logTtlMs?: number;
  /** Stops and starts this machine's agents (agent_stop / agent_start / agent_restart). */
  lifecycle?: Lifecycle;
}

export const NO_JWKS: ControlAuth = {
  mode: 'refuse',
  reason:
    'this agent was started without --jwks, so it cannot verify who sent a request and changes nothing (start it with --jwks FILE)',
};

/** This machine: systeminformation + nvidia-smi, python processes from /proc, setpriority. */
export function realMachine(machine: string, gpu = new GpuSampler()): MachineSource {
  let gpuNote: string | undefined;
  return {
    async sample() {
      const s = await sampleMachine(machine, gpu);
      const note =
        s.gpuState === 'error'
          ? `GPU: ${s.gpuError}`
          : s.gpuState === 'absent'
            ? 'GPU: no nvidia-smi here, publishing without GPU'
            : undefined;
      const changed = note !== gpuNote;
      gpuNote = note;
      const { gpuState: _state, gpuError: _error, throttleLevel: _level, vram, ...sample } = s;
      return { sample, ...(changed && note ? { note } : {}), ...(vram ? { vram } : {}) };
    },
    // Upstream's agents are python scripts: the rest of the table is not read.
    processes: () => readProcessTable((argv) => argv.some((a) => a.endsWith('.py'))),
    parentOf: (pid) => parentPid(pid),
    renice: async (pid, nice) => renice(pid, nice),
  };
}

/**
 * Upstream's ResourceManager over its REP socket, JSON only (a non-JSON request wedges it).
 * One request at a time: a REQ socket must receive before it sends again.
 */
function resourceManager(
  endpoint: string,
  timeoutMs: number,
): MachineSide['rm'] & { close(): void } {
  const pirate = new ZmqPirate(endpoint, timeoutMs);
  let chain: Promise<unknown> = Promise.resolve();
  const ask = (request: Record<string, unknown>): Promise<RmAnswer> => {
    const next = chain.then(async (): Promise<RmAnswer> => {
      const r = await pirate.request(JSON.stringify(request));
      if (r.kind !== 'reply')
        return {
          ok: false,
          error:
            r.kind === 'timeout'
              ? `ResourceManager ${endpoint} did not answer in ${timeoutMs} ms`
              : `ResourceManager ${endpoint}: ${r.reason}`,
        };
      try {
        const value = JSON.parse(r.text) as unknown;
        if (typeof value === 'object' && value !== null && !Array.isArray(value))
          return { ok: true, reply: value as Record<string, unknown> };
      } catch {
        /* below */
      }
      return {
        ok: false,
        error: `ResourceManager answered non-JSON: ${sanitise(r.text).slice(0, 120)}`,
      };
    });
    chain = next.catch(() => undefined);
    return next;
  };
  return { endpoint, ask, close: () => pirate.close() };
}

export interface RunningAgent {
  last(): ResourceSample | undefined;
  /** Log watches alive now. */
  logWatches(): number;
  stop(): Promise<void>;
}

export function runAgent(nc: NatsConnection, options: AgentOptions): RunningAgent {
  const agent = new MachineAgent(nc, options);
  return {
    last: () => agent.last,
    logWatches: () => agent.logServer?.active() ?? 0,
    stop: async () => agent.stop(),
  };
}

type Rm = ReturnType<typeof resourceManager>;

/** The throttle as the machine shows it now: ResourceManager's thresholds and the nice values. */
async function readBack(
  rm: Rm | undefined,
  procs: AgentProcess[] | { error: string },
): Promise<ThrottleReading> {
  let thresholds: ThrottleReading['thresholds'] = { error: 'no ResourceManager on this machine' };
  if (rm) {
    const r = await rm.ask({ action: 'get_status' });
    const t = r.ok ? (r.reply.thresholds as Record<string, unknown> | undefined) : undefined;
    thresholds = !r.ok
      ? { error: r.error }
      : t && typeof t.cpu === 'number' && typeof t.memory === 'number' && typeof t.gpu === 'number'
        ? { cpu: t.cpu, memory: t.memory, gpu: t.gpu }
        : { error: `get_status answered ${sanitise(JSON.stringify(r.reply)).slice(0, 120)}` };
  }
  const nices = 'error' in procs ? procs : procs.map((p) => p.nice ?? 0);
  return readThrottle(thresholds, nices, Date.now());
}

/** One machine's daemon: samples on a timer, answers control requests, serves log watches. */
class MachineAgent {
  last: ResourceSample | undefined;
  readonly logServer: LogServer | undefined;
  private readonly source: MachineSource;
  private readonly encoder = new TextEncoder();
  private readonly rm: Rm | undefined;
  private readonly configured: NonNullable<AgentOptions['agents']>;
  private readonly side: MachineSide;
  private readonly startedAt: number;
  private readonly timer: NodeJS.Timeout;
  private readonly control: Subscription;
  private stopped = false;
  private ticking = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: AgentOptions,
  ) {
    this.source = options.source ?? realMachine(options.machine);
    this.rm = options.resourceManager
      ? resourceManager(options.resourceManager, Math.min(5000, Math.max(1000, options.intervalMs)))
      : undefined;
    this.configured = options.agents ?? [];
    this.startedAt = options.startedAt ?? Date.now();
    this.side = {
      ...(this.rm ? { rm: this.rm } : {}),
      processes: () => this.agentProcesses(),
      renice: (pid, nice) => this.source.renice(pid, nice),
      ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
    };
    this.logServer = options.logs
      ? serveLogs(nc, {
          machine: options.machine,
          find: options.logs,
          log: options.log,
          ...(options.logRate ? { rate: options.logRate } : {}),
          ...(options.logTtlMs ? { ttlMs: options.logTtlMs } : {}),
        })
      : undefined;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), options.intervalMs);
    this.control = nc.subscribe(controlSubject(options.machine), {
      callback: (err, m) => {
        if (err) return;
        this.onControl(m).catch((error: unknown) =>
          options.log(`control failed: ${sanitise((error as Error).message)}`, 'err'),
        );
      },
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.logServer?.stop();
    this.control.unsubscribe();
    this.rm?.close();
  }

  private async agentProcesses(): Promise<AgentProcess[] | { error: string }> {
    if (this.configured.length === 0) return [];
    try {
      return matchProcesses(this.configured, await this.source.processes()).found;
    } catch (error) {
      return { error: `cannot read the process table: ${(error as Error).message}` };
    }
  }

  /** VRAM per agent pid, its descendants' included (vramByAgent); as given when none is known. */
  private byAgent(
    vram: ReadonlyMap<number, number | null> | undefined,
    procs: AgentProcess[] | { error: string },
  ): ReadonlyMap<number, number | null> | undefined {
    if (!vram || 'error' in procs) return vram;
    const parentOf = this.source.parentOf?.bind(this.source) ?? (() => undefined);
    return vramByAgent(vram, new Set(procs.map((p) => p.pid)), parentOf);
  }

  /** One sample, published on opsdeck.<machine>.resources (signed when a key is given). */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return; // a slow ResourceManager must not stack readings
    this.ticking = true;
    const options = this.options;
    try {
      const { sample, note, vram } = await this.source.sample();
      // A reading that ends after stop() is dropped unsaid: "stopped" is the daemon's last line.
      if (this.stopped) return;
      if (note) options.log(note, /^GPU: no nvidia-smi/.test(note) ? 'info' : 'warning');
      const procs = await this.agentProcesses();
      const throttle = await readBack(this.rm, procs);
      const wire: ResourceSample = {
        ...sample,
        throttleLevel: throttle.level ?? 0,
        throttle,
        agents: withProcesses(sample.agents, this.configured, procs, this.byAgent(vram, procs)),
        ...(options.version ? { version: options.version } : {}),
        uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      };
      const exporter = options.exporter?.();
      if (exporter) wire.exporter = exporter;
      this.last = wire;
      if (!this.stopped) {
        const bytes = this.encoder.encode(JSON.stringify(wire));
        this.nc.publish(
          resourcesSubject(options.machine),
          bytes,
          options.signer ? { headers: options.signer.headers(bytes) } : undefined,
        );
      }
    } catch (error) {
      if (!this.stopped) options.log(`sampling failed: ${(error as Error).message}`, 'err');
    } finally {
      this.ticking = false;
    }
  }

  private respond(m: Msg, value: unknown): void {
    m.respond(this.encoder.encode(JSON.stringify(value)));
  }

  /** A request on opsdeck.<machine>.control: status, or a state change machineControl checks. */
  private async onControl(m: Msg): Promise<void> {
    const { machine, log } = this.options;
    const body = decodeBody(m.data);
    if (body === undefined)
      return this.respond(m, {
        ok: false,
        error: 'request is not JSON: expected {"action": ...}',
      });
    // Read-only status needs no token; state changes are checked in machineControl.
    if (
      typeof body === 'object' &&
      body !== null &&
      (body as { action?: unknown }).action === 'status'
    )
      return this.respond(m, { ok: true, machine, sample: this.last ?? null });
    const auth = this.options.auth ?? NO_JWKS;
    const result = await machineControl(body, { machine, auth, side: this.side });
    if (result.change) {
      const c = result.change;
      log(
        `control ${sanitise(c.action)}: ${c.applied ? `applied${c.subject ? ` for ${sanitise(c.subject).slice(0, 64)}` : ''}` : `not applied: ${sanitise(c.reason ?? '')}`}`,
        c.applied ? 'notice' : 'warning',
      );
      // A change shows in the next sample at once, not an interval later.
      if (c.applied) void this.tick();
    }
    this.respond(m, result.reply);
  }
}

/**
 * An agent's VRAM from nvidia-smi's compute processes by its pid (its descendants' counted in:
 * vramByAgent): 0 when it holds none, absent when that is not known (no GPU reading, or the
 * driver does not say), never a made-up 0.
 */
function vramOf(
  pid: number | undefined,
  vram: ReadonlyMap<number, number | null> | undefined,
): { vramMb?: number } {
  if (!vram) return {};
  if (pid === undefined) return { vramMb: 0 }; // no process: nothing on the GPU
  const mb = vram.get(pid);
  return mb === null ? {} : { vramMb: mb ?? 0 };
}

/** The sample's agents, with the process found for each (or the config's agents, when none). */
function withProcesses(
  sampled: readonly SampleAgent[],
  configured: ReadonlyArray<{ name: string }>,
  procs: AgentProcess[] | { error: string },
  vram?: ReadonlyMap<number, number | null>,
): SampleAgent[] {
  const byName = new Map('error' in procs ? [] : procs.map((p) => [p.agent, p]));
  const base: SampleAgent[] =
    sampled.length > 0
      ? [...sampled]
      : configured.map((a) => ({
          name: a.name,
          status: byName.has(a.name) ? ('up' as const) : ('down' as const),
          ...vramOf(byName.get(a.name)?.pid, vram),
          rssMb: byName.get(a.name)?.rssMb ?? 0,
        }));
  return base.map((a) => {
    const p = byName.get(a.name);
    return p
      ? { ...a, pid: p.pid, ports: [...p.ports], ...(p.nice !== undefined ? { nice: p.nice } : {}) }
      : a;
  });
}
