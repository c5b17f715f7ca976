// The JetStream error feed's lifecycle (adapters/nats-errors.ts), as a pure reducer so the
// transitions are a table (test/core/feed-state.test.ts). What each state means for messages:
//
//   connecting          the first look at the server's streams is under way; nothing consumed
//   waiting-for-stream  no error stream (or JetStream off): a core subscription on errors.>
//                       stands in, and the streams are looked for again every retryMs
//   consuming           JetStream consumers on one or more error streams; new streams are looked
//                       for every rescanMs, and one that went away is let go
//   reconnecting        a look or an attach failed (the connection is down, a stream vanished
//                       between list and info): consumers still attached keep delivering, and
//                       it is tried again after the same wait
//   closed              stopped: nothing is consumed or scheduled again

export type FeedState =
  'connecting' | 'waiting-for-stream' | 'consuming' | 'reconnecting' | 'closed';

export type FeedEvent =
  /** The server lists no error stream: the core subscription is open. */
  | { kind: 'no-stream' }
  /** An attach round ended with `consumers` running. */
  | { kind: 'attached'; consumers: number }
  /** A consumed stream went away; `consumers` still run (none: the core subscription is open). */
  | { kind: 'detached'; consumers: number }
  /** A look at the streams or an attach threw. */
  | { kind: 'failed' }
  | { kind: 'stop' };

export function feedStep(state: FeedState, event: FeedEvent): FeedState {
  if (state === 'closed' || event.kind === 'stop') return 'closed';
  switch (event.kind) {
    case 'no-stream':
      return 'waiting-for-stream';
    case 'attached':
      // Streams listed but none attached (each re-created meanwhile): the next look takes them.
      return event.consumers > 0 ? 'consuming' : 'reconnecting';
    case 'detached':
      return event.consumers > 0 ? state : 'waiting-for-stream';
    case 'failed':
      return 'reconnecting';
  }
}

/** How long until the next look at the streams, in a state (undefined: none is scheduled). */
export function scanWait(
  state: FeedState,
  waits: { retryMs: number; rescanMs: number },
  before: number,
): number | undefined {
  if (state === 'closed' || state === 'connecting') return undefined;
  if (state === 'waiting-for-stream') return waits.retryMs;
  if (state === 'consuming') return waits.rescanMs;
  return before; // reconnecting: the wait of the look that failed
}
