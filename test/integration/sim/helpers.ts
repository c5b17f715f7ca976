// Shared by the simulator's integration tests: clients written from the upstream spec (not from
// the simulator's code), a fleet loader, and a sim starter that always stops what it starts.
import { after } from 'node:test';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import * as zmq from 'zeromq';
import { connect, type NatsConnection } from 'nats';
import { loadFleet } from '../../../source/adapters/fleet-files.js';
import { findNatsServer, NATS_INSTALL_HINT } from '../../../source/adapters/nats-server.js';
import type { Machine } from '../../../source/core/fleet/model.js';
import { startSim, type Sim, type SimOptions } from '../../../source/sim/sim.js';
import { readOverrides } from '../../../source/sim/overrides.js';

export const ROOT = join(import.meta.dirname, '../../..');
export const EXAMPLES = {
  mainpc: join(ROOT, 'examples/mainpc.agent_groups.yaml'),
  pc2: join(ROOT, 'examples/pc2.pc2_services.yaml'),
};
export const REAL = {
  mainpc: join(ROOT, '../shared/fixtures/real/mainpc.startup_config.yaml'),
  pc2: join(ROOT, '../shared/fixtures/real/pc2.startup_config.yaml'),
};

export const NATS_BIN = findNatsServer();
/** `skip` value for tests that need nats-server: a visible reason when it is missing. */
export const NEEDS_NATS: string | false = NATS_BIN
  ? false
  : `nats-server not installed: ${NATS_INSTALL_HINT}`;

export function fleet(files: Record<string, string>): Machine[] {
  const loaded = loadFleet(files, {});
  if (!loaded.ok)
    throw new Error(`fleet did not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  return loaded.machines;
}

export function exampleOverrides() {
  const read = readOverrides(join(ROOT, 'examples/sim-overrides.yaml'));
  if (!read.ok) throw new Error(read.problems.join('; '));
  return read.overrides;
}

const running: Sim[] = [];
const connections: NatsConnection[] = [];
after(async () => {
  for (const nc of connections.splice(0)) await nc.close().catch(() => undefined);
  for (const sim of running.splice(0)) await sim.stop();
});

/** Starts a sim that is stopped after the file's tests whatever happens. */
export async function sim(
  options: Partial<SimOptions> & Pick<SimOptions, 'machines' | 'hosts'>,
): Promise<Sim> {
  const s = await startSim({
    nats: NATS_BIN
      ? { mode: 'own', bin: NATS_BIN }
      : { mode: 'off', why: 'nats-server not installed' },
    controlPort: 0,
    errorRate: 0,
    ...options,
  });
  running.push(s);
  return s;
}

export async function natsClient(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, pingInterval: 2000, maxPingOut: 2 });
  connections.push(nc);
  return nc;
}

export type ZmqOutcome =
  { kind: 'reply'; bytes: Buffer; text: string; ms: number } | { kind: 'timeout'; ms: number };

/**
 * scripts/docker_health_check.py::check_zmq_service, from the spec: REQ, LINGER 0, RCVTIMEO
 * 5000, one request, then close (a timed-out REQ socket is never reused).
 */
export async function zmqAsk(
  endpoint: string,
  payload: string | Uint8Array,
  timeoutMs = 5000,
): Promise<ZmqOutcome> {
  const sock = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs });
  const began = performance.now();
  try {
    sock.connect(endpoint);
    await sock.send(payload);
    const [reply] = await sock.receive();
    const bytes = Buffer.from(reply!);
    return { kind: 'reply', bytes, text: bytes.toString('utf8'), ms: performance.now() - began };
  } catch (error) {
    if ((error as { code?: string }).code === 'EAGAIN')
      return { kind: 'timeout', ms: performance.now() - began };
    throw error;
  } finally {
    sock.close();
  }
}

/** The canonical client's request: `{"action": "health_check", "timestamp": <float>}`. */
export const specHealthRequest = (): string =>
  `{"action": "health_check", "timestamp": ${(Date.now() / 1000).toFixed(6)}}`;

export async function httpGet(
  url: string,
  timeoutMs = 5000,
): Promise<{ status: number; type: string; body: string } | { error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: await res.text(),
    };
  } catch (error) {
    return { error: String((error as Error).cause ?? error) };
  }
}

/** Whether anything accepts TCP connections on host:port. */
export function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A SUB socket on a machine's error bus that collects every message. */
export async function busSubscriber(endpoint: string): Promise<{
  messages: Buffer[][];
  close(): void;
  waitFor(pred: (m: Buffer[]) => boolean, ms?: number): Promise<Buffer[]>;
}> {
  const sub = new zmq.Subscriber({ linger: 0 });
  sub.connect(endpoint);
  sub.subscribe();
  const messages: Buffer[][] = [];
  void (async () => {
    try {
      for await (const frames of sub) messages.push(frames.map((f) => Buffer.from(f)));
    } catch {
      // closed
    }
  })();
  // A SUB joins asynchronously: wait until its connection is up (slow-joiner).
  await new Promise((r) => setTimeout(r, 300));
  return {
    messages,
    close: () => sub.close(),
    waitFor: (pred, ms = 5000) => waitFor(() => messages.find(pred), ms),
  };
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000,
  every = 20,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ResourceManager._start_health_check's reply to {"action": "health_check"}. */
export const RM_HEALTH =
  /^\{"status": "ok", "service": "ResourceManager", "initialization_status": "complete", "port": \d+, "health_port": \d+, "timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?"\}$/;

/**
 * What the protocol tests need beyond upstream's defaults: a few agents on the WP-07 mixin (no
 * agent upstream runs it), /metrics as it would be with its one-line bug fixed, BaseAgents that
 * stay ready (no 300 s expiry in a test), and the collector PUB per machine where a test reads
 * every variant on one bus.
 */
export function protocolOverrides(extra: Partial<ReturnType<typeof exampleOverrides>> = {}) {
  const base = exampleOverrides();
  return {
    ...base,
    agents: {
      ...base.agents,
      ChainOfThoughtAgent: { protocol: 'unified' as const },
      'mainpc/MemoryFusionHub': { protocol: 'unified' as const },
      DreamWorldAgent: { ...base.agents.DreamWorldAgent, protocol: 'unified' as const },
    },
    metrics: 'fixed' as const,
    ready_ttl_s: 0,
    ...extra,
  };
}

/** BaseAgent._get_health_status() as json.dumps writes it: key order, ", " and ": ", floats with a point. */
export const baseAgentReply = (name: string, port: number, rm: boolean): RegExp =>
  new RegExp(
    `^\\{"status": "ok", "ready": true, "initialized": true, "message": "${name} is healthy", ` +
      `"timestamp": "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{6})?", "uptime": \\d+\\.\\d+(e-\\d\\d)?, "active_threads": \\d+, ` +
      `"health_checks": \\{"port_accessible": true, "redis_connected": true, "ready_signal": true\\}, ` +
      `"health_details": \\{"port": ${port}, "redis_host": "localhost:6379", "ready_signal": \\{"status": "ready", .*\\}\\}, ` +
      `"health_status": "healthy"${rm ? ', "service": "ResourceManager", "additional_info": \\{\\}' : ''}\\}$`,
  );

/**
 * Probes every endpoint of every agent the way its protocol's spec says and lists what did not
 * answer as the spec says. Each running agent must answer on at least one endpoint; an agent
 * whose process died at start (a BaseAgent that lost its main or health port) must hold none.
 */
export async function probeEveryAgent(s: Sim): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  let checked = 0;
  await Promise.all(
    s.machines.flatMap((m) =>
      m.agents.map(async (a) => {
        const host = a.plan.host;
        let answered = 0;
        checked += 1;
        if (a.exited) {
          if (a.bound.length) problems.push(`${a.key}: exited (${a.exited}) yet holds ports`);
          return;
        }
        if (a.plan.protocol === 'pub') {
          // No health port: its PUB is its only endpoint.
          if (!(await tcpOpen(host, a.plan.ports.main)))
            problems.push(`${a.key}: its PUB on ${a.plan.ports.main} is not open`);
          return;
        }
        for (const b of a.bound) {
          const where = `${a.key} ${b.role} ${b.port}`;
          if (a.plan.protocol === 'http' && b.kind === 'http') {
            const r = await httpGet(`http://${host}:${b.port}/health`);
            if (
              !('status' in r) ||
              r.status !== 200 ||
              r.type !== 'application/json' ||
              r.body !== '{"status":"ok"}'
            )
              problems.push(`${where}: ${JSON.stringify(r)}`);
            else answered += 1;
          }
          if (b.kind !== 'zmq-rep') continue;
          const r = await zmqAsk(`tcp://${host}:${b.port}`, specHealthRequest());
          if (r.kind !== 'reply') {
            problems.push(`${where}: no reply in 5 s`);
            continue;
          }
          let ok: boolean;
          if (a.plan.protocol === 'unified' && b.role === 'health') {
            // The WP-07 socket takes plain strings: JSON is an unknown request, answered raw.
            ok = r.text === 'Unknown health request';
          } else if (a.isResourceManager && b.role === 'main') {
            // ResourceManager overrides handle_request: health actions are unknown on its main port.
            ok = r.text === '{"status": "error", "message": "Unknown action: health_check"}';
          } else if (a.isResourceManager && b.role === 'health') {
            // Its own loop (_start_health_check): JSON in, its own reply out.
            ok = RM_HEALTH.test(r.text);
          } else {
            // The canonical client's verdict is reply.status == "ok"; the bytes must be BaseAgent's.
            ok =
              baseAgentReply(a.plan.selfName, a.plan.ports.main, false).test(r.text) &&
              JSON.parse(r.text).status === 'ok';
          }
          if (ok) answered += 1;
          else problems.push(`${where}: ${r.text.slice(0, 120)}`);
        }
        if (answered === 0)
          problems.push(
            `${a.key}: answered on no endpoint (bound: ${a.bound.map((b) => b.role).join(', ') || 'none'})`,
          );
      }),
    ),
  );
  return { checked, problems };
}
