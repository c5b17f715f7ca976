// The watcher's side of opsdeck.<machine>.logs: open a watch with an inbox of its own, renew it
// every third of its TTL for as long as it is wanted, and say stop when done. If the watcher
// dies without a word, the daemon stops reading at the TTL: nothing flows to nobody.
import { createInbox, type NatsConnection, type Subscription } from 'nats';
import { logsSubject, type WatchBatch } from '../core/logs/stream.js';
import type { LogWatch, LogWatchHandlers } from '../core/seams/files.js';
import { textOf } from '../core/text.js';

export type { LogWatch, LogWatchHandlers } from '../core/seams/files.js';

export function watchLogs(
  nc: NatsConnection,
  target: WatchTarget,
  on: LogWatchHandlers,
  timeoutMs = 5000,
): LogWatch {
  const watcher = new LogWatcher(nc, target, on, timeoutMs);
  return { stop: () => watcher.stop() };
}

interface WatchTarget {
  machine: string;
  agent: string;
  lines: number;
  follow: boolean;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One watch: its inbox, the daemon's id for it once accepted, and the renewal timer. */
class LogWatcher {
  private readonly inbox = createInbox();
  private readonly subject: string;
  private readonly sub: Subscription;
  private id: string | undefined;
  private renew: NodeJS.Timeout | undefined;
  private done = false;
  /** The next batch number: a gap is said as lost batches. */
  private expect = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly target: WatchTarget,
    private readonly on: LogWatchHandlers,
    private readonly timeoutMs: number,
  ) {
    this.subject = logsSubject(target.machine);
    this.sub = nc.subscribe(this.inbox, {
      callback: (err, m) => {
        if (!err && !this.done) this.onBatch(m.data);
      },
    });
    void this.open();
  }

  stop(): void {
    if (this.id && !this.done) this.sendStop(this.id);
    this.finish('stopped', false);
  }

  private finish(reason: string, failed: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.renew) clearInterval(this.renew);
    this.sub.unsubscribe();
    this.on.end(reason, failed);
  }

  private onBatch(data: Uint8Array): void {
    let batch: WatchBatch;
    try {
      batch = JSON.parse(decoder.decode(data)) as WatchBatch;
    } catch {
      return;
    }
    if (!Array.isArray(batch.items)) return;
    const seq = batch.seq;
    const lost = typeof seq === 'number' && seq > this.expect ? seq - this.expect : 0;
    if (typeof seq === 'number') this.expect = seq + 1;
    this.on.items(
      lost
        ? [{ kind: 'note', text: `${lost} batches lost on the way` }, ...batch.items]
        : batch.items,
    );
    if (typeof batch.end === 'string') this.finish(batch.end, false);
  }

  // A stop on a closed connection (the caller closed it first) would throw: the daemon's TTL
  // ends that watch within seconds anyway.
  private sendStop(watch: string): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(this.subject, encoder.encode(JSON.stringify({ stop: watch })));
    } catch {
      /* closing under us: the TTL ends the watch */
    }
  }

  private async ask(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const m = await this.nc.request(this.subject, encoder.encode(JSON.stringify(body)), {
      timeout: this.timeoutMs,
    });
    return JSON.parse(decoder.decode(m.data)) as Record<string, unknown>;
  }

  /** Asks the daemon for the watch: its reply, or undefined (no reply; the watch ended failed). */
  private async request(): Promise<Record<string, unknown> | undefined> {
    const { target, subject } = this;
    try {
      // The inbox is subscribed before the request: the first lines cannot arrive to no one.
      await this.nc.flush();
      return await this.ask({
        agent: target.agent,
        lines: target.lines,
        follow: target.follow,
        inbox: this.inbox,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      this.finish(
        code === '503'
          ? `nobody answers ${subject}: is opsdeck agent running on ${target.machine}?`
          : code === 'TIMEOUT'
            ? `no reply on ${subject} within ${this.timeoutMs} ms`
            : (error as Error).message,
        true,
      );
      return undefined;
    }
  }

  private async open(): Promise<void> {
    const r = await this.request();
    if (!r) return;
    if (r.ok !== true || typeof r.id !== 'string') {
      this.finish(typeof r.error === 'string' ? r.error : `refused: ${JSON.stringify(r)}`, true);
      return;
    }
    if (this.done) {
      // Stopped while the request was in flight: tell the daemon at once (the TTL ends it
      // anyway when the connection is already gone).
      this.sendStop(r.id);
      return;
    }
    this.id = r.id;
    const ttl = typeof r.ttlMs === 'number' ? r.ttlMs : 15_000;
    this.on.opened?.({
      source: textOf(r.source),
      rate: typeof r.rate === 'number' ? r.rate : 0,
      ttlMs: ttl,
    });
    if (this.target.follow) this.keepAlive(r.id, ttl);
  }

  /** Renews every third of the TTL: a missed renewal is retried, and the TTL covers two. */
  private keepAlive(id: string, ttl: number): void {
    this.renew = setInterval(
      () => {
        void this.ask({ renew: id })
          .then((a) => {
            if (a.ok !== true) this.finish(`the watch ended: ${textOf(a.error, 'refused')}`, true);
          })
          .catch(() => undefined);
      },
      Math.max(200, ttl / 3),
    );
  }
}
