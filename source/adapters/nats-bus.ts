// The Bus port over a nats.js connection: what the stores need of NATS (subscribe, closed?, one
// KV key watched), so no store is typed against nats.js.
import type { NatsConnection } from 'nats';
import type { Bus, KeyWatch } from '../core/seams/bus.js';
import { feed } from './nats-feed.js';

export function natsBus(nc: NatsConnection): Bus {
  return {
    subscribe(subject, on) {
      const sub = feed(nc, subject, on);
      return () => sub.unsubscribe();
    },
    isClosed: () => nc.isClosed(),
    async watchKey(bucket, key) {
      let kv;
      try {
        kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
      } catch {
        return undefined; // no such bucket (or no JetStream): the caller says what that means
      }
      const watcher = await kv.watch({ key });
      const changes: KeyWatch = {
        stop: () => watcher.stop(),
        async *[Symbol.asyncIterator]() {
          for await (const e of watcher)
            yield { operation: e.operation, revision: e.revision, text: () => e.string() };
        },
      };
      return changes;
    },
  };
}
