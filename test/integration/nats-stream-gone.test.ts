// A JetStream error stream deleted and re-created under the same name (a `fix-streams` run, an
// operator's `nats stream rm`): the feed consumes it again once it is back, nothing it received
// is lost or counted twice, and the outage is a gap row in the stream. It once never consumed
// the stream again: its consumer did not end when the stream went, so the stream stayed
// "found", and the core subscription that stood in meanwhile was dropped when it came back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageType } from 'nats';
import { natsErrors } from '../../source/adapters/error-sources.js';
import { natsOnLoopback, natsSkip as skip, sleep, until } from '../support/nats.js';
import { ErrorStore } from '../../source/stores/error-store.js';

const HOST = '127.0.17.1';

describe('an error stream deleted and re-created under the same name', { skip }, () => {
  const live = natsOnLoopback(HOST);

  for (const durable of [undefined, 'gone_test']) {
    test(`is consumed again once back, every error once (${durable ? 'durable' : 'ordered'} consumer)`, async () => {
      const jsm = await live.nc.jetstreamManager();
      const add = () =>
        jsm.streams.add({ name: 'ERRORS', subjects: ['errors.>'], storage: StorageType.Memory });
      await add();
      const store = new ErrorStore({ notifyMs: 10 });
      const feed = await natsErrors(live.nc, store, {
        machineOf: () => 'mainpc',
        rescanMs: 150,
        retryMs: 150,
        ...(durable ? { durable } : {}),
      });
      let n = 0;
      const publish = async () => {
        n++;
        live.nc.publish(
          'errors.events',
          JSON.stringify({
            error_id: `e${n}`,
            agent_name: 'Alpha',
            severity: 'error',
            message: `error ${n}`,
          }),
        );
        await live.nc.flush();
      };
      const received = () => store.flush().counters.received.nats;
      try {
        assert.equal(feed.mode(), 'jetstream');
        await publish();
        await until('the first error', () => received() === 1);

        await jsm.streams.delete('ERRORS');
        await until('the feed noticing the stream is gone', () => feed.mode() === 'core');
        await publish(); // only a core subscription can see this one: no stream stores it
        await until('the error sent while the stream is gone', () => received() === 2);

        await add();
        await publish(); // stored in the new stream, and maybe seen by the core subscription too
        await until('the feed consuming the stream again', () => feed.mode() === 'jetstream', 5000);
        await publish(); // only through JetStream now
        await until('the error sent once the stream is back', () => received() >= 4);

        // Deleted and re-created between two scans: a new stream under the old name.
        await jsm.streams.delete('ERRORS');
        await add();
        await sleep(400); // a few scans
        await publish();
        await until('the error sent into the stream re-created at once', () => received() >= 5);
        await publish(); // the last: anything counted twice before it has arrived by now (stream order)
        await until('the last error', () => received() >= 6);
        await sleep(200);

        const snap = store.flush();
        assert.equal(snap.counters.received.nats, 6, 'every error counted once');
        assert.equal(snap.counters.copies, 0, 'no copy delivered twice');
        for (let i = 1; i <= 6; i++)
          assert.equal(
            snap.rows.filter((r) => r.event.message === `error ${i}`).length,
            1,
            `error ${i} shown once`,
          );
        const gaps = snap.rows.filter((r) => r.gap);
        assert.equal(gaps.length, 2, 'each outage is a gap row');
        assert.ok(
          gaps.every((g) => g.gap!.to !== undefined && /ERRORS/.test(g.event.message)),
          'closed once the stream was back',
        );
        assert.equal(snap.counters.gaps, 2);
      } finally {
        await feed.stop();
        store.close();
        await jsm.streams.delete('ERRORS').catch(() => {});
      }
    });
  }
});
