// ZMQ request/reply probes with the Lazy Pirate rule: a REQ socket whose request timed out is
// stuck in its send/receive state machine, so it is closed and replaced, never reused.
import { connect as tcpConnect } from 'node:net';
import { Request } from 'zeromq';
import { ZMQ_MAX_MESSAGE } from './zmq-limits.js';

export type ZmqProbeResult =
  | { kind: 'reply'; text: string; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'refused'; reason: string }
  | { kind: 'error'; reason: string };

/** One reusable REQ connection to one endpoint; replaced after any failure. */
export class ZmqPirate {
  private socket: Request | undefined;
  private closed = false;

  constructor(
    readonly endpoint: string,
    private readonly timeoutMs: number,
  ) {}

  async request(payload: string | Uint8Array): Promise<ZmqProbeResult> {
    if (this.closed) return { kind: 'error', reason: 'probe closed' };
    const socket = (this.socket ??= this.open());
    const started = performance.now();
    try {
      await socket.send(payload);
      const [reply] = await socket.receive();
      return {
        kind: 'reply',
        text: reply ? reply.toString('utf8') : '',
        latencyMs: performance.now() - started,
      };
    } catch (error) {
      this.drop();
      const code = (error as { code?: string }).code;
      if (code === 'EAGAIN') return (await refused(this.endpoint)) ?? { kind: 'timeout' };
      return { kind: 'error', reason: (error as Error).message };
    }
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  private open(): Request {
    const socket = new Request({
      linger: 0,
      receiveTimeout: this.timeoutMs,
      sendTimeout: this.timeoutMs,
      maxMessageSize: ZMQ_MAX_MESSAGE.reply,
    });
    socket.connect(this.endpoint);
    return socket;
  }

  private drop(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

/**
 * ZMQ hides connection failures (it retries forever), so after a timeout a plain TCP connect
 * tells a dead agent (refused: definitive) from a slow one (accepted: maybe just busy).
 */
export function refused(
  endpoint: string,
  timeoutMs = 250,
): Promise<{ kind: 'refused'; reason: string } | undefined> {
  const match = /^tcp:\/\/([^:]+):(\d+)$/.exec(endpoint);
  if (!match) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: match[1]!, port: Number(match[2]) });
    const done = (value: { kind: 'refused'; reason: string } | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(
        error.code === 'ECONNREFUSED'
          ? { kind: 'refused', reason: `connection refused on ${match[1]}:${match[2]}` }
          : { kind: 'refused', reason: `${error.code ?? 'error'} on ${match[1]}:${match[2]}` },
      ),
    );
  });
}
