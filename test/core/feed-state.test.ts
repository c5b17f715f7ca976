// The JetStream error feed's lifecycle as a table (core/errorbus/feed-state.ts): every state
// against every event, and the wait before the next look at the streams in each state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  feedStep,
  scanWait,
  type FeedEvent,
  type FeedState,
} from '../../source/core/errorbus/feed-state.js';

const STATES: FeedState[] = [
  'connecting',
  'waiting-for-stream',
  'consuming',
  'reconnecting',
  'closed',
];

const EVENTS: Array<[string, FeedEvent]> = [
  ['no-stream', { kind: 'no-stream' }],
  ['attached 2', { kind: 'attached', consumers: 2 }],
  ['attached 0', { kind: 'attached', consumers: 0 }],
  ['detached, 1 left', { kind: 'detached', consumers: 1 }],
  ['detached, none left', { kind: 'detached', consumers: 0 }],
  ['failed', { kind: 'failed' }],
  ['stop', { kind: 'stop' }],
];

// Rows: states in STATES order; columns: events in EVENTS order.
const TABLE: Record<FeedState, FeedState[]> = {
  connecting: [
    'waiting-for-stream',
    'consuming',
    'reconnecting',
    'connecting',
    'waiting-for-stream',
    'reconnecting',
    'closed',
  ],
  'waiting-for-stream': [
    'waiting-for-stream',
    'consuming',
    'reconnecting',
    'waiting-for-stream',
    'waiting-for-stream',
    'reconnecting',
    'closed',
  ],
  consuming: [
    'waiting-for-stream',
    'consuming',
    'reconnecting',
    'consuming',
    'waiting-for-stream',
    'reconnecting',
    'closed',
  ],
  reconnecting: [
    'waiting-for-stream',
    'consuming',
    'reconnecting',
    'reconnecting',
    'waiting-for-stream',
    'reconnecting',
    'closed',
  ],
  closed: ['closed', 'closed', 'closed', 'closed', 'closed', 'closed', 'closed'],
};

test('every state against every event', () => {
  for (const from of STATES)
    EVENTS.forEach(([name, event], i) =>
      assert.equal(feedStep(from, event), TABLE[from][i], `${from} + ${name}`),
    );
});

test('the wait before the next look: none while connecting or closed; a failed look keeps its own', () => {
  const waits = { retryMs: 2000, rescanMs: 3000 };
  assert.equal(scanWait('connecting', waits, 500), undefined);
  assert.equal(scanWait('closed', waits, 500), undefined);
  assert.equal(scanWait('waiting-for-stream', waits, 500), 2000);
  assert.equal(scanWait('consuming', waits, 500), 3000);
  assert.equal(scanWait('reconnecting', waits, 500), 500);
});
