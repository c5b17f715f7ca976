// The JetStream error feed's lifecycle on a real nats-server (loopback): no stream (the core
// subscription stands in), a stream created (consumed), the stream deleted (the core subscription
// again, a gap row), stopped. Each state is the one core/errorbus/feed-state.ts names, and what
// reaches the ErrorStore in each is what that state promises.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageType } from 'nats';
import { natsErrors } from '../../source/adapters/nats-errors.js';
import { natsOnLoopback, natsSkip as skip, sleep, until } from '../support/nats.js';
import { ErrorStore } from '../../source/stores/error-store.js';

const HOST = '127.0.17.2';

describe('the NATS error feed: its states on a real server', { skip }, () => {
  const live = natsOnLoopback(HOST);

  test('waiting-for-stream -> consuming -> waiting-for-stream -> closed', async () => {
    const store = new ErrorStore({ notifyMs: 10 });
    const feed = await natsErrors(live.nc, store, {
      machineOf: () => 'mainpc',
      retryMs: 100,
      rescanMs: 100,
    });
    let n = 0;
    const publish = async () => {
      n++;
      live.nc.publish(
        'errors.events',
        JSON.stringify({
          error_id: `s${n}`,
          agent_name: 'Alpha',
          severity: 'error',
          message: `${n}`,
        }),
      );
      await live.nc.flush();
    };
    const received = () => store.flush().counters.received.nats;
    const jsm = await live.nc.jetstreamManager();
    try {
      // No error stream: the core subscription stands in, and what is published arrives.
      assert.equal(feed.state(), 'waiting-for-stream');
      assert.equal(feed.mode(), 'core');
      await publish();
      await until('the error on the core subscription', () => received() === 1);

      await jsm.streams.add({
        name: 'ERRORS',
        subjects: ['errors.>'],
        storage: StorageType.Memory,
      });
      await until('the stream consumed', () => feed.state() === 'consuming');
      assert.equal(feed.mode(), 'jetstream');
      assert.deepEqual([...feed.streams], ['ERRORS']);
      await publish();
      await until('the error from the stream', () => received() === 2);

      await jsm.streams.delete('ERRORS');
      await until('the stream let go', () => feed.state() === 'waiting-for-stream');
      assert.equal(feed.mode(), 'core');
      assert.ok(
        store.flush().rows.some((r) => r.event.message.includes('JetStream stream ERRORS')),
        'the outage is a gap row',
      );
      await publish();
      await until('the error on the core subscription again', () => received() === 3);
    } finally {
      await feed.stop();
      store.close();
    }
    assert.equal(feed.state(), 'closed');
    // Closed: nothing is consumed any more.
    await publish();
    await sleep(300);
    assert.equal(received(), 3);
  });
});
