// The simulator's `upstream` wiring (overrides `wiring: upstream`): each agent opens the ZMQ
// sockets upstream's code opens for its error variant, with real binds and connects, so frames
// are delivered or lost by ZeroMQ itself, exactly as on the fleet (upstream-protocols c1):
//
//   A  ErrorPublisher              PUB connect; MainPC (create_mainpc_error_publisher):
//                                  {MAINPC_ERROR_BUS_HOST | MAINPC_IP}:{MAINPC_ERROR_BUS_PORT | 7150};
//                                  elsewhere {ERROR_BUS_HOST | PC2_IP}:{ERROR_BUS_PORT | 7150}
//   B  ForPC2 agents               PUB connect PC2_IP:7150
//   C  streaming TTS / interrupt   PUB connect PC2_IP:7150
//   D  PC2ErrorPublisher           PUB bind + connect {PC2_ERROR_BUS_HOST | PC2_IP}:{PC2_ERROR_BUS_PORT | 7150};
//                                  critical/high also a second PUB bind + connect on
//                                  {MAINPC_ERROR_BUS_HOST | MAINPC_IP}:{MAINPC_ERROR_BUS_PORT | 7150};
//                                  a failed bind leaves the socket None: those errors are dropped
//   central                        IPC to CentralErrorBus, which re-sends on the PUB it binds
//
// One box holds every simulated machine (127.0.0.x), so a bind of another machine's address
// would succeed here; it fails on two hosts (EADDRNOTAVAIL) and is refused here the same way.
// `localhost` in the env means the publisher's own machine. PC2_IP / MAINPC_IP default to the
// sim's addresses for those machines.
import type * as zmq from 'zeromq';
import type { ZmqMessage } from '../core/errors/encode.js';
import type { SimAgent } from './agent.js';
import { PubOutbox } from './endpoints.js';
import type { SimMachine } from './machine.js';

const BUS_PORT = 7150;
/**
 * pyzmq's default SNDHWM, which no upstream publisher changes: a connected PUB queues up to this
 * many frames while its peer is away (a restarting bridge) and drops the rest silently.
 */
export const UPSTREAM_SNDHWM = 1000;

interface Leg {
  /** Undefined: the bind failed and upstream's socket is None. */
  out?: PubOutbox;
  endpoint: string;
  socket: 'connect' | 'bind+connect';
  note: string;
}

interface Publisher {
  own: Leg;
  cross?: Leg;
}

export interface WiringStatus {
  agent: string;
  machine: string;
  variant: string;
  own: { endpoint: string; socket: string; note: string; sent: number; dropped: number };
  cross?: { endpoint: string; socket: string; note: string; sent: number; dropped: number };
}

export class UpstreamWiring {
  private readonly publishers = new Map<SimAgent, Publisher>();
  /** Frames an agent produced that upstream's code would drop before any socket (socket None). */
  deadAtSource = 0;

  constructor(
    private readonly context: zmq.Context,
    private readonly machines: readonly SimMachine[],
    private readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  private v(...names: string[]): string | undefined {
    for (const n of names) {
      const value = this.env[n];
      if (value) return value;
    }
    return undefined;
  }

  private hostOf(id: string): string | undefined {
    return this.machines.find((m) => m.id === id)?.plan.host;
  }

  /** `localhost` from a publisher means its own machine. */
  private endpoint(host: string, port: string | undefined, from: SimMachine): string {
    const h = host === 'localhost' || host === '0.0.0.0' || host === '*' ? from.plan.host : host;
    return `tcp://${h}:${port ? Number(port) : BUS_PORT}`;
  }

  private pc2Ip(from: SimMachine): string {
    return this.v('PC2_IP', 'PC2_HOST') ?? this.hostOf('pc2') ?? from.plan.host;
  }

  private mainpcIp(from: SimMachine): string {
    return (
      this.v('MAINPC_IP', 'MAIN_PC_IP', 'MAINPC_HOST', 'MAIN_PC_HOST') ??
      this.hostOf('mainpc') ??
      from.plan.host
    );
  }

  private async connectLeg(endpoint: string): Promise<Leg> {
    const out = new PubOutbox(this.context, 20_000, UPSTREAM_SNDHWM);
    out.connect(endpoint);
    return { out, endpoint, socket: 'connect', note: `PUB connected to ${endpoint}` };
  }

  private async bindLeg(endpoint: string, m: SimMachine): Promise<Leg> {
    const host = /^tcp:\/\/([^:]+):/.exec(endpoint)?.[1];
    if (host !== m.plan.host) {
      return {
        endpoint,
        socket: 'bind+connect',
        note: `bind ${endpoint} failed: EADDRNOTAVAIL (not an address of ${m.id}); socket None, errors dropped`,
      };
    }
    const out = new PubOutbox(this.context, 20_000, UPSTREAM_SNDHWM);
    const failure = await out.bind(endpoint);
    if (failure)
      return {
        endpoint,
        socket: 'bind+connect',
        note: `bind ${endpoint} failed: ${failure.code}; socket None, errors dropped`,
      };
    out.connect(endpoint);
    return {
      out,
      endpoint,
      socket: 'bind+connect',
      note: `PUB bound on ${endpoint} (and connected to it)`,
    };
  }

  /** Opens every agent's sockets, machine by machine, in config order (the first bind wins). */
  async open(): Promise<void> {
    for (const m of this.machines) {
      for (const a of m.agents) {
        const variant = a.plan.variant;
        if (variant === 'none' || variant === 'central') continue;
        if (variant === 'A') {
          // create_mainpc_error_publisher on MainPC; a bare ErrorPublisher elsewhere.
          const onMain = m.id === 'mainpc';
          const host = onMain
            ? (this.v('MAINPC_ERROR_BUS_HOST') ?? this.mainpcIp(m))
            : (this.v('ERROR_BUS_HOST') ?? this.pc2Ip(m));
          const port = onMain ? this.v('MAINPC_ERROR_BUS_PORT') : this.v('ERROR_BUS_PORT');
          this.publishers.set(a, { own: await this.connectLeg(this.endpoint(host, port, m)) });
        } else if (variant === 'B' || variant === 'C') {
          this.publishers.set(a, {
            own: await this.connectLeg(this.endpoint(this.pc2Ip(m), undefined, m)),
          });
        } else {
          const own = await this.bindLeg(
            this.endpoint(
              this.v('PC2_ERROR_BUS_HOST') ?? this.pc2Ip(m),
              this.v('PC2_ERROR_BUS_PORT'),
              m,
            ),
            m,
          );
          const cross = await this.bindLeg(
            this.endpoint(
              this.v('MAINPC_ERROR_BUS_HOST') ?? this.mainpcIp(m),
              this.v('MAINPC_ERROR_BUS_PORT'),
              m,
            ),
            m,
          );
          this.publishers.set(a, { own, cross });
        }
      }
    }
  }

  /** Sends one message of an agent the way its upstream code would; false when it goes nowhere. */
  send(a: SimAgent, m: SimMachine, msg: ZmqMessage): boolean {
    if (a.plan.variant === 'central') return m.pushZmq(msg.frames); // IPC to CentralErrorBus, re-sent on its PUB
    const p = this.publishers.get(a);
    const leg = msg.to === 'own' ? p?.own : p?.cross;
    if (!leg?.out) {
      this.deadAtSource += 1;
      return false;
    }
    return leg.out.push(msg.frames);
  }

  status(): WiringStatus[] {
    const leg = (l: Leg) => ({
      endpoint: l.endpoint,
      socket: l.socket,
      note: l.note,
      sent: l.out?.sent ?? 0,
      dropped: l.out?.dropped ?? 0,
    });
    return [...this.publishers].map(([a, p]) => ({
      agent: a.name,
      machine: a.machine,
      variant: a.plan.variant,
      own: leg(p.own),
      ...(p.cross ? { cross: leg(p.cross) } : {}),
    }));
  }

  async close(): Promise<void> {
    const all: Promise<void>[] = [];
    for (const p of this.publishers.values())
      for (const l of [p.own, p.cross]) if (l?.out) all.push(l.out.close());
    await Promise.all(all);
    this.publishers.clear();
  }
}
