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
  target: { machine: string; agent: string; lines: number; follow: boolean },
  on: LogWatchHandlers,
  timeoutMs = 5000,
): LogWatch {
  const inbox = createInbox();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const subject = logsSubject(target.machine);
  let id: string | undefined;
  let renew: NodeJS.Timeout | undefined;
  let done = false;
  let expect = 0;
  const finish = (reason: string, failed: boolean) => {
    if (done) return;
    done = true;
    if (renew) clearInterval(renew);
    sub.unsubscribe();
    on.end(reason, failed);
  };
  const sub: Subscription = nc.subscribe(inbox, {
    callback: (err, m) => {
      if (err || done) return;
      let batch: WatchBatch;
      try {
        batch = JSON.parse(decoder.decode(m.data)) as WatchBatch;
      } catch {
        return;
      }
      if (!Array.isArray(batch.items)) return;
      const lost = typeof batch.seq === 'number' && batch.seq > expect ? batch.seq - expect : 0;
      if (typeof batch.seq === 'number') expect = batch.seq + 1;
      on.items(
        lost
          ? [{ kind: 'note', text: `${lost} batches lost on the way` }, ...batch.items]
          : batch.items,
      );
      if (typeof batch.end === 'string') finish(batch.end, false);
    },
  });
  // A stop on a closed connection (the caller closed it first) would throw: the daemon's TTL
  // ends that watch within seconds anyway.
  const sendStop = (watch: string) => {
    if (nc.isClosed()) return;
    try {
      nc.publish(subject, encoder.encode(JSON.stringify({ stop: watch })));
    } catch {
      /* closing under us: the TTL ends the watch */
    }
  };
  const ask = async (body: Record<string, unknown>) => {
    const m = await nc.request(subject, encoder.encode(JSON.stringify(body)), {
      timeout: timeoutMs,
    });
    return JSON.parse(decoder.decode(m.data)) as Record<string, unknown>;
  };
  void (async () => {
    let r: Record<string, unknown>;
    try {
      // The inbox is subscribed before the request: the first lines cannot arrive to no one.
      await nc.flush();
      r = await ask({
        agent: target.agent,
        lines: target.lines,
        follow: target.follow,
        inbox,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      finish(
        code === '503'
          ? `nobody answers ${subject}: is opsdeck agent running on ${target.machine}?`
          : code === 'TIMEOUT'
            ? `no reply on ${subject} within ${timeoutMs} ms`
            : (error as Error).message,
        true,
      );
      return;
    }
    if (r.ok !== true || typeof r.id !== 'string') {
      finish(typeof r.error === 'string' ? r.error : `refused: ${JSON.stringify(r)}`, true);
      return;
    }
    if (done) {
      // Stopped while the request was in flight: tell the daemon at once (the TTL ends it
      // anyway when the connection is already gone).
      sendStop(r.id);
      return;
    }
    id = r.id;
    const ttl = typeof r.ttlMs === 'number' ? r.ttlMs : 15_000;
    on.opened?.({
      source: textOf(r.source),
      rate: typeof r.rate === 'number' ? r.rate : 0,
      ttlMs: ttl,
    });
    if (!target.follow) return;
    renew = setInterval(
      () => {
        void ask({ renew: id })
          .then((a) => {
            if (a.ok !== true) finish(`the watch ended: ${textOf(a.error, 'refused')}`, true);
          })
          .catch(() => undefined); // a missed renewal is retried; the TTL covers two
      },
      Math.max(200, ttl / 3),
    );
  })();
  return {
    stop() {
      if (id && !done) sendStop(id);
      finish('stopped', false);
    },
  };
}
