// The bridge's two lifecycles (core/errorbus/bridge-lifecycle.ts), every state against every
// event: what it becomes and what the bridge must do.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  natsStep,
  socketStep,
  type NatsState,
  type SocketEvent,
  type SocketState,
} from '../../source/core/errorbus/bridge-lifecycle.js';

const CLOSED = 'closed (phase 3 zmq-off)';

describe('bridge socket lifecycle', () => {
  const cases: [SocketState, SocketEvent, SocketState, string[]][] = [
    ['running', { kind: 'phase', phase: 3 }, CLOSED, ['close-sockets', 'note-closed']],
    ['running', { kind: 'phase', phase: 1 }, 'running', []],
    ['running', { kind: 'phase', phase: undefined }, 'running', []],
    [CLOSED, { kind: 'phase', phase: 3 }, CLOSED, []],
    [CLOSED, { kind: 'phase', phase: 2 }, 'running', ['open-sockets', 'note-reopened']],
    [CLOSED, { kind: 'phase', phase: 0 }, 'running', ['open-sockets', 'note-reopened']],
    // A deleted or unreadable phase is not phase 3: the sockets open again.
    [CLOSED, { kind: 'phase', phase: undefined }, 'running', ['open-sockets', 'note-reopened']],
    ['stopping', { kind: 'phase', phase: 0 }, 'stopping', []],
    ['stopping', { kind: 'phase', phase: 3 }, 'stopping', []],
    ['stopped', { kind: 'phase', phase: 3 }, 'stopped', []],
    ['running', { kind: 'stop' }, 'stopping', ['close-sockets']],
    [CLOSED, { kind: 'stop' }, 'stopping', ['close-sockets']],
    ['stopping', { kind: 'stop' }, 'stopping', []],
    ['stopped', { kind: 'stop' }, 'stopped', []],
    ['stopping', { kind: 'drained' }, 'stopped', []],
    ['running', { kind: 'drained' }, 'running', []],
    ['stopped', { kind: 'drained' }, 'stopped', []],
    ['running', { kind: 'zmq-disconnect' }, 'running', ['count-gap']],
    // Closed by phase 3 or by a stop: a lost connection is ours, not a gap.
    [CLOSED, { kind: 'zmq-disconnect' }, CLOSED, []],
    ['stopping', { kind: 'zmq-disconnect' }, 'stopping', []],
    ['stopped', { kind: 'zmq-disconnect' }, 'stopped', []],
  ];
  for (const [from, event, to, effects] of cases)
    test(`${from} + ${JSON.stringify(event)} -> ${to} [${effects.join(', ')}]`, () => {
      assert.deepEqual(socketStep(from, event), { state: to, effects });
    });

  test('phase 3, rollback, phase 3 again: close, open, close', () => {
    let state: SocketState = 'running';
    const done: string[] = [];
    for (const phase of [1, 3, 3, 2, 3]) {
      const step = socketStep(state, { kind: 'phase', phase });
      state = step.state;
      done.push(...step.effects);
    }
    assert.equal(state, CLOSED);
    assert.deepEqual(done, [
      'close-sockets',
      'note-closed',
      'open-sockets',
      'note-reopened',
      'close-sockets',
      'note-closed',
    ]);
  });
});

describe('bridge NATS lifecycle', () => {
  const cases: [NatsState, 'down' | 'up', NatsState, string[]][] = [
    ['connected', 'down', 'disconnected', ['requeue-pending']],
    // disconnect then reconnecting: the pending ones were requeued once already.
    ['disconnected', 'down', 'disconnected', []],
    ['disconnected', 'up', 'connected', ['log-back', 'resume-pump']],
    ['connected', 'up', 'connected', ['log-back', 'resume-pump']],
  ];
  for (const [from, kind, to, effects] of cases)
    test(`${from} + ${kind} -> ${to} [${effects.join(', ')}]`, () => {
      assert.deepEqual(natsStep(from, { kind }), { state: to, effects });
    });
});
