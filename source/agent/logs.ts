// `opsdeck agent` serves its machine's agent logs on opsdeck.<machine>.logs (core/logs/stream.ts
// has the protocol). A watch reads the agent's file (tail -F) or its container's `docker logs`
// only while its watcher renews it; each line is parsed, sanitised and capped, and each watcher
// gets at most its rate, the rest counted in a "skipped" item where they were.
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Msg, NatsConnection, Subscription } from 'nats';
import { sanitise } from '../core/errors/sanitise.js';
import { parseLogLine, type LogItem } from '../core/logs/line.js';
import {
  DEFAULT_RATE,
  logsSubject,
  MAX_BATCH_ITEMS,
  parseLogsRequest,
  RateCap,
  WATCH_TTL_MS,
  type WatchRequest,
} from '../core/logs/stream.js';
import { decodeBody } from '../core/resources/machine-control.js';
import {
  findContainer,
  tailDocker,
  tailFile,
  type Tail,
  type TailSink,
} from '../adapters/log-tail.js';
import type { Log } from '../adapters/journal.js';
import { codeFolder } from '../adapters/agent-lifecycle.js';
import { selfName } from '../core/fleet/upstream-code.js';

export type LogSource =
  { kind: 'file'; path: string } | { kind: 'docker'; container: string; service?: string };

/** Where an agent's log is on this machine, or why it cannot be read. */
export type LogFinder = (agent: string) => Promise<LogSource | { error: string }>;

/**
 * The files an agent's log may be in, under the upstream checkout (`--root`), most telling
 * first: BaseAgent's JSON log (`logs/<name lower-case>.log`), the launcher's capture of its
 * stdout (`logs/<Name>.log`), log_setup.py's plain file (`logs/<name with . as _>.log`).
 */
export const logCandidates = (root: string, name: string): string[] => [
  ...new Set([
    join(root, 'logs', `${name.toLowerCase()}.log`),
    join(root, 'logs', `${name}.log`),
    join(root, 'logs', `${name.replace(/\./g, '_')}.log`),
  ]),
];

/**
 * Where upstream's launcher sends an agent's stdout and stderr: `logs/<Name>.log` in the folder
 * it runs the agent from (main_pc_code/ or pc2_code/), not the checkout's logs/.
 */
const launcherCapture = (
  root: string,
  agent: { name: string; scriptPath: string; machine: string },
): string[] => [
  join(
    codeFolder(root, { machine: agent.machine, scriptPath: agent.scriptPath }),
    'logs',
    `${agent.name}.log`,
  ),
];

/** The real machine: the files under `root`, else the agent's container, else why neither. */
export function fileOrDockerFinder(
  root: string | undefined,
  agents: ReadonlyArray<{ name: string; scriptPath: string; machine: string }>,
  docker = 'docker',
): LogFinder {
  return async (name) => {
    const agent = agents.find((a) => a.name === name);
    if (!agent)
      return {
        error: `no agent ${name} in this machine's fleet config (${agents.length} agents known)`,
      };
    const tried: string[] = [];
    if (root) {
      // BaseAgent names its file after self.name, which some scripts set apart from the config key.
      const all = [
        ...new Set([
          ...logCandidates(root, name),
          ...logCandidates(root, selfName(agent)),
          ...launcherCapture(root, agent),
        ]),
      ];
      const files = all.filter((f) => existsSync(f));
      // The one written last: a launcher's capture beside an older BaseAgent file, say.
      const newest = files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
      if (newest) return { kind: 'file', path: newest };
      tried.push(`no file of ${all.join(', ')}`);
    } else tried.push('no --root: log files unknown');
    const c = await findContainer(agent, docker);
    if ('name' in c)
      return { kind: 'docker', container: c.name, ...(c.service ? { service: c.service } : {}) };
    tried.push(c.error);
    return { error: `no log found for ${name}: ${tried.join('; ')}` };
  };
}

export const describeSource = (s: LogSource): string =>
  s.kind === 'file'
    ? `file ${s.path}`
    : `docker logs ${s.container}${s.service ? ` (compose service ${s.service})` : ''}`;

interface Watch {
  id: string;
  inbox: string;
  expires: number;
  tail?: Tail;
  cap: RateCap;
  pending: LogItem[];
  seq: number;
  ended?: string;
}

export interface LogServer {
  /** Watches alive now (tests: nothing flows when nobody watches). */
  active(): number;
  stop(): void;
}

export interface LogServeOptions {
  machine: string;
  find: LogFinder;
  log: Log;
  /** Lines per second per watcher (default 200). */
  rate?: number;
  /** Batch interval (ms). */
  flushMs?: number;
  ttlMs?: number;
  pollMs?: number;
  docker?: string;
}

export function serveLogs(nc: NatsConnection, o: LogServeOptions): LogServer {
  const server = new LogService(nc, o);
  return { active: () => server.watches.size, stop: () => server.stop() };
}

const encoder = new TextEncoder();

const reply = (m: Msg, value: Record<string, unknown>) =>
  m.respond(encoder.encode(JSON.stringify(value)));

/** The watches alive, the batch timer that sends them, and the subscription that takes requests. */
class LogService {
  readonly watches = new Map<string, Watch>();
  private readonly ttl: number;
  private readonly rate: number;
  private readonly timer: NodeJS.Timeout;
  private readonly sub: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: LogServeOptions,
  ) {
    this.ttl = o.ttlMs ?? WATCH_TTL_MS;
    this.rate = o.rate ?? DEFAULT_RATE;
    this.timer = setInterval(() => this.flush(), o.flushMs ?? 100);
    this.sub = nc.subscribe(logsSubject(o.machine), {
      callback: (err, m) => {
        if (!err) this.onRequest(m);
      },
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    for (const w of [...this.watches.values()]) this.close(w, 'the agent daemon stopped');
  }

  private close(w: Watch, why: string): void {
    w.tail?.stop();
    this.watches.delete(w.id);
    this.o.log(`logs: watch ${w.id.slice(0, 8)} ended: ${why}`, 'info');
  }

  private onRequest(m: Msg): void {
    const r = parseLogsRequest(decodeBody(m.data));
    if (r.kind === 'bad') return void reply(m, { ok: false, error: r.error });
    if (r.kind === 'renew') {
      const w = this.watches.get(r.id);
      if (!w) return void reply(m, { ok: false, error: 'no such watch (it expired or ended)' });
      w.expires = Date.now() + this.ttl;
      return void reply(m, { ok: true, ttlMs: this.ttl });
    }
    if (r.kind === 'stop') {
      const w = this.watches.get(r.id);
      if (w) this.close(w, 'stopped by its watcher');
      return void reply(m, { ok: true });
    }
    void this.open(r.watch)
      .then((value) => reply(m, value))
      .catch((error: unknown) =>
        reply(m, { ok: false, error: sanitise((error as Error).message) }),
      );
  }

  /** Sends each watch what it has waiting, within its rate; ends those nobody renews. */
  private flush(): void {
    const now = Date.now();
    for (const w of [...this.watches.values()]) {
      if (now > w.expires) {
        // Nobody renewed it: the watcher is gone. Nothing more is read or sent.
        this.close(w, 'not renewed (no one watches)');
        continue;
      }
      if (w.pending.length === 0 && !w.ended) continue;
      // Lines wait raw: only those the cap lets through are parsed (at 10k lines/s, 2%).
      const items = w.cap
        .take(w.pending, now)
        .map((i) => (i.kind === 'line' ? parseLogLine(i.message) : i));
      w.pending = [];
      this.publish(w, items);
      if (w.ended) this.close(w, w.ended);
    }
  }

  /** The items in batches of MAX_BATCH_ITEMS; the last says the end, if it came (even alone). */
  private publish(w: Watch, items: LogItem[]): void {
    for (let i = 0; i < items.length || (i === 0 && w.ended); i += MAX_BATCH_ITEMS) {
      const part = items.slice(i, i + MAX_BATCH_ITEMS);
      const last = i + MAX_BATCH_ITEMS >= items.length;
      this.nc.publish(
        w.inbox,
        encoder.encode(
          JSON.stringify({
            id: w.id,
            seq: w.seq++,
            items: part,
            ...(last && w.ended ? { end: w.ended } : {}),
          }),
        ),
      );
    }
  }

  private async open(req: WatchRequest): Promise<Record<string, unknown>> {
    const { o, ttl, rate } = this;
    const source = await o.find(req.agent);
    if ('error' in source) return { ok: false, error: sanitise(source.error) };
    const w: Watch = {
      id: randomUUID(),
      inbox: req.inbox,
      expires: Date.now() + ttl,
      cap: new RateCap(rate, Date.now(), req.lines),
      pending: [],
      seq: 0,
    };
    this.watches.set(w.id, w);
    w.tail = this.tailOf(source, req, this.sinkOf(w, req));
    // The first lines are not rate-capped beyond what was asked for: the cap starts after them.
    o.log(`logs: watch ${w.id.slice(0, 8)} of ${req.agent}: ${describeSource(source)}`, 'info');
    return {
      ok: true,
      id: w.id,
      machine: o.machine,
      agent: req.agent,
      source: describeSource(source),
      ttlMs: ttl,
      rate,
    };
  }

  /** Where a watch's tail puts what it reads: the watch's pending items, sanitised. */
  private sinkOf(w: Watch, req: WatchRequest): TailSink {
    const rate = this.rate;
    return {
      lines: (raw) => {
        // Bounded: a watcher's backlog past 10 s of its rate is counted, not held.
        for (const r of raw) w.pending.push({ kind: 'line', format: 'plain', message: r });
        if (w.pending.length > rate * 10 + req.lines) {
          const over = w.pending.length - rate * 10;
          w.pending.splice(0, over, { kind: 'skipped', count: over, why: 'backlog' });
        }
      },
      note: (text) => w.pending.push({ kind: 'note', text: sanitise(text) }),
      end: (reason) => {
        w.ended = sanitise(reason);
      },
    };
  }

  private tailOf(source: LogSource, req: WatchRequest, sink: TailSink): Tail {
    const { o } = this;
    return source.kind === 'file'
      ? tailFile(
          source.path,
          { lines: req.lines, follow: req.follow, ...(o.pollMs ? { pollMs: o.pollMs } : {}) },
          sink,
        )
      : tailDocker(
          source.container,
          { lines: req.lines, follow: req.follow, ...(o.docker ? { docker: o.docker } : {}) },
          sink,
        );
  }
}
