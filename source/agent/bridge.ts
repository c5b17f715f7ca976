// `opsdeck agent --bridge`: carries one machine's ZMQ error bus into NATS JetStream, so phase 1
// ("every publisher -> both buses") holds without a code change in any agent.
//
// Per the topology (core/errorbus/topology.ts) the bridge binds a SUB where upstream publishers
// connect a PUB and nothing listens, and connects a SUB where a PUB is bound (CentralErrorBus,
// a PC2ErrorPublisher). Every frame is decoded (all variants) and published once, in
// nats_error_bus.py's body format, on errors.agents.<agent>, with Nats-Msg-Id (JetStream drops
// re-sends inside its duplicate window) and the Opsdeck-Bridge header (the console shows it as
// zmq->nats). It never subscribes to NATS errors, and refuses any frame carrying its own mark, so
// nothing loops.
//
// Back-pressure: a bounded queue in front of JetStream. While NATS is down or slow the queue
// fills; past its limit new errors are dropped and counted (never silently). Publishes are acked
// (JetStream answers each on our reply subject: one subscription for all acks, not one request
// object per message, which would cap the rate near 4k/s); a publish that fails (no ack in time,
// a disconnect, no stream) goes back to the head of the queue and is re-sent with the same
// message id once NATS is back, so an error stored before its ack was lost is not stored twice.
// Stop drains the queue for a while and says how many it could not send.
//
// Phase 3 (zmq-off) closes the bridge's sockets too, so the error-bus port is really closed;
// a rollback reopens them.
//
// Where each part lives: the lifecycles (sockets open/closed/stopping, NATS up/down) are pure
// state machines in core/errorbus/bridge-lifecycle.ts; the queue, acks and re-sends are
// agent/bridge-publisher.ts; the SUBs are agent/bridge-sockets.ts. This file wires them.
import { createHash } from 'node:crypto';
import { DebugEvents, Events, type KvEntry, type NatsConnection } from 'nats';
import type * as zmq from 'zeromq';
import { bridgeMessage } from '../core/errors/bridge.js';
import {
  natsStep,
  socketStep,
  type NatsEffect,
  type NatsEvent,
  type SocketEffect,
  type SocketEvent,
  type SocketState,
} from '../core/errorbus/bridge-lifecycle.js';
import { decodePhase, PHASE_BUCKET, PHASE_KEY } from '../core/errorbus/phase.js';
import type { BridgeTarget } from '../core/errorbus/topology.js';
import type { ErrorEvent } from '../core/errors/event.js';
import { JetStreamPublisher } from './bridge-publisher.js';
import { endpointOf, openSubscribers } from './bridge-sockets.js';

export const bridgeSubject = (machine: string) => `opsdeck.${machine}.bridge`;

export interface BridgeOptions {
  machine: string;
  /** Where to bind or connect a SUB (topology's bridgePlan for this machine). */
  targets: readonly BridgeTarget[];
  /** Errors kept while NATS is down or slow; past it new ones are dropped and counted. */
  bufferLimit?: number;
  /** JetStream publishes awaiting their ack at once. */
  window?: number;
  /** Ack timeout per publish (ms). */
  ackTimeoutMs?: number;
  /** How often the status goes out on opsdeck.<machine>.bridge (ms). */
  statusMs?: number;
  /** Follow the error-bus phase in KV (phase 3 closes the sockets). Default true. */
  followPhase?: boolean;
  log: (line: string) => void;
  /** Told every frame it receives, decoded (the exporter counts errors per agent from it). */
  onFrame?: (decoded: { ok: true; event: ErrorEvent } | { ok: false }) => void;
}

export interface BridgeEndpoint {
  endpoint: string;
  mode: 'bind' | 'connect';
  state: string;
}

export interface BridgeStats {
  schema: 'opsdeck.bridge/1';
  machine: string;
  state: SocketState;
  endpoints: BridgeEndpoint[];
  /** ZMQ messages received. */
  received: number;
  /** Stored by JetStream (acked, new). */
  published: number;
  /** Acked as duplicates: JetStream already had that message id. */
  duplicates: number;
  malformed: number;
  /** Frames carrying the bridge's own mark (came from NATS): not published. */
  loops: number;
  /** Waiting to be sent, and of those awaiting an ack. */
  queued: number;
  inFlight: number;
  bufferLimit: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** Publishes that failed and were queued again. */
  retried: number;
  /**
   * Times a SUB it connected (to a bound PUB: CentralErrorBus) lost that connection: what the
   * PUB sent meanwhile went nowhere.
   */
  gaps: number;
  nats: 'connected' | 'disconnected';
  lastError?: string;
  lastMalformed?: string;
  since: number;
  at: number;
}

export interface RunningBridge {
  stats(): BridgeStats;
  /** Stops receiving, drains the queue for up to `drainMs`, and says what it could not send. */
  stop(drainMs?: number): Promise<{ unsent: number; stats: BridgeStats }>;
}

const contentId = (frames: readonly Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const f of frames) {
    h.update(String(f.byteLength));
    h.update(':');
    h.update(f);
  }
  return h.digest('hex').slice(0, 32);
};

export async function runBridge(
  nc: NatsConnection,
  options: BridgeOptions,
): Promise<RunningBridge> {
  const bridge = new Bridge(nc, options);
  await bridge.start();
  return { stats: () => bridge.snapshot(), stop: (drainMs) => bridge.stop(drainMs) };
}

const initialStats = (options: BridgeOptions, nc: NatsConnection): BridgeStats => ({
  schema: 'opsdeck.bridge/1',
  machine: options.machine,
  state: 'running',
  endpoints: options.targets.map((t) => ({
    endpoint: endpointOf(t),
    mode: t.mode,
    state: 'opening',
  })),
  received: 0,
  published: 0,
  duplicates: 0,
  malformed: 0,
  loops: 0,
  queued: 0,
  inFlight: 0,
  bufferLimit: options.bufferLimit ?? 100_000,
  dropped: 0,
  retried: 0,
  gaps: 0,
  nats: nc.isClosed() ? 'disconnected' : 'connected',
  since: Date.now(),
  at: Date.now(),
});

/**
 * One running bridge: the ZMQ sockets, the JetStream publisher, and the two lifecycles
 * (core/errorbus/bridge-lifecycle.ts) that say when the sockets close, reopen and stop, and
 * when the publisher re-sends and resumes.
 */
class Bridge {
  private readonly s: BridgeStats;
  private readonly publisher: JetStreamPublisher;
  private readonly encoder = new TextEncoder();
  private sockets: zmq.Subscriber[] = [];
  private phaseWatch: { stop(): void } | undefined;
  private phaseRetry: NodeJS.Timeout | undefined;
  private phaseNoted = false;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: BridgeOptions,
  ) {
    this.s = initialStats(options, nc);
    this.publisher = new JetStreamPublisher(nc, this.s, {
      machine: options.machine,
      bufferLimit: this.s.bufferLimit,
      window: options.window ?? 1024,
      ackTimeoutMs: options.ackTimeoutMs ?? 5000,
      log: options.log,
    });
  }

  private get stopping(): boolean {
    return this.s.state === 'stopping' || this.s.state === 'stopped';
  }

  async start(): Promise<void> {
    this.followNats().catch(() => undefined);
    await this.openSockets();
    const opened = this.s.endpoints.map((e) => `${e.endpoint} ${e.state}`).join(', ');
    this.options.log(
      `bridge ${this.options.machine}: ${opened || 'no error-bus endpoint on this machine'}`,
    );
    if (this.options.followPhase !== false) await this.followPhase();
    this.statusTimer = setInterval(() => this.publishStatus(), this.options.statusMs ?? 2000);
    this.statusTimer.unref();
    this.publishStatus();
  }

  snapshot(): BridgeStats {
    return {
      ...this.s,
      endpoints: this.s.endpoints.map((e) => ({ ...e })),
      queued: this.publisher.queued,
      inFlight: this.publisher.inFlight,
      at: Date.now(),
    };
  }

  /** Stops receiving, drains the queue for up to `drainMs`, and says what it could not send. */
  async stop(drainMs = 3000): Promise<{ unsent: number; stats: BridgeStats }> {
    await this.socketEvent({ kind: 'stop' });
    this.phaseWatch?.stop();
    if (this.phaseRetry) clearTimeout(this.phaseRetry);
    const until = Date.now() + drainMs;
    while (this.publisher.queued > 0 && Date.now() < until && !this.nc.isClosed()) {
      this.publisher.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
    clearInterval(this.statusTimer);
    const unsent = this.publisher.queued;
    this.publisher.close();
    await this.socketEvent({ kind: 'drained' });
    this.publishStatus();
    const stats = this.snapshot();
    const s = this.s;
    this.options.log(
      `bridge ${s.machine} stopped: ${s.received} received, ${s.published} stored, ${s.duplicates} duplicates, ${s.dropped} dropped (queue full), ${unsent} not sent${unsent ? ` (NATS ${s.nats})` : ''}`,
    );
    return { unsent, stats };
  }

  private onFrames(frames: Buffer[], endpoint: string): void {
    const s = this.s;
    s.received++;
    const verdict = bridgeMessage(frames, s.machine, endpoint, Date.now(), contentId);
    if (verdict.kind === 'malformed') {
      s.malformed++;
      s.lastMalformed = `${verdict.reason}: ${verdict.sample}`;
      this.options.onFrame?.({ ok: false });
      return;
    }
    if (verdict.kind === 'loop') {
      s.loops++;
      return;
    }
    this.options.onFrame?.({ ok: true, event: verdict.event });
    this.publisher.offer(verdict);
  }

  private async openSockets(): Promise<void> {
    this.sockets = await openSubscribers(this.options.targets, {
      machine: this.options.machine,
      log: this.options.log,
      onFrames: (frames, endpoint) => this.onFrames(frames, endpoint),
      onDisconnect: () => void this.socketEvent({ kind: 'zmq-disconnect' }),
      onOpened: (i, endpoint, state) => {
        this.s.endpoints[i] = { endpoint, mode: this.options.targets[i]!.mode, state };
      },
    });
  }

  private closeSockets(): void {
    for (const sub of this.sockets) sub.close();
    this.sockets = [];
  }

  /** Moves the socket lifecycle one step and carries out what the step says, in order. */
  private async socketEvent(event: SocketEvent): Promise<void> {
    const { state, effects } = socketStep(this.s.state, event);
    this.s.state = state;
    for (const effect of effects) await this.socketEffect(effect, event);
  }

  private async socketEffect(effect: SocketEffect, event: SocketEvent): Promise<void> {
    const machine = this.options.machine;
    switch (effect) {
      case 'close-sockets':
        return this.closeSockets();
      case 'open-sockets':
        return this.openSockets();
      case 'count-gap':
        this.s.gaps++;
        return;
      case 'note-closed':
        for (const ep of this.s.endpoints) ep.state = 'closed (phase 3)';
        this.options.log(`bridge ${machine}: phase 3 zmq-off: error-bus sockets closed`);
        return;
      case 'note-reopened': {
        const phase = event.kind === 'phase' ? (event.phase ?? 0) : 0;
        this.options.log(`bridge ${machine}: phase ${phase}: error-bus sockets open again`);
        return;
      }
    }
  }

  private natsEvent(event: NatsEvent): void {
    const { state, effects } = natsStep(this.s.nats, event);
    this.s.nats = state;
    for (const effect of effects) this.natsEffect(effect);
  }

  private natsEffect(effect: NatsEffect): void {
    switch (effect) {
      case 'requeue-pending':
        return this.publisher.requeuePending();
      case 'log-back': {
        const dropped = this.s.dropped;
        return this.options.log(
          `bridge: NATS back; ${this.publisher.waiting} queued errors go out now${dropped ? ` (${dropped} dropped while the queue was full)` : ''}`,
        );
      }
      case 'resume-pump':
        return this.publisher.resume();
    }
  }

  private async followNats(): Promise<void> {
    for await (const st of this.nc.status()) {
      if (st.type === Events.Disconnect || st.type === DebugEvents.Reconnecting)
        this.natsEvent({ kind: 'down' });
      else if (st.type === Events.Reconnect) this.natsEvent({ kind: 'up' });
    }
  }

  // Phase 3 closes the error-bus port: the bridge's bound SUB must not keep it open. The bucket
  // may not exist yet (nobody set a phase): look again every 10 s.
  private async followPhase(): Promise<void> {
    if (this.stopping) return;
    try {
      const kv = await this.nc.jetstream().views.kv(PHASE_BUCKET, { bindOnly: true });
      const watch = await kv.watch({ key: PHASE_KEY });
      this.phaseWatch = watch;
      this.watchPhase(watch).catch(() => undefined);
    } catch (error) {
      if (!this.phaseNoted)
        this.options.log(
          `bridge ${this.options.machine}: not following the error-bus phase yet (${PHASE_BUCKET}/${PHASE_KEY}: ${(error as Error).message}); retrying every 10 s`,
        );
      this.phaseNoted = true;
      this.phaseRetry = setTimeout(() => void this.followPhase(), 10_000);
      this.phaseRetry.unref();
    }
  }

  private async watchPhase(watch: AsyncIterable<KvEntry>): Promise<void> {
    for await (const e of watch) {
      const value = e.operation === 'PUT' ? decodePhase(e.string()) : undefined;
      await this.socketEvent({ kind: 'phase', phase: value?.ok ? value.value.phase : undefined });
    }
  }

  private publishStatus(): void {
    if (this.nc.isClosed()) return;
    const status = this.encoder.encode(JSON.stringify(this.snapshot()));
    this.nc.publish(bridgeSubject(this.options.machine), status);
  }
}
