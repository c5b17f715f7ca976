// Each simulated machine runs the real `opsdeck agent` daemon (agent/agent.ts) with the sim as
// the machine it reads and acts on: resources from the sim's model, the process table from its
// agents, ResourceManager over ZMQ on the simulated ResourceManager's own main port. So the
// console and `opsdeck throttle` meet the same daemon, the same replies and the same failures
// (an upstream "Unknown action", a wedged ResourceManager) as on real machines.
import type { NatsConnection } from 'nats';
import { connectNats } from '../adapters/nats-connect.js';
import type { ControlAuth } from '../core/resources/machine-control.js';
import type { TokenVerifier } from '../core/security/token.js';
import { runAgent, type MachineSource, type RunningAgent } from '../agent/agent.js';
import { runBridge, type RunningBridge } from '../agent/bridge.js';
import { startObserver, type Observer } from '../agent/observe.js';
import type { SampleSigner } from '../adapters/sample-sign.js';
import type { Machine } from '../core/fleet/model.js';
import { buildTopology } from '../core/errorbus/topology.js';
import { VERSION } from '../version.js';
import type { ControlVerifier } from './control.js';
import type { SimMachine } from './machine.js';
import { simNats } from './nats-side.js';
import { fileOrDockerFinder } from '../agent/logs.js';
import type { Lifecycle, Managed } from '../core/fleet/lifecycle.js';

export const machineControlSubject = (machine: string): string => `opsdeck.${machine}.control`;

/** Fault requests on opsdeck.sim.control and the ZMQ socket: a token for audience "sim"; status is read-only. */
export function faultVerifier(verify: TokenVerifier): ControlVerifier {
  return (request) => {
    if (request.fault === 'status') return { ok: true };
    const checked = verify(request.token, 'sim');
    return checked.ok ? { ok: true } : { ok: false, reason: checked.reason };
  };
}

export interface MachineControlServer {
  agents: RunningAgent[];
  bridges: RunningBridge[];
  /** Each machine's --health / --metrics side, when asked for. */
  observers: Observer[];
  close(): Promise<void>;
}

/** `opsdeck sim --agent-health` / `--agent-metrics PORT`: what each machine's daemon also runs. */
export interface SimObserve {
  /** The fleet on the sim's addresses: each daemon probes its machine's agents there. */
  fleet: readonly Machine[];
  /** /metrics on each machine's own address at this port. */
  metricsPort?: number;
}

export function simSource(m: SimMachine): MachineSource {
  return {
    sample: async () => ({ sample: m.sample(Date.now()) }),
    processes: async () => m.processes(),
    renice: async (pid, nice) => m.renice(pid, nice),
  };
}

/**
 * Stop / start of a simulated agent as the daemon does it on a real machine, on the sim's own
 * process table: the process named by its pid and command line, an orderly stop (logged), a start.
 */
export function simLifecycle(m: SimMachine): Lifecycle {
  const how = async (name: string): Promise<Managed | { error: string }> => {
    const a = m.byName.get(name);
    if (!a) return { error: `no agent ${name} in this machine's fleet config` };
    return {
      kind: 'process',
      agent: name,
      running: a.status === 'up',
      ...(a.status === 'up' ? { pid: a.pid } : {}),
      command: ['python3', a.plan.model.scriptPath, '--port', String(a.plan.ports.main)],
      cwd: `(simulated ${m.id})`,
      from: "the simulator's process table",
      ...(a.log ? { output: a.log.path } : {}),
    };
  };
  return {
    how,
    async stop(name) {
      const a = m.byName.get(name);
      if (!a) return { ok: false, error: `no agent ${name}` };
      if (a.status !== 'up') return { ok: true, did: [`${name} was not running`] };
      const pid = a.pid;
      await a.stop('stopped by opsdeck (agent_stop)');
      return { ok: true, did: [`SIGTERM to pid ${pid}: it exited`] };
    },
    async start(name) {
      const a = m.byName.get(name);
      if (!a) return { ok: false, error: `no agent ${name}` };
      if (a.status === 'up')
        return { ok: true, did: [`${name} already runs (pid ${a.pid})`], pid: a.pid };
      const lost = await a.start();
      // start() changes the status (TypeScript still holds the narrowing from above).
      if ((a.status as string) !== 'up')
        return { ok: false, error: `${name} exited at start: ${a.exited ?? 'unknown reason'}` };
      return {
        ok: true,
        did: [
          `started python3 ${a.plan.model.scriptPath} --port ${a.plan.ports.main}: pid ${a.pid}${lost.length ? ` (${lost.length} ports held by others)` : ''}`,
        ],
        pid: a.pid,
      };
    },
  };
}

/** ResourceManager's main port on this machine, if the sim runs one. */
export function rmEndpoint(m: SimMachine): string | undefined {
  const rm = m.agents.find((a) => a.isResourceManager);
  return rm ? `tcp://${m.plan.host}:${rm.plan.ports.main}` : undefined;
}

/** What each step of serveMachineControl shares. */
interface Daemons {
  nc: NatsConnection;
  machines: readonly SimMachine[];
  auth: ControlAuth;
  intervalMs: number;
  /** One machine's daemon log: its lines prefixed with the machine. */
  logOf: (m: SimMachine) => (line: string) => void;
}

/** Each machine's --health / --metrics side; if one cannot start, none is left running. */
async function startObservers(d: Daemons, observe: SimObserve | undefined): Promise<Observer[]> {
  const observers: Observer[] = [];
  if (!observe) return observers;
  try {
    for (const m of d.machines)
      observers.push(
        await startObserver({
          machine: m.id,
          fleet: observe.fleet,
          health: true,
          ...(observe.metricsPort !== undefined
            ? { metrics: { host: m.plan.host, port: observe.metricsPort } }
            : {}),
          intervalMs: d.intervalMs,
          version: VERSION,
          startedAt: Date.now(),
          log: d.logOf(m),
        }),
      );
  } catch (error) {
    // A /metrics port already taken: nothing of this is left running.
    for (const o of observers) await o.stop();
    await d.nc.close().catch(() => undefined);
    throw error;
  }
  return observers;
}

type LogsOption = { root(machine: string): string; rate?: number; ttlMs?: number };

/** One machine's daemon, on the sim's model of the machine. */
function startAgent(
  d: Daemons,
  m: SimMachine,
  extra: { logs?: LogsOption; signer?: SampleSigner; observer?: Observer },
): RunningAgent {
  const { logs } = extra;
  const endpoint = rmEndpoint(m);
  const agents = m.plan.agents.map((a) => ({
    name: a.name,
    scriptPath: a.model.scriptPath,
    machine: m.id,
  }));
  return runAgent(d.nc, {
    machine: m.id,
    intervalMs: d.intervalMs,
    auth: d.auth,
    source: simSource(m),
    agents,
    lifecycle: simLifecycle(m),
    ...(logs
      ? {
          logs: fileOrDockerFinder(logs.root(m.id), agents),
          ...(logs.rate ? { logRate: logs.rate } : {}),
          ...(logs.ttlMs ? { logTtlMs: logs.ttlMs } : {}),
        }
      : {}),
    ...(endpoint ? { resourceManager: endpoint } : {}),
    ...(extra.signer ? { signer: extra.signer } : {}),
    version: VERSION,
    log: d.logOf(m),
    ...(extra.observer ? { exporter: extra.observer.exporter } : {}),
  });
}

/** Each machine's `--bridge`, planned from the fleet and the env its agents see. */
async function startBridges(
  d: Daemons,
  bridges: { fleet: readonly Machine[]; env: Readonly<Record<string, string | undefined>> },
  observers: readonly Observer[],
): Promise<RunningBridge[]> {
  const plan = buildTopology({
    machines: bridges.fleet,
    env: bridges.env,
    bridges: d.machines.map((m) => m.id),
  }).bridgePlan;
  const running: RunningBridge[] = [];
  for (const [i, m] of d.machines.entries())
    running.push(
      await runBridge(d.nc, {
        machine: m.id,
        targets: plan[m.id] ?? [],
        log: d.logOf(m),
        ...(observers[i] ? { onFrame: observers[i].onBridgeFrame } : {}),
      }),
    );
  return running;
}

/**
 * With `bridges`, each machine's daemon also runs `--bridge`, planned from the fleet and the
 * upstream env the agents see, as an operator would deploy it (the demo does).
 */
export async function serveMachineControl(
  url: string,
  machines: readonly SimMachine[],
  auth: ControlAuth,
  log: (line: string) => void,
  intervalMs = 1000,
  bridges?: { fleet: readonly Machine[]; env: Readonly<Record<string, string | undefined>> },
  observe?: SimObserve,
  /** Signs each machine's samples, as its agent's `--sample-key` does. */
  signers?: Readonly<Record<string, SampleSigner>>,
  /** Each machine's daemon serves its agents' logs from root(machine), as `--root`. */
  logs?: LogsOption,
): Promise<MachineControlServer> {
  const nc: NatsConnection = await connectNats(simNats(url, 'opsdeck-sim-agents'));
  const d: Daemons = {
    nc,
    machines,
    auth,
    intervalMs,
    logOf: (m) => (line) => log(`${m.id} agent: ${line}`),
  };
  const observers = await startObservers(d, observe);
  const agents = machines.map((m, i) =>
    startAgent(d, m, {
      ...(logs ? { logs } : {}),
      ...(signers?.[m.id] ? { signer: signers[m.id] } : {}),
      ...(observers[i] ? { observer: observers[i] } : {}),
    }),
  );
  const running = bridges ? await startBridges(d, bridges, observers) : [];
  for (const [i, o] of observers.entries())
    o.attach(nc, { agent: agents[i]!, ...(running[i] ? { bridge: running[i] } : {}) });
  await nc.flush();
  return {
    agents,
    bridges: running,
    observers,
    async close() {
      for (const o of observers) await o.stop();
      for (const b of running) await b.stop(1000);
      for (const a of agents) await a.stop();
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    },
  };
}
