// The bridge's ZMQ side (agent/bridge.ts): one SUB per target, bound where upstream publishers
// connect a PUB and nothing listens, connected where a PUB is bound.
import * as zmq from 'zeromq';
import { ZMQ_MAX_MESSAGE } from '../adapters/zmq-limits.js';
import type { BridgeTarget } from '../core/errorbus/topology.js';

export const endpointOf = (t: BridgeTarget): string => `tcp://${t.host}:${t.port}`;

export interface SocketHooks {
  machine: string;
  log: (line: string) => void;
  /** Every message a SUB receives, with where it came from. */
  onFrames: (frames: Buffer[], endpoint: string) => void;
  /** A connected SUB lost its PUB. */
  onDisconnect: () => void;
  /** Each target once its SUB is open, with what it did (bound, connected, fell back). */
  onOpened: (index: number, endpoint: string, state: string) => void;
}

/** Binds, retrying while the port is still held; undefined when bound, else the error code. */
async function bindWithRetry(sub: zmq.Subscriber, endpoint: string): Promise<string | undefined> {
  // libzmq frees a closed listener in the background: a reopen right after a close (phase 3
  // rolled back, a restart) may find the port still held for a moment (seconds on a loaded
  // machine: CI saw over 2).
  let failure: string | undefined;
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      await sub.bind(endpoint);
      return undefined;
    } catch (error) {
      failure = (error as { code?: string }).code ?? 'error';
      if (failure !== 'EADDRINUSE') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return failure;
}

/** Binds a SUB, or connects it when the port is taken; says which. */
async function bindOrConnect(
  sub: zmq.Subscriber,
  endpoint: string,
  hooks: SocketHooks,
): Promise<string> {
  const failure = await bindWithRetry(sub, endpoint);
  if (failure === undefined) return 'bound (SUB)';
  // Someone took the port since the plan: receive from it if it is a PUB.
  sub.connect(endpoint.replace('tcp://*:', 'tcp://127.0.0.1:'));
  hooks.log(
    `bridge ${hooks.machine}: cannot bind ${endpoint} (${failure}): connected a SUB instead; publishers connecting there reach the bridge only if a PUB is bound there (see opsdeck errorbus doctor)`,
  );
  return `bind failed (${failure}): connected instead`;
}

/** Opens a SUB per target, in order, and reads each until it is closed. */
export async function openSubscribers(
  targets: readonly BridgeTarget[],
  hooks: SocketHooks,
): Promise<zmq.Subscriber[]> {
  const opened: zmq.Subscriber[] = [];
  for (const [i, t] of targets.entries()) {
    const endpoint = endpointOf(t);
    // A generous HWM: past it ZMQ drops silently; the loop below empties it at once.
    const sub = new zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: 200_000,
      maxMessageSize: ZMQ_MAX_MESSAGE.errors,
    });
    let state: string;
    if (t.mode === 'bind') state = await bindOrConnect(sub, endpoint, hooks);
    else {
      sub.events.on('disconnect', hooks.onDisconnect);
      sub.connect(endpoint);
      state = 'connected (SUB)';
    }
    sub.subscribe();
    hooks.onOpened(i, endpoint, state);
    opened.push(sub);
    void (async () => {
      try {
        for await (const frames of sub) hooks.onFrames(frames, endpoint);
      } catch {
        /* closed */
      }
    })();
  }
  return opened;
}
