// What the simulator will run, decided before anything binds: per agent its protocol, error
// formats, VRAM and ports; per host which claimant wins each port. Pure, so the clash report
// is deterministic and testable: the first claimant in config order wins (the error bus first),
// every later one is a clash naming the holder, as the real fleet half-starts.
import type { Agent, Machine } from '../core/fleet/model.js';
import type { HealthProtocol } from '../core/health/replies.js';
import type { NatsLibrary, ZmqVariant } from '../core/errors/encode.js';
import type { AgentOverride, MachineOverride, SimOverrides } from './overrides.js';
import { defaultVariant, isErrorBusAgent } from '../core/errorbus/topology.js';

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
  model: Agent;
  protocol: HealthProtocol;
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

// Which protocol an agent speaks unless the overrides say: services/ are FastAPI or other
// non-BaseAgent services (upstream-protocols b3); everything else imports BaseAgent (62 of 68).
// UnifiedHealthMixin has no running adopter upstream, so no agent speaks it by default.
export function defaultProtocol(agent: Agent): HealthProtocol {
  return agent.scriptPath.startsWith('services/') ? 'http' : 'base-agent';
}

// Which agent is CentralErrorBus and which ZMQ format each agent publishes: the same rules the
// error-bus topology uses (core/errorbus/topology.ts).
const isBusAgent = isErrorBusAgent;
export { defaultVariant };

// BaseAgent's UnifiedErrorHandler uses nats_error_bus.py (ERRORS); others the WP-10 library.
export const defaultNatsLibrary = (protocol: HealthProtocol): NatsLibrary =>
  protocol === 'base-agent' ? 'errors' : 'error-stream';

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
export function bindsFor(agent: Agent, protocol: HealthProtocol, isBus: boolean): PlannedBind[] {
  const out: PlannedBind[] = [];
  const main = agent.port.value;
  if (isBus) out.push({ role: 'main', port: main, kind: 'bus' });
  if (protocol === 'base-agent') {
    if (!isBus) out.push({ role: 'main', port: main, kind: 'zmq-rep' });
    out.push({ role: 'health', port: agent.healthPort.value, kind: 'zmq-rep' });
    out.push({ role: 'http', port: agent.healthPort.value + 1, kind: 'http' });
  } else if (protocol === 'unified') {
    if (!isBus) out.push({ role: 'main', port: main, kind: 'zmq-rep' });
    // The mixin's own default is port+1000, not BaseAgent's port+1.
    out.push({
      role: 'health',
      port: agent.healthPortImplicit ? main + 1000 : agent.healthPort.value,
      kind: 'zmq-rep',
    });
  } else {
    if (!isBus) out.push({ role: 'main', port: main, kind: 'http' });
    if (!agent.healthPortImplicit && agent.healthPort.value !== main)
      out.push({ role: 'health', port: agent.healthPort.value, kind: 'http' });
  }
  for (const p of agent.implicitPorts) {
    if (p.kind === 'config') out.push({ role: `config.${p.key}`, port: p.value, kind: 'tcp' });
  }
  return out;
}

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
    ...overrides.agents[`${machine}/${name}`],
  };
}

export function planSim(
  machines: readonly Machine[],
  hosts: Record<string, string>,
  overrides?: SimOverrides,
): SimPlan {
  const warnings: string[] = [];
  const known = new Set(
    machines.flatMap((m) => m.agents.flatMap((a) => [a.name, `${m.id}/${a.name}`])),
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

function planMachine(m: Machine, host: string, overrides?: SimOverrides): PlannedMachine {
  const mo: MachineOverride = overrides?.machines?.[m.id] ?? {};
  const busPort = m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT;
  const gpu = {
    ...(GPUS[m.id] ?? { name: 'none', totalMb: 0 }),
    ...(mo.gpu ? { name: mo.gpu } : {}),
    ...(mo.vram_total_mb !== undefined ? { totalMb: mo.vram_total_mb } : {}),
  };
  const busAgent = m.agents.find((a) => isBusAgent(a, busPort));
  const held = new Map<number, string>();
  held.set(busPort, busAgent ? `${busAgent.name} main (error bus)` : 'error bus');
  const clashes: Clash[] = [];
  const agents: PlannedAgent[] = m.agents.map((agent) => {
    const o = overrideFor(overrides, m.id, agent.name);
    const isBus = agent === busAgent;
    const protocol = o.protocol ?? defaultProtocol(agent);
    const wanted = bindsFor(agent, protocol, isBus);
    const binds: PlannedBind[] = [];
    const lost: Clash[] = [];
    for (const b of wanted) {
      if (isBus && b.kind === 'bus') {
        binds.push(b); // the bus agent is the holder of the reservation made above
        continue;
      }
      const holder = held.get(b.port);
      if (holder !== undefined) {
        lost.push({ machine: m.id, agent: agent.name, role: b.role, port: b.port, heldBy: holder });
        continue;
      }
      held.set(b.port, `${agent.name} ${b.role}`);
      binds.push(b);
    }
    clashes.push(...lost);
    return {
      machine: m.id,
      host,
      name: agent.name,
      model: agent,
      protocol,
      variant: o.error_variant ?? defaultVariant(agent, m.id, isBus),
      natsLibrary: o.nats_library ?? defaultNatsLibrary(protocol),
      vramMb: o.vram_mb ?? defaultVramMb(agent),
      isBus,
      binds,
      clashes: lost,
      start: {
        down: o.down ?? false,
        slowMs: o.slow_ms ?? 0,
        degraded: o.degraded ?? false,
        floodPerS: o.flood_per_s ?? 0,
      },
    };
  });
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
