// One simulated machine: its agents, its error-bus PUB, and CPU / RAM / VRAM that move
// plausibly (random walks around what the agents hold, throttling and spikes included).
import type * as zmq from 'zeromq';
import { initialRmState, type RmState, type RmStats } from '../core/resources/resource-manager.js';
import type { ResourceSample } from '../core/resources/sample.js';
import type { ProcessRow } from '../core/fleet/processes.js';
import type { MetricsMode } from '../core/health/replies.js';
import { SimAgent, type AgentHost } from './agent.js';
import { PubOutbox, type BindFailure } from './endpoints.js';
import type { Clash, PlannedMachine } from './plan.js';

const MB = 1024 * 1024;

export class SimMachine implements AgentHost {
  readonly agents: SimAgent[];
  readonly byName = new Map<string, SimAgent>();
  readonly hostname: string;
  rm: RmState = initialRmState();
  private pids = 2000;
  bus: PubOutbox | undefined;
  /** Why the bus is closed, when it is: `phase 3`, `killed`, or a bind failure. */
  busState = 'closed';
  busFailure: Clash | undefined;
  /**
   * False in `upstream` wiring: a machine without CentralErrorBus binds no collector PUB; its
   * agents' own sockets carry their frames (sim/wiring.ts).
   */
  collector = true;
  /** Operator faults: stop publishing on a bus. */
  readonly busOff = { zmq: false, nats: false };
  readonly published = { zmq: 0, nats: 0 };
  /** Extra VRAM from a spike fault, and when it ends (ms). */
  spike = { mb: 0, until: Infinity };
  cpuPercent: number;
  private cpuBase: number;
  private readonly vram = new Map<SimAgent, number>();
  /**
   * Set by openBus (the bus agent's start, or start() for a collector machine without one).
   * False until then: in `upstream` wiring a machine without CentralErrorBus never wants a PUB on
   * its error-bus port, so a phase change (setZmqOff(false) on a rollback from 3, or any KV
   * update) must not bind one there; it would take the port from the bridge's SUB.
   */
  private busWanted = false;
  private busChain: Promise<unknown> = Promise.resolve();
  private zmqOff = false;

  constructor(
    readonly plan: PlannedMachine,
    readonly context: zmq.Context,
    private readonly random: () => number,
    readonly metricsMode: MetricsMode,
    readonly readyTtlMs: number,
    readonly now: () => number,
  ) {
    this.hostname = `${plan.id}-sim`;
    this.agents = plan.agents.map((a) => new SimAgent(a, this));
    for (const a of this.agents) this.byName.set(a.name, a);
    this.cpuBase = 14 + random() * 12;
    this.cpuPercent = this.cpuBase;
  }

  get id(): string {
    return this.plan.id;
  }

  get busEndpoint(): string {
    return `tcp://${this.plan.host}:${this.plan.errorBusPort}`;
  }

  get busAgent(): SimAgent | undefined {
    return this.plan.busAgent ? this.byName.get(this.plan.busAgent) : undefined;
  }

  /** Opens the error-bus PUB. Called by the bus agent's start, or by the machine when it has none. */
  openBus(): Promise<BindFailure | undefined> {
    this.busWanted = true;
    return this.syncBus();
  }

  closeBus(): Promise<unknown> {
    this.busWanted = false;
    return this.syncBus();
  }

  /** Phase 3 (zmq-off) closes 7150; rolling back reopens it. */
  setZmqOff(off: boolean): Promise<BindFailure | undefined> {
    this.zmqOff = off;
    return this.syncBus();
  }

  // Opens and closes are chained so a quick kill/restart or phase flip cannot interleave.
  private syncBus(): Promise<BindFailure | undefined> {
    const next = this.busChain.then(async () => {
      const want = this.busWanted && !this.zmqOff;
      if (want && !this.bus) {
        const outbox = new PubOutbox(this.context);
        const failure = await outbox.bind(this.busEndpoint);
        if (failure) {
          this.busState =
            failure.code === 'EADDRINUSE'
              ? 'held by another process'
              : `bind error: ${failure.message}`;
          return failure;
        }
        this.bus = outbox;
        this.busState = 'open';
      } else if (!want && this.bus) {
        const closing = this.bus;
        this.bus = undefined;
        await closing.close();
        this.busState = this.zmqOff ? 'closed (phase 3 zmq-off)' : 'closed (bus agent down)';
      }
      return undefined;
    });
    this.busChain = next.catch(() => undefined);
    return next;
  }

  /** Starts every agent (and the bus when no agent is the bus); returns clashes found at bind. */
  async start(): Promise<Clash[]> {
    const lost: Clash[] = [];
    if (!this.plan.busAgent && this.collector) {
      const failure = await this.openBus();
      if (failure) {
        this.busFailure = {
          machine: this.id,
          agent: 'error bus',
          role: 'pub',
          port: this.plan.errorBusPort,
          heldBy: 'another process',
        };
        lost.push(this.busFailure);
      }
    }
    const results = await Promise.all(
      this.agents.filter((a) => !a.plan.start.down).map((a) => a.start()),
    );
    for (const r of results) lost.push(...r);
    for (const a of this.agents) this.vram.set(a, a.status === 'up' ? a.plan.vramMb : 0);
    return lost;
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
    this.busWanted = false;
    await this.syncBus();
  }

  /** Pushes one ZMQ message on this machine's bus; false when the bus is closed or full. */
  pushZmq(frames: (string | Uint8Array)[]): boolean {
    if (!this.bus) return false;
    const ok = this.bus.push(frames);
    if (ok) this.published.zmq += 1;
    return ok;
  }

  load(): { cpuPercent: number; memoryPercent: number } {
    return {
      cpuPercent: this.cpuPercent,
      memoryPercent: (this.ramUsedMb() / this.plan.ramTotalMb) * 100,
    };
  }

  ramUsedMb(): number {
    // The OS and page cache hold a quarter of RAM; each running agent its own resident set.
    return this.plan.ramTotalMb * 0.25 + this.agents.reduce((sum, a) => sum + a.rss, 0);
  }

  vramUsedMb(): number {
    let used = this.spike.mb;
    for (const mb of this.vram.values()) used += mb;
    return Math.min(this.plan.gpu.totalMb, used);
  }

  /** Whether the agents want more VRAM than the card has (the spike pushed it over). */
  vramOvercommitted(): boolean {
    let used = this.spike.mb;
    for (const mb of this.vram.values()) used += mb;
    return this.plan.gpu.totalMb > 0 && used > this.plan.gpu.totalMb;
  }

  agentVramMb(agent: SimAgent): number {
    return this.vram.get(agent) ?? 0;
  }

  /** Moves CPU and VRAM one step: toward their targets, with a little noise. */
  step(now: number, floodPerS: number): void {
    if (this.spike.mb > 0 && now >= this.spike.until) this.spike = { mb: 0, until: Infinity };
    // No throttle level changes what an agent holds: upstream has no way to make it let go.
    for (const a of this.agents) {
      const target = a.status === 'up' ? a.plan.vramMb : 0;
      const current = this.vram.get(a) ?? 0;
      const jitter = target > 0 ? (this.random() - 0.5) * 0.02 * target : 0;
      // 35% of the way per step: a throttle or a kill shows within a second or two.
      this.vram.set(a, Math.max(0, current + (target - current) * 0.35 + jitter));
    }
    this.cpuBase = Math.min(45, Math.max(6, this.cpuBase + (this.random() - 0.5) * 2));
    const floodCost = Math.min(40, floodPerS / 500);
    const target =
      this.cpuBase +
      floodCost +
      (this.agents.filter((a) => a.status === 'up').length / Math.max(1, this.agents.length)) * 4;
    this.cpuPercent = Math.min(
      100,
      Math.max(0, this.cpuPercent + (target - this.cpuPercent) * 0.5),
    );
  }

  rmStats(): RmStats {
    const ramUsed = this.ramUsedMb();
    const vramUsed = this.vramUsedMb();
    return {
      cpuPercent: round1(this.cpuPercent),
      memoryPercent: round1((ramUsed / this.plan.ramTotalMb) * 100),
      memoryAvailable: Math.round((this.plan.ramTotalMb - ramUsed) * MB),
      memoryTotal: this.plan.ramTotalMb * MB,
      diskPercent: 41.7,
      gpuAllocatedBytes: Math.round(vramUsed * MB),
      // PyTorch's caching allocator reserves a little more than it has allocated.
      gpuReservedBytes: Math.round(Math.min(this.plan.gpu.totalMb, vramUsed * 1.08) * MB),
      gpuTotalBytes: this.plan.gpu.totalMb * MB,
    };
  }

  /** The process table a daemon on this machine would read: one python process per running agent. */
  processes(): ProcessRow[] {
    return this.agents
      .filter((a) => a.status === 'up')
      .map((a) => ({
        pid: a.pid,
        argv: ['python3', a.plan.model.scriptPath, '--port', String(a.plan.ports.main)],
        ports: a.bound.map((b) => b.port).sort((x, y) => x - y),
        nice: a.nice,
        rssMb: a.rss,
      }));
  }

  renice(pid: number, nice: number): { ok: true; nice: number } | { ok: false; error: string } {
    const a = this.agents.find((x) => x.status === 'up' && x.pid === pid);
    if (!a) return { ok: false, error: `ESRCH: no process ${pid}` };
    a.nice = Math.max(-20, Math.min(19, Math.round(nice)));
    return { ok: true, nice: a.nice };
  }

  /** Nextpid for a (re)started agent process. */
  nextPid(): number {
    return this.pids++;
  }

  sample(now: number): Omit<ResourceSample, 'throttle' | 'throttleLevel'> {
    const vramUsed = this.vramUsedMb();
    const total = this.plan.gpu.totalMb;
    return {
      machine: this.id,
      ts: now,
      source: 'sim',
      gpu:
        total > 0
          ? {
              name: this.plan.gpu.name,
              totalMb: total,
              usedMb: Math.round(vramUsed),
              utilPct: round1(
                Math.min(100, (vramUsed / total) * 100 * 0.8 + this.cpuPercent * 0.3),
              ),
            }
          : null,
      cpuPct: round1(this.cpuPercent),
      ramTotalMb: this.plan.ramTotalMb,
      ramUsedMb: Math.round(this.ramUsedMb()),
      agents: this.agents.map((a) => ({
        name: a.name,
        status: a.status,
        vramMb: Math.round(this.vram.get(a) ?? 0),
        rssMb: a.rss,
      })),
    };
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
