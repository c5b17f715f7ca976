// One simulated agent: the endpoints its protocol binds, answering with upstream's bytes, and
// the faults it can be given (killed, slow, degraded, flooding). Lightweight on purpose: two
// REP sockets and one HTTP server at most, all in this process, so 1,000 agents fit.
import type * as zmq from 'zeromq';
import type { SimError } from '../core/errors/encode.js';
import {
  baseAgentHealth,
  baseAgentHttp,
  baseAgentMainReply,
  parsePyRequest,
  plainHttp,
  rmHealthReply,
  unifiedReply,
  type HealthState,
  type MetricsMode,
  type UnifiedState,
} from '../core/health/replies.js';
import {
  metricsSummary,
  metricsText,
  recordRequest,
  type MetricsState,
  type RequestSeries,
} from '../core/health/metrics.js';
import { pyDumps } from '../core/py/json.js';
import {
  initialRmState,
  rmHandle,
  rmUnknown,
  type RmState,
  type RmStats,
} from '../core/resources/resource-manager.js';
import { hash32 } from '../core/seeded.js';
import type { PyLevel, SimLogWriter } from './agent-log.js';
import {
  openHttp,
  KEEP_ALIVE_MS,
  openRep,
  openTcp,
  type BindFailure,
  type HttpAnswer,
  type RepAnswer,
} from './endpoints.js';
import {
  diesWithout,
  exitReason,
  type Clash,
  type PlannedAgent,
  type PlannedBind,
} from './plan.js';
import { agentKey } from '../core/fleet/agent-key.js';

/** What an agent needs from its machine. */
export interface AgentHost {
  readonly context: zmq.Context;
  readonly hostname: string;
  now(): number;
  /** System-wide CPU and memory percent (psutil's view from inside the machine). */
  load(): { cpuPercent: number; memoryPercent: number };
  rmStats(): RmStats;
  rm: RmState;
  /** What BaseAgent's /metrics answers (ENABLE_PROMETHEUS_METRICS=false: `off`). */
  readonly metricsMode: MetricsMode;
  /** How long BaseAgent's Redis ready key lives (ms); 0: forever. */
  readonly readyTtlMs: number;
  openBus(): Promise<BindFailure | undefined>;
  nextPid(): number;
  closeBus(): Promise<unknown>;
}

export type AgentStatus = 'up' | 'down';

/** An error's severity as the Python logging level upstream writes it (anything else: ERROR). */
const PY_LEVEL: Readonly<Record<string, PyLevel>> = {
  critical: 'CRITICAL',
  warning: 'WARNING',
  info: 'INFO',
};

export class SimAgent {
  status: AgentStatus = 'down';
  startedAt = 0;
  slowMs: number;
  degraded: boolean;
  floodPerS: number;
  floodUntil = Infinity;
  floodCarry = 0;
  /** Its log file, upstream's format (set by the sim when it writes logs). */
  log: SimLogWriter | undefined;
  /** Log lines per second written on top of its own (the `log-flood` fault). */
  logRate = 0;
  logUntil = Infinity;
  logCarry = 0;
  /** When it last wrote its periodic status line. */
  logBeat = 0;
  /** Endpoints stuck the way upstream's loops get stuck (no reply until restart). */
  readonly wedged = new Set<string>();
  /** Ports bound in the current run; ports another process holds. */
  bound: PlannedBind[] = [];
  lostToOthers: Clash[] = [];
  requests: RequestSeries[] = [];
  errors = new Map<
    string,
    { errorType: string; severity: string; count: number; created: number }
  >();
  errorCount = 0;
  lastError: string | null = null;
  /** UnifiedHealthMixin's own error_count / last_error: exceptions in its health loop only. */
  private mixinErrors = 0;
  private mixinLastError: string | null = null;
  private closers: (() => void | Promise<void>)[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private readonly threads: number;
  private readonly rssMb: number;
  readonly isResourceManager: boolean;

  constructor(
    readonly plan: PlannedAgent,
    private readonly host: AgentHost,
  ) {
    this.slowMs = plan.start.slowMs;
    this.degraded = plan.start.degraded;
    this.floodPerS = plan.start.floodPerS;
    const h = hash32(agentKey(plan.machine, plan.name));
    this.threads = 6 + (h % 9);
    this.rssMb = 150 + (h % 700);
    this.isResourceManager = plan.protocol === 'json-rm';
  }

  get name(): string {
    return this.plan.name;
  }

  get machine(): string {
    return this.plan.machine;
  }

  get key(): string {
    return agentKey(this.plan.machine, this.plan.name);
  }

  /** Approximate resident memory, for resources and /metrics. */
  get rss(): number {
    return this.status === 'up' ? this.rssMb : 0;
  }

  /** Why the process is not running although nobody stopped it (a bind that killed it). */
  exited: string | undefined;
  /** Its process as the machine's process table shows it (a new pid per start). */
  pid = 0;
  nice = 0;

  /** Binds every port this agent won in the plan; returns the ones another process holds. */
  async start(): Promise<Clash[]> {
    if (this.status === 'up') return [];
    if (this.plan.exits) {
      // BaseAgent._init_sockets raises after its retries: the process is gone, holding nothing.
      this.exited = this.plan.exits;
      this.lostToOthers = [];
      this.log?.write('ERROR', `Failed to initialize ${this.plan.selfName}: ${this.plan.exits}`);
      return [];
    }
    this.exited = undefined;
    this.pid = this.host.nextPid();
    this.nice = 0;
    // ResourceManager keeps its thresholds in memory: a new process starts at upstream's 80/80/80.
    if (this.isResourceManager) this.host.rm = initialRmState();
    this.status = 'up';
    this.startedAt = this.host.now();
    this.wedged.clear();
    // A new process: its metrics registry and the mixin's counters start from zero.
    this.requests = [];
    this.errors = new Map();
    this.mixinErrors = 0;
    this.mixinLastError = null;
    const results = await Promise.all(
      this.plan.binds.map(async (b) => ({ b, failure: await this.open(b) })),
    );
    this.bound = results.filter((r) => !r.failure).map((r) => r.b);
    this.lostToOthers = results
      .filter((r) => r.failure)
      .map(({ b, failure }) => ({
        machine: this.machine,
        agent: this.name,
        role: b.role,
        port: b.port,
        heldBy:
          failure!.code === 'EADDRINUSE' ? 'another process' : `bind error: ${failure!.message}`,
      }));
    const fatal = this.lostToOthers.find((c) => diesWithout(this.plan.protocol, c.role));
    if (this.log) {
      const l = this.log;
      l.write('INFO', `Initialized rotating JSON logging -> ${l.path}`);
      l.write('INFO', 'Log rotation: 10MB max, 5 backups', {
        max_bytes: 10 * 1024 * 1024,
        backup_count: 5,
        rotation_enabled: true,
      });
      for (const c of this.lostToOthers)
        l.write('WARNING', `Port ${c.port} (${c.role}) is in use by ${c.heldBy}`);
    }
    if (fatal) {
      await this.stop();
      this.exited = exitReason(fatal);
      this.log?.write('ERROR', `Failed to initialize ${this.plan.selfName}: ${this.exited}`);
    } else
      this.log?.write(
        'INFO',
        `${this.plan.selfName} initialized on port ${this.plan.ports.main} (health check: ${this.plan.ports.health})`,
      );
    this.logBeat = this.host.now();
    return this.lostToOthers;
  }

  /** Closes every endpoint (the port is free again when this resolves). `why`: an orderly stop, logged. */
  async stop(why?: string): Promise<void> {
    if (this.status === 'down') return;
    if (why) this.log?.write('INFO', `${this.plan.selfName} shutting down: ${why}`);
    this.status = 'down';
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closers = this.closers;
    this.closers = [];
    await Promise.all(closers.map(async (c) => c()));
    this.bound = [];
  }

  recordError(e: SimError): void {
    const key = `${e.errorType}\u0000${e.severity}`;
    const entry = this.errors.get(key) ?? {
      errorType: e.errorType,
      severity: e.severity,
      count: 0,
      created: e.at / 1000,
    };
    entry.count += 1;
    this.errors.set(key, entry);
    this.errorCount += 1;
    this.lastError = e.message;
    this.log?.write(PY_LEVEL[e.severity] ?? 'ERROR', e.message, { component: e.errorType }, e.at);
  }

  private delay(): Promise<void> {
    if (this.slowMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, this.slowMs);
      this.timers.add(t);
    });
  }

  /** BaseAgent's ready key expired (setex 300, never refreshed): `degraded` from then on. */
  private readyExpired(now: number): boolean {
    return this.host.readyTtlMs > 0 && now - this.startedAt > this.host.readyTtlMs;
  }

  private healthState(): HealthState {
    const now = this.host.now();
    return {
      name: this.plan.selfName,
      port: this.plan.ports.main,
      healthPort: this.plan.ports.health,
      startedAt: this.startedAt,
      now,
      degraded: this.degraded || this.readyExpired(now),
      activeThreads: this.threads,
      // ResourceManager._get_health_status: update() rewrites uptime in place (same value) and
      // appends its own keys.
      ...(this.isResourceManager
        ? { extra: { service: 'ResourceManager', additional_info: {} } }
        : {}),
    };
  }

  private unifiedState(): UnifiedState {
    const load = this.host.load();
    // The mixin reports degraded past 10 errors; a degraded fault is exactly that.
    const errorCount = this.degraded ? Math.max(11, this.mixinErrors) : this.mixinErrors;
    return {
      name: this.name,
      startedAt: this.startedAt,
      now: this.host.now(),
      cpuPercent: load.cpuPercent,
      memoryPercent: load.memoryPercent,
      activeThreads: this.threads,
      zmqConnections: 0,
      errorCount,
      lastError:
        this.degraded && !this.mixinLastError ? 'simulated fault: degraded' : this.mixinLastError,
    };
  }

  private metricsState(): MetricsState {
    const now = this.host.now();
    const up = Math.max(0, (now - this.startedAt) / 1000);
    return {
      agent: this.plan.selfName,
      port: this.plan.ports.main,
      hostname: this.host.hostname,
      startedAt: this.startedAt,
      now,
      health: this.degraded ? 'unhealthy' : 'healthy',
      requests: this.requests,
      errors: [...this.errors.values()],
      cpuPercent: 1 + (hash32(this.name) % 40) / 10,
      rssBytes: this.rssMb * 1024 * 1024,
      vmsBytes: this.rssMb * 1024 * 1024 * 3.2,
      diskRead: Math.round(up * 4096),
      diskWrite: Math.round(up * 1024),
      openFds: 18 + this.bound.length,
    };
  }

  private record(method: string, endpoint: string, status: string, began: number): void {
    recordRequest(
      this.requests,
      method,
      endpoint,
      status,
      (this.host.now() - began) / 1000,
      this.host.now(),
    );
  }

  private mainAnswer(payload: Uint8Array): RepAnswer {
    if (this.isResourceManager) {
      // ResourceManager.run(): recv_json() raising (bad JSON, not a dict) is logged and the
      // loop goes on without replying, so its REP socket is stuck from then on.
      const parsed = parsePyRequest(payload);
      if (
        !parsed.ok ||
        typeof parsed.value !== 'object' ||
        parsed.value === null ||
        Array.isArray(parsed.value)
      )
        return { wedge: true };
      const request = parsed.value as Record<string, unknown>;
      const result = rmHandle(request, this.host.rm, this.host.rmStats(), this.host.now());
      if (!result) return { send: pyDumps(rmUnknown(request.action)) };
      this.host.rm = result.state;
      return { send: pyDumps(result.reply) };
    }
    return { send: pyDumps(baseAgentMainReply(payload, this.healthState())) };
  }

  private async open(b: PlannedBind): Promise<BindFailure | undefined> {
    const host = this.plan.host;
    if (b.kind === 'bus') {
      const failure = await this.host.openBus();
      if (!failure) this.closers.push(async () => void (await this.host.closeBus()));
      return failure;
    }
    if (b.kind === 'tcp') {
      const opened = await openTcp(host, b.port);
      if (!opened.ok) return opened;
      this.closers.push(opened.close);
      return undefined;
    }
    if (b.kind === 'http') {
      const handle = async (method: string, url: string): Promise<HttpAnswer> => {
        const began = this.host.now();
        await this.delay();
        const answer =
          this.plan.protocol === 'base-agent' || this.plan.protocol === 'json-rm'
            ? baseAgentHttp(method, url, this.healthState(), {
                mode: this.host.metricsMode,
                text: () => metricsText(this.metricsState()),
                summary: () => metricsSummary(this.metricsState()),
              })
            : plainHttp(method, url, this.degraded);
        this.record(method, url.split('?')[0] ?? '/', String(answer.status), began);
        return answer;
      };
      const mirror = this.plan.protocol === 'base-agent' || this.plan.protocol === 'json-rm';
      const opened = await openHttp(
        host,
        b.port,
        handle,
        mirror ? KEEP_ALIVE_MS.mirror : KEEP_ALIVE_MS.service,
      );
      if (!opened.ok) return opened;
      this.closers.push(opened.close);
      return undefined;
    }
    const role = b.role;
    const handle = async (payload: Uint8Array): Promise<RepAnswer> => {
      if (this.wedged.has(role)) return { wedge: true };
      const began = this.host.now();
      await this.delay();
      let answer: RepAnswer;
      if (role === 'health' && this.plan.protocol === 'unified') {
        const r = unifiedReply(payload, this.unifiedState());
        if (r.kind === 'wedge') {
          this.mixinErrors += 1; // the mixin counts the exception it swallowed
          this.mixinLastError = "'utf-8' codec can't decode byte";
        }
        answer =
          r.kind === 'wedge'
            ? { wedge: true }
            : { send: r.kind === 'json' ? pyDumps(r.body) : r.body };
      } else if (role === 'health' && this.isResourceManager) {
        const r = rmHealthReply(payload, {
          initialized: true,
          port: this.plan.ports.main,
          healthPort: this.plan.ports.health,
          now: this.host.now(),
        });
        answer = r.kind === 'wedge' ? { wedge: true } : { send: pyDumps(r.body) };
      } else if (role === 'health') {
        answer = { send: pyDumps(baseAgentHealth(this.healthState())) };
      } else {
        answer = this.mainAnswer(payload);
      }
      if ('wedge' in answer) this.wedged.add(role);
      this.record('zmq', role, 'wedge' in answer ? 'no_reply' : 'success', began);
      return answer;
    };
    const opened = await openRep(this.host.context, `tcp://${host}:${b.port}`, handle);
    if (!opened.ok) return opened;
    this.closers.push(opened.close);
    return undefined;
  }
}
