// Probes every agent with the protocol it speaks and holds the results as a store
// (subscribe/getSnapshot, coalesced notifications) for the console and `status --json`.
import type { Agent, Machine } from '../core/fleet/model.js';
import { sanitise } from '../core/errors/sanitise.js';
import { parseHttpHealth, parseZmqHealth } from '../core/health/parse.js';
import type { HealthProtocol } from '../core/health/replies.js';
import {
  DEFAULT_HYSTERESIS,
  initialHealth,
  markStale,
  observe,
  type AgentHealth,
  type Hysteresis,
  type ProbeOutcome,
} from '../core/health/state.js';
import { HttpProber } from '../adapters/http-probe.js';
import { ZmqPirate } from '../adapters/zmq-probe.js';
import { Emitter } from './emitter.js';

export interface HealthTarget {
  key: string;
  machine: string;
  agent: string;
  host: string;
  healthPort: number;
  /**
   * When no health port is configured, BaseAgent listens on port+1 but UnifiedHealthMixin on
   * port+1000: detection tries this one too.
   */
  altHealthPort?: number;
  /** The protocol the operator or sim overrides name; detected when absent. */
  protocol?: HealthProtocol;
  intervalMs: number;
  timeoutMs: number;
}

export interface HealthOptions {
  /** Overrides the config's global_settings.health_checks.interval_seconds. */
  intervalMs?: number;
  timeoutMs?: number;
  concurrency: number;
  hysteresis: Hysteresis;
  /** How often /metrics is re-checked, in probe rounds. */
  metricsEvery: number;
  notifyMs: number;
  /** Agent -> protocol hints (from a sim overrides file or opsdeck.yaml). */
  protocols?: Record<string, HealthProtocol>;
}

/** Longest a change waits for its probe round to end before it is published anyway. */
const ROUND_NOTIFY_MS = 500;

export const DEFAULT_HEALTH: HealthOptions = {
  concurrency: 64,
  hysteresis: DEFAULT_HYSTERESIS,
  metricsEvery: 10,
  notifyMs: 100,
};

export interface HealthSnapshot {
  version: number;
  agents: ReadonlyMap<string, AgentHealth>;
  /** Duration of the last few probe rounds (ms), newest last. */
  rounds: number[];
}

export const targetKey = (machine: string, agent: string) => `${machine}/${agent}`;

export function targetsFor(
  machines: readonly Machine[],
  options: Partial<HealthOptions> = {},
): HealthTarget[] {
  return machines.flatMap((m) =>
    m.agents.map((a: Agent) => {
      const hc = m.globals.healthChecks ?? {};
      const protocol = options.protocols?.[`${m.id}/${a.name}`] ?? options.protocols?.[a.name];
      return {
        key: targetKey(m.id, a.name),
        machine: m.id,
        agent: a.name,
        host: m.host,
        healthPort: a.healthPort.value,
        ...(a.healthPortImplicit && a.port.value + 1000 <= 65535
          ? { altHealthPort: a.port.value + 1000 }
          : {}),
        ...(protocol ? { protocol } : {}),
        intervalMs: options.intervalMs ?? (hc.intervalSeconds ?? 30) * 1000,
        timeoutMs: options.timeoutMs ?? (hc.timeoutSeconds ?? 10) * 1000,
      };
    }),
  );
}

interface Slot {
  target: HealthTarget;
  health: AgentHealth;
  nextAt: number;
  zmq?: ZmqPirate;
  /** What detection settled on; undefined while detecting. */
  protocol?: HealthProtocol;
  /** HTTP port that answered /health for http agents. */
  httpPort?: number;
  /** ZMQ health port that answered (the configured one, or the mixin's port+1000). */
  zmqPort?: number;
  rounds: number;
  /** Which round of every `metricsEvery` re-checks /metrics: spread, so no round fetches them all. */
  metricsPhase: number;
  busy: boolean;
}

export class HealthStore {
  private readonly emitter = new Emitter();
  private readonly slots = new Map<string, Slot>();
  private readonly http = new HttpProber();
  private readonly options: HealthOptions;
  private snapshot: HealthSnapshot;
  private timer: NodeJS.Timeout | undefined;
  private readonly rounds: number[] = [];
  private stopped = false;

  constructor(targets: readonly HealthTarget[], options: Partial<HealthOptions> = {}) {
    this.options = { ...DEFAULT_HEALTH, ...options };
    for (const target of targets) {
      const metricsPhase = this.slots.size % this.options.metricsEvery;
      this.slots.set(target.key, {
        target,
        health: initialHealth(),
        nextAt: 0,
        rounds: 0,
        metricsPhase,
        busy: false,
        ...(target.protocol ? { protocol: target.protocol } : {}),
      });
    }
    this.snapshot = this.build();
  }

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): HealthSnapshot => this.snapshot;

  /** Starts the probe loop; returns its inverse. */
  start(): () => void {
    this.stopped = false;
    // Sleep until the next probe is due (at most 1 s, for the stale check): an idle console
    // must not wake 20 times a second for nothing.
    const tick = () => {
      if (this.stopped) return;
      const now = Date.now();
      void this.runDue(now);
      let wake = now + 1000;
      for (const slot of this.slots.values()) if (slot.nextAt < wake) wake = slot.nextAt;
      this.timer = setTimeout(tick, Math.max(10, wake - now));
    };
    tick();
    return () => this.stop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending) clearTimeout(this.pending);
    for (const slot of this.slots.values()) slot.zmq?.close();
    this.http.close();
    this.emitter.close();
  }

  /** Probes every agent once, now, with bounded concurrency; resolves when all are done. */
  async probeAll(): Promise<number> {
    const started = performance.now();
    await this.runBatch([...this.slots.values()]);
    return performance.now() - started;
  }

  private async runDue(now: number): Promise<void> {
    const due: Slot[] = [];
    for (const slot of this.slots.values()) {
      if (!slot.busy && slot.nextAt <= now) due.push(slot);
      // Results stop coming when a target is wedged behind the limit: show that as stale.
      const stale = markStale(
        slot.health,
        now,
        slot.target.intervalMs * 2 + slot.target.timeoutMs * 2,
      );
      if (stale !== slot.health) {
        slot.health = stale;
        this.changed();
      }
    }
    if (due.length === 0) return;
    for (const slot of due) slot.nextAt = now + slot.target.intervalMs;
    const started = performance.now();
    this.inRound++;
    try {
      await this.runBatch(due);
    } finally {
      this.inRound--;
    }
    this.rounds.push(performance.now() - started);
    if (this.rounds.length > 20) this.rounds.shift();
    // One notification per round, as soon as it ends: every reply on its own was a frame each.
    if (this.dirty && this.inRound === 0) this.publish();
  }

  private async runBatch(slots: Slot[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < slots.length && !this.stopped) {
        const slot = slots[next++]!;
        if (slot.busy) continue;
        slot.busy = true;
        try {
          await this.probe(slot);
        } finally {
          slot.busy = false;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.options.concurrency, slots.length) }, worker),
    );
  }

  private async probe(slot: Slot): Promise<void> {
    const outcome =
      slot.protocol === 'http' ? await this.probeHttp(slot) : await this.probeZmq(slot);
    if (this.stopped) return;
    slot.health = observe(slot.health, outcome, this.options.hysteresis);
    slot.rounds++;
    // The first reply, then every tenth probe per agent, each agent in its own round: checking
    // every agent's /metrics in the same round made that round 4-5x longer (bench/health.ts).
    if (
      outcome.kind === 'reply' &&
      (slot.rounds === 1 || slot.rounds % this.options.metricsEvery === slot.metricsPhase)
    )
      await this.checkMetrics(slot);
    this.changed();
  }

  private async probeZmq(slot: Slot): Promise<ProbeOutcome> {
    const { target } = slot;
    slot.zmq ??= new ZmqPirate(
      `tcp://${target.host}:${slot.zmqPort ?? target.healthPort}`,
      target.timeoutMs,
    );
    // The bare string works on both BaseAgent's health socket and UnifiedHealthMixin's.
    const result = await slot.zmq.request('health_check');
    const at = Date.now();
    if (result.kind === 'reply') {
      const parsed = parseZmqHealth(result.text);
      const raw = clipRaw(result.text);
      if (!parsed.ok)
        return { kind: 'bad-reply', reason: parsed.reason, latencyMs: result.latencyMs, at, raw };
      slot.protocol = parsed.reading.protocol;
      return { kind: 'reply', reading: parsed.reading, latencyMs: result.latencyMs, at, raw };
    }
    if (
      slot.protocol === undefined &&
      target.altHealthPort !== undefined &&
      slot.zmqPort === undefined
    ) {
      const alt = new ZmqPirate(`tcp://${target.host}:${target.altHealthPort}`, target.timeoutMs);
      const viaAlt = await alt.request('health_check');
      if (viaAlt.kind === 'reply') {
        const parsed = parseZmqHealth(viaAlt.text);
        if (parsed.ok) {
          slot.zmq.close();
          slot.zmq = alt;
          slot.zmqPort = target.altHealthPort;
          slot.protocol = parsed.reading.protocol;
          return {
            kind: 'reply',
            reading: parsed.reading,
            latencyMs: viaAlt.latencyMs,
            at: Date.now(),
            raw: clipRaw(viaAlt.text),
          };
        }
      }
      alt.close();
    }
    if (slot.protocol === undefined) {
      // Nothing speaks ZMQ there: maybe an HTTP-only service (FastAPI, BaseHealthMixin).
      const viaHttp = await this.probeHttp(slot);
      // Only a parsed /health answer proves HTTP: a ZMQ port answers HTTP with garbage.
      if (viaHttp.kind === 'reply') {
        slot.zmq.close();
        delete slot.zmq;
        slot.protocol = 'http';
        return viaHttp;
      }
    }
    if (result.kind === 'timeout') return { kind: 'timeout', timeoutMs: target.timeoutMs, at };
    if (result.kind === 'refused') return { kind: 'refused', reason: result.reason, at };
    return { kind: 'bad-reply', reason: result.reason, latencyMs: 0, at };
  }

  /** HTTP /health: BaseAgent's mirror on health+1, else a plain service on the health port. */
  private async probeHttp(slot: Slot): Promise<ProbeOutcome> {
    const { target } = slot;
    const ports = slot.httpPort ? [slot.httpPort] : [target.healthPort + 1, target.healthPort];
    let last: ProbeOutcome = { kind: 'refused', reason: 'no HTTP port answered', at: Date.now() };
    for (const port of ports) {
      const result = await this.http.get(target.host, port, '/health', target.timeoutMs);
      const at = Date.now();
      if (result.kind === 'reply') {
        const parsed = parseHttpHealth(result.status, result.text);
        if (!parsed.ok) {
          last = {
            kind: 'bad-reply',
            reason: parsed.reason,
            latencyMs: result.latencyMs,
            at,
            raw: clipRaw(result.text),
          };
          continue;
        }
        slot.httpPort = port;
        return {
          kind: 'reply',
          reading: parsed.reading,
          latencyMs: result.latencyMs,
          at,
          raw: clipRaw(result.text),
        };
      }
      const outcome: ProbeOutcome =
        result.kind === 'timeout'
          ? { kind: 'timeout', timeoutMs: target.timeoutMs, at }
          : result.kind === 'refused'
            ? { kind: 'refused', reason: result.reason, at }
            : { kind: 'bad-reply', reason: result.reason, latencyMs: 0, at };
      // Garbage or silence on one port is not a dead agent: a refusal from the other port must
      // not hide it (refused is definitive and skips the hysteresis).
      if (last.kind === 'refused' || outcome.kind === 'bad-reply') last = outcome;
    }
    return last;
  }

  private async checkMetrics(slot: Slot): Promise<void> {
    const port =
      slot.protocol === 'http'
        ? (slot.httpPort ?? slot.target.healthPort)
        : slot.target.healthPort + 1;
    const result = await this.http.get(slot.target.host, port, '/metrics', slot.target.timeoutMs);
    const instrumented =
      result.kind === 'reply' && result.status === 200 && /^# (HELP|TYPE) /m.test(result.text);
    if (slot.health.instrumented !== instrumented) slot.health = { ...slot.health, instrumented };
  }

  private pending: NodeJS.Timeout | undefined;
  private dirty = false;
  private inRound = 0;
  private changed(): void {
    this.dirty = true;
    if (this.pending || this.stopped) return;
    // Inside a round the round's end publishes; this timer only bounds the wait when a round
    // runs long (agents timing out), so a change never waits more than ROUND_NOTIFY_MS.
    const wait =
      this.inRound > 0 ? Math.max(this.options.notifyMs, ROUND_NOTIFY_MS) : this.options.notifyMs;
    this.pending = setTimeout(() => this.publish(), wait);
    this.pending.unref();
  }

  private publish(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    if (this.stopped || !this.dirty) return;
    this.dirty = false;
    this.snapshot = this.build();
    this.emitter.emit();
  }

  /** Rebuild now (tests and `status --json` read right after probeAll). */
  flush(): HealthSnapshot {
    this.snapshot = this.build();
    return this.snapshot;
  }

  private build(): HealthSnapshot {
    const agents = new Map<string, AgentHealth>();
    for (const [key, slot] of this.slots) agents.set(key, slot.health);
    return { version: (this.snapshot?.version ?? 0) + 1, agents, rounds: [...this.rounds] };
  }
}

const clipRaw = (text: string) => sanitise(text.length > 400 ? `${text.slice(0, 400)}…` : text);
