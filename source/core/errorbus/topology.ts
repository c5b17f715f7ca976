// Who binds and who connects on the ZMQ error-bus ports, and so whose errors reach anyone
// (upstream-protocols c1, f). Pure: the fleet, the upstream env variables, which machines run
// `opsdeck agent --bridge`, and (optionally) what a ZMTP probe found listening go in; per port
// the holder, per publisher where its frames end up with and without the bridge, and the
// bridge's plan (bind a SUB here, connect a SUB there) come out.
//
// The rules, from upstream's code:
//   A  ErrorPublisher: PUB connect tcp://{ERROR_BUS_HOST or PC2_IP}:{ERROR_BUS_PORT or 7150};
//      on MainPC create_mainpc_error_publisher: tcp://{MAINPC_ERROR_BUS_HOST or MainPC's IP}:
//      {MAINPC_ERROR_BUS_PORT or 7150}, where nothing binds unless a collector does
//   B  ForPC2 agents: PUB connect tcp://PC2_IP:7150
//   C  streaming TTS / interrupt handler: PUB connect tcp://PC2_IP:7150
//   D  PC2ErrorPublisher: get_pub_socket() *binds* tcp://{PC2_ERROR_BUS_HOST or PC2_IP}:
//      {PC2_ERROR_BUS_PORT or 7150}, then connects the same socket there; critical/high errors
//      also go through a second pooled PUB bound on tcp://{MAINPC_ERROR_BUS_HOST or MAINPC_IP}:
//      {MAINPC_ERROR_BUS_PORT or 7150}. A failed bind leaves the socket None: every error of
//      that publisher is dropped (logged once, at start).
//   central  services beside CentralErrorBus hand it their errors over ipc:///tmp/agent_errors;
//      it re-publishes them on the PUB it binds on the error-bus port (tcp://*:7150)
// and from ZeroMQ: a PUB connected to a PUB delivers nothing (the handshake refuses the pair); a
// PUB connected to an address nothing listens on drops every message; a second bind of a port
// fails (EADDRINUSE); binding another machine's address fails (EADDRNOTAVAIL).
//
// The bridge never binds a port an upstream component binds (CentralErrorBus, PC2ErrorPublisher):
// taking it would break that component on its next start. Where a PUB is bound it connects a SUB.
import type { Agent, Machine } from '../fleet/model.js';
import type { ZmqVariant } from '../errors/encode.js';
import { agentKey } from '../fleet/agent-key.js';

export const DEFAULT_ERROR_BUS_PORT = 7150;

/** CentralErrorBus: the config entry whose main port is the error-bus port. */
export const isErrorBusAgent = (agent: Agent, busPort: number): boolean =>
  agent.port.value === busPort &&
  (/central_error_bus/.test(agent.scriptPath) || agent.name === 'CentralErrorBus');

/** Which ZMQ error format an agent publishes, from its script path and machine (c1). */
export function defaultVariant(agent: Agent, machine: string, isBus: boolean): ZmqVariant | 'none' {
  if (isBus) return 'none';
  if (/streaming_tts_agent|streaming_interrupt_handler/.test(agent.scriptPath)) return 'C';
  if (machine === 'pc2') {
    if (/\/ForPC2\//.test(agent.scriptPath)) return 'B';
    // services/ on PC2 run beside CentralErrorBus and reach it over IPC: it re-publishes them.
    if (agent.scriptPath.startsWith('services/')) return 'central';
    return 'D';
  }
  return 'A';
}

/** What listens on a host:port: a bound PUB, a bound SUB, something else, nothing. */
export type Holder = 'pub' | 'sub' | 'other' | 'none';
/** A probe's finding; `unknown`: no answer in time (filtered, or a wedged process). */
export type ProbeFinding = Holder | 'unknown';

export interface TopologyInput {
  machines: readonly Machine[];
  env: Readonly<Record<string, string | undefined>>;
  /** Machines running `opsdeck agent --bridge`. */
  bridges: readonly string[];
  /** What was found listening, per `host:port` (see probeKey), with a label for `other`. */
  probes?: Readonly<Record<string, { holder: ProbeFinding; detail?: string }>>;
  /** Variants seen on the wire, per `machine/agent`: they override the config's guess. */
  variants?: Readonly<Record<string, ZmqVariant | 'none'>>;
}

export interface Endpoint {
  /** Machine whose address it is, or undefined when it is no machine of the fleet. */
  machine?: string;
  host: string;
  port: number;
}

export const probeKey = (host: string, port: number): string => `${host}:${port}`;
const endpointText = (e: Endpoint): string => `${e.host}:${e.port}`;

export type Delivery =
  /** Reaches NATS: through the bridge. */
  | { to: 'nats'; via: string }
  /** Reaches a ZMQ subscriber only (one that connects to a bound PUB, like the console). */
  | { to: 'zmq'; via: string }
  /** Reaches no one. */
  | { to: 'nobody'; why: string; fix?: string };

export interface Route {
  machine: string;
  agent: string;
  variant: ZmqVariant;
  /** `own`: the error itself; `cross`: D's CROSS_MACHINE_ERROR copy (critical/high only). */
  copy: 'own' | 'cross';
  socket: 'connect' | 'bind+connect' | 'ipc';
  /** Where its frames go (CentralErrorBus's PUB for `ipc`). */
  endpoint?: Endpoint;
  /** The env variables that chose the endpoint, as read. */
  chosenBy: string;
  withoutBridge: Delivery;
  withBridge: Delivery;
  /** The machine whose bridge decides (the endpoint's). */
  bridgeMachine?: string;
  /** As things are: withBridge when that machine's bridge runs. */
  now: Delivery;
}

export interface PortReport {
  machine: string;
  host: string;
  port: number;
  /** What the config and env say binds it (before any bridge). */
  expected: { holder: Holder; by: string };
  /** What the probe found, if probed. */
  probe?: { holder: ProbeFinding; detail?: string };
  /** The holder used for the verdicts: the probe's when it answered, else the expectation. */
  holder: { holder: Holder; by: string };
  /** Publishers connecting a PUB here, and D publishers trying to bind it. */
  connecting: string[];
  binding: string[];
  /** An upstream component binds here (CentralErrorBus, PC2ErrorPublisher): the bridge never does. */
  upstreamBinder?: string;
  /** What a bridge on this machine does here (bind a SUB, or connect a SUB to the bound PUB). */
  bridge?: { mode: 'bind' | 'connect'; why: string };
  /** A probe that disagrees with the config, in words. */
  mismatch?: string;
}

export interface BridgeTarget {
  mode: 'bind' | 'connect';
  host: string;
  port: number;
  why: string;
}

export interface Topology {
  ports: PortReport[];
  routes: Route[];
  /** Per machine: where its bridge binds or connects. */
  bridgePlan: Record<string, BridgeTarget[]>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '*']);

const envOf = (
  env: TopologyInput['env'],
  ...names: string[]
): { value?: string; name?: string } => {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return { value, name };
  }
  return {};
};

const portOf = (text: string | undefined, fallback: number): number => {
  const n = Number(text);
  return text !== undefined && Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
};

/** One topology being built: the input, and what each step has found so far. */
interface Build {
  input: TopologyInput;
  machines: readonly Machine[];
  env: TopologyInput['env'];
  byId: Map<string, Machine>;
  /** Per machine with a CentralErrorBus: its name and the port its PUB binds. */
  centralOf: Map<string, { agent: string; port: number }>;
  /** Per `host:port`. */
  ports: Map<string, PortReport>;
  /** The D publishers whose bind fails, and why. */
  bindFailure: Map<Pending, string>;
  bridged: Set<string>;
}

interface Target {
  endpoint: Endpoint;
  chosenBy: string;
}

/** One publisher's socket (a D publisher has two: its own and the cross-machine copy). */
interface Pending {
  machine: string;
  agent: string;
  variant: ZmqVariant;
  copy: 'own' | 'cross';
  target?: Target;
}

const hostOf = (b: Build, id: string, envNames: string[]): { host: string; from: string } => {
  const set = envOf(b.env, ...envNames);
  if (set.value) return { host: set.value, from: set.name! };
  const m = b.byId.get(id);
  return m
    ? { host: m.host, from: `${id}'s address` }
    : { host: 'localhost', from: `${envNames[0]} unset (upstream default localhost)` };
};
const pc2Host = (b: Build) => hostOf(b, 'pc2', ['PC2_IP', 'PC2_HOST']);
const mainpcHost = (b: Build) =>
  hostOf(b, 'mainpc', ['MAINPC_IP', 'MAIN_PC_IP', 'MAINPC_HOST', 'MAIN_PC_HOST']);

// An address as seen from a publisher on `from`: a machine's own address, or loopback meaning
// the publisher's own machine.
const resolveOn = (b: Build, host: string, port: number, from: string): Endpoint => {
  const exact = b.machines.find((m) => m.host === host);
  if (exact) return { machine: exact.id, host: exact.host, port };
  if (LOOPBACK.has(host)) {
    const own = b.byId.get(from);
    return { ...(own ? { machine: own.id } : {}), host: own?.host ?? host, port };
  }
  return { host, port };
};

/** A host variable (else `fallback`) and a port variable (else 7150), as a target. */
const targetFrom = (
  b: Build,
  machine: string,
  names: { host: string; port: string },
  fallback: { host: string; from: string },
): Target => {
  const h = envOf(b.env, names.host);
  const p = envOf(b.env, names.port);
  const host = h.value ? { host: h.value, from: h.name! } : fallback;
  return {
    endpoint: resolveOn(b, host.host, portOf(p.value, DEFAULT_ERROR_BUS_PORT), machine),
    chosenBy: `${host.from}${p.name ? `, ${p.name}` : ''}`,
  };
};

/** Where a publisher's PUB aims (rules A-D at the top); none for `central` (it uses IPC). */
function targetOf(
  b: Build,
  variant: ZmqVariant,
  copy: 'own' | 'cross',
  machine: string,
): Target | undefined {
  switch (variant) {
    case 'A': {
      // MainPC's agents take create_mainpc_error_publisher: MAINPC_ERROR_BUS_HOST, else
      // MainPC's own address (get_mainpc_ip), port MAINPC_ERROR_BUS_PORT or 7150. A bare
      // ErrorPublisher elsewhere: ERROR_BUS_HOST, else PC2_IP, port ERROR_BUS_PORT or 7150.
      const prefix = machine === 'mainpc' ? 'MAINPC_' : '';
      const names = { host: `${prefix}ERROR_BUS_HOST`, port: `${prefix}ERROR_BUS_PORT` };
      const fallback = prefix ? mainpcHost(b) : pc2Host(b);
      return targetFrom(b, machine, names, {
        host: fallback.host,
        from: `${fallback.from} (no ${names.host})`,
      });
    }
    case 'B':
    case 'C': {
      const host = pc2Host(b);
      return {
        endpoint: resolveOn(b, host.host, DEFAULT_ERROR_BUS_PORT, machine),
        chosenBy: `${host.from}, port 7150 fixed`,
      };
    }
    case 'D':
      return copy === 'own'
        ? targetFrom(
            b,
            machine,
            { host: 'PC2_ERROR_BUS_HOST', port: 'PC2_ERROR_BUS_PORT' },
            pc2Host(b),
          )
        : targetFrom(
            b,
            machine,
            { host: 'MAINPC_ERROR_BUS_HOST', port: 'MAINPC_ERROR_BUS_PORT' },
            mainpcHost(b),
          );
    case 'central':
      return undefined;
  }
}

/** Step 1: every publisher's socket and where it aims; notes each machine's CentralErrorBus. */
function publishers(b: Build): Pending[] {
  const pending: Pending[] = [];
  for (const m of b.machines) {
    const busPort = m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT;
    const bus = m.agents.find((a) => isErrorBusAgent(a, busPort));
    if (bus) b.centralOf.set(m.id, { agent: bus.name, port: busPort });
    for (const a of m.agents) {
      const variant =
        b.input.variants?.[agentKey(m.id, a.name)] ?? defaultVariant(a, m.id, a === bus);
      if (variant === 'none') continue;
      const own = targetOf(b, variant, 'own', m.id);
      const base = { machine: m.id, agent: a.name, variant };
      pending.push({ ...base, copy: 'own', ...(own ? { target: own } : {}) });
      if (variant === 'D')
        pending.push({ ...base, copy: 'cross', target: targetOf(b, 'D', 'cross', m.id)! });
    }
  }
  return pending;
}

/** The report of one in-fleet port, made on first sight with what the config expects there. */
function portFor(b: Build, machine: string, port: number): PortReport {
  const m = b.byId.get(machine)!;
  const key = probeKey(m.host, port);
  const known = b.ports.get(key);
  if (known) return known;
  const central = b.centralOf.get(machine);
  const expected: PortReport['expected'] =
    central && central.port === port
      ? {
          holder: 'pub',
          by: `${central.agent}${central.agent === 'CentralErrorBus' ? '' : ' (CentralErrorBus)'}'s PUB (tcp://*:${port})`,
        }
      : { holder: 'none', by: 'nothing' };
  const r: PortReport = {
    machine,
    host: m.host,
    port,
    expected,
    holder: expected,
    connecting: [],
    binding: [],
    ...(expected.holder === 'pub' ? { upstreamBinder: expected.by } : {}),
  };
  b.ports.set(key, r);
  return r;
}

/** Step 2: every machine's configured error-bus port, and every in-fleet endpoint aimed at. */
function collectPorts(b: Build, pending: readonly Pending[]): void {
  for (const m of b.machines)
    portFor(b, m.id, m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT);
  for (const p of pending)
    if (p.target?.endpoint.machine) portFor(b, p.target.endpoint.machine, p.target.endpoint.port);
}

/** Step 3: PC2ErrorPublisher binds, in config order (the first bind of a free port wins). */
function bindAndConnect(b: Build, pending: readonly Pending[]): void {
  for (const p of pending) {
    if (p.variant !== 'D' || !p.target) continue;
    const e = p.target.endpoint;
    const label = `${p.agent} (PC2ErrorPublisher PUB${p.copy === 'cross' ? ', cross-machine copy' : ''})`;
    if (e.machine !== p.machine) {
      b.bindFailure.set(
        p,
        `its pooled PUB cannot bind ${endpointText(e)}: not an address of ${p.machine} (EADDRNOTAVAIL)`,
      );
      continue;
    }
    const r = portFor(b, e.machine, e.port);
    r.binding.push(p.agent);
    r.upstreamBinder ??= label;
    if (r.expected.holder !== 'none') {
      b.bindFailure.set(
        p,
        `its pooled PUB cannot bind ${endpointText(e)}: ${r.expected.by} holds it (EADDRINUSE)`,
      );
      continue;
    }
    r.expected = { holder: 'pub', by: label };
  }
  for (const p of pending)
    if (p.target?.endpoint.machine && p.variant !== 'D')
      portFor(b, p.target.endpoint.machine, p.target.endpoint.port).connecting.push(p.agent);
}

/** A probe's finding in words: what it saw, and as the holder of the port. */
const FOUND: Record<Exclude<Holder, 'other'>, { what: string; by: string }> = {
  none: { what: 'nothing listens', by: 'nothing (probe)' },
  pub: { what: 'a PUB is bound', by: 'a PUB (probe)' },
  sub: { what: 'a SUB is bound', by: 'a SUB (probe; another bridge?)' },
};

// Step 4: what really listens overrides the expectation (a CentralErrorBus that is down, a
// publisher that bound first). A SUB found on a bridged machine is taken to be the bridge.
function applyProbes(b: Build): void {
  for (const r of b.ports.values()) {
    const probe = b.input.probes?.[probeKey(r.host, r.port)];
    if (!probe) continue;
    r.probe = probe;
    const found = probe.holder;
    if (found === 'unknown') continue;
    if (found === 'sub' && b.bridged.has(r.machine) && r.expected.holder === 'none') continue; // the bridge
    if (found === r.expected.holder) continue;
    const words =
      found === 'other'
        ? {
            what: `something else listens${probe.detail ? ` (${probe.detail})` : ''}`,
            by: `${probe.detail ?? 'a non-ZMQ listener'} (probe)`,
          }
        : FOUND[found];
    r.mismatch = `config expects ${r.expected.by}; the probe found ${words.what}`;
    r.holder = { holder: found, by: words.by };
  }
}

/** What a bridge does at one port, if anything. */
function bridgeAt(r: PortReport): PortReport['bridge'] {
  if (r.holder.holder === 'pub')
    return { mode: 'connect', why: `${r.holder.by} is bound here: a SUB connects to it` };
  if (r.upstreamBinder)
    return {
      mode: 'connect',
      why: `${r.upstreamBinder} binds here (now: ${r.holder.by}): the bridge never takes the port, it connects and receives once it is bound`,
    };
  if (r.holder.holder === 'none')
    return {
      mode: 'bind',
      why: `nothing binds here${r.connecting.length ? ` and ${r.connecting.length} publisher(s) connect a PUB` : ''}: a SUB binds it`,
    };
  // A SUB or a foreign listener already holds it: nothing for a bridge to do there.
  return undefined;
}

/** Step 5: the bridge's plan, per machine. */
function planBridges(b: Build): Record<string, BridgeTarget[]> {
  const bridgePlan: Record<string, BridgeTarget[]> = {};
  for (const r of b.ports.values()) {
    const bridge = bridgeAt(r);
    if (!bridge) continue;
    r.bridge = bridge;
    (bridgePlan[r.machine] ??= []).push({
      mode: bridge.mode,
      host: r.host,
      port: r.port,
      why: bridge.why,
    });
  }
  for (const m of b.machines) bridgePlan[m.id] ??= [];
  return bridgePlan;
}

type Verdict = Omit<Route, 'now' | 'bridgeMachine'>;

/** The same delivery with and without the bridge. */
const either = (d: Delivery) => ({ withoutBridge: d, withBridge: d });

const startHint = (machine: string) => `start \`opsdeck agent --machine ${machine} --bridge\``;

/** A service beside CentralErrorBus: its errors go over IPC, and out on the bus's PUB. */
function centralRoute(b: Build, p: Pending): Verdict {
  const base = { machine: p.machine, agent: p.agent, variant: p.variant, copy: p.copy };
  const central = b.centralOf.get(p.machine);
  if (!central)
    return {
      ...base,
      socket: 'ipc',
      chosenBy: 'SUB_ENDPOINT ipc:///tmp/agent_errors',
      ...either({
        to: 'nobody',
        why: `no CentralErrorBus on ${p.machine} collects ipc:///tmp/agent_errors`,
      }),
    };
  const r = portFor(b, p.machine, central.port);
  const endpoint = { machine: p.machine, host: r.host, port: r.port };
  const common = { ...base, socket: 'ipc', endpoint, chosenBy: 'ipc:///tmp/agent_errors' } as const;
  if (r.holder.holder !== 'pub')
    return {
      ...common,
      ...either({
        to: 'nobody',
        why: `CentralErrorBus re-publishes on ${endpointText(endpoint)}, where ${r.holder.by === 'nothing (probe)' ? 'nothing listens: it is down' : r.holder.by}`,
      }),
    };
  return {
    ...common,
    withoutBridge: {
      to: 'zmq',
      via: `${central.agent} re-publishes it on ${endpointText(endpoint)} (a SUB connecting there, like the console, sees it; NATS does not)`,
    },
    withBridge: {
      to: 'nats',
      via: `the ${p.machine} bridge connects a SUB to ${central.agent}'s PUB on ${endpointText(endpoint)}`,
    },
  };
}

/** A PC2ErrorPublisher: it binds its own PUB, so a SUB must connect to it. */
function boundRoute(
  b: Build,
  p: Pending,
  r: PortReport,
  e: Endpoint,
): Pick<Route, 'withoutBridge' | 'withBridge'> {
  const failed = b.bindFailure.get(p);
  if (failed)
    return either({
      to: 'nobody',
      why: `${failed}; upstream then sets the socket to None and drops every ${p.copy === 'cross' ? 'cross-machine copy' : 'error'} of ${p.agent}`,
      fix:
        p.copy === 'cross'
          ? 'nothing on the PC2 side can fix this bind; its own copy is what reaches a bus'
          : `give it a port nothing binds (PC2_ERROR_BUS_PORT), then the ${e.machine} bridge connects to it`,
    });
  if (r.holder.holder === 'none' && r.probe)
    return either({
      to: 'nobody',
      why: `nothing listens on ${endpointText(e)}: ${p.agent} has not bound it (down, or another publisher's bind won)`,
    });
  return {
    withoutBridge: {
      to: 'zmq',
      via: `its own PUB bound on ${endpointText(e)} (a SUB connecting there sees it; NATS does not)`,
    },
    withBridge: {
      to: 'nats',
      via: `the ${e.machine} bridge connects a SUB to its PUB on ${endpointText(e)}`,
    },
  };
}

/** A connected PUB (A, B, C): it reaches whoever holds the port it connects to. */
function connectedRoute(
  p: Pending,
  r: PortReport,
  e: Endpoint & { machine: string },
  chosenBy: string,
): Pick<Route, 'withoutBridge' | 'withBridge'> {
  const h = r.holder;
  if (h.holder === 'pub')
    return either({
      to: 'nobody',
      why: `PUB connected to ${h.by} on ${endpointText(e)}: a PUB-PUB pair delivers nothing`,
      fix:
        p.variant === 'A'
          ? `set ${p.machine === 'mainpc' ? 'MAINPC_ERROR_BUS_HOST' : 'ERROR_BUS_HOST'} (or the port) to an error-bus port no PUB binds; that machine's bridge binds a SUB there`
          : `its code fixes PC2_IP:7150; only moving ${h.by} to another port lets the ${e.machine} bridge bind ${e.port}`,
    });
  if (h.holder === 'sub') return either({ to: 'zmq', via: `${h.by} on ${endpointText(e)}` });
  if (h.holder === 'other')
    return either({ to: 'nobody', why: `${endpointText(e)} is held by ${h.by}, not a ZMQ SUB` });
  if (r.upstreamBinder)
    // An upstream PUB is meant to be here (and is down now, or not bound yet): the bridge stays off the port.
    return either({
      to: 'nobody',
      why: `nothing listens on ${endpointText(e)} now, and ${r.upstreamBinder} is bound there when up: a PUB connecting to it delivers nothing either way`,
      fix: 'point the publisher at a port no upstream PUB binds',
    });
  return {
    withoutBridge: {
      to: 'nobody',
      why: `nothing listens on ${endpointText(e)} (${chosenBy}): a connected PUB drops every message`,
      fix: startHint(e.machine),
    },
    withBridge: { to: 'nats', via: `the ${e.machine} bridge binds a SUB on ${endpointText(e)}` },
  };
}

/** Where one publisher's socket delivers, without and with the bridge. */
function routeOf(b: Build, p: Pending): Verdict {
  if (p.variant === 'central') return centralRoute(b, p);
  const target = p.target!;
  const e = target.endpoint;
  const common = {
    ...{ machine: p.machine, agent: p.agent, variant: p.variant, copy: p.copy },
    socket: p.variant === 'D' ? 'bind+connect' : 'connect',
    endpoint: e,
    chosenBy: target.chosenBy,
  } as const;
  if (!e.machine)
    return {
      ...common,
      ...either({
        to: 'nobody',
        why: `${endpointText(e)} is no machine of the fleet (${target.chosenBy})`,
        fix: "set the variable to a fleet machine's address",
      }),
    };
  const r = portFor(b, e.machine, e.port);
  const verdict =
    p.variant === 'D'
      ? boundRoute(b, p, r, e)
      : connectedRoute(p, r, { ...e, machine: e.machine }, target.chosenBy);
  return { ...common, ...verdict };
}

export function buildTopology(input: TopologyInput): Topology {
  const b: Build = {
    input,
    machines: input.machines,
    env: input.env,
    byId: new Map(input.machines.map((m) => [m.id, m])),
    centralOf: new Map(),
    ports: new Map(),
    bindFailure: new Map(),
    bridged: new Set(input.bridges),
  };
  const pending = publishers(b);
  collectPorts(b, pending);
  bindAndConnect(b, pending);
  applyProbes(b);
  const bridgePlan = planBridges(b);
  // The verdict per route, without and with the bridge, and as things are now.
  const routes = pending.map((p) => {
    const r = routeOf(b, p);
    const bridgeMachine = r.endpoint?.machine;
    return {
      ...r,
      ...(bridgeMachine ? { bridgeMachine } : {}),
      now: bridgeMachine && b.bridged.has(bridgeMachine) ? r.withBridge : r.withoutBridge,
    };
  });
  return { ports: [...b.ports.values()], routes, bridgePlan };
}

/** Routes whose errors reach no one today but reach NATS once the bridge runs. */
export const lostWithoutBridge = (t: Topology): Route[] =>
  t.routes.filter((r) => r.withoutBridge.to === 'nobody' && r.withBridge.to === 'nats');
/** Routes no bridge can help: the cause is upstream's sockets. */
export const lostEvenWithBridge = (t: Topology): Route[] =>
  t.routes.filter((r) => r.withBridge.to === 'nobody');
