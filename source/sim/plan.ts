// What the simulator will run, decided before anything binds: per agent its protocol, error
// formats, VRAM and ports; per host which claimant wins each port. Pure, so the clash report
// is deterministic and testable: the first claimant in config order wins (the error bus first),
// every later one is a clash naming the holder, as the real fleet half-starts.
import type { Agent, Machine } from '../core/fleet/model.js';
import type { HealthProtocol } from '../core/health/replies.js';
import type { NatsLibrary, ZmqVariant } from '../core/errors/encode.js';
import type { AgentOverride, MachineOverride, SimOverrides } from './overrides.js';
import { defaultVariant, isErrorBusAgent } from '../core/errorbus/topology.js';
import {
  codeFacts,
  FREE_PORT_FROM,
  FREE_PORT_TRIES,
  selfName,
} from '../core/fleet/upstream-code.js';
import { expectedProtocol } from '../core/health/expect.js';
import { agentKey } from '../core/fleet/agent-key.js';

export type BindKind =
  | 'zmq-rep' // a ZMQ REP socket (BaseAgent main / health, UnifiedHealthMixin health)
  | 'http' // an HTTP server
  | 'tcp' // a hub's own transport from config{} (gRPC, REST, metrics): bound, answers nothing
  | 'bus'; // the machine's error-bus PUB

/** `main`, `health`, `http` or `config.<key>`. */
export type BindRole = string;

export interface PlannedBind {
  role: BindRole;
  port: number;
  kind: BindKind;
}

export interface Clash {
  machine: string;
  agent: string;
  role: BindRole;
  port: number;
  /** `ServiceRegistry http`, `error bus`, or `another process` (found only when binding). */
  heldBy: string;
}

export interface PlannedAgent {
  machine: string;
  host: string;
  name: string;
  /** The name its health replies carry (upstream's self.name; may differ from the config key). */
  selfName: string;
  model: Agent;
  protocol: HealthProtocol;
  /**
   * The ports its process really uses: the configured ones, or, when its code never hands
   * BaseAgent the configured port (upstream-code.ts), the first free ones from 5000.
   */
  ports: { main: number; health: number; moved?: string };
  /** `none`: publishes nothing on ZMQ (the bus itself). */
  variant: ZmqVariant | 'none';
  natsLibrary: NatsLibrary | 'none';
  vramMb: number;
  /** True for the agent that is the machine's error bus (its main port is the bus PUB). */
  isBus: boolean;
  /** Ports this agent won. */
  binds: PlannedBind[];
  /** Ports it lost. */
  clashes: Clash[];
  /** Set when a lost port kills its process at start (BaseAgent's main or health socket). */
  exits?: string;
  /** Start-up behaviour from the overrides file. */
  start: { down: boolean; slowMs: number; degraded: boolean; floodPerS: number };
}

export interface GpuModel {
  name: string;
  totalMb: number;
}

export interface PlannedMachine {
  id: string;
  host: string;
  errorBusPort: number;
  /** Agent that is the bus (CentralErrorBus), if the config has one. */
  busAgent?: string;
  gpu: GpuModel;
  ramTotalMb: number;
  cpuCores: number;
  agents: PlannedAgent[];
  clashes: Clash[];
}

export interface SimPlan {
  machines: PlannedMachine[];
  warnings: string[];
}

/** Design.md: MainPC on 127.0.0.1, PC2 on 127.0.0.2; further machines continue the /8. */
export function defaultHosts(machineIds: readonly string[]): Record<string, string> {
  const hosts: Record<string, string> = {};
  let next = 3;
  for (const id of machineIds) {
    if (id === 'mainpc') hosts[id] = '127.0.0.1';
    else if (id === 'pc2') hosts[id] = '127.0.0.2';
    else hosts[id] = `127.0.0.${next++}`;
  }
  return hosts;
}

/** Only loopback: the simulator must never bind an address another machine can reach. */
export const isLoopback = (host: string): boolean => {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255) && host !== '127.255.255.255';
};

// Upstream machine profiles: MainPC RTX 4090 (24 GB), PC2 RTX 3060 (12 GB).
const GPUS: Record<string, GpuModel> = {
  mainpc: { name: 'NVIDIA GeForce RTX 4090', totalMb: 24576 },
  pc2: { name: 'NVIDIA GeForce RTX 3060', totalMb: 12288 },
};
const RAM_MB: Record<string, number> = { mainpc: 65536, pc2: 32768 };
const CORES: Record<string, number> = { mainpc: 16, pc2: 8 };

/** Upstream's default error-bus port (ERROR_BUS_PORT), for machines whose config names none. */
export const DEFAULT_ERROR_BUS_PORT = 7150;

// Which protocol an agent speaks unless the overrides say: what its upstream code does.
export const defaultProtocol = expectedProtocol;

// Which agent is CentralErrorBus and which ZMQ format each agent publishes: the same rules the
// error-bus topology uses (core/errorbus/topology.ts).
const isBusAgent = isErrorBusAgent;
export { defaultVariant };

// BaseAgent's UnifiedErrorHandler uses nats_error_bus.py (ERRORS); others the WP-10 library.
export const defaultNatsLibrary = (protocol: HealthProtocol): NatsLibrary =>
  protocol === 'base-agent' || protocol === 'json-rm' ? 'errors' : 'error-stream';

const GPU_GROUP = /gpu|vision|reasoning|speech|learning/i;

/**
 * VRAM an agent holds unthrottled, from its config{} hints: a coordinator with a soft limit
 * holds 40% of it; a `cuda:N` device means one loaded model (1.5 GB); an agent in a GPU group
 * holds 0.7 GB; anything else is CPU-only. The overrides file's `vram_mb` wins.
 */
export function defaultVramMb(agent: Agent): number {
  const config = agent.config;
  const limit = config.vram_soft_limit_mb;
  if (typeof limit === 'number' && limit > 0) return Math.round(limit * 0.4);
  for (const [key, value] of Object.entries(config)) {
    if (
      (key === 'cuda_device' || key === 'gpu_device' || key === 'device') &&
      typeof value === 'string' &&
      /^cuda(:\d+)?$/.test(value)
    )
      return 1500;
  }
  return GPU_GROUP.test(agent.group) ? 700 : 0;
}

/** Ports an agent binds, in the order its process would bind them. */
export function bindsFor(
  agent: Agent,
  protocol: HealthProtocol,
  isBus: boolean,
  ports: { main: number; health: number } = {
    main: agent.port.value,
    health: agent.healthPort.value,
  },
): PlannedBind[] {
  const out: PlannedBind[] = [];
  const main = ports.main;
  if (isBus) out.push({ role: 'main', port: main, kind: 'bus' });
  if (protocol === 'base-agent' || protocol === 'json-rm') {
    // ResourceManager is a BaseAgent too: its own loop answers on the health port, BaseAgent's
    // HTTP mirror on health+1.
    if (!isBus) out.push({ role: 'main', port: main, kind: 'zmq-rep' });
    out.push({ role: 'health', port: ports.health, kind: 'zmq-rep' });
    out.push({ role: 'http', port: ports.health + 1, kind: 'http' });
  } else if (protocol === 'unified') {
    if (!isBus) out.push({ role: 'main', port: main, kind: 'zmq-rep' });
    // The mixin's own default is port+1000, not BaseAgent's port+1.
    out.push({
      role: 'health',
      port: agent.healthPortImplicit ? main + 1000 : ports.health,
      kind: 'zmq-rep',
    });
  } else if (protocol === 'http') {
    if (!isBus) out.push({ role: 'main', port: main, kind: 'http' });
    if (!agent.healthPortImplicit && ports.health !== main)
      out.push({ role: 'health', port: ports.health, kind: 'http' });
  }
  // `pub`: the bus PUB above is all it binds on its ports.
  for (const p of agent.implicitPorts) {
    if (p.kind === 'config') out.push({ role: `config.${p.key}`, port: p.value, kind: 'tcp' });
  }
  return out;
}

/**
 * `_find_available_port(5000)` for each agent whose code never passes BaseAgent its port, in
 * config order: the first port whose main, health (+1) and HTTP (+2) are all free on the host.
 */
function freePorts(held: ReadonlyMap<number, string>): { main: number; health: number } {
  for (let p = FREE_PORT_FROM; p < FREE_PORT_FROM + FREE_PORT_TRIES; p++) {
    if (!held.has(p) && !held.has(p + 1) && !held.has(p + 2)) return { main: p, health: p + 1 };
  }
  throw new Error(`no free port in ${FREE_PORT_FROM}-${FREE_PORT_FROM + FREE_PORT_TRIES}`);
}

/**
 * BaseAgent._init_sockets binds main and health, retries the same ports 5 times (strict_port)
 * and then raises: an agent that cannot have either is not running. Losing the HTTP mirror or a
 * config{} port only logs.
 */
export const diesWithout = (protocol: HealthProtocol, role: BindRole): boolean =>
  (protocol === 'base-agent' || protocol === 'json-rm') && (role === 'main' || role === 'health');

export const exitReason = (c: Clash): string =>
  `exited at start: its ${c.role} port ${c.port} is held by ${c.heldBy} (BaseAgent._init_sockets gives up after 5 tries)`;

/** Finds an agent's override: `machine/Name` first, then the bare name. */
export function overrideFor(
  overrides: SimOverrides | undefined,
  machine: string,
  name: string,
): AgentOverride {
  if (!overrides) return {};
  return {
    ...overrides.defaults,
    ...overrides.agents[name],
    ...overrides.agents[agentKey(machine, name)],
  };
}

export function planSim(
  machines: readonly Machine[],
  hosts: Record<string, string>,
  overrides?: SimOverrides,
): SimPlan {
  const warnings: string[] = [];
  const known = new Set(
    machines.flatMap((m) => m.agents.flatMap((a) => [a.name, agentKey(m.id, a.name)])),
  );
  for (const key of Object.keys(overrides?.agents ?? {})) {
    if (!known.has(key)) warnings.push(`overrides: no agent "${key}" in this fleet (ignored)`);
  }
  for (const key of Object.keys(overrides?.machines ?? {})) {
    if (!machines.some((m) => m.id === key))
      warnings.push(`overrides: no machine "${key}" in this fleet (ignored)`);
  }
  const planned = machines.map((m) => planMachine(m, hosts[m.id] ?? '127.0.0.1', overrides));
  return { machines: planned, warnings };
}

type Claimed = { binds: PlannedBind[]; lost: Clash[]; exits?: string };

/** The ports taken on one host so far, and by whom: the first claimant wins, in config order. */
class PortBook {
  readonly held = new Map<number, string>();

  constructor(private readonly machine: string) {}

  claim(agent: Agent, wanted: PlannedBind[], isBus: boolean, protocol: HealthProtocol): Claimed {
    const { held, machine } = this;
    const binds: PlannedBind[] = [];
    const lost: Clash[] = [];
    // A process that dies at its first bind takes no port: later agents may have them.
    const fatal = wanted
      .filter((b) => diesWithout(protocol, b.role) && held.has(b.port))
      .map((b) => ({
        machine,
        agent: agent.name,
        role: b.role,
        port: b.port,
        heldBy: held.get(b.port)!,
      }));
    if (fatal.length > 0) return { binds: [], lost: fatal, exits: exitReason(fatal[0]!) };
    for (const b of wanted) {
      if (isBus && b.kind === 'bus') {
        binds.push(b); // the bus agent is the holder of the reservation made above
        continue;
      }
      const holder = held.get(b.port);
      if (holder !== undefined) {
        lost.push({ machine, agent: agent.name, role: b.role, port: b.port, heldBy: holder });
        continue;
      }
      held.set(b.port, `${agent.name} ${b.role}`);
      binds.push(b);
    }
    return { binds, lost };
  }
}

/** Why the agent takes the first free ports from 5000, not its configured ones (if it does). */
const movedBy = (agent: Agent, o: AgentOverride): string | undefined =>
  o.free_port === false
    ? undefined
    : o.free_port === true
      ? 'free_port: true in the overrides file'
      : codeFacts(agent).freePort;

/** One agent as its config and its override make it, before it claims any port. */
function agentPlan(
  m: Machine,
  host: string,
  agent: Agent,
  o: AgentOverride,
  isBus: boolean,
): PlannedAgent {
  const protocol = o.protocol ?? defaultProtocol(agent);
  return {
    machine: m.id,
    host,
    name: agent.name,
    selfName: selfName(agent),
    model: agent,
    protocol,
    ports: { main: agent.port.value, health: agent.healthPort.value },
    variant: o.error_variant ?? defaultVariant(agent, m.id, isBus),
    natsLibrary: o.nats_library ?? defaultNatsLibrary(protocol),
    vramMb: o.vram_mb ?? defaultVramMb(agent),
    isBus,
    binds: [],
    clashes: [],
    start: {
      down: o.down ?? false,
      slowMs: o.slow_ms ?? 0,
      degraded: o.degraded ?? false,
      floodPerS: o.flood_per_s ?? 0,
    },
  };
}

const withClaim = (planned: PlannedAgent, { binds, lost, exits }: Claimed): PlannedAgent => ({
  ...planned,
  binds,
  clashes: lost,
  ...(exits ? { exits } : {}),
});

function planMachine(m: Machine, host: string, overrides?: SimOverrides): PlannedMachine {
  const mo: MachineOverride = overrides?.machines?.[m.id] ?? {};
  const busPort = m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT;
  const gpu = {
    ...(GPUS[m.id] ?? { name: 'none', totalMb: 0 }),
    ...(mo.gpu ? { name: mo.gpu } : {}),
    ...(mo.vram_total_mb !== undefined ? { totalMb: mo.vram_total_mb } : {}),
  };
  const busAgent = m.agents.find((a) => isBusAgent(a, busPort));
  const book = new PortBook(m.id);
  book.held.set(busPort, busAgent ? `${busAgent.name} main (error bus)` : 'error bus');
  const clashes: Clash[] = [];
  // Agents that bind the first free port from 5000 pick theirs after every configured bind.
  const movers: Array<{ agent: Agent; planned: PlannedAgent; moved: string }> = [];
  const agents: PlannedAgent[] = m.agents.map((agent) => {
    const o = overrideFor(overrides, m.id, agent.name);
    const isBus = agent === busAgent;
    const planned = agentPlan(m, host, agent, o, isBus);
    const moved = movedBy(agent, o);
    if (moved && !isBus) {
      movers.push({ agent, planned, moved });
      return planned;
    }
    const claimed = book.claim(
      agent,
      bindsFor(agent, planned.protocol, isBus),
      isBus,
      planned.protocol,
    );
    clashes.push(...claimed.lost);
    return withClaim(planned, claimed);
  });
  for (const { agent, planned, moved } of movers) {
    const ports = { ...freePorts(book.held), moved };
    const claimed = book.claim(
      agent,
      bindsFor(agent, planned.protocol, false, ports),
      false,
      planned.protocol,
    );
    clashes.push(...claimed.lost);
    agents[agents.findIndex((a) => a.name === agent.name)] = withClaim(
      { ...planned, ports },
      claimed,
    );
  }
  return {
    id: m.id,
    host,
    errorBusPort: busPort,
    ...(busAgent ? { busAgent: busAgent.name } : {}),
    gpu,
    ramTotalMb: mo.ram_total_mb ?? RAM_MB[m.id] ?? 32768,
    cpuCores: CORES[m.id] ?? 8,
    agents,
    clashes,
  };
}
