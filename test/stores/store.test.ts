// The store base (source/stores/store.ts) on a hand-moved clock: a flood of changes is one
// notification per wait, and stopping a store undoes every timer it owns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditLog } from '../../source/adapters/audit.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { AuditStore } from '../../source/stores/audit-store.js';
import { ErrorStore } from '../../source/stores/error-store.js';
import { AgentHealthFeed } from '../../source/stores/health-feed.js';
import { ManualClock } from '../support/clock.js';

const error = (n: number) =>
  new TextEncoder().encode(
    JSON.stringify({ error_id: `e${n}`, agent_name: 'Alpha', severity: 'error', message: `m${n}` }),
  );

test('the error store: a flood is one notification per notifyMs, the first change starting the wait', () => {
  const clock = new ManualClock();
  const store = new ErrorStore({ notifyMs: 100 }, clock);
  let heard = 0;
  store.subscribe(() => heard++);
  for (let i = 0; i < 1000; i++) store.nats('errors.events', error(i), 'mainpc', clock.now());
  assert.equal(heard, 0, 'nothing is told per message');
  clock.advance(99);
  assert.equal(heard, 0);
  clock.advance(1);
  assert.equal(heard, 1, 'one notification for the whole flood');
  assert.equal(store.getSnapshot().counters.received.nats, 1000);
  clock.advance(500);
  assert.equal(heard, 1, 'no change, no notification');
  store.nats('errors.events', error(1000), 'mainpc', clock.now());
  clock.advance(50);
  store.nats('errors.events', error(1001), 'mainpc', clock.now());
  clock.advance(50);
  assert.equal(heard, 2, 'both changes in one notification, 100 ms after the first');
  // Paused: the counters still move, at the same pace.
  store.setPaused(true);
  assert.equal(heard, 3, 'pausing is heard at once');
  store.nats('errors.events', error(1002), 'mainpc', clock.now());
  clock.advance(100);
  assert.equal(heard, 4);
  assert.equal(store.getSnapshot().counters.received.nats, 1003);
  assert.equal(store.getSnapshot().paused, true);
  store.close();
  store.nats('errors.events', error(1003), 'mainpc', clock.now());
  clock.advance(1000);
  assert.equal(heard, 4, 'closed: never told again');
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('flush() builds now; the notification pending then has nothing left to tell', () => {
  const clock = new ManualClock();
  const store = new ErrorStore({ notifyMs: 100 }, clock);
  let heard = 0;
  store.subscribe(() => heard++);
  store.nats('errors.events', error(1), 'mainpc', clock.now());
  assert.equal(store.flush().counters.received.nats, 1);
  clock.advance(100);
  assert.equal(heard, 0, 'flushed: nothing left to tell');
  store.close();
});

test('a feed goes stale on the clock, and stop() leaves no timer', () => {
  const clock = new ManualClock();
  const machine = { id: 'mainpc', agents: [{ name: 'Alpha' }] } as unknown as Machine;
  const feed = new AgentHealthFeed([machine], { notifyMs: 10, minStaleMs: 1000 }, clock);
  feed.start();
  assert.equal(clock.pending, 1, 'the staleness check');
  feed.stop();
  assert.equal(clock.pending, 0);
});

test('the audit store follows the file on its interval, and close() stops it', () => {
  const clock = new ManualClock();
  const log = auditLog(join(mkdtempSync(join(tmpdir(), 'opsdeck-store-')), 'audit.jsonl'));
  const store = new AuditStore(log, clock);
  let heard = 0;
  store.subscribe(() => heard++);
  store.start(1000);
  assert.equal(store.getSnapshot().total, 0);
  log.append({ machine: 'pc2', action: 'throttle.set', args: { level: 2 }, outcome: 'ok' });
  assert.equal(store.getSnapshot().total, 0, 'not before its next look');
  clock.advance(1000);
  assert.equal(store.getSnapshot().total, 1);
  assert.equal(store.getSnapshot().throttle.pc2?.level, 2);
  const seen = heard;
  clock.advance(5000);
  assert.equal(heard, seen, 'unchanged file: not read, nothing told');
  store.close();
  assert.equal(clock.pending, 0, 'its interval is gone');
});
