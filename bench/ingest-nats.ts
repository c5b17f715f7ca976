// Figure 2: NATS ingest. The same kind of frames (both upstream libraries' bodies, on their real
// subjects, with nats_error_bus.py's headers) through opsdeck's natsErrors vs a bare nats.js
// loop, three ways: core subscription (natsErrors' fallback before any stream exists), a
// JetStream ordered consumer (the live view), and a durable pull consumer with acks (what the
// console runs: it resumes after a restart).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, StorageType } from 'nats';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
} from '../source/adapters/nats-server.js';
import { Child, sleep } from './lib/harness.js';
import { alternate, ingestRow } from './lib/ingest.js';
import { meanBytes, natsTemplates } from './lib/frames.js';
import type { Figure, Row } from './lib/report.js';

export const ingestNats: Figure = {
  id: 'ingest-nats',
  title: 'NATS ingest',
  async run(ctx): Promise<Row[]> {
    const bin = findNatsServer();
    if (!bin) {
      return [
        {
          id: 'ingest.nats',
          figure: 'NATS ingest',
          unit: 'msg/s',
          opsdeck: NaN,
          notes: [`skipped: nats-server not installed (${NATS_INSTALL_HINT})`],
        },
      ];
    }
    const count = ctx.quick ? 20_000 : 1_000_000;
    // The console's durable consumer acks every message: slower, so fewer messages in a full run.
    const durableCount = ctx.quick ? 20_000 : 100_000;
    // A subscriber that falls behind would be cut off as a slow consumer at 64 MB pending; the
    // pre-buffered drain holds the consumer while the server queues everything for it.
    const conf = join(ctx.tmp, 'nats-bench.conf');
    writeFileSync(conf, 'max_pending: 1GB\nwrite_deadline: "300s"\nmax_payload: 1MB\n');
    const server = await startNatsServer({
      bin,
      host: '127.0.81.2',
      configFile: conf,
      readyTimeoutMs: 10_000,
    });
    const publisher = new Child('nats-pub.ts', [server.url]);
    const rows: Row[] = [];
    try {
      await publisher.next('ready', 30_000);
      const bytes = meanBytes(natsTemplates(1));
      ctx.log(
        `NATS ingest: ${count.toLocaleString('en-US')} messages per run (mean body ${bytes} bytes) on ${server.url}, ${ctx.runs} run(s) per side`,
      );

      ctx.log(' core subscription (no stream yet)');
      const core = await alternate(
        ctx,
        'core-bare',
        'core-opsdeck',
        { target: server.url, count, publisher },
        false,
        'core-floor',
      );
      rows.push(
        ingestRow(
          'ingest.nats.core',
          'NATS ingest, core sub',
          core,
          'bare nats.js subscription on errors.> (a callback, as opsdeck subscribes) that only counts',
          [
            'pre-buffered drain: the publisher (its own process) publishes while the consumer holds its loop and nats-server queues for it; then the consumer drains',
            "client pings off during runs: with the console's 3 s x 3 a drain longer than ~9 s is declared stale and its backlog dropped (seen at 1M: opsdeck lost 55%)",
          ],
        ),
      );

      // The stream upstream's nats_error_bus.py creates, filled once; every JetStream run reads it all.
      const nc = await connect({ servers: server.url });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'ERRORS', subjects: ['errors.>'], storage: StorageType.File });
      const began = performance.now();
      publisher.send({ type: 'run', count });
      await publisher.next('sent', 600_000);
      for (;;) {
        const info = await jsm.streams.info('ERRORS');
        if (info.state.messages >= count) break;
        await sleep(50);
      }
      ctx.log(
        ` stream ERRORS filled with ${count.toLocaleString('en-US')} messages in ${Math.round(performance.now() - began)} ms`,
      );
      await nc.close();

      ctx.log(' JetStream ordered consumer (live view)');
      const ordered = await alternate(
        ctx,
        'ordered-bare',
        'ordered-opsdeck',
        { target: server.url, count },
        false,
        'ordered-floor',
      );
      rows.push(
        ingestRow(
          'ingest.nats.ordered',
          'NATS ingest, JS ordered',
          ordered,
          'bare nats.js ordered consumer, same config and callback (errors.>, from a start time, consume batches of 1000), that only counts',
          ['the stream is filled once; each run replays all of it'],
        ),
      );

      ctx.log(
        ` JetStream durable consumer with acks (the console's), ${durableCount.toLocaleString('en-US')} messages`,
      );
      const durable = await alternate(
        ctx,
        'durable-bare',
        'durable-opsdeck',
        { target: server.url, count: durableCount },
        false,
      );
      rows.push(
        ingestRow(
          'ingest.nats.durable',
          'NATS ingest, JS durable',
          durable,
          'bare nats.js durable pull consumer, same config and callback, acking as opsdeck does (batched per event-loop turn)',
          [
            `${durableCount.toLocaleString('en-US')} messages per run (the first ones of the stream)`,
          ],
        ),
      );
      return rows;
    } finally {
      await publisher.stop(2000);
      await server.stop();
    }
  },
};
