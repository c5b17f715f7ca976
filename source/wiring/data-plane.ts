// The composition root of the live data: it builds the adapters (the network prober, both
// error feeds, the NATS link and the Bus over it) and hands them to the stores as the ports
// core/seams/ defines (no store builds an adapter). Everything live, wired once: health prober,
// both error buses, both machines' resources, the NATS link. The console and `opsdeck status`
// build this and read its stores; one stop() undoes all of it.
import type { Machine } from '../core/fleet/model.js';
import type { HealthProtocol } from '../core/health/replies.js';
import type { SampleKeys } from '../core/resources/sample-auth.js';
import type { NatsErrorFeed } from '../core/seams/error-source.js';
import { natsErrors, zmqErrors } from '../adapters/error-sources.js';
import { natsBus } from '../adapters/nats-bus.js';
import { NatsLink, splitServers, type LinkOptions } from '../adapters/nats-link.js';
import { netProber } from '../adapters/net-prober.js';
import { ErrorStore, type ErrorStoreOptions } from '../stores/error-store.js';
import { HealthStore, targetsFor, type HealthOptions } from '../stores/health-store.js';
import { AgentHealthFeed } from '../stores/health-feed.js';
import type { HealthFrom, HealthSource } from '../stores/health-source.js';
import { ResourceStore } from '../stores/resource-store.js';
import { BridgeStore } from '../stores/bridge-store.js';
import { DoctorStore } from '../stores/doctor-store.js';
import { runDoctor } from './doctor.js';
import { resolveHosts } from '../adapters/resolve-hosts.js';
import { sharedAddressWarnings } from '../core/ports/hosts.js';
import { claimSlot, slotDir } from '../adapters/instance-slot.js';

export interface DataPlaneOptions {
  machines: readonly Machine[];
  /** NATS servers (comma-separated); undefined: the NATS side is off. */
  nats?: string;
  /** User, password and TLS files for a server that asks (operatorLogin). */
  natsLogin?: Pick<LinkOptions, 'user' | 'pass' | 'tls'>;
  health?: Partial<HealthOptions>;
  /**
   * `direct` (default): probe every agent from here. `agents`: take each machine's results from
   * its opsdeck agent over NATS (needs `nats`); nothing is probed across the network.
   */
  healthFrom?: HealthFrom;
  errors?: Partial<ErrorStoreOptions>;
  /**
   * Durable consumer name (per console host and user) so a restart shows what arrived
   * meanwhile. Each running data plane takes a slot of its own (`<durable>_<n>`, the lowest
   * free one): two consoles sharing one durable would each get half of the errors.
   */
  durable?: string;
  /** Where the slots' pid files live (default: the user's runtime dir). */
  slotDir?: string;
  protocols?: Record<string, HealthProtocol>;
  /** Probe immediately and keep probing (false for one-shot use). */
  live?: boolean;
  /**
   * false: build the stores and wait for start() before any I/O (probes, error feeds, NATS, host
   * lookups). The console draws its first frame first (start-up, issue 16). Default true.
   */
  autoStart?: boolean;
  /** Replay this much NATS error history on first attach (default: live only, or 10 min for a new durable). */
  errorsReplayMs?: number;
  /** Public sample keys: samples signed by their machine's key are marked verified. */
  sampleKeys?: SampleKeys;
  /** The upstream env (ERROR_BUS_HOST, MAINPC_ERROR_BUS_HOST, ...) for the error-bus diagnosis; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface DataPlane {
  machines: readonly Machine[];
  health: HealthSource;
  /** The agents' health feed, in `--health-from agents` mode. */
  healthFeed: AgentHealthFeed | undefined;
  errors: ErrorStore;
  resources: ResourceStore;
  /** `opsdeck agent --bridge` statuses (opsdeck.<machine>.bridge). */
  bridges: BridgeStore;
  /** The error-bus diagnosis (errorbus doctor), refreshed while live. */
  doctor: DoctorStore;
  link: NatsLink | undefined;
  /** When it started (ms): how long it has been observing. Set by start(). */
  startedAt: number;
  /** Whether start() has run: before it nothing has been probed, heard or looked up. */
  started: boolean;
  /** Starts the live parts (once; startDataPlane does it itself unless autoStart is false). */
  start(): void;
  /** Machines that resolve to one address (looked up once, at start). */
  hostWarnings: Promise<string[]>;
  /** Error streams found on NATS once connected. */
  natsFeed(): NatsErrorFeed | undefined;
  stop(): Promise<void>;
}

/** The default error bus port: PC2's CentralErrorBus binds 7150; MainPC's publishers aim there. */
export const DEFAULT_ERROR_BUS_PORT = 7150;

export function errorBusEndpoint(m: Machine): string {
  return `tcp://${m.host}:${m.globals.errorBusPort?.value ?? DEFAULT_ERROR_BUS_PORT}`;
}

/** NATS servers from the flag, else NATS_SERVERS / NATS_URL (upstream's names). */
export function natsServers(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const value = flag ?? env.NATS_SERVERS ?? env.NATS_URL;
  return value && splitServers(value).length > 0 ? value : undefined;
}

export function machineResolver(
  machines: readonly Machine[],
): (agent: string | undefined) => string {
  const owners = new Map<string, string[]>();
  for (const m of machines)
    for (const a of m.agents) owners.set(a.name, [...(owners.get(a.name) ?? []), m.id]);
  // An agent that runs on both machines (MemoryFusionHub...) publishes to one shared NATS with
  // nothing that says which: show that honestly rather than guess.
  return (agent) => {
    const found = agent ? owners.get(agent) : undefined;
    return found?.length === 1 ? found[0]! : 'any';
  };
}

/** The health source: the agents' own probing over NATS, or this console's prober. */
function healthSource(
  options: DataPlaneOptions,
  errors: ErrorStore,
  resources: ResourceStore,
): { health: HealthSource; healthFeed: AgentHealthFeed | undefined } {
  const { machines } = options;
  if (options.healthFrom === 'agents') {
    const healthFeed = new AgentHealthFeed(machines, {
      ...(options.health?.notifyMs !== undefined ? { notifyMs: options.health.notifyMs } : {}),
    });
    return { health: healthFeed, healthFeed };
  }
  const targets = targetsFor(machines, {
    ...options.health,
    ...(options.protocols ? { protocols: options.protocols } : {}),
  });
  const health = new HealthStore(targets, netProber(), {
    ...options.health,
    evidence: {
      lastBusFrame: (m) => errors.lastZmqFrame(m),
      process: (m, agent) => resources.process(m, agent),
    },
  });
  return { health, healthFeed: undefined };
}

/** What the NATS side of the plane holds once started: its link, feed, and slot. */
interface NatsSide {
  link: NatsLink;
  /** Claims the instance slot and starts connecting. */
  begin: () => void;
  /** Settles when the stores listen and the error feed is attached (or could not be). */
  starting: Promise<void>;
  feed: () => NatsErrorFeed | undefined;
  /** Waits for a start still under way, so that what it attaches can be stopped. */
  settle: () => Promise<void>;
  /** Gives the instance slot back, after its consumer stopped: the next console resumes there. */
  release: () => void;
}

/**
 * Connects to NATS and, once connected, has the stores listen on it and attaches the error
 * feed (a durable consumer named by this console's instance slot when `durable` is set).
 */
function startNatsSide(
  options: DataPlaneOptions & { nats: string },
  stores: { errors: ErrorStore; resources: ResourceStore; bridges: BridgeStore },
  healthFeed: AgentHealthFeed | undefined,
  stops: Array<() => unknown>,
): NatsSide {
  let slot: ReturnType<typeof claimSlot> | undefined;
  const link = new NatsLink(
    { servers: options.nats, name: 'opsdeck-console', ...options.natsLogin },
    { deferred: true },
  );
  const resolve = machineResolver(options.machines);
  let feed: NatsErrorFeed | undefined;
  let stopping = false;
  const starting = link.connection().then(async (nc) => {
    if (!nc || stopping) return;
    const durable = slot && options.durable ? `${options.durable}_${slot.n}` : undefined;
    const bus = natsBus(nc);
    stops.push(stores.resources.listen(bus));
    stops.push(stores.bridges.listen(bus));
    if (healthFeed) stops.push(healthFeed.listen(bus));
    try {
      feed = await natsErrors(nc, stores.errors, {
        machineOf: (agent) => resolve(agent),
        ...(durable ? { durable } : {}),
        ...(options.errorsReplayMs ? { replayMs: options.errorsReplayMs } : {}),
      });
    } catch {
      /* no JetStream: the link store shows the error; ZMQ goes on */
    }
  });
  return {
    link,
    begin() {
      slot = options.durable
        ? claimSlot(options.slotDir ?? slotDir(options.env ?? process.env), options.durable)
        : undefined;
      link.start();
    },
    starting,
    feed: () => feed,
    async settle() {
      stopping = true;
      // A NATS side still starting (a one-shot command stops right after it began) finishes
      // first, so the error feed it attaches is stopped by the caller rather than attaching
      // later on a draining connection: nats.js's ordered consumer then retries creating itself
      // for ~15 min (a 30 s timer each time) and keeps the process alive. Not connected yet:
      // nothing starts.
      if (link.nc) await starting;
    },
    release: () => slot?.release(),
  };
}

export function startDataPlane(options: DataPlaneOptions): DataPlane {
  const machines = options.machines;
  const errors = new ErrorStore(options.errors);
  const resources = new ResourceStore(options.sampleKeys);
  const { health, healthFeed } = healthSource(options, errors, resources);
  const bridges = new BridgeStore();
  bridges.onGap = (machine, from, to, restarted) => errors.bridgeGap(machine, from, to, restarted);
  const stops: Array<() => unknown> = [];
  const nats = options.nats
    ? startNatsSide(
        { ...options, nats: options.nats },
        { errors, resources, bridges },
        healthFeed,
        stops,
      )
    : undefined;

  const doctor = new DoctorStore(
    async () => (await runDoctor(plane, { env: options.env ?? process.env })).diagnosis,
  );
  let lookUp: (found: Promise<string[]>) => void = () => {};
  const hostWarnings = new Promise<string[]>((resolve) => (lookUp = resolve));
  let stopped = false;
  const plane: DataPlane = {
    machines,
    hostWarnings,
    health,
    healthFeed,
    errors,
    resources,
    bridges,
    doctor,
    link: nats?.link,
    startedAt: Date.now(),
    started: false,
    natsFeed: () => nats?.feed(),
    start() {
      if (plane.started || stopped) return;
      plane.started = true;
      plane.startedAt = Date.now();
      if (options.live !== false) stops.push(health.start());
      for (const m of machines) stops.push(zmqErrors(errorBusEndpoint(m), m.id, errors));
      nats?.begin();
      if (options.live !== false) stops.push(doctor.start());
      lookUp(
        resolveHosts(machines.map((m) => m.host)).then((resolved) =>
          sharedAddressWarnings(machines, resolved),
        ),
      );
    },
    async stop() {
      stopped = true;
      // Never started: no lookup will come, and none is owed.
      lookUp(Promise.resolve([]));
      await nats?.settle();
      for (const stop of stops.reverse()) await stop();
      await nats?.feed()?.stop();
      nats?.release();
      await nats?.link.close();
      health.stop();
      errors.close();
      resources.close();
      bridges.close();
    },
  };
  if (options.autoStart !== false) plane.start();
  return plane;
}
