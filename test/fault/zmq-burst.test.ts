// zmqErrors stores what it receives in bursts (source/adapters/error-sources.ts): a flood drained
// from a full queue must reach the store whole, every message once, however the bursts fall
// (a burst ends at 512 messages, when the queue is empty, or when zeromq.js yields).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Publisher } from 'zeromq';
import { zmqErrors } from '../../source/adapters/error-sources.js';
import { ErrorStore } from '../../source/stores/error-store.js';
import { host, sleep, until } from './helpers.js';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const frame = (i: number) =>
  `ERROR:${JSON.stringify({ message_type: 'error_report', source: `MainPC.Agent${i % 7}`, timestamp: '2026-11-24T12:00:00', error_data: { error_id: `id-${i}`, error_type: 'TimeoutError', severity: 'high', details: { message: `timeout ${i % 3}` } } })}`;

test('a flood drained in bursts reaches the store whole: every frame counted once', async () => {
  const endpoint = `tcp://${host(61)}:17390`;
  const pub = new Publisher({ sendHighWaterMark: 0, linger: 0 });
  await pub.bind(endpoint);
  cleanups.push(() => pub.close());
  const store = new ErrorStore({ notifyMs: 10 });
  cleanups.push(() => store.close());
  const stop = zmqErrors(endpoint, 'mainpc', store);
  cleanups.push(stop);
  await until('connected', () => store.flush().zmqLinks.mainpc?.connected);
  await sleep(200); // the subscription reaches the PUB after the handshake
  const total = 5000;
  // Two waves: one sent all at once (bursts of 512 from a full queue), then a trickle (bursts of one).
  for (let i = 0; i < 4000; i++) await pub.send(frame(i));
  for (let i = 4000; i < total; i++) {
    await pub.send(frame(i));
    if (i % 100 === 0) await sleep(1);
  }
  const counters = await until(
    'all stored',
    () => {
      const c = store.flush().counters;
      return c.received.zmq >= total ? c : undefined;
    },
    20_000,
    () => JSON.stringify(store.flush().counters),
  );
  await sleep(100);
  assert.equal(store.flush().counters.received.zmq, total, 'each frame once');
  assert.equal(counters.malformed, 0);
  assert.equal(
    counters.shown + counters.collapsed + counters.copies + counters.matched,
    total,
    'every frame is a row, folded into one, or a copy',
  );
});
