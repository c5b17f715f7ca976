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

export function buildTopology(input: TopologyInput): Topology {
  const machines = input.machines;
  const env = input.env;
  const byId = new Map(machines.map((m) => [m.id, m]));
  const hostOf = (id: string, envNames: string[]): { host: string; from: string } => {
    const set = envOf(env, ...envNames);
    if (set.value) return { host: set.value, from: set.name! };
    const m = byId.get(id);
    return m
      ? { host: m.host, from: `${id}'s address` }
      : { host: 'localhost', from: `${envNames[0]} unset (upstream default localhost)` };
  };
  // An address as seen from a publisher on `from`: a machine's own address, or loopback meaning
  // the publisher's own machine.
  const resolve = (host: string, port: number, from: string): Endpoint => {
    const exact = machines.find((m) => m.host === host);
    if (exact) return { machine: exact.id, host: exact.host, port };
    if (LOOPBACK.has(host)) {
      const own = byId.get(from);
      return { ...(own ? { machine: own.id } : {}), host: own?.host ?? host, port };
    }
    return { host, port };
  };

  interface Target {
    endpoint: Endpoint;
    chosenBy: string;
  }
  const pc2 = () => hostOf('pc2', ['PC2_IP', 'PC2_HOST']);
  const mainpc = () => hostOf('mainpc', ['MAINPC_IP', 'MAIN_PC_IP', 'MAINPC_HOST', 'MAIN_PC_HOST']);
  const targetOf = (
    variant: ZmqVariant,
    copy: 'own' | 'cross',
    machine: string,
  ): Target | undefined => {
    switch (variant) {
      case 'A': {
        // MainPC's agents take create_mainpc_error_publisher: MAINPC_ERROR_BUS_HOST, else
        // MainPC's own address (get_mainpc_ip), port MAINPC_ERROR_BUS_PORT or 7150. A bare
        // ErrorPublisher elsewhere: ERROR_BUS_HOST, else PC2_IP, port ERROR_BUS_PORT or 7150.
        const onMain = machine === 'mainpc';
        const h = onMain ? envOf(env, 'MAINPC_ERROR_BUS_HOST') : envOf(env, 'ERROR_BUS_HOST');
        const p = onMain ? envOf(env, 'MAINPC_ERROR_BUS_PORT') : envOf(env, 'ERROR_BUS_PORT');
        const fallback = onMain ? mainpc() : pc2();
        const host = h.value
          ? { host: h.value, from: h.name! }
          : {
              host: fallback.host,
              from: `${fallback.from} (no ${onMain ? 'MAINPC_ERROR_BUS_HOST' : 'ERROR_BUS_HOST'})`,
            };
        return {
          endpoint: resolve(host.host, portOf(p.value, DEFAULT_ERROR_BUS_PORT), machine),
          chosenBy: `${host.from}${p.name ? `, ${p.name}` : ''}`,
        };
      }
      case 'B':
      case 'C': {
        const host = pc2();
        return {
          endpoint: resolve(host.host, DEFAULT_ERROR_BUS_PORT, machine),
          chosenBy: `${host.from}, port 7150 fixed`,
        };
      }
      case 'D': {
        if (copy === 'own') {
          const h = envOf(env, 'PC2_ERROR_BUS_HOST');
          const p = envOf(env, 'PC2_ERROR_BUS_PORT');
          const host = h.value ? { host: h.value, from: h.name! } : pc2();
          return {
            endpoint: resolve(host.host, portOf(p.value, DEFAULT_ERROR_BUS_PORT), machine),
            chosenBy: `${host.from}${p.name ? `, ${p.name}` : ''}`,
          };
        }
        const h = envOf(env, 'MAINPC_ERROR_BUS_HOST');
        const p = envOf(env, 'MAINPC_ERROR_BUS_PORT');
        const host = h.value ? { host: h.value, from: h.name! } : mainpc();
        return {
          endpoint: resolve(host.host, portOf(p.value, DEFAULT_ERROR_BUS_PORT), machine),
          chosenBy: `${host.from}${p.name ? `, ${p.name}` : ''}`,
        };
      }
      case 'central':
        return undefined;
    }
  };

  // 1. Publishers and where they aim.
  interface Pending {
    machine: string;
    agent: string;
    variant: ZmqVariant;
    copy: 'own' | 'cross';
    target?: Target;
  }
  const pending: Pending[] = [];
  const centralOf = new Map<string, { agent: string; port: number }>();
  for (const m of machines) {
    const busPort = m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT;
    const bus = m.agents.find((a) => isErrorBusAgent(a, busPort));
    if (bus) centralOf.set(m.id, { agent: bus.name, port: busPort });
    for (const a of m.agents) {
      const variant =
        input.variants?.[agentKey(m.id, a.name)] ?? defaultVariant(a, m.id, a === bus);
      if (variant === 'none') continue;
      const own = targetOf(variant, 'own', m.id);
      pending.push({
        machine: m.id,
        agent: a.name,
        variant,
        copy: 'own',
        ...(own ? { target: own } : {}),
      });
      if (variant === 'D')
        pending.push({
          machine: m.id,
          agent: a.name,
          variant,
          copy: 'cross',
          target: targetOf('D', 'cross', m.id)!,
        });
    }
  }

  // 2. Ports: every machine's configured error-bus port, and every in-fleet endpoint aimed at.
  const ports = new Map<string, PortReport>();
  const portFor = (machine: string, port: number): PortReport => {
    const m = byId.get(machine)!;
    const key = probeKey(m.host, port);
    let r = ports.get(key);
    if (!r) {
      const central = centralOf.get(machine);
      const expected: PortReport['expected'] =
        central && central.port === port
          ? {
              holder: 'pub',
              by: `${central.agent}${central.agent === 'CentralErrorBus' ? '' : ' (CentralErrorBus)'}'s PUB (tcp://*:${port})`,
            }
          : { holder: 'none', by: 'nothing' };
      r = {
        machine,
        host: m.host,
        port,
        expected,
        holder: expected,
        connecting: [],
        binding: [],
        ...(expected.holder === 'pub' ? { upstreamBinder: expected.by } : {}),
      };
      ports.set(key, r);
    }
    return r;
  };
  for (const m of machines) portFor(m.id, m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT);
  for (const p of pending)
    if (p.target?.endpoint.machine) portFor(p.target.endpoint.machine, p.target.endpoint.port);

  // 3. PC2ErrorPublisher binds, in config order: the first bind of a free port wins.
  const bindFailure = new Map<Pending, string>();
  for (const p of pending) {
    if (p.variant !== 'D' || !p.target) continue;
    const e = p.target.endpoint;
    const label = `${p.agent} (PC2ErrorPublisher PUB${p.copy === 'cross' ? ', cross-machine copy' : ''})`;
    if (e.machine !== p.machine) {
      bindFailure.set(
        p,
        `its pooled PUB cannot bind ${endpointText(e)}: not an address of ${p.machine} (EADDRNOTAVAIL)`,
      );
      continue;
    }
    const r = portFor(e.machine, e.port);
    r.binding.push(p.agent);
    r.upstreamBinder ??= label;
    if (r.expected.holder !== 'none') {
      bindFailure.set(
        p,
        `its pooled PUB cannot bind ${endpointText(e)}: ${r.expected.by} holds it (EADDRINUSE)`,
      );
      continue;
    }
    r.expected = { holder: 'pub', by: label };
  }
  for (const p of pending)
    if (p.target?.endpoint.machine && p.variant !== 'D')
      portFor(p.target.endpoint.machine, p.target.endpoint.port).connecting.push(p.agent);

  // 4. Probes: what really listens overrides the expectation (a CentralErrorBus that is down, a
  // publisher that bound first). A SUB found on a bridged machine is taken to be the bridge.
  const bridged = new Set(input.bridges);
  for (const r of ports.values()) {
    const probe = input.probes?.[probeKey(r.host, r.port)];
    if (!probe) continue;
    r.probe = probe;
    const found = probe.holder;
    if (found === 'unknown') continue;
    if (found === 'sub' && bridged.has(r.machine) && r.expected.holder === 'none') continue; // the bridge
    if (found !== r.expected.holder) {
      const what =
        found === 'none'
          ? 'nothing listens'
          : found === 'pub'
            ? 'a PUB is bound'
            : found === 'sub'
              ? 'a SUB is bound'
              : `something else listens${probe.detail ? ` (${probe.detail})` : ''}`;
      r.mismatch = `config expects ${r.expected.by}; the probe found ${what}`;
      r.holder = {
        holder: found,
        by:
          found === 'none'
            ? 'nothing (probe)'
            : found === 'pub'
              ? 'a PUB (probe)'
              : found === 'sub'
                ? 'a SUB (probe; another bridge?)'
                : `${probe.detail ?? 'a non-ZMQ listener'} (probe)`,
      };
    }
  }

  // 5. The bridge's plan and the verdict per route, without and with it.
  const bridgePlan: Record<string, BridgeTarget[]> = {};
  for (const r of ports.values()) {
    if (r.holder.holder === 'pub')
      r.bridge = { mode: 'connect', why: `${r.holder.by} is bound here: a SUB connects to it` };
    else if (r.upstreamBinder) {
      r.bridge = {
        mode: 'connect',
        why: `${r.upstreamBinder} binds here (now: ${r.holder.by}): the bridge never takes the port, it connects and receives once it is bound`,
      };
    } else if (r.holder.holder === 'none') {
      r.bridge = {
        mode: 'bind',
        why: `nothing binds here${r.connecting.length ? ` and ${r.connecting.length} publisher(s) connect a PUB` : ''}: a SUB binds it`,
      };
    }
    // A SUB or a foreign listener already holds it: nothing for a bridge to do there.
    if (r.bridge)
      (bridgePlan[r.machine] ??= []).push({
        mode: r.bridge.mode,
        host: r.host,
        port: r.port,
        why: r.bridge.why,
      });
  }
  for (const m of machines) bridgePlan[m.id] ??= [];

  const startHint = (machine: string) => `start \`opsdeck agent --machine ${machine} --bridge\``;
  const routeOf = (p: Pending): Omit<Route, 'now' | 'bridgeMachine'> => {
    const base = { machine: p.machine, agent: p.agent, variant: p.variant, copy: p.copy };
    if (p.variant === 'central') {
      const central = centralOf.get(p.machine);
      if (!central) {
        const nobody: Delivery = {
          to: 'nobody',
          why: `no CentralErrorBus on ${p.machine} collects ipc:///tmp/agent_errors`,
        };
        return {
          ...base,
          socket: 'ipc',
          chosenBy: 'SUB_ENDPOINT ipc:///tmp/agent_errors',
          withoutBridge: nobody,
          withBridge: nobody,
        };
      }
      const r = portFor(p.machine, central.port);
      const endpoint = { machine: p.machine, host: r.host, port: r.port };
      if (r.holder.holder !== 'pub') {
        const nobody: Delivery = {
          to: 'nobody',
          why: `CentralErrorBus re-publishes on ${endpointText(endpoint)}, where ${r.holder.by === 'nothing (probe)' ? 'nothing listens: it is down' : r.holder.by}`,
        };
        return {
          ...base,
          socket: 'ipc',
          endpoint,
          chosenBy: 'ipc:///tmp/agent_errors',
          withoutBridge: nobody,
          withBridge: nobody,
        };
      }
      return {
        ...base,
        socket: 'ipc',
        endpoint,
        chosenBy: 'ipc:///tmp/agent_errors',
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
    const target = p.target!;
    const e = target.endpoint;
    const socket = p.variant === 'D' ? 'bind+connect' : 'connect';
    const common = { ...base, socket, endpoint: e, chosenBy: target.chosenBy } as const;
    if (!e.machine) {
      const nobody: Delivery = {
        to: 'nobody',
        why: `${endpointText(e)} is no machine of the fleet (${target.chosenBy})`,
        fix: "set the variable to a fleet machine's address",
      };
      return { ...common, withoutBridge: nobody, withBridge: nobody };
    }
    const r = portFor(e.machine, e.port);
    if (p.variant === 'D') {
      const failed = bindFailure.get(p);
      if (failed) {
        const nobody: Delivery = {
          to: 'nobody',
          why: `${failed}; upstream then sets the socket to None and drops every ${p.copy === 'cross' ? 'cross-machine copy' : 'error'} of ${p.agent}`,
          fix:
            p.copy === 'cross'
              ? 'nothing on the PC2 side can fix this bind; its own copy is what reaches a bus'
              : `give it a port nothing binds (PC2_ERROR_BUS_PORT), then the ${e.machine} bridge connects to it`,
        };
        return { ...common, withoutBridge: nobody, withBridge: nobody };
      }
      if (r.holder.holder === 'none' && r.probe) {
        const nobody: Delivery = {
          to: 'nobody',
          why: `nothing listens on ${endpointText(e)}: ${p.agent} has not bound it (down, or another publisher's bind won)`,
        };
        return { ...common, withoutBridge: nobody, withBridge: nobody };
      }
      return {
        ...common,
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
    const env = target.chosenBy;
    const h = r.holder;
    if (h.holder === 'pub') {
      const nobody: Delivery = {
        to: 'nobody',
        why: `PUB connected to ${h.by} on ${endpointText(e)}: a PUB-PUB pair delivers nothing`,
        fix:
          p.variant === 'A'
            ? `set ${p.machine === 'mainpc' ? 'MAINPC_ERROR_BUS_HOST' : 'ERROR_BUS_HOST'} (or the port) to an error-bus port no PUB binds; that machine's bridge binds a SUB there`
            : `its code fixes PC2_IP:7150; only moving ${h.by} to another port lets the ${e.machine} bridge bind ${e.port}`,
      };
      return { ...common, withoutBridge: nobody, withBridge: nobody };
    }
    if (h.holder === 'sub') {
      const other: Delivery = { to: 'zmq', via: `${h.by} on ${endpointText(e)}` };
      return { ...common, withoutBridge: other, withBridge: other };
    }
    if (h.holder === 'other') {
      const nobody: Delivery = {
        to: 'nobody',
        why: `${endpointText(e)} is held by ${h.by}, not a ZMQ SUB`,
      };
      return { ...common, withoutBridge: nobody, withBridge: nobody };
    }
    if (r.upstreamBinder) {
      // An upstream PUB is meant to be here (and is down now, or not bound yet): the bridge stays off the port.
      const nobody: Delivery = {
        to: 'nobody',
        why: `nothing listens on ${endpointText(e)} now, and ${r.upstreamBinder} is bound there when up: a PUB connecting to it delivers nothing either way`,
        fix: 'point the publisher at a port no upstream PUB binds',
      };
      return { ...common, withoutBridge: nobody, withBridge: nobody };
    }
    return {
      ...common,
      withoutBridge: {
        to: 'nobody',
        why: `nothing listens on ${endpointText(e)} (${env}): a connected PUB drops every message`,
        fix: startHint(e.machine),
      },
      withBridge: { to: 'nats', via: `the ${e.machine} bridge binds a SUB on ${endpointText(e)}` },
    };
  };
  const routes = pending.map((p) => {
    const r = routeOf(p);
    const bridgeMachine = r.endpoint?.machine;
    return {
      ...r,
      ...(bridgeMachine ? { bridgeMachine } : {}),
      now: bridgeMachine && bridged.has(bridgeMachine) ? r.withBridge : r.withoutBridge,
    };
  });
  return { ports: [...ports.values()], routes, bridgePlan };
}

/** Routes whose errors reach no one today but reach NATS once the bridge runs. */
export const lostWithoutBridge = (t: Topology): Route[] =>
  t.routes.filter((r) => r.withoutBridge.to === 'nobody' && r.withBridge.to === 'nats');
/** Routes no bridge can help: the cause is upstream's sockets. */
export const lostEvenWithBridge = (t: Topology): Route[] =>
  t.routes.filter((r) => r.withBridge.to === 'nobody');
