// `--health-from agents`: the console takes each machine's health from that machine's opsdeck
// agent (opsdeck.<machine>.health, core/health/feed.ts) instead of probing across the network.
// The records are the agent's prober's own, so the screens read them as they read the console's
// prober. What only the feed can get wrong is said on the agent's rows: no agent heard from yet,
// an agent whose fleet config lacks one of ours, and a feed that stopped (every row turns STALE
// after a few of the agent's intervals: old green is never shown as current).
import type { Machine } from '../core/fleet/model.js';
import { HEALTH_SUBJECTS, healthSubject, readHealthPart, shiftTimes } from '../core/health/feed.js';
import type { AgentHealth } from '../core/health/state.js';
import type { Bus } from '../core/seams/bus.js';
import type { Cancel, Clock } from '../core/seams/clock.js';
import { Store } from './store.js';
import type { HealthSnapshot } from './health-store.js';
import type { HealthSource } from './health-source.js';
import { agentKey } from '../core/fleet/agent-key.js';

export interface HealthFeedOptions {
  /** Least time between notifications (ms). */
  notifyMs: number;
  /** A feed silent for this many of its sender's intervals is stale (at least `minStaleMs`). */
  staleIntervals: number;
  minStaleMs: number;
  /** How long probeAll waits for every machine's first full round (ms). */
  waitMs: number;
}

export const DEFAULT_FEED: HealthFeedOptions = {
  notifyMs: 100,
  staleIntervals: 3,
  minStaleMs: 6000,
  waitMs: 15_000,
};

/** What the console knows of one machine's feed (status --json shows it). */
export interface FeedState {
  machine: string;
  /** When its last message arrived (console clock), if one has. */
  receivedAt?: number;
  intervalMs?: number;
  /** A full round (every part of one sequence number) has arrived since start. */
  complete: boolean;
  stale: boolean;
}

interface MachineFeed {
  state: FeedState;
  agents: readonly string[];
  seq?: number;
  parts: Set<number>;
  /** Agents named in the current round so far. */
  named: Set<string>;
}

const waiting = (machine: string): AgentHealth => ({
  state: 'unknown',
  reason: `waiting for ${machine}'s opsdeck agent on ${healthSubject(machine)} (it publishes there when run with --health or --metrics)`,
  since: 0,
  history: [],
});

export class AgentHealthFeed extends Store<HealthSnapshot> implements HealthSource {
  readonly from = 'agents' as const;
  private readonly options: HealthFeedOptions;
  private readonly machines = new Map<string, MachineFeed>();
  private readonly health = new Map<string, AgentHealth>();
  private stopStale: Cancel | undefined;
  private stopped = false;
  /** probeAll's waiters: each resolves once every machine sent a full round, or when forced. */
  private readonly roundWaiters = new Set<(force: boolean) => void>();
  /** Messages refused as malformed, and the last reason. */
  rejected = 0;
  lastRejection: string | undefined;

  constructor(
    machines: readonly Machine[],
    options: Partial<HealthFeedOptions> = {},
    clock?: Clock,
  ) {
    // The first snapshot is built below, once the machines are known.
    super(undefined as unknown as HealthSnapshot, clock);
    this.options = { ...DEFAULT_FEED, ...options };
    for (const m of machines) {
      const agents = m.agents.map((a) => a.name);
      this.machines.set(m.id, {
        state: { machine: m.id, complete: false, stale: false },
        agents,
        parts: new Set(),
        named: new Set(),
      });
      for (const a of agents) this.health.set(agentKey(m.id, a), waiting(m.id));
    }
    this.snapshot = this.build();
  }

  /** Every machine's feed over NATS; returns the unsubscribe. */
  listen(bus: Bus): Cancel {
    return this.own(bus.subscribe(HEALTH_SUBJECTS, (data) => this.accept(data)));
  }

  /** One message from the wire (tests call it directly). */
  accept(data: Uint8Array, now = this.clock.now()): void {
    if (this.stopped) return;
    const read = readHealthPart(data);
    if (!read.ok) {
      this.rejected++;
      this.lastRejection = read.reason;
      return;
    }
    const p = read.part;
    const m = this.machines.get(p.machine);
    if (!m) return; // a machine this console's fleet does not have
    if (m.seq !== p.seq) {
      m.seq = p.seq;
      m.parts.clear();
      m.named.clear();
    }
    m.parts.add(p.part);
    m.state = { ...m.state, receivedAt: now, intervalMs: p.intervalMs, stale: false };
    // The sender's clock onto ours: "last seen 2 s ago" stays true across clock skew.
    const delta = now - p.at;
    for (const [name, h] of Object.entries(p.agents)) {
      const key = agentKey(p.machine, name);
      if (!this.health.has(key)) continue;
      m.named.add(name);
      this.health.set(key, shiftTimes(h, delta));
    }
    if (m.parts.size === p.parts) {
      for (const name of m.agents)
        if (!m.named.has(name))
          this.health.set(agentKey(p.machine, name), {
            state: 'unknown',
            reason: `${p.machine}'s opsdeck agent does not probe it: its fleet config has no ${name}`,
            since: 0,
            history: [],
          });
      if (!m.state.complete) {
        m.state = { ...m.state, complete: true };
        for (const w of [...this.roundWaiters]) w(false);
      }
    }
    this.touch();
  }

  /** Marks silent feeds stale, every second; returns the inverse. */
  start(): () => void {
    this.stopped = false;
    this.wakeUp();
    this.stopStale = this.clock.every(1000, () => this.checkStale(this.clock.now()));
    return () => this.stop();
  }

  /** A machine whose feed stopped: every row says so, as STALE. */
  checkStale(now: number): void {
    for (const m of this.machines.values()) {
      const { receivedAt, intervalMs } = m.state;
      if (receivedAt === undefined || m.state.stale) continue;
      const after = Math.max(
        this.options.minStaleMs,
        (intervalMs ?? 0) * this.options.staleIntervals,
      );
      if (now - receivedAt <= after) continue;
      m.state = { ...m.state, stale: true };
      const reason = `no health from ${m.state.machine}'s opsdeck agent for ${Math.round((now - receivedAt) / 1000)} s (${healthSubject(m.state.machine)})`;
      for (const name of m.agents) {
        const key = agentKey(m.state.machine, name);
        const h = this.health.get(key)!;
        this.health.set(key, { ...h, state: 'stale', reason, since: now });
      }
      this.touch();
    }
  }

  probeAll(): Promise<number> {
    const started = this.clock.elapsed();
    const done = () => [...this.machines.values()].every((m) => m.state.complete);
    if (done()) return Promise.resolve(0);
    return new Promise((resolve) => {
      const finish = () => {
        cancel();
        this.roundWaiters.delete(check);
        resolve(this.clock.elapsed() - started);
      };
      const check = (force: boolean) => {
        if (force || done()) finish();
      };
      // Kept alive: a one-shot `status` waits for nothing else.
      const cancel = this.clock.after(this.options.waitMs, finish, true);
      this.roundWaiters.add(check);
    });
  }

  feeds(): FeedState[] {
    return [...this.machines.values()].map((m) => m.state);
  }

  flush(): HealthSnapshot {
    this.snapshot = this.build();
    return this.snapshot;
  }

  stop(): void {
    this.stopped = true;
    this.stopStale?.();
    for (const w of [...this.roundWaiters]) w(true);
    this.shutDown();
  }

  private touch(): void {
    if (!this.stopped) this.changed(this.options.notifyMs);
  }

  protected override rebuild(): HealthSnapshot {
    return this.build();
  }

  private build(): HealthSnapshot {
    return {
      version: (this.snapshot?.version ?? 0) + 1,
      agents: new Map(this.health),
      rounds: [],
      scans: new Map(),
    };
  }
}
