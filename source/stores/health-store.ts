// Probes every agent with the protocol it speaks and holds the results as a store
// (subscribe/getSnapshot, coalesced notifications) for the console and `status --json`.
//
// Three rules keep it honest and harmless (docs/architecture.md, "Targets"; issue 12):
// - an agent is sent only requests its code parses: upstream's own JSON health request, the
//   WP-07 bare string only after a WP-07 reply proved the mixin (it wedges ResourceManager);
// - the state is what upstream's own client would see on the ZMQ health socket; an HTTP mirror
//   that answers while ZMQ is silent is a note beside it, never the verdict;
// - an agent whose configured port refuses is looked for by name where its code really binds
//   (the first free ports from 5000), and shown there, MOVED, not DOWN.
import type { Agent, Machine } from '../core/fleet/model.js';
import { sanitise } from '../core/errors/sanitise.js';
import { FREE_PORT_FROM, FREE_PORT_TRIES, selfName } from '../core/fleet/upstream-code.js';
import { expectedProtocol, healthRequest } from '../core/health/expect.js';
import { judgeName, placeAnswers, type Place } from '../core/health/locate.js';
import {
  judgeMetrics,
  parseHttpHealth,
  parseZmqHealth,
  type Reading,
} from '../core/health/parse.js';
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
import type { Cancel, Clock } from '../core/seams/clock.js';
import type { Prober, ScanResult, ZmqProbeResult, ZmqRequester } from '../core/seams/prober.js';
import { Store } from './store.js';
import type { HealthSnapshot, HealthSource } from './health-source.js';
import { agentKey } from '../core/fleet/agent-key.js';

export type { HealthSnapshot } from './health-source.js';

export interface HealthTarget {
  key: string;
  machine: string;
  agent: string;
  host: string;
  /** The configured main port (what a PUB-only agent binds). */
  port?: number;
  healthPort: number;
  /**
   * When no health port is configured, BaseAgent listens on port+1 but UnifiedHealthMixin on
   * port+1000: detection tries this one too.
   */
  altHealthPort?: number;
  /** The protocol the operator or sim overrides name: taken as given. */
  protocol?: HealthProtocol;
  /** What its config and upstream code say it speaks: decides the first request, not the verdict. */
  expect?: HealthProtocol;
  /** Names its replies may carry (config key, upstream self-name); default: the agent's name. */
  names?: readonly string[];
  intervalMs: number;
  timeoutMs: number;
}

/** What other stores observed that health can use as evidence. */
export interface HealthEvidence {
  /** Last ZMQ error-bus frame received from a machine's bus port (ms), if any. */
  lastBusFrame?(machine: string): number | undefined;
  /**
   * What the machine's opsdeck agent saw of an agent's process in /proc: its pid and the TCP
   * ports it listens on (fresh samples only).
   */
  process?(machine: string, agent: string): { pid: number; ports: readonly number[] } | undefined;
}

export interface HealthOptions {
  /** Overrides the config's global_settings.health_checks.interval_seconds. */
  intervalMs?: number;
  timeoutMs?: number;
  concurrency: number;
  hysteresis: Hysteresis;
  /**
   * How often /metrics is re-checked, in probe rounds: at least this many, and at least a
   * minute's worth (METRICS_EVERY_MS) at the agent's interval.
   */
  metricsEvery: number;
  notifyMs: number;
  /** Agent -> protocol hints (from a sim overrides file or opsdeck.yaml). */
  protocols?: Record<string, HealthProtocol>;
  /** Look for refused agents by name on the free-port range (default on). */
  locate: boolean;
  /** A host's range is scanned at most this often (ms). */
  scanEveryMs: number;
  /** Frames on a PUB-only agent's bus within this window count as a sign of life (ms). */
  frameWindowMs: number;
  evidence?: HealthEvidence;
  /** Told every result as it is recorded (the agent's exporter keeps latency histograms). */
  onProbe?(key: string, health: AgentHealth): void;
}

/**
 * An agent's /metrics is re-checked at most this often: whether it is instrumented changes with
 * a deploy, not from one probe to the next, and each check is an HTTP request (a new TCP
 * connection: the agent's server closed the last one long before), which cost the idle console
 * more than its ZMQ probes did at a 2 s interval.
 */
export const METRICS_EVERY_MS = 60_000;

/** Longest a change waits for its probe round to end before it is published anyway. */
const ROUND_NOTIFY_MS = 500;

export const DEFAULT_HEALTH: HealthOptions = {
  concurrency: 64,
  hysteresis: DEFAULT_HYSTERESIS,
  metricsEvery: 10,
  notifyMs: 100,
  locate: true,
  scanEveryMs: 30_000,
  frameWindowMs: 60_000,
};

/** Results stop coming when a target is wedged behind the limit: stale after this long without one. */
const staleAfter = (t: HealthTarget): number => t.intervalMs * 2 + t.timeoutMs * 2;

export function targetsFor(
  machines: readonly Machine[],
  options: Partial<HealthOptions> = {},
): HealthTarget[] {
  return machines.flatMap((m) =>
    m.agents.map((a: Agent): HealthTarget => {
      const hc = m.globals.healthChecks ?? {};
      const protocol = options.protocols?.[agentKey(m.id, a.name)] ?? options.protocols?.[a.name];
      const self = selfName(a);
      return {
        key: agentKey(m.id, a.name),
        machine: m.id,
        agent: a.name,
        host: m.host,
        port: a.port.value,
        healthPort: a.healthPort.value,
        ...(a.healthPortImplicit && a.port.value + 1000 <= 65535
          ? { altHealthPort: a.port.value + 1000 }
          : {}),
        ...(protocol ? { protocol } : {}),
        expect: expectedProtocol(a),
        names: self === a.name ? [a.name] : [a.name, self],
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
  zmq?: ZmqRequester;
  /** What the agent proved it speaks by answering; undefined until it has. */
  protocol?: HealthProtocol;
  /** HTTP port that answered /health for http agents. */
  httpPort?: number;
  /** ZMQ health port that answered (the configured one, or the mixin's port+1000). */
  zmqPort?: number;
  rounds: number;
  /** Re-checks /metrics every this many probes. */
  metricsEvery: number;
  /** Which round of every `metricsEvery` re-checks /metrics: spread, so no round fetches them all. */
  metricsPhase: number;
  busy: boolean;
}

/** A request that got no reply (ZMQ or HTTP) as the probe's outcome. */
const failure = (
  result: { kind: 'timeout' } | { kind: 'refused' | 'error'; reason: string },
  timeoutMs: number,
  at: number,
  via: string,
): ProbeOutcome =>
  result.kind === 'timeout'
    ? { kind: 'timeout', timeoutMs, at, via }
    : result.kind === 'refused'
      ? { kind: 'refused', reason: result.reason, at, via }
      : { kind: 'bad-reply', reason: result.reason, latencyMs: 0, at, via };

const clipRaw = (text: string) => sanitise(text.length > 400 ? `${text.slice(0, 400)}…` : text);

/**
 * The prober is the store's: stop() closes it. Timers and times come from the clock; the probe
 * loop's timer keeps the process alive (an agent's health loop is a reason to stay).
 */
export class HealthStore extends Store<HealthSnapshot> implements HealthSource {
  readonly from = 'direct' as const;
  private readonly slots = new Map<string, Slot>();
  private readonly options: HealthOptions;
  private timer: Cancel | undefined;
  private readonly rounds: number[] = [];
  private stopped = false;
  /** Every name a fleet agent answers with -> its `machine/Agent` keys. */
  private readonly names = new Map<string, string[]>();
  private readonly scans = new Map<string, ScanResult>();
  private readonly scanning = new Map<string, Promise<ScanResult>>();
  /** host:port -> the agent (key) whose config declares that port or health port. */
  private readonly declared = new Map<string, string>();

  constructor(
    targets: readonly HealthTarget[],
    private readonly prober: Prober,
    options: Partial<HealthOptions> = {},
    clock?: Clock,
  ) {
    // The first snapshot is built below, once the slots exist.
    super(undefined as unknown as HealthSnapshot, clock);
    this.options = { ...DEFAULT_HEALTH, ...options };
    for (const target of targets) {
      const metricsEvery = Math.max(
        this.options.metricsEvery,
        Math.ceil(METRICS_EVERY_MS / Math.max(1, target.intervalMs)),
      );
      const metricsPhase = this.slots.size % metricsEvery;
      this.slots.set(target.key, {
        target,
        metricsEvery,
        health: initialHealth(),
        nextAt: 0,
        rounds: 0,
        metricsPhase,
        busy: false,
        ...(target.protocol ? { protocol: target.protocol } : {}),
      });
      for (const name of target.names ?? [target.agent])
        this.names.set(name, [...(this.names.get(name) ?? []), target.key]);
      for (const port of [target.port, target.healthPort])
        if (port !== undefined && !this.declared.has(`${target.host}:${port}`))
          this.declared.set(`${target.host}:${port}`, target.key);
    }
    this.snapshot = this.build();
  }

  /** Starts the probe loop; returns its inverse. */
  start(): () => void {
    this.stopped = false;
    this.wakeUp();
    // Sleep until the next probe is due or the next result would be late enough to show as
    // stale, whichever is first: an idle console wakes once a round, not every second. A probe
    // still running past its next turn is looked at again each second (it may be wedged).
    const tick = () => {
      if (this.stopped) return;
      const now = this.clock.now();
      void this.runDue(now);
      let wake = now + 60_000;
      for (const slot of this.slots.values()) {
        const next = slot.busy && slot.nextAt <= now ? now + 1000 : slot.nextAt;
        const stale =
          slot.health.lastProbeAt === undefined
            ? Infinity
            : slot.health.lastProbeAt + staleAfter(slot.target) + 1;
        wake = Math.min(wake, next, stale > now ? stale : Infinity);
      }
      this.timer = this.clock.after(Math.max(10, wake - now), tick, true);
    };
    tick();
    return () => this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.();
    for (const slot of this.slots.values()) slot.zmq?.close();
    this.prober.close();
    this.shutDown();
  }

  /** Probes every agent once, now, with bounded concurrency; resolves when all are done. */
  async probeAll(): Promise<number> {
    const started = this.clock.elapsed();
    await this.runBatch([...this.slots.values()]);
    return this.clock.elapsed() - started;
  }

  private async runDue(now: number): Promise<void> {
    const due: Slot[] = [];
    for (const slot of this.slots.values()) {
      if (!slot.busy && slot.nextAt <= now) due.push(slot);
      // Results stop coming when a target is wedged behind the limit: show that as stale.
      const stale = markStale(slot.health, now, staleAfter(slot.target));
      if (stale !== slot.health) {
        slot.health = stale;
        this.touch();
      }
    }
    if (due.length === 0) return;
    for (const slot of due) slot.nextAt = now + slot.target.intervalMs;
    const started = this.clock.elapsed();
    this.inRound++;
    try {
      await this.runBatch(due);
    } finally {
      this.inRound--;
    }
    this.rounds.push(this.clock.elapsed() - started);
    if (this.rounds.length > 20) this.rounds.shift();
    // One notification per round, as soon as it ends: every reply on its own was a frame each.
    if (this.inRound === 0) this.flushChanges();
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
    let outcome = await this.probeOnce(slot);
    if (this.options.locate && this.zmqSpoken(slot)) {
      if (outcome.kind === 'refused') outcome = (await this.relocate(slot, outcome)) ?? outcome;
      else if (outcome.kind === 'timeout' && slot.health.lastReplyAt === undefined) {
        // Never answered here: if the port holds something that is not a ZMQ REP (another
        // agent's HTTP mirror, say), the agent is not there; look for it by name.
        const port = slot.health.moved?.healthPort ?? slot.zmqPort ?? slot.target.healthPort;
        const zmtp = await this.prober.zmtp(
          slot.target.host,
          port,
          Math.min(slot.target.timeoutMs, 1000),
        );
        if (zmtp.holder !== 'unknown' && zmtp.socketType !== 'REP') {
          const held = {
            ...outcome,
            note: `${port} is held by something that is not a ZMQ REP (${zmtp.detail})`,
          };
          outcome = (await this.relocate(slot, held)) ?? held;
        }
      }
    }
    outcome = this.checkName(slot, outcome);
    if (this.stopped) return;
    slot.health = observe(slot.health, outcome, this.options.hysteresis);
    this.options.onProbe?.(slot.target.key, slot.health);
    slot.rounds++;
    // The first reply, then every tenth probe per agent, each agent in its own round: checking
    // every agent's /metrics in the same round made that round 4-5x longer (bench/health.ts).
    if (
      outcome.kind === 'reply' &&
      slot.protocol !== 'pub' &&
      (slot.rounds === 1 || slot.rounds % slot.metricsEvery === slot.metricsPhase)
    )
      await this.checkMetrics(slot);
    this.touch();
  }

  /** The protocol to probe with: proven, else hinted by the operator, else expected from config. */
  private protocolOf(slot: Slot): HealthProtocol | undefined {
    return slot.protocol ?? slot.target.protocol ?? slot.target.expect;
  }

  private zmqSpoken(slot: Slot): boolean {
    const p = this.protocolOf(slot);
    return p === undefined || p === 'base-agent' || p === 'json-rm' || p === 'unified';
  }

  private probeOnce(slot: Slot): Promise<ProbeOutcome> {
    const p = this.protocolOf(slot);
    if (p === 'pub') return this.probePub(slot);
    if (p === 'http' && slot.protocol === 'http') return this.probeHttp(slot);
    // An expected HTTP service is still asked over HTTP first, then ZMQ: services/ can hold a
    // BaseAgent too, and one proven reply settles it.
    if (p === 'http') return this.detectHttpFirst(slot);
    return this.probeZmq(slot);
  }

  private async detectHttpFirst(slot: Slot): Promise<ProbeOutcome> {
    const viaHttp = await this.probeHttp(slot);
    if (viaHttp.kind === 'reply' && !viaHttp.reading.baseAgentMirror) {
      slot.protocol = 'http';
      return viaHttp;
    }
    const viaZmq = await this.probeZmq(slot, false);
    return viaZmq.kind === 'reply' || viaHttp.kind !== 'reply' ? viaZmq : viaHttp;
  }

  /**
   * One ZMQ health request, the JSON one unless the agent proved it speaks WP-07. A WP-07 mixin
   * answers the JSON "Unknown health request": it is asked again, at once, the way it understands.
   */
  private async askZmq(
    pirate: ZmqRequester,
    slot: Slot,
  ): Promise<{ result: ZmqProbeResult; request: string }> {
    const request = healthRequest(slot.protocol);
    const result = await pirate.request(request);
    if (
      result.kind === 'reply' &&
      result.text === 'Unknown health request' &&
      request !== 'health_check'
    ) {
      slot.protocol = 'unified';
      const again = healthRequest('unified');
      return { result: await pirate.request(again), request: again };
    }
    return { result, request };
  }

  private zmqOutcome(
    result: Extract<ZmqProbeResult, { kind: 'reply' }>,
    slot: Slot,
    via: string,
  ): ProbeOutcome {
    const at = this.clock.now();
    const parsed = parseZmqHealth(result.text);
    const raw = clipRaw(result.text);
    if (!parsed.ok)
      return {
        kind: 'bad-reply',
        reason: parsed.reason,
        latencyMs: result.latencyMs,
        at,
        raw,
        via,
      };
    slot.protocol = parsed.reading.protocol;
    return { kind: 'reply', reading: parsed.reading, latencyMs: result.latencyMs, at, raw, via };
  }

  private async probeZmq(slot: Slot, httpFallback = true): Promise<ProbeOutcome> {
    const { target } = slot;
    const port = slot.health.moved?.healthPort ?? slot.zmqPort ?? target.healthPort;
    slot.zmq ??= this.prober.zmq(`tcp://${target.host}:${port}`, target.timeoutMs);
    const asked = await this.askZmq(slot.zmq, slot);
    const via = `ZMQ ${asked.request} to ${target.host}:${port}`;
    if (asked.result.kind === 'reply') return this.zmqOutcome(asked.result, slot, via);
    const result = asked.result;
    if (
      slot.protocol === undefined &&
      target.altHealthPort !== undefined &&
      slot.zmqPort === undefined &&
      !slot.health.moved
    ) {
      const alt = this.prober.zmq(`tcp://${target.host}:${target.altHealthPort}`, target.timeoutMs);
      const viaAlt = await this.askZmq(alt, slot);
      if (viaAlt.result.kind === 'reply' && parseZmqHealth(viaAlt.result.text).ok) {
        slot.zmq.close();
        slot.zmq = alt;
        slot.zmqPort = target.altHealthPort;
        return this.zmqOutcome(
          viaAlt.result,
          slot,
          `ZMQ ${viaAlt.request} to ${target.host}:${target.altHealthPort} (the WP-07 mixin's port+1000)`,
        );
      }
      alt.close();
    }
    const failed = failure(result, target.timeoutMs, this.clock.now(), via);
    if (!httpFallback || (failed.kind === 'refused' && slot.protocol !== undefined)) return failed;
    // Silence or refusal on ZMQ: an HTTP-only service, or a BaseAgent whose health socket does
    // not answer while its HTTP mirror does (a wedged loop). Only the first is an HTTP agent.
    const viaHttp = await this.probeHttp(slot);
    if (viaHttp.kind !== 'reply') return failed;
    if (!viaHttp.reading.baseAgentMirror && slot.protocol === undefined) {
      slot.zmq.close();
      delete slot.zmq;
      slot.protocol = 'http';
      return viaHttp;
    }
    const mirrorPort = slot.httpPort ?? target.healthPort + 1;
    const as = viaHttp.reading.name;
    const ours = as === undefined || (target.names ?? [target.agent]).includes(as);
    return {
      ...failed,
      note: ours
        ? `HTTP /health on ${mirrorPort} answers ${viaHttp.reading.state} (BaseAgent's HTTP mirror): the process is alive, its ZMQ health socket ${failed.kind === 'timeout' ? 'does not answer' : 'refuses'}`
        : `HTTP /health on ${mirrorPort} answers as ${as}: another agent's mirror, not this one's`,
    };
  }

  /** The agent other than `key` whose config declares host:port, if any. */
  private otherOwner(key: string, host: string, port: number): string | undefined {
    const owner = this.declared.get(`${host}:${port}`);
    return owner !== undefined && owner !== key ? owner : undefined;
  }

  /**
   * HTTP /health: BaseAgent's mirror on health+1, else a plain service on the health port. A
   * health+1 that another agent's config declares is not asked: what answers there is that
   * agent (a 200 from SelfHealingSupervisor's 9008 made ObservabilityDashboardAPI, health port
   * 9007, look healthy on a port that is not its own).
   */
  private async probeHttp(slot: Slot): Promise<ProbeOutcome> {
    const { target } = slot;
    const health = slot.health.moved?.healthPort ?? target.healthPort;
    const mirrorTaken = this.otherOwner(target.key, target.host, health + 1) !== undefined;
    const ports = slot.httpPort ? [slot.httpPort] : mirrorTaken ? [health] : [health + 1, health];
    let last: ProbeOutcome = {
      kind: 'refused',
      reason: 'no HTTP port answered',
      at: this.clock.now(),
      via: `HTTP GET /health on ${target.host}:${ports.join(', ')}`,
    };
    for (const port of ports) {
      const via = `HTTP GET /health on ${target.host}:${port}`;
      const result = await this.prober.http(target.host, port, '/health', target.timeoutMs);
      const at = this.clock.now();
      if (result.kind === 'reply') {
        const parsed = parseHttpHealth(result.status, result.text);
        if (!parsed.ok) {
          last = {
            kind: 'bad-reply',
            reason: parsed.reason,
            latencyMs: result.latencyMs,
            at,
            raw: clipRaw(result.text),
            via,
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
          via,
        };
      }
      const outcome = failure(result, target.timeoutMs, at, via);
      // Garbage or silence on one port is not a dead agent: a refusal from the other port must
      // not hide it (refused is definitive and skips the hysteresis).
      if (last.kind === 'refused' || outcome.kind === 'bad-reply') last = outcome;
    }
    return last;
  }

  /**
   * An agent with no health port (CentralErrorBus): alive when its PUB answers a ZMTP greeting,
   * or when its frames arrived within the window. Nothing but a greeting is sent.
   */
  private async probePub(slot: Slot): Promise<ProbeOutcome> {
    const { target } = slot;
    const port = target.port ?? target.healthPort;
    const began = this.clock.elapsed();
    const zmtp = await this.prober.zmtp(target.host, port, Math.min(target.timeoutMs, 2000));
    const latencyMs = this.clock.elapsed() - began;
    const at = this.clock.now();
    const last = this.options.evidence?.lastBusFrame?.(target.machine);
    const fresh = last !== undefined && at - last <= this.options.frameWindowMs;
    const frames =
      last === undefined
        ? 'no frame from it yet'
        : `last frame ${Math.max(0, Math.round((at - last) / 1000))} s ago`;
    const via = `ZMTP greeting to ${target.host}:${port} + frames received from it`;
    slot.protocol = 'pub';
    const alive = (reason: string): ProbeOutcome => ({
      kind: 'reply',
      reading: { state: 'healthy', reason, protocol: 'pub' },
      latencyMs,
      at,
      via,
    });
    if (zmtp.holder === 'pub') return alive(`its PUB on ${port} greets (ZMTP); ${frames}`);
    if (zmtp.holder === 'none')
      return { kind: 'refused', reason: `nothing listens on ${target.host}:${port}`, at, via };
    if (fresh) return alive(`frames from its PUB ${frames}; the greeting: ${zmtp.detail}`);
    if (zmtp.holder === 'unknown') return { kind: 'timeout', timeoutMs: target.timeoutMs, at, via };
    return {
      kind: 'bad-reply',
      reason: `${port} holds ${zmtp.detail}, not its PUB`,
      latencyMs,
      at,
      via,
    };
  }

  /**
   * The configured port refused: look for the agent where its process listens (when the
   * machine's opsdeck agent reports it), else by name on its host's free-port range.
   */
  private async relocate(slot: Slot, refused: ProbeOutcome): Promise<ProbeOutcome | undefined> {
    const { target } = slot;
    const proc = this.options.evidence?.process?.(target.machine, target.agent);
    if (proc && proc.ports.length > 0 && !proc.ports.includes(target.healthPort)) {
      const ports = [...proc.ports].sort((a, b) => a - b);
      // BaseAgent's main port and its health socket on port+1; else its lowest port answers.
      const pair = ports.find((p) => ports.includes(p + 1));
      const place =
        pair !== undefined
          ? { port: pair, healthPort: pair + 1 }
          : { port: ports[0]! - 1, healthPort: ports[0]! };
      const how = `${target.machine}'s opsdeck agent sees pid ${proc.pid} (its script) listening on ${ports.join(', ')}; configured ${target.healthPort}`;
      const moved = await this.probeAt(slot, place, how);
      if (moved.kind === 'reply') return moved;
    }
    const scan = await this.scan(target.host);
    if (!scan) return undefined;
    const places = placeAnswers(scan.answers);
    let place: Place | undefined;
    let name: string | undefined;
    for (const n of target.names ?? [target.agent]) {
      place = places.get(n);
      if (place) {
        name = n;
        break;
      }
    }
    if (!place) {
      if (slot.health.moved) {
        const { moved: _gone, ...rest } = slot.health;
        slot.health = rest;
        // Its connection goes too: kept, it went on asking the place just given up while the
        // results said the configured port (healthy where nothing listens, for good).
        slot.zmq?.close();
        delete slot.zmq;
      }
      return {
        ...refused,
        note: `${refused.note ? `${refused.note}; ` : ''}not found by name either: ${scan.answers.length} REP(s) answered on ${target.host}:${scan.from}-${scan.from + scan.count - 1}`,
      };
    }
    const how = `its name (${name}) answered on ${place.healthPort} in a scan of ${target.host}:${scan.from}-${scan.from + scan.count - 1}; configured ${target.healthPort}`;
    return this.probeAt(slot, place, how);
  }

  /** Probes the agent at a place it was found, and remembers the place. */
  private async probeAt(slot: Slot, place: Place, how: string): Promise<ProbeOutcome> {
    slot.health = { ...slot.health, moved: { ...place, how } };
    slot.zmq?.close();
    delete slot.zmq;
    delete slot.zmqPort;
    const again = await this.probeZmq(slot, false);
    return { ...again, note: `MOVED: ${how}` };
  }

  /** One scan per host at a time, reused for `scanEveryMs`. */
  private scan(host: string): Promise<ScanResult | undefined> {
    const last = this.scans.get(host);
    if (last && this.clock.now() - last.at < this.options.scanEveryMs) return Promise.resolve(last);
    let running = this.scanning.get(host);
    if (!running) {
      running = this.prober.scan(host, FREE_PORT_FROM, FREE_PORT_TRIES, 500).then((r) => {
        this.scans.set(host, r);
        this.scanning.delete(host);
        return r;
      });
      this.scanning.set(host, running);
    }
    return running.catch(() => undefined);
  }

  /** A reply carrying another agent's name is not this agent's answer. */
  private checkName(slot: Slot, o: ProbeOutcome): ProbeOutcome {
    if (o.kind !== 'reply' || !o.reading.name) {
      if (slot.health.answeredAs && o.kind === 'reply') {
        const { answeredAs: _a, ...rest } = slot.health;
        slot.health = rest;
      }
      return o;
    }
    const verdict = judgeName(
      o.reading.name,
      { key: slot.target.key, names: slot.target.names ?? [slot.target.agent] },
      this.names,
    );
    if (verdict.kind === 'match') {
      if (slot.health.answeredAs) {
        const { answeredAs: _a, ...rest } = slot.health;
        slot.health = rest;
      }
      return o;
    }
    if (verdict.kind === 'unknown') return { ...o, note: `its reply names it "${verdict.name}"` };
    slot.health = { ...slot.health, answeredAs: o.reading.name };
    const reading: Reading = {
      ...o.reading,
      state: 'unhealthy',
      reason: sanitise(
        `answered as ${o.reading.name} (${verdict.who}): ${o.via ?? 'this port'} reaches another agent (a port clash, or two machines on one address)`,
      ),
    };
    return { ...o, reading };
  }

  private async checkMetrics(slot: Slot): Promise<void> {
    const health = slot.health.moved?.healthPort ?? slot.target.healthPort;
    const port = slot.protocol === 'http' ? (slot.httpPort ?? health) : health + 1;
    const owner =
      slot.protocol === 'http'
        ? undefined
        : this.otherOwner(slot.target.key, slot.target.host, port);
    if (owner !== undefined) {
      // BaseAgent's mirror would be there, but the port is another agent's: its /metrics is not ours.
      const answer = `GET /metrics on ${port}: not asked (${port} is ${owner}'s port in the config)`;
      // Not asked is not "not instrumented": the scorecard and /metrics count only what was checked.
      if (slot.health.instrumented !== undefined || slot.health.metricsAnswer !== answer) {
        const { instrumented: _unknown, ...rest } = slot.health;
        slot.health = { ...rest, metricsAnswer: answer };
      }
      return;
    }
    const result = await this.prober.http(
      slot.target.host,
      port,
      '/metrics',
      slot.target.timeoutMs,
    );
    const judged =
      result.kind === 'reply'
        ? judgeMetrics(result.status, result.text)
        : {
            instrumented: false,
            answer:
              result.kind === 'timeout'
                ? 'no answer in time'
                : result.kind === 'refused'
                  ? result.reason
                  : `no HTTP answer (${result.reason})`,
          };
    const answer = `GET /metrics on ${port}: ${judged.answer}`;
    if (slot.health.instrumented !== judged.instrumented || slot.health.metricsAnswer !== answer)
      slot.health = { ...slot.health, instrumented: judged.instrumented, metricsAnswer: answer };
  }

  private inRound = 0;
  private touch(): void {
    if (this.stopped) return;
    // Inside a round the round's end publishes; this timer only bounds the wait when a round
    // runs long (agents timing out), so a change never waits more than ROUND_NOTIFY_MS.
    this.changed(
      this.inRound > 0 ? Math.max(this.options.notifyMs, ROUND_NOTIFY_MS) : this.options.notifyMs,
    );
  }

  protected override rebuild(): HealthSnapshot {
    return this.build();
  }

  /** Rebuild now (tests and `status --json` read right after probeAll). */
  flush(): HealthSnapshot {
    this.snapshot = this.build();
    return this.snapshot;
  }

  private build(): HealthSnapshot {
    const agents = new Map<string, AgentHealth>();
    for (const [key, slot] of this.slots) agents.set(key, slot.health);
    return {
      version: (this.snapshot?.version ?? 0) + 1,
      agents,
      rounds: [...this.rounds],
      scans: new Map(this.scans),
    };
  }
}
