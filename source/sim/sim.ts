// `opsdeck sim`: the simulated fleet. Plans the machines, binds every agent's endpoints (MainPC
// on 127.0.0.1, PC2 on 127.0.0.2 by default), runs the NATS leg (its own nats-server unless
// given a URL), obeys the error-bus phase, and takes faults. `startSim` returns a running sim
// whose `stop()` closes every socket, stops its nats-server and removes its temp dir.
import type { SampleSigner } from '../adapters/sample-sign.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimLogWriter, simLogPath, UPSTREAM_BACKUPS, UPSTREAM_MAX_BYTES } from './agent-log.js';
import type { Machine } from '../core/fleet/model.js';
import {
  malformedNats,
  malformedZmq,
  natsMessages,
  zmqMessages,
  type SimError,
} from '../core/errors/encode.js';
import { publishTargets, type PhaseValue } from '../core/errorbus/phase.js';
import { hash32, rng } from '../core/seeded.js';
import { startNatsServer, portFree, type NatsServer } from '../adapters/nats-server.js';
import type { SimAgent } from './agent.js';
import {
  allowAll,
  openControlSocket,
  parseControl,
  type ControlReply,
  type ControlRequest,
  type ControlVerifier,
} from './control.js';
import { newZmqContext } from './endpoints.js';
import { ErrorMaker, type ErrorContext } from './error-maker.js';
import { SimMachine } from './machine.js';
import { UpstreamWiring } from './wiring.js';
import type { ZmqMessage } from '../core/errors/encode.js';
import { CONTROL_SUBJECT, connectNatsSide, type NatsSide } from './nats-side.js';
import {
  faultVerifier,
  serveMachineControl,
  type MachineControlServer,
} from './machine-control.js';
import type { TokenVerifier } from '../core/security/token.js';
import type { SimOverrides } from './overrides.js';
import type { MetricsMode } from '../core/health/replies.js';
import { defaultHosts, isLoopback, planSim, type Clash, type SimPlan } from './plan.js';
import { splitAgentKey } from '../core/fleet/agent-key.js';

/** BaseAgent's `setex(agent:ready:<name>, 300, ...)`: the key is never refreshed. */
export const READY_TTL_S = 300;

export type NatsMode =
  | { mode: 'url'; url: string }
  | { mode: 'own'; bin: string; preferPort?: number }
  | { mode: 'off'; why: string };

export interface SimOptions {
  machines: Machine[];
  overrides?: SimOverrides;
  /** machine id -> loopback address; default MainPC 127.0.0.1, PC2 127.0.0.2. */
  hosts?: Record<string, string>;
  nats: NatsMode;
  /** ZMQ control socket port on 127.0.0.1; 0 picks a free one. */
  controlPort: number;
  /** Background errors per second per machine. */
  errorRate?: number;
  seed?: number;
  tickMs?: number;
  verifyControl?: ControlVerifier;
  /**
   * A JWKS-backed token check (`opsdeck sim --jwks`): faults then need a token for audience
   * "sim", and opsdeck.<machine>.control state changes one for the machine. Absent: open.
   */
  tokenVerifier?: TokenVerifier;
  /**
   * How ZMQ error frames travel (default: the overrides' `wiring`, else `collector`). `upstream`:
   * every agent opens upstream's own sockets (sim/wiring.ts), so PUB-to-PUB and PUB-to-nothing
   * frames are lost as on the fleet.
   */
  wiring?: 'collector' | 'upstream';
  /** The upstream env the agents see in `upstream` wiring (over the overrides' `wiring_env`). */
  wiringEnv?: Record<string, string>;
  /** Each machine's opsdeck agent also runs `--bridge` (the demo: opsdeck as deployed). */
  bridges?: boolean;
  /**
   * Each machine's opsdeck agent also probes its own agents and publishes opsdeck.<m>.health
   * (`--health`), for consoles on `--health-from agents`. Off by default: it doubles the probes.
   */
  agentHealth?: boolean;
  /** ... and serves /metrics on its machine's address at this port (`--metrics`; implies agentHealth). */
  agentMetricsPort?: number;
  /** What BaseAgent's /metrics answers (default: the overrides' `metrics`, else `upstream`). */
  metrics?: MetricsMode;
  /** BaseAgent's ready-key lifetime in ms (default: the overrides' `ready_ttl_s`, else 300 s). */
  readyTtlMs?: number;
  /** Signs each machine's resources samples, as its `opsdeck agent --sample-key` would. */
  sampleSigners?: Readonly<Record<string, SampleSigner>>;
  /**
   * Where the agents write their logs, upstream's way: <logRoot>/<machine>/logs/<name>.log (each
   * machine's opsdeck agent serves them from <logRoot>/<machine>, its --root). Default: a temp
   * folder removed on stop; `false`: no logs.
   */
  logRoot?: string | false;
  /** Rotation size of each log (default upstream's 10 MB; tests use a few KB). */
  logMaxBytes?: number;
  /** Lines per second each log watcher gets (the agent daemon's cap, default 200). */
  logRate?: number;
  /** How long a log watch lives unrenewed (the daemon's TTL, default 15 s; tests shorten it). */
  logTtlMs?: number;
  log?: (line: string) => void;
}

/** Bad options: the caller reports the message; nothing was bound. */
export class SimInputError extends Error {}

export interface MachineSummary {
  id: string;
  host: string;
  agents: number;
  up: number;
  /** Agents whose process died at start (a bind BaseAgent cannot live without). */
  exited: Array<{ agent: string; why: string }>;
  /** Agents on other ports than configured (upstream's first-free-port fallback). */
  moved: Array<{ agent: string; port: number; healthPort: number }>;
  withClashes: number;
  portsBound: number;
  clashes: Clash[];
  bus: string;
}

export class Sim {
  readonly machines: SimMachine[];
  phase: PhaseValue = { phase: 0, name: 'zmq' };
  natsUrl: string | undefined;
  natsNote: string;
  controlEndpoint = '';
  startupMs = 0;
  warnings: string[] = [];
  private nats: NatsSide | undefined;
  private natsServer: NatsServer | undefined;
  /** Set in `upstream` wiring: the agents' own error-bus sockets. */
  wiring: UpstreamWiring | undefined;
  private closeControl: (() => Promise<void>) | undefined;
  private machineControl: MachineControlServer | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  private readonly maker: ErrorMaker;
  private readonly errorRate: number;
  private readonly verify: ControlVerifier;
  private readonly log: (line: string) => void;
  private readonly bindClashes = new Map<string, Clash[]>();
  private backgroundCarry = new Map<string, number>();
  private lastTick = 0;
  private lastStep = 0;
  private lastOom = new Map<string, number>();
  private stopping: Promise<void> | undefined;
  /** The logs' root (see SimOptions.logRoot); removed on stop when the sim made it. */
  readonly logRoot: string | undefined;
  private ownLogRoot = false;

  private constructor(
    readonly plan: SimPlan,
    readonly options: SimOptions,
  ) {
    const seed = options.seed ?? options.overrides?.seed ?? 1;
    this.random = rng(seed);
    this.maker = new ErrorMaker(rng(hash32(`errors/${seed}`)), seed);
    this.errorRate = options.errorRate ?? options.overrides?.error_rate ?? 0.5;
    this.verify =
      options.verifyControl ??
      (options.tokenVerifier ? faultVerifier(options.tokenVerifier) : allowAll);
    this.log = options.log ?? (() => undefined);
    const context = newZmqContext();
    this.machines = plan.machines.map(
      (m) =>
        new SimMachine(
          m,
          context,
          rng(hash32(`${seed}/${m.id}`)),
          options.metrics ?? options.overrides?.metrics ?? 'upstream',
          options.readyTtlMs ?? (options.overrides?.ready_ttl_s ?? READY_TTL_S) * 1000,
          () => Date.now(),
        ),
    );
    this.natsNote = options.nats.mode === 'off' ? `off: ${options.nats.why}` : 'connecting';
    this.warnings = [...plan.warnings];
    if (options.logRoot !== false) {
      this.ownLogRoot = options.logRoot === undefined;
      this.logRoot = options.logRoot ?? mkdtempSync(join(tmpdir(), 'opsdeck-sim-logs-'));
      for (const m of this.machines)
        for (const a of m.agents)
          a.log = new SimLogWriter(
            simLogPath(this.machineRoot(m.id)!, a.plan.selfName),
            a.plan.selfName,
            options.logMaxBytes ?? UPSTREAM_MAX_BYTES,
            UPSTREAM_BACKUPS,
          );
    }
  }

  /** Log watches alive in the machines' opsdeck agents now. */
  logWatches(): number {
    return (this.machineControl?.agents ?? []).reduce((n, a) => n + a.logWatches(), 0);
  }

  /** A machine's upstream checkout as far as logs go: what its opsdeck agent gets as --root. */
  machineRoot(machine: string): string | undefined {
    return this.logRoot ? join(this.logRoot, machine) : undefined;
  }

  static async start(options: SimOptions): Promise<Sim> {
    const began = performance.now();
    const ids = options.machines.map((m) => m.id);
    const hosts = { ...defaultHosts(ids), ...options.hosts };
    for (const [id, host] of Object.entries(hosts)) {
      if (!ids.includes(id))
        throw new SimInputError(
          `host given for ${id}, which is not in the fleet (machines: ${ids.join(', ')})`,
        );
      if (!isLoopback(host))
        throw new SimInputError(
          `host for ${id} is ${host}: the simulator binds loopback addresses only (127.0.0.0/8)`,
        );
      const twin = ids.find((other) => other !== id && hosts[other] === host);
      if (twin)
        throw new SimInputError(
          `${id} and ${twin} both on ${host}: two machines on one address clash on every port they share`,
        );
    }
    const plan = planSim(options.machines, hosts, options.overrides);
    const sim = new Sim(plan, options);
    const fds = fdBudget(
      plan,
      (options.wiring ?? options.overrides?.wiring ?? 'upstream') === 'upstream',
    );
    if (fds.limit !== undefined && fds.need > fds.limit) {
      sim.warnings.push(
        `this fleet needs about ${fds.need} file descriptors and the soft limit is ${fds.limit}: binds past it fail; raise it (ulimit -n ${fds.need * 2}) and start again`,
      );
    }
    try {
      // NATS and the binds proceed together: both dominate start-up time.
      const natsReady = sim.startNats();
      // Handled here too: a refusal can land while the binds are awaited, and an unobserved
      // rejection in that window is reported as unhandled (and fails the process under node:test).
      natsReady.catch(() => undefined);
      const upstream = (options.wiring ?? options.overrides?.wiring ?? 'upstream') === 'upstream';
      for (const m of sim.machines) m.collector = !upstream;
      const machineClashes = await Promise.all(
        sim.machines.map(async (m) => ({ m, lost: await m.start() })),
      );
      for (const { m, lost } of machineClashes) sim.bindClashes.set(m.id, lost);
      if (upstream) {
        // After the machines: CentralErrorBus holds its port before any PC2ErrorPublisher tries.
        sim.wiring = new UpstreamWiring(sim.machines[0]!.context, sim.machines, {
          ...options.overrides?.wiring_env,
          ...options.wiringEnv,
        });
        await sim.wiring.open();
      }
      await natsReady;
      const control = await openControlSocket(
        sim.machines[0]!.context,
        options.controlPort,
        (data) => sim.handleControl(data),
      );
      if (!control.ok) sim.warnings.push(`control socket off: ${control.error}`);
      else {
        sim.controlEndpoint = control.endpoint;
        sim.closeControl = control.close;
      }
      sim.lastTick = sim.lastStep = Date.now();
      for (const m of sim.machines) m.step(sim.lastTick, 0);
      sim.ticker = setInterval(() => sim.tick(), options.tickMs ?? 100);
      sim.startupMs = Math.round(performance.now() - began);
      return sim;
    } catch (error) {
      await sim.stop();
      throw error;
    }
  }

  private async startNats(): Promise<void> {
    const mode = this.options.nats;
    if (mode.mode === 'off') return;
    let url: string;
    if (mode.mode === 'own') {
      // 4222 when free, so a console with default settings finds it; else any free port.
      const port = mode.preferPort && (await portFree(mode.preferPort)) ? mode.preferPort : 0;
      this.natsServer = await startNatsServer({ bin: mode.bin, port });
      url = this.natsServer.url;
    } else {
      url = mode.url;
    }
    try {
      this.nats = await connectNatsSide(url, {
        onPhase: (value, why) => this.setPhase(value, why),
        onWarn: (text) => this.log(`warning: ${text}`),
        onControl: (data) => this.handleControl(data),
      });
    } catch (error) {
      throw new SimInputError(`cannot use NATS at ${url}: ${(error as Error).message}`);
    }
    // Publish nothing until the phase is known, or a phase-3 fleet would leak ZMQ frames.
    await Promise.race([this.nats.phaseKnown, new Promise((r) => setTimeout(r, 2000).unref())]);
    const observe = this.options.agentHealth || this.options.agentMetricsPort !== undefined;
    try {
      this.machineControl = await serveMachineControl(
        url,
        this.machines,
        this.options.tokenVerifier
          ? { mode: 'verify', verify: this.options.tokenVerifier }
          : { mode: 'open' },
        this.log,
        1000,
        this.options.bridges ? this.bridgeFleet() : undefined,
        observe
          ? {
              fleet: this.bridgeFleet().fleet,
              ...(this.options.agentMetricsPort !== undefined
                ? { metricsPort: this.options.agentMetricsPort }
                : {}),
            }
          : undefined,
        this.options.sampleSigners,
        this.logRoot
          ? {
              root: (id) => this.machineRoot(id)!,
              ...(this.options.logRate ? { rate: this.options.logRate } : {}),
              ...(this.options.logTtlMs ? { ttlMs: this.options.logTtlMs } : {}),
            }
          : undefined,
      );
    } catch (error) {
      throw new SimInputError((error as Error).message);
    }
    this.natsUrl = url;
    this.natsNote =
      mode.mode === 'own'
        ? `${url} (own nats-server, JetStream store ${this.natsServer!.storeDir})`
        : url;
  }

  /** The fleet on the sim's addresses, and the upstream env its agents see, for bridge plans. */
  private bridgeFleet(): { fleet: Machine[]; env: Record<string, string> } {
    const fleet = this.options.machines.map((m) => ({
      ...m,
      host: this.machine(m.id)?.plan.host ?? m.host,
    }));
    const env: Record<string, string> = {
      ...Object.fromEntries(fleet.map((m) => [`${m.id.toUpperCase()}_IP`, m.host])),
      ...this.options.overrides?.wiring_env,
      ...this.options.wiringEnv,
    };
    return { fleet, env };
  }

  private setPhase(value: PhaseValue, why: string): void {
    const changed = value.phase !== this.phase.phase;
    this.phase = value;
    for (const m of this.machines) void m.setZmqOff(value.phase === 3);
    if (changed)
      this.log(
        `error-bus phase ${value.phase} ${value.name} (${why}): publishing ${describeTargets(value)}`,
      );
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  private context(a: SimAgent): ErrorContext {
    return {
      machine: a.machine,
      agent: a.name,
      host: a.plan.host,
      dependencies: a.plan.model.dependencies,
      usesGpu: a.plan.vramMb > 0,
    };
  }

  /** Publishes one error from an agent on the buses the phase (and bus faults) allow. */
  publish(a: SimAgent, e: SimError): { zmq: number; nats: number } {
    const m = this.machine(a.machine)!;
    const targets = publishTargets(this.phase.phase);
    let zmq = 0;
    let nats = 0;
    if (targets.zmq && !m.busOff.zmq && a.plan.variant !== 'none') {
      for (const msg of zmqMessages(a.plan.variant, e)) if (this.sendZmq(a, m, msg)) zmq += 1;
    }
    if (targets.nats && !m.busOff.nats && this.nats && a.plan.natsLibrary !== 'none') {
      for (const msg of natsMessages(a.plan.natsLibrary, e)) if (this.nats.publish(msg)) nats += 1;
      m.published.nats += nats;
    }
    a.recordError(e);
    return { zmq, nats };
  }

  /** One ZMQ message of an agent: onto the machine's collector PUB, or through its own upstream sockets. */
  private sendZmq(a: SimAgent, m: SimMachine, msg: ZmqMessage): boolean {
    if (this.wiring) return this.wiring.send(a, m, msg);
    const to = msg.to === 'own' ? m : this.machine(msg.to);
    return to?.pushZmq(msg.frames) ?? false;
  }

  private tick(): void {
    const now = Date.now();
    const dt = Math.min(1000, now - this.lastTick);
    this.lastTick = now;
    for (const m of this.machines) {
      let floodRate = 0;
      for (const a of m.agents) {
        if (a.floodPerS <= 0) continue;
        if (a.status !== 'up' || now >= a.floodUntil) {
          a.floodPerS = 0;
          a.floodCarry = 0;
          continue;
        }
        floodRate += a.floodPerS;
        a.floodCarry += (a.floodPerS * dt) / 1000;
        const n = Math.floor(a.floodCarry);
        a.floodCarry -= n;
        for (let i = 0; i < n; i++)
          this.publish(a, this.maker.make(this.context(a), now, { type: 'ConnectionError' }));
      }
      for (const a of m.agents) this.writeLogs(a, now, dt);
      const carry = (this.backgroundCarry.get(m.id) ?? 0) + (this.errorRate * dt) / 1000;
      const n = Math.floor(carry);
      this.backgroundCarry.set(m.id, carry - n);
      const live = m.agents.filter(
        (a) => a.status === 'up' && (a.plan.variant !== 'none' || a.plan.natsLibrary !== 'none'),
      );
      for (let i = 0; i < n && live.length; i++) {
        const a = live[Math.floor(this.random() * live.length)]!;
        this.publish(a, this.maker.make(this.context(a), now));
      }
      if (m.vramOvercommitted() && now - (this.lastOom.get(m.id) ?? 0) >= 1000) {
        // What a real card does past its capacity: the biggest user gets CUDA OOM.
        this.lastOom.set(m.id, now);
        const top = [...m.agents]
          .filter((a) => a.status === 'up')
          .sort((x, y) => m.agentVramMb(y) - m.agentVramMb(x))[0];
        if (top)
          this.publish(
            top,
            this.maker.make(this.context(top), now, { type: 'MemoryError', severity: 'critical' }),
          );
      }
      if (now - this.lastStep >= 250) m.step(now, floodRate);
    }
    if (now - this.lastStep >= 250) this.lastStep = now;
    // Resources are published by each machine's opsdeck agent (machine-control.ts).
  }

  /** Its periodic status line every 5 s, and the lines of a `log-flood`. */
  private writeLogs(a: SimAgent, now: number, dt: number): void {
    if (!a.log || a.status !== 'up') return;
    if (now - a.logBeat >= 5000) {
      a.logBeat = now;
      const served = a.requests.reduce((n, r) => n + r.count, 0);
      a.log.write('INFO', `${a.plan.selfName} status: running, ${served} requests served`, {
        component: 'health',
      });
    }
    if (a.logRate <= 0) return;
    if (now >= a.logUntil) {
      a.logRate = 0;
      a.logCarry = 0;
      return;
    }
    a.logCarry += (a.logRate * dt) / 1000;
    const n = Math.floor(a.logCarry);
    a.logCarry -= n;
    const records: string[] = [];
    for (let i = 0; i < n; i++)
      records.push(
        a.log.record('INFO', `Processed request ${a.log.written + i + 1}`, now, {
          request_id: `req-${a.log.written + i + 1}`,
        }),
      );
    a.log.writeMany(records);
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  machine(id: string): SimMachine | undefined {
    return this.machines.find((m) => m.id === id);
  }

  /** `Name`, `machine/Name`, or Name plus machine; ambiguous names must say which machine. */
  resolveAgent(name: string, machine?: string): SimAgent | string {
    const key = splitAgentKey(name);
    const m = key?.machine ?? machine;
    const n = key?.agent ?? name;
    if (m && !this.machine(m))
      return `no machine "${m}" (machines: ${this.machines.map((x) => x.id).join(', ')})`;
    const found = this.machines
      .filter((x) => !m || x.id === m)
      .flatMap((x) => (x.byName.has(n) ? [x.byName.get(n)!] : []));
    if (found.length === 1) return found[0]!;
    if (found.length > 1)
      return `agent "${n}" runs on ${found.map((a) => a.machine).join(' and ')}: say which (machine/${n}, or "machine" in the request)`;
    return `no agent "${n}"${m ? ` on ${m}` : ''}`;
  }

  private async handleControl(data: Uint8Array): Promise<string> {
    const parsed = parseControl(data);
    if (!parsed.ok) return JSON.stringify({ ok: false, error: parsed.error });
    return JSON.stringify(await this.control(parsed.request));
  }

  /** Applies one fault request. Bad requests change nothing and say why. */
  /** `trusted`: the operator's own start-up flags, not a request from the wire. */
  async control(request: ControlRequest, trusted = false): Promise<ControlReply> {
    const allowed = trusted ? ({ ok: true } as const) : this.verify(request);
    if (!allowed.ok) return { ok: false, error: `refused: ${allowed.reason}` };
    try {
      return await this.apply(request);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  // Long: a flat dispatch, one branch per fault kind.
  private async apply(r: ControlRequest): Promise<ControlReply> {
    if (r.fault === 'status') return { ok: true, ...this.status() };
    if (r.fault === 'vram-spike') {
      const id = r.machine ?? (this.machine('pc2') ? 'pc2' : this.machines[0]!.id);
      const m = this.machine(id);
      if (!m) return { ok: false, error: `no machine "${id}"` };
      m.spike = { mb: r.mb!, until: r.seconds ? Date.now() + r.seconds * 1000 : Infinity };
      return { ok: true, machine: id, vramUsedMb: Math.round(m.vramUsedMb()) };
    }
    if (r.fault === 'bus-off' || r.fault === 'bus-on') {
      const targets = r.machine ? [this.machine(r.machine)] : this.machines;
      if (targets.some((m) => !m)) return { ok: false, error: `no machine "${r.machine}"` };
      for (const m of targets as SimMachine[]) m.busOff[r.bus!] = r.fault === 'bus-off';
      return { ok: true };
    }
    if (r.fault === 'clear' && !r.agent) {
      for (const m of this.machines) {
        m.spike = { mb: 0, until: Infinity };
        m.busOff.zmq = m.busOff.nats = false;
        for (const a of m.agents) clearAgent(a);
      }
      return { ok: true };
    }
    const a = this.resolveAgent(r.agent!, r.machine);
    if (typeof a === 'string') return { ok: false, error: a };
    switch (r.fault) {
      case 'kill':
        await a.stop();
        return { ok: true, agent: a.key };
      case 'stop':
        await a.stop('stopped by the operator');
        return { ok: true, agent: a.key };
      case 'start': {
        if (a.status === 'up') return { ok: true, agent: a.key, already: true };
        const lost = await a.start();
        return { ok: true, agent: a.key, ...(lost.length ? { clashes: lost } : {}) };
      }
      case 'log-flood':
        if (r.rate! > 0 && a.status !== 'up')
          return { ok: false, error: `${a.key} is down: restart it first` };
        if (!a.log) return { ok: false, error: 'this sim writes no logs (logRoot false)' };
        a.logRate = r.rate!;
        a.logUntil = r.seconds ? Date.now() + r.seconds * 1000 : Infinity;
        return { ok: true, agent: a.key, file: a.log.path };
      case 'restart': {
        await a.stop();
        clearAgent(a);
        const lost = await a.start();
        return { ok: true, agent: a.key, ...(lost.length ? { clashes: lost } : {}) };
      }
      case 'slow':
        a.slowMs = r.ms!;
        return { ok: true, agent: a.key };
      case 'degraded':
        a.degraded = r.on ?? true;
        return { ok: true, agent: a.key };
      case 'flood':
        if (r.rate! > 0 && a.status !== 'up')
          return { ok: false, error: `${a.key} is down: restart it first` };
        a.floodPerS = r.rate!;
        a.floodUntil = r.seconds ? Date.now() + r.seconds * 1000 : Infinity;
        return { ok: true, agent: a.key };
      case 'error': {
        if (a.status !== 'up')
          return { ok: false, error: `${a.key} is down: a dead agent publishes nothing` };
        const e = this.maker.make(this.context(a), Date.now(), {
          ...(r.error_type ? { type: r.error_type } : {}),
          ...(r.severity ? { severity: r.severity } : {}),
          ...(r.message ? { message: r.message } : {}),
        });
        const sent = this.publish(a, e);
        return { ok: true, agent: a.key, id: e.id, natsId: e.natsId, sent };
      }
      case 'malformed':
        return this.malformed(a, r);
      case 'clear':
        clearAgent(a);
        return { ok: true, agent: a.key };
      default:
        return { ok: false, error: `fault ${r.fault as string} needs no agent` };
    }
  }

  private malformed(a: SimAgent, r: ControlRequest): ControlReply {
    if (a.status !== 'up')
      return { ok: false, error: `${a.key} is down: a dead agent publishes nothing` };
    const m = this.machine(a.machine)!;
    const targets = publishTargets(this.phase.phase);
    const useZmq = r.bus ? r.bus === 'zmq' : targets.zmq && !m.busOff.zmq;
    const useNats = r.bus ? r.bus === 'nats' : targets.nats && !m.busOff.nats;
    if (useZmq && !m.bus && !this.wiring)
      return { ok: false, error: `${m.id}'s ZMQ error bus is ${m.busState}` };
    if (useNats && !this.nats) return { ok: false, error: `the NATS side is ${this.natsNote}` };
    const variant = a.plan.variant === 'none' ? 'central' : a.plan.variant;
    const library = a.plan.natsLibrary === 'none' ? 'errors' : a.plan.natsLibrary;
    const sent = { zmq: 0, nats: 0 };
    for (let i = 0; i < (r.count ?? 1); i++) {
      const e = this.maker.make(this.context(a), Date.now());
      if (useZmq && this.sendZmq(a, m, malformedZmq(r.kind!, variant, e))) sent.zmq += 1;
      if (useNats && this.nats!.publish(malformedNats(r.kind!, library, e, this.nats!.maxPayload)))
        sent.nats += 1;
    }
    return { ok: true, agent: a.key, sent };
  }

  // ---------------------------------------------------------------------------------------------
  // Reporting

  summary(): MachineSummary[] {
    return this.machines.map((m) => {
      const lost = this.bindClashes.get(m.id) ?? [];
      const clashes = [...m.plan.clashes, ...lost];
      const agentsWithClash = new Set(
        clashes.filter((c) => c.agent !== 'error bus').map((c) => c.agent),
      );
      return {
        id: m.id,
        host: m.plan.host,
        agents: m.agents.length,
        up: m.agents.filter((a) => a.status === 'up').length,
        exited: m.agents.flatMap((a) => (a.exited ? [{ agent: a.name, why: a.exited }] : [])),
        moved: m.agents.flatMap((a) =>
          a.plan.ports.moved
            ? [{ agent: a.name, port: a.plan.ports.main, healthPort: a.plan.ports.health }]
            : [],
        ),
        withClashes: agentsWithClash.size,
        portsBound:
          m.agents.reduce((n, a) => n + a.bound.length, 0) + (m.plan.busAgent || !m.bus ? 0 : 1),
        clashes,
        bus: `${m.busEndpoint} ${m.busState}`,
      };
    });
  }

  /** One line per machine, then one per clash, NATS and control. */
  summaryLines(): string[] {
    const lines: string[] = [];
    for (const s of this.summary()) {
      lines.push(
        `${s.id} ${s.host}: ${s.up}/${s.agents} agents up (${s.withClashes} with port clashes), ${s.portsBound} ports bound, ${s.clashes.length} clashes; ` +
          `error bus ${s.bus}; nats ${this.natsUrl ? `on, phase ${this.phase.phase} ${this.phase.name}` : 'off'}; ready in ${this.startupMs} ms`,
      );
    }
    for (const s of this.summary()) {
      for (const c of s.clashes)
        lines.push(`  clash ${c.machine} ${c.agent} ${c.role} ${c.port}: held by ${c.heldBy}`);
      for (const e of s.exited) lines.push(`  down ${s.id} ${e.agent}: ${e.why}`);
      for (const mv of s.moved)
        lines.push(
          `  moved ${s.id} ${mv.agent}: on ${mv.port}/${mv.healthPort} (upstream's first free port from 5000, not its configured one)`,
        );
    }
    if (this.wiring) {
      const legs = this.wiring.status().flatMap((p) => [p.own, ...(p.cross ? [p.cross] : [])]);
      const dead = legs.filter((l) => l.note.includes('socket None')).length;
      lines.push(
        `zmq wiring: upstream (each agent's own sockets): ${legs.length - dead} publisher sockets open, ${dead} binds failed (socket None, errors dropped)`,
      );
    }
    lines.push(`nats: ${this.natsNote}`);
    if (this.logRoot)
      lines.push(
        `logs: ${this.logRoot}/<machine>/logs/<agent>.log (upstream's JSON lines; served on opsdeck.<machine>.logs)`,
      );
    lines.push(
      this.controlEndpoint
        ? `control: ${this.controlEndpoint} (ZMQ REP)${this.natsUrl ? ` and NATS ${CONTROL_SUBJECT}` : ''}`
        : 'control: ZMQ socket off',
    );
    for (const b of this.machineControl?.bridges ?? []) {
      const st = b.stats();
      lines.push(
        `bridge ${st.machine}: ${st.endpoints.map((e) => `${e.mode} a SUB on ${e.endpoint}`).join(', ') || 'nothing to bind or connect'}`,
      );
    }
    for (const [i, o] of (this.machineControl?.observers ?? []).entries()) {
      const e = o.exporter();
      const id = this.machines[i]!.id;
      lines.push(
        `agent health ${id}: its opsdeck agent probes its agents, results on opsdeck.${id}.health${e ? `; metrics http://${e.address}/metrics` : ''}`,
      );
    }
    if (this.machineControl)
      lines.push(
        `machine control: ${this.machines.map((m) => `opsdeck.${m.id}.control`).join(', ')} (${this.options.tokenVerifier ? 'JWT required, faults too' : 'open: no token checked; pass --jwks FILE to enforce'})`,
      );
    for (const w of this.warnings) lines.push(`warning: ${w}`);
    return lines;
  }

  status(): Record<string, unknown> {
    return {
      phase: this.phase,
      nats: this.natsUrl ?? null,
      wiring: this.wiring
        ? {
            mode: 'upstream',
            deadAtSource: this.wiring.deadAtSource,
            publishers: this.wiring.status(),
          }
        : { mode: 'collector' },
      machines: this.machines.map((m) => ({
        id: m.id,
        host: m.plan.host,
        bus: {
          endpoint: m.busEndpoint,
          state: m.busState,
          sent: m.bus?.sent ?? 0,
          dropped: m.bus?.dropped ?? 0,
        },
        busOff: m.busOff,
        published: m.published,
        thresholds: m.rm.thresholds,
        nice: Object.fromEntries(m.agents.filter((a) => a.nice !== 0).map((a) => [a.name, a.nice])),
        vramUsedMb: Math.round(m.vramUsedMb()),
        vramTotalMb: m.plan.gpu.totalMb,
        agents: m.agents.map((a) => ({
          name: a.name,
          status: a.status,
          ...(a.exited ? { exited: a.exited } : {}),
          ...(a.plan.ports.moved
            ? { moved: { port: a.plan.ports.main, healthPort: a.plan.ports.health } }
            : {}),
          protocol: a.plan.protocol,
          variant: a.plan.variant,
          natsLibrary: a.plan.natsLibrary,
          port: a.plan.model.port.value,
          healthPort: a.plan.binds.find((b) => b.role === 'health')?.port ?? null,
          bound: a.bound.map((b) => `${b.role}:${b.port}`),
          clashes: [...a.plan.clashes, ...a.lostToOthers].map(
            (c) => `${c.role}:${c.port} held by ${c.heldBy}`,
          ),
          slowMs: a.slowMs,
          degraded: a.degraded,
          floodPerS: a.floodPerS,
          wedged: [...a.wedged],
          errors: a.errorCount,
          vramMb: Math.round(m.agentVramMb(a)),
        })),
      })),
    };
  }

  /** Closes every socket, stops the ticker, the NATS leg and its own nats-server. Idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      if (this.ticker) clearInterval(this.ticker);
      await this.closeControl?.();
      await this.machineControl?.close();
      await this.nats?.close().catch(() => undefined);
      await this.wiring?.close();
      await Promise.all(this.machines.map((m) => m.stop()));
      await this.natsServer?.stop();
      if (this.ownLogRoot && this.logRoot) rmSync(this.logRoot, { recursive: true, force: true });
    })());
  }
}

/**
 * File descriptors the plan needs: a bound ZMQ socket holds its listener and a mailbox
 * (eventfd), an HTTP or TCP server its listener; plus headroom for connections and NATS.
 */
export function fdBudget(
  plan: SimPlan,
  upstream = true,
): { need: number; limit: number | undefined } {
  let need = 64;
  for (const m of plan.machines) {
    need += 2; // the bus PUB
    for (const a of m.agents) {
      for (const b of a.binds) need += b.kind === 'zmq-rep' ? 2 : 1;
      // Upstream wiring: each publisher's own PUB (a mailbox and a connection); D has two, bound.
      if (upstream && a.variant !== 'none' && a.variant !== 'central')
        need += a.variant === 'D' ? 6 : 2;
    }
  }
  return { need, limit: openFileLimit() };
}

/** The soft RLIMIT_NOFILE, from /proc (Node has no getrlimit); undefined where unreadable. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return !m || m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

function clearAgent(a: SimAgent): void {
  a.slowMs = 0;
  a.degraded = false;
  a.floodPerS = 0;
  a.floodCarry = 0;
  a.floodUntil = Infinity;
  a.wedged.clear();
}

const describeTargets = (value: PhaseValue): string => {
  const t = publishTargets(value.phase);
  return t.zmq && t.nats ? 'ZMQ and NATS' : t.zmq ? 'ZMQ only' : 'NATS only';
};

export const startSim = (options: SimOptions): Promise<Sim> => Sim.start(options);
