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
import { createHash } from 'node:crypto';
import {
  createInbox,
  DebugEvents,
  Events,
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
} from 'nats';
import * as zmq from 'zeromq';
import { ZMQ_MAX_MESSAGE } from '../adapters/zmq-limits.js';
import { bridgeMessage, type BridgedMessage } from '../core/errors/bridge.js';
import { decodePhase, PHASE_BUCKET, PHASE_KEY } from '../core/errorbus/phase.js';
import type { BridgeTarget } from '../core/errorbus/topology.js';
import type { ErrorEvent } from '../core/errors/event.js';
import { sanitise } from '../core/errors/sanitise.js';

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
  state: 'running' | 'closed (phase 3 zmq-off)' | 'stopping' | 'stopped';
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

/** A FIFO with a moving head; failed publishes go back in front. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  private front: T[] = [];
  get length(): number {
    return this.items.length - this.head + this.front.length;
  }
  push(item: T): void {
    this.items.push(item);
  }
  unshift(item: T): void {
    this.front.push(item);
  }
  shift(): T | undefined {
    if (this.front.length > 0) return this.front.pop();
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

const endpointOf = (t: BridgeTarget): string => `tcp://${t.host}:${t.port}`;

export async function runBridge(
  nc: NatsConnection,
  options: BridgeOptions,
): Promise<RunningBridge> {
  const machine = options.machine;
  const bufferLimit = options.bufferLimit ?? 100_000;
  const window = options.window ?? 1024;
  const ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  const js = nc.jetstream();
  const encoder = new TextEncoder();
  const queue = new Queue<BridgedMessage>();
  const s: BridgeStats = {
    schema: 'opsdeck.bridge/1',
    machine,
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
    bufferLimit,
    dropped: 0,
    retried: 0,
    gaps: 0,
    nats: nc.isClosed() ? 'disconnected' : 'connected',
    since: Date.now(),
    at: Date.now(),
  };
  // Awaiting their ack, by the token at the end of the reply subject.
  const pending = new Map<number, { m: BridgedMessage; sentAt: number }>();
  let token = 0;
  const inbox = createInbox();
  let stalledUntil = 0;
  let dropNoted = 0;
  let stopping = false;
  let sockets: zmq.Subscriber[] = [];
  let wake: NodeJS.Timeout | undefined;

  const onFrames = (frames: Buffer[], endpoint: string) => {
    s.received++;
    const verdict = bridgeMessage(frames, machine, endpoint, Date.now(), contentId);
    if (verdict.kind === 'malformed') {
      s.malformed++;
      s.lastMalformed = `${verdict.reason}: ${verdict.sample}`;
      options.onFrame?.({ ok: false });
      return;
    }
    if (verdict.kind === 'loop') {
      s.loops++;
      return;
    }
    options.onFrame?.({ ok: true, event: verdict.event });
    if (queue.length >= bufferLimit) {
      s.dropped++;
      // One line per burst of drops, not one per drop.
      if (Date.now() - dropNoted > 5000) {
        dropNoted = Date.now();
        options.log(
          `bridge: queue full (${bufferLimit}) while NATS is ${s.nats === 'connected' ? 'slow' : 'down'}: dropping new errors (${s.dropped} so far, counted in opsdeck.${machine}.bridge)`,
        );
      }
      return;
    }
    queue.push(verdict);
    schedulePump();
  };

  const retry = (m: BridgedMessage, why: string) => {
    s.retried++;
    s.lastError = sanitise(why).slice(0, 200);
    queue.unshift(m);
    // Back off a little (a disconnect also stops the pump until the reconnect).
    stalledUntil = Date.now() + 250;
    if (!wake) {
      wake = setTimeout(() => {
        wake = undefined;
        pump();
      }, 300);
      wake.unref();
    }
  };

  const onAck = (msg: Msg) => {
    const t = Number(msg.subject.slice(inbox.length + 1));
    const p = pending.get(t);
    if (!p) return; // timed out already and queued again: the re-send will be acked as a duplicate
    pending.delete(t);
    if (msg.headers?.code === 503 || msg.data.length === 0) {
      retry(
        p.m,
        `no JetStream stream captures ${p.m.subject} (no responders): run \`opsdeck errorbus fix-streams\``,
      );
      return;
    }
    let ack: { error?: { description?: string }; duplicate?: boolean };
    try {
      ack = JSON.parse(new TextDecoder().decode(msg.data)) as typeof ack;
    } catch {
      ack = { error: { description: 'unreadable ack' } };
    }
    if (ack.error)
      retry(p.m, `JetStream refused ${p.m.msgId}: ${ack.error.description ?? 'error'}`);
    else if (ack.duplicate) s.duplicates++;
    else s.published++;
    if (queue.length > 0) schedulePump();
  };
  const acks = nc.subscribe(`${inbox}.*`, { callback: (_err, msg) => onAck(msg) });

  // One pump per turn of the event loop: the publishes of a turn leave in one socket write.
  let pumpScheduled = false;
  const schedulePump = () => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  };

  const pump = () => {
    while (
      pending.size < window &&
      queue.length > 0 &&
      s.nats === 'connected' &&
      Date.now() >= stalledUntil &&
      !nc.isClosed()
    ) {
      const m = queue.shift()!;
      const t = ++token;
      const h = natsHeaders();
      for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
      pending.set(t, { m, sentAt: Date.now() });
      nc.publish(m.subject, encoder.encode(m.body), { headers: h, reply: `${inbox}.${t}` });
    }
  };

  // Acks that do not come: queued again (same message id, so a late-stored one stays single).
  const sweep = setInterval(() => {
    const cutoff = Date.now() - ackTimeoutMs;
    for (const [t, p] of pending) {
      if (p.sentAt > cutoff) break; // insertion order is send order
      pending.delete(t);
      retry(p.m, `no ack for ${p.m.msgId} in ${ackTimeoutMs} ms`);
    }
  }, 250);
  sweep.unref();

  /** On a disconnect, what awaits an ack is unknown: send it again after the reconnect. */
  const requeuePending = () => {
    const waiting = [...pending.values()].map((p) => p.m);
    pending.clear();
    for (let i = waiting.length - 1; i >= 0; i--) queue.unshift(waiting[i]!);
    if (waiting.length) s.retried += waiting.length;
  };

  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === Events.Disconnect || st.type === DebugEvents.Reconnecting) {
        if (s.nats === 'connected') requeuePending();
        s.nats = 'disconnected';
      } else if (st.type === Events.Reconnect) {
        s.nats = 'connected';
        stalledUntil = 0;
        options.log(
          `bridge: NATS back; ${queue.length} queued errors go out now${s.dropped ? ` (${s.dropped} dropped while the queue was full)` : ''}`,
        );
        pump();
      }
    }
  })().catch(() => undefined);

  const open = async () => {
    const opened: zmq.Subscriber[] = [];
    for (const [i, t] of options.targets.entries()) {
      const endpoint = endpointOf(t);
      // A generous HWM: past it ZMQ drops silently; the loop below empties it at once.
      const sub = new zmq.Subscriber({
        linger: 0,
        receiveHighWaterMark: 200_000,
        maxMessageSize: ZMQ_MAX_MESSAGE.errors,
      });
      let state: string;
      if (t.mode === 'bind') {
        // libzmq frees a closed listener in the background: a reopen right after a close (phase
        // 3 rolled back, a restart) may find the port still held for a moment (seconds on a
        // loaded machine: CI saw over 2).
        let failure: string | undefined;
        for (let attempt = 0; attempt < 60; attempt++) {
          try {
            await sub.bind(endpoint);
            failure = undefined;
            break;
          } catch (error) {
            failure = (error as { code?: string }).code ?? 'error';
            if (failure !== 'EADDRINUSE') break;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        if (failure === undefined) state = 'bound (SUB)';
        else {
          // Someone took the port since the plan: receive from it if it is a PUB.
          sub.connect(endpoint.replace('tcp://*:', 'tcp://127.0.0.1:'));
          state = `bind failed (${failure}): connected instead`;
          options.log(
            `bridge ${machine}: cannot bind ${endpoint} (${failure}): connected a SUB instead; publishers connecting there reach the bridge only if a PUB is bound there (see opsdeck errorbus doctor)`,
          );
        }
      } else {
        sub.events.on('disconnect', () => {
          if (!stopping && s.state === 'running') s.gaps++;
        });
        sub.connect(endpoint);
        state = 'connected (SUB)';
      }
      sub.subscribe();
      s.endpoints[i] = { endpoint, mode: t.mode, state };
      opened.push(sub);
      void (async () => {
        try {
          for await (const frames of sub) onFrames(frames, endpoint);
        } catch {
          /* closed */
        }
      })();
    }
    sockets = opened;
  };
  const close = () => {
    for (const sub of sockets) sub.close();
    sockets = [];
  };

  await open();
  options.log(
    `bridge ${machine}: ${s.endpoints.map((e) => `${e.endpoint} ${e.state}`).join(', ') || 'no error-bus endpoint on this machine'}`,
  );

  // Phase 3 closes the error-bus port: the bridge's bound SUB must not keep it open. The bucket
  // may not exist yet (nobody set a phase): look again every 10 s.
  let phaseWatch: { stop(): void } | undefined;
  let phaseRetry: NodeJS.Timeout | undefined;
  let phaseNoted = false;
  const follow = async (): Promise<void> => {
    if (stopping) return;
    try {
      const kv = await js.views.kv(PHASE_BUCKET, { bindOnly: true });
      const watch = await kv.watch({ key: PHASE_KEY });
      phaseWatch = watch;
      void (async () => {
        for await (const e of watch) {
          const value = e.operation === 'PUT' ? decodePhase(e.string()) : undefined;
          const off = value?.ok === true && value.value.phase === 3;
          if (off && s.state === 'running') {
            close();
            s.state = 'closed (phase 3 zmq-off)';
            for (const ep of s.endpoints) ep.state = 'closed (phase 3)';
            options.log(`bridge ${machine}: phase 3 zmq-off: error-bus sockets closed`);
          } else if (!off && s.state === 'closed (phase 3 zmq-off)' && !stopping) {
            s.state = 'running';
            await open();
            options.log(
              `bridge ${machine}: phase ${value?.ok ? value.value.phase : 0}: error-bus sockets open again`,
            );
          }
        }
      })().catch(() => undefined);
    } catch (error) {
      if (!phaseNoted)
        options.log(
          `bridge ${machine}: not following the error-bus phase yet (${PHASE_BUCKET}/${PHASE_KEY}: ${(error as Error).message}); retrying every 10 s`,
        );
      phaseNoted = true;
      phaseRetry = setTimeout(() => void follow(), 10_000);
      phaseRetry.unref();
    }
  };
  if (options.followPhase !== false) await follow();

  const snapshot = (): BridgeStats => ({
    ...s,
    endpoints: s.endpoints.map((e) => ({ ...e })),
    queued: queue.length + pending.size,
    inFlight: pending.size,
    at: Date.now(),
  });
  const publishStatus = () => {
    if (!nc.isClosed())
      nc.publish(bridgeSubject(machine), encoder.encode(JSON.stringify(snapshot())));
  };
  const statusTimer = setInterval(publishStatus, options.statusMs ?? 2000);
  statusTimer.unref();
  publishStatus();

  return {
    stats: snapshot,
    async stop(drainMs = 3000) {
      stopping = true;
      s.state = 'stopping';
      close();
      phaseWatch?.stop();
      if (phaseRetry) clearTimeout(phaseRetry);
      const until = Date.now() + drainMs;
      while ((queue.length > 0 || pending.size > 0) && Date.now() < until && !nc.isClosed()) {
        pump();
        await new Promise((r) => setTimeout(r, 20));
      }
      clearInterval(statusTimer);
      clearInterval(sweep);
      if (wake) clearTimeout(wake);
      const unsent = queue.length + pending.size;
      acks.unsubscribe();
      s.state = 'stopped';
      publishStatus();
      const stats = snapshot();
      options.log(
        `bridge ${machine} stopped: ${s.received} received, ${s.published} stored, ${s.duplicates} duplicates, ${s.dropped} dropped (queue full), ${unsent} not sent${unsent ? ` (NATS ${s.nats})` : ''}`,
      );
      return { unsent, stats };
    },
  };
}
