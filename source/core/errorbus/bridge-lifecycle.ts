// The bridge's connection lifecycle (agent/bridge.ts) as two small state machines, pure, so
// every transition is a table test (test/core/bridge-lifecycle.test.ts):
//
//   sockets  running --phase 3--> closed (phase 3 zmq-off) --phase 0..2--> running
//            running | closed --stop--> stopping --drained--> stopped
//   nats     connected --down--> disconnected --up--> connected
//
// A transition returns the next state and the effects the bridge must carry out, in order;
// an event that does not apply in a state returns the same state and no effect.

/** The bridge's ZMQ side, as `opsdeck.<machine>.bridge` reports it. */
export type SocketState = 'running' | 'closed (phase 3 zmq-off)' | 'stopping' | 'stopped';

export type SocketEvent =
  /** The error-bus phase in KV changed; undefined when deleted or unreadable (not phase 3). */
  | { kind: 'phase'; phase: number | undefined }
  | { kind: 'stop' }
  | { kind: 'drained' }
  /** A SUB the bridge connected (to a bound PUB) lost its connection. */
  | { kind: 'zmq-disconnect' };

export type SocketEffect =
  | 'close-sockets' // close every SUB: phase 3 frees the error-bus port
  | 'open-sockets' // bind or connect every SUB again
  | 'count-gap' // what the PUB sent meanwhile went nowhere
  | 'note-closed' // mark the endpoints closed and say so
  | 'note-reopened';

export type NatsState = 'connected' | 'disconnected';

export type NatsEvent = { kind: 'down' } | { kind: 'up' };

export type NatsEffect =
  | 'requeue-pending' // what awaits an ack is unknown after a disconnect: send it again
  | 'log-back' // say how much is queued, before it goes
  | 'resume-pump'; // clear the back-off and send what is queued

export interface Step<S, E> {
  state: S;
  effects: E[];
}

export function socketStep(
  state: SocketState,
  event: SocketEvent,
): Step<SocketState, SocketEffect> {
  const stay = { state, effects: [] };
  switch (event.kind) {
    case 'phase': {
      const off = event.phase === 3;
      if (off && state === 'running')
        return { state: 'closed (phase 3 zmq-off)', effects: ['close-sockets', 'note-closed'] };
      if (!off && state === 'closed (phase 3 zmq-off)')
        return { state: 'running', effects: ['open-sockets', 'note-reopened'] };
      return stay;
    }
    case 'stop':
      if (state === 'stopping' || state === 'stopped') return stay;
      return { state: 'stopping', effects: ['close-sockets'] };
    case 'drained':
      return state === 'stopping' ? { state: 'stopped', effects: [] } : stay;
    case 'zmq-disconnect':
      return state === 'running' ? { state, effects: ['count-gap'] } : stay;
  }
}

export function natsStep(state: NatsState, event: NatsEvent): Step<NatsState, NatsEffect> {
  if (event.kind === 'down')
    return {
      state: 'disconnected',
      effects: state === 'connected' ? ['requeue-pending'] : [],
    };
  // A reconnect always resumes, even if no disconnect was seen (status events can coalesce).
  return { state: 'connected', effects: ['log-back', 'resume-pump'] };
}
