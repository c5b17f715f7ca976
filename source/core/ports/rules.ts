// The port rules `opsdeck ports check` enforces (upstream's port_registry_validator.py
// --check-conflicts, widened to the ports BaseAgent binds on its own). Each finding carries every
// binding involved, so the operator sees both owners and where each is defined.
import type { Agent, Machine, PortRange, SourceLoc } from '../fleet/model.js';
import type { Env } from '../fleet/port-expr.js';
import { sharesHost } from './hosts.js';
import { buildRegistry, describeBinding, type Binding, type PortRegistry } from './registry.js';

export type PortRule =
  | 'self-clash' // one agent binds the same number twice (BaseAgent socket + its own transport)
  | 'machine-clash' // two agents on one machine bind the same number
  | 'host-clash' // two machines that share a host bind the same number
  | 'reserved' // an agent binds a port the fleet's infrastructure owns
  | 'out-of-range'; // a configured port outside the machine's pc2_network ranges

export type PortSeverity = 'error' | 'warning';

export interface PortFinding {
  rule: PortRule;
  severity: PortSeverity;
  port: number;
  machines: string[];
  owners: Binding[];
  /**
   * The clash exists only through a port BaseAgent derives (HTTP = health+1, health = port+1):
   * the numbers written in the file do not collide, the sockets at runtime do.
   */
  derived: boolean;
  message: string;
  /** reserved: what the port is reserved for, and where that is configured when it is. */
  reserved?: { name: string; loc?: SourceLoc };
  /** out-of-range: the range that was left. */
  range?: { name: 'agent_ports' | 'health_check_ports'; start: number; end: number; file: string };
}

export interface ReservedPort {
  port: number;
  name: string;
  /** The agent that legitimately binds it, if any (PC2's CentralErrorBus owns 7150). */
  ownedBy?: (agent: Agent) => boolean;
  loc?: SourceLoc;
}

const isErrorBus = (a: Agent) =>
  /error_?bus/i.test(a.name) || /(^|\/)(central_)?error_bus(\/|\.py$)/.test(a.scriptPath);
const isObservabilityHub = (a: Agent) =>
  /^ObservabilityHub$/i.test(a.name) || /observability_hub\//.test(a.scriptPath);

/**
 * Fleet-wide reserved ports for one machine: the ZMQ error bus (the machine's error_bus_port, else
 * 7150), the legacy ObservabilityHub (9000) and NATS (4222, plus any port named in NATS_SERVERS /
 * NATS_URL). Reserved on every machine: publishers on both machines reach these by number.
 */
export function reservedPorts(machine: Machine, env: Env = {}): ReservedPort[] {
  const bus = machine.globals.errorBusPort;
  const out: ReservedPort[] = [
    {
      port: bus?.value ?? 7150,
      name: 'the ZMQ error bus',
      ownedBy: isErrorBus,
      ...(bus ? { loc: bus.loc } : {}),
    },
    { port: 9000, name: 'the ObservabilityHub', ownedBy: isObservabilityHub },
    { port: 4222, name: 'NATS' },
  ];
  for (const url of `${env.NATS_SERVERS ?? ''},${env.NATS_URL ?? ''}`.split(',')) {
    const m = /^\s*(?:nats|tls):\/\/[^\s,]*:(\d+)\/?\s*$/.exec(url);
    const port = m ? Number(m[1]) : NaN;
    if (port >= 1 && port <= 65535 && !out.some((r) => r.port === port))
      out.push({ port, name: 'NATS' });
  }
  return out;
}

export interface CheckOptions {
  env?: Env;
}

export interface PortCheck {
  registry: PortRegistry;
  findings: PortFinding[];
}

export function checkPorts(machines: readonly Machine[], options: CheckOptions = {}): PortCheck {
  const registry = buildRegistry(machines);
  const findings: PortFinding[] = [];
  for (const m of machines) {
    const ports = registry.byPort.get(m.id)!;
    findings.push(...sameMachine(m, ports));
    findings.push(...reserved(m, ports, reservedPorts(m, options.env)));
    findings.push(...outOfRange(m, ports));
  }
  for (let i = 0; i < machines.length; i++) {
    for (let j = i + 1; j < machines.length; j++) {
      const a = machines[i]!;
      const b = machines[j]!;
      if (sharesHost(a.host, b.host)) findings.push(...acrossHosts(a, b, registry));
    }
  }
  return { registry, findings };
}

const keyOf = (b: Binding) => (b.kind === 'config' ? `config.${b.key}` : b.key);
const agentsOf = (bindings: readonly Binding[]) => [...new Set(bindings.map((b) => b.agent))];
const list = (bindings: readonly Binding[]) => bindings.map(describeBinding).join(', ');

function sameMachine(m: Machine, ports: Map<number, Binding[]>): PortFinding[] {
  const out: PortFinding[] = [];
  for (const [port, owners] of sorted(ports)) {
    if (owners.length < 2) continue;
    const configured = owners.filter((b) => !b.derived);
    const agents = agentsOf(owners);
    if (agents.length === 1) {
      out.push({
        rule: 'self-clash',
        severity: 'error',
        port,
        machines: [m.id],
        owners,
        derived: configured.length < 2,
        message: `${agents[0]} binds ${port} twice on ${m.id} (${owners.map(keyOf).join(' and ')}): BaseAgent's socket and the agent's own transport cannot both bind it`,
      });
    } else {
      out.push({
        rule: 'machine-clash',
        severity: 'error',
        port,
        machines: [m.id],
        owners,
        derived: agentsOf(configured).length < 2,
        message: `${port} on ${m.id} is bound by ${agents.length} agents: ${list(owners)}`,
      });
    }
  }
  return out;
}

function reserved(
  m: Machine,
  ports: Map<number, Binding[]>,
  table: readonly ReservedPort[],
): PortFinding[] {
  const out: PortFinding[] = [];
  const agents = new Map(m.agents.map((a) => [a.name, a]));
  for (const r of table) {
    const owners = (ports.get(r.port) ?? []).filter((b) => {
      const agent = agents.get(b.agent);
      return !(agent && r.ownedBy?.(agent));
    });
    if (owners.length === 0) continue;
    out.push({
      rule: 'reserved',
      severity: 'error',
      port: r.port,
      machines: [m.id],
      owners,
      derived: owners.every((b) => b.derived),
      message: `${r.port} is reserved for ${r.name}, but ${list(owners)} ${owners.length > 1 ? 'bind' : 'binds'} it on ${m.id}`,
      reserved: { name: r.name, ...(r.loc ? { loc: r.loc } : {}) },
    });
  }
  return out;
}

// Only the ports the file assigns are held to the ranges: pc2_network is an allocation policy for
// `port` and `health_check_port`. Derived ports (port+1, health+1) and config{} transports follow
// from those and are left to the clash rules, or every agent at the top of a range would be
// reported for a number nobody wrote.
function outOfRange(m: Machine, ports: Map<number, Binding[]>): PortFinding[] {
  const net = m.globals.network;
  const ranges: Array<[BindingKindRange, PortRange | undefined]> = [
    ['agent_ports', net?.agentPorts],
    ['health_check_ports', net?.healthCheckPorts],
  ];
  const out: PortFinding[] = [];
  for (const [name, range] of ranges) {
    if (!range) continue;
    const kind = name === 'agent_ports' ? 'port' : 'health';
    for (const [port, owners] of sorted(ports)) {
      for (const b of owners) {
        if (b.kind !== kind || b.derived || (port >= range.start && port <= range.end)) continue;
        out.push({
          rule: 'out-of-range',
          severity: 'warning',
          port,
          machines: [m.id],
          owners: [b],
          derived: false,
          message: `${b.agent} ${b.key} ${port} on ${m.id} is outside pc2_network.${name} ${range.start}-${range.end}`,
          range: { name, start: range.start, end: range.end, file: m.source.file },
        });
      }
    }
  }
  return out;
}
type BindingKindRange = 'agent_ports' | 'health_check_ports';

function acrossHosts(a: Machine, b: Machine, registry: PortRegistry): PortFinding[] {
  const pa = registry.byPort.get(a.id)!;
  const pb = registry.byPort.get(b.id)!;
  const out: PortFinding[] = [];
  for (const [port, ownersA] of sorted(pa)) {
    const ownersB = pb.get(port);
    if (!ownersB) continue;
    const configured = (x: Binding[]) => x.some((o) => !o.derived);
    out.push({
      rule: 'host-clash',
      severity: 'error',
      port,
      machines: [a.id, b.id],
      owners: [...ownersA, ...ownersB],
      derived: !(configured(ownersA) && configured(ownersB)),
      message: `${port} is bound on both ${a.id} (${list(ownersA)}) and ${b.id} (${list(ownersB)}), which share a host (${hostPhrase(a.host, b.host)})`,
    });
  }
  return out;
}

const hostPhrase = (x: string, y: string) => (x === y ? x : `${x} and ${y}`);

const sorted = (ports: Map<number, Binding[]>) => [...ports.entries()].sort(([x], [y]) => x - y);

export const RULE_ORDER: readonly PortRule[] = [
  'self-clash',
  'machine-clash',
  'host-clash',
  'reserved',
  'out-of-range',
];
