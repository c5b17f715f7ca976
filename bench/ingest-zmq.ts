// Figure 1: ZMQ ingest. 1,000,000 upstream-format error frames (variants A-D and CentralErrorBus,
// ~300 bytes) from a publisher process, through opsdeck's path (zmqErrors: SUB -> decode ->
// dedup -> flood -> ErrorStore) vs a bare zeromq.js SUB loop that only counts.
import { Child, round } from './lib/harness.js';
import { alternate, ingestRow } from './lib/ingest.js';
import { meanBytes, zmqTemplates } from './lib/frames.js';
import type { Figure, Row } from './lib/report.js';

export const ENDPOINT = 'tcp://127.0.81.1:17150';

/** RSS of opsdeck's ingest process before and after its frames (figure 5 reads it). */
export let lastIngestRss:
  | {
      before: number;
      after: number;
      afterGc: number;
      heapAfterGc: number;
      rate: number;
      count: number;
      bareAfter: number;
    }
  | undefined;

export const ingestZmq: Figure = {
  id: 'ingest-zmq',
  title: 'ZMQ ingest',
  async run(ctx): Promise<Row[]> {
    const count = ctx.quick ? 30_000 : 1_000_000;
    const publisher = new Child('zmq-pub.ts', [ENDPOINT]);
    try {
      await publisher.next('ready', 30_000);
      ctx.log(
        `ZMQ ingest: ${count.toLocaleString('en-US')} frames per run (mean ${meanBytes(zmqTemplates(1))} bytes), ${ctx.runs} run(s) per side`,
      );
      // Chunks of 50,000, below the SUB's high-water mark (100,000): a full receive queue can
      // abort the process in libzmq 4.3.5 (see the note), and the drain must not be that test.
      const runs = await alternate(
        ctx,
        'zmq-bare',
        'zmq-opsdeck',
        { target: ENDPOINT, count, publisher, chunk: 50_000 },
        true,
        'zmq-floor',
      );
      const last = runs.opsdeck[runs.opsdeck.length - 1]!;
      const bareAfter = runs.bare.reduce((m, r) => Math.max(m, r.rssAfter), 0);
      lastIngestRss = {
        before: last.rssBefore,
        after: last.rssAfter,
        afterGc: last.rssAfterGc,
        heapAfterGc: last.heapAfterGc,
        rate: last.rate,
        count: last.received,
        bareAfter,
      };
      const row = ingestRow(
        'ingest.zmq',
        'ZMQ ingest (SUB->store)',
        runs,
        'bare zeromq.js Subscriber loop that only counts (same socket options and receive() as zmqErrors)',
        [
          'pre-buffered drain in chunks of 50,000 (under the SUB high-water mark): the publisher (XPUB, its own process) sends a chunk while the consumer holds its loop, then the consumer drains it; timed from its first to its last message, holds excluded',
        ],
      );
      row.details = {
        ...row.details,
        frames: count,
        meanBytes: meanBytes(zmqTemplates(1)),
        rssAfterMb: round(last.rssAfter, 1),
      };
      return [row];
    } finally {
      await publisher.stop(2000);
    }
  },
};
