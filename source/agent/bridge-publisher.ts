// The bridge's NATS side (agent/bridge.ts): a bounded queue in front of JetStream, acked
// publishes, and re-sends with the same message id.
//
// JetStream answers each publish on our reply subject: one subscription for all acks, not one
// request object per message, which would cap the rate near 4k/s. A publish that fails (no ack
// in time, a disconnect, no stream) goes back to the head of the queue and is re-sent with the
// same message id once NATS is back, so an error stored before its ack was lost is not stored
// twice. Past `bufferLimit` new errors are dropped and counted (never silently).
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection } from 'nats';
import type { Subscription } from 'nats';
import type { BridgedMessage } from '../core/errors/bridge.js';
import type { NatsState } from '../core/errorbus/bridge-lifecycle.js';
import { sanitise } from '../core/errors/sanitise.js';

/** The counters the publisher keeps (fields of BridgeStats, shared with the bridge). */
export interface PublishCounts {
  published: number;
  duplicates: number;
  dropped: number;
  retried: number;
  nats: NatsState;
  lastError?: string;
}

export interface PublisherOptions {
  machine: string;
  bufferLimit: number;
  /** Publishes awaiting their ack at once. */
  window: number;
  ackTimeoutMs: number;
  log: (line: string) => void;
}

/** A FIFO with a moving head; failed publishes go back in front. */
export class Queue<T> {
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

interface Sent {
  m: BridgedMessage;
  sentAt: number;
}

export class JetStreamPublisher {
  private readonly queue = new Queue<BridgedMessage>();
  /** Awaiting their ack, by the token at the end of the reply subject. */
  private readonly pending = new Map<number, Sent>();
  private token = 0;
  private readonly inbox = createInbox();
  private readonly encoder = new TextEncoder();
  private stalledUntil = 0;
  private dropNoted = 0;
  private wake: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private readonly acks: Subscription;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly counts: PublishCounts,
    private readonly options: PublisherOptions,
  ) {
    this.acks = nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.onAck(msg) });
    // Acks that do not come: queued again (same message id, so a late-stored one stays single).
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  /** Waiting to be sent, including those awaiting an ack. */
  get queued(): number {
    return this.queue.length + this.pending.size;
  }

  /** Waiting to be sent, not yet sent. */
  get waiting(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Queues one message, or drops and counts it when the queue is full. */
  offer(m: BridgedMessage): void {
    const { bufferLimit, machine } = this.options;
    if (this.queue.length >= bufferLimit) {
      this.counts.dropped++;
      // One line per burst of drops, not one per drop.
      if (Date.now() - this.dropNoted > 5000) {
        this.dropNoted = Date.now();
        const why = this.counts.nats === 'connected' ? 'slow' : 'down';
        this.options.log(
          `bridge: queue full (${bufferLimit}) while NATS is ${why}: dropping new errors (${this.counts.dropped} so far, counted in opsdeck.${machine}.bridge)`,
        );
      }
      return;
    }
    this.queue.push(m);
    this.schedulePump();
  }

  /** Sends what the window allows, while NATS is up and no back-off holds. */
  pump(): void {
    while (
      this.pending.size < this.options.window &&
      this.queue.length > 0 &&
      this.counts.nats === 'connected' &&
      Date.now() >= this.stalledUntil &&
      !this.nc.isClosed()
    ) {
      const m = this.queue.shift()!;
      const t = ++this.token;
      const h = natsHeaders();
      for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
      this.pending.set(t, { m, sentAt: Date.now() });
      this.nc.publish(m.subject, this.encoder.encode(m.body), {
        headers: h,
        reply: `${this.inbox}.${t}`,
      });
    }
  }

  /** NATS is back: no back-off, send now. */
  resume(): void {
    this.stalledUntil = 0;
    this.pump();
  }

  /** On a disconnect, what awaits an ack is unknown: send it again after the reconnect. */
  requeuePending(): void {
    const waiting = [...this.pending.values()].map((p) => p.m);
    this.pending.clear();
    for (let i = waiting.length - 1; i >= 0; i--) this.queue.unshift(waiting[i]!);
    if (waiting.length) this.counts.retried += waiting.length;
  }

  /** Stops the timers and the ack subscription; what is still queued stays unsent. */
  close(): void {
    clearInterval(this.sweeper);
    if (this.wake) clearTimeout(this.wake);
    this.acks.unsubscribe();
  }

  // One pump per turn of the event loop: the publishes of a turn leave in one socket write.
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private retry(m: BridgedMessage, why: string): void {
    this.counts.retried++;
    this.counts.lastError = sanitise(why).slice(0, 200);
    this.queue.unshift(m);
    // Back off a little (a disconnect also stops the pump until the reconnect).
    this.stalledUntil = Date.now() + 250;
    if (!this.wake) {
      this.wake = setTimeout(() => {
        this.wake = undefined;
        this.pump();
      }, 300);
      this.wake.unref();
    }
  }

  private onAck(msg: Msg): void {
    const t = Number(msg.subject.slice(this.inbox.length + 1));
    const p = this.pending.get(t);
    if (!p) return; // timed out already and queued again: the re-send will be acked as a duplicate
    this.pending.delete(t);
    if (msg.headers?.code === 503 || msg.data.length === 0) {
      this.retry(
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
      this.retry(p.m, `JetStream refused ${p.m.msgId}: ${ack.error.description ?? 'error'}`);
    else if (ack.duplicate) this.counts.duplicates++;
    else this.counts.published++;
    if (this.queue.length > 0) this.schedulePump();
  }

  private sweep(): void {
    const { ackTimeoutMs } = this.options;
    const cutoff = Date.now() - ackTimeoutMs;
    for (const [t, p] of this.pending) {
      if (p.sentAt > cutoff) break; // insertion order is send order
      this.pending.delete(t);
      this.retry(p.m, `no ack for ${p.m.msgId} in ${ackTimeoutMs} ms`);
    }
  }
}
