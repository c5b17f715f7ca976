// ZMQ request/reply probes with the Lazy Pirate rule: a REQ whose request timed out is stuck in
// its send/receive state machine, so its connection is closed and replaced, never reused.
//
// tcp:// and ipc:// endpoints are spoken to by ZmtpRequester (ZMTP over a kept net.Socket, no
// libzmq); anything else (inproc://, a tcp:// with a source address...) by a zeromq.js Request,
// loaded only then. Neither speaks CURVE: the probes never did (upstream's CURVE is off on main,
// upstream-protocols d); a CURVE peer answers neither, and is told apart in the timeout's reason.
import type { Request } from 'zeromq';
import { refused } from './tcp-probe.js';
import { ZMQ_MAX_MESSAGE } from './zmq-limits.js';
import { ZmtpRequester, zmtpTarget, type ZmqProbeResult } from './zmtp-req.js';

export type { ZmqProbeResult } from './zmtp-req.js';
export { refused } from './tcp-probe.js';

/** What every REQ client here is: one request at a time, `close()` ends it. */
export interface ReqProbe {
  readonly endpoint: string;
  request(payload: string | Uint8Array): Promise<ZmqProbeResult>;
  close(): void;
}

/** One reusable REQ connection to one endpoint; replaced after any failure. */
export class ZmqPirate implements ReqProbe {
  private readonly via: ReqProbe;

  constructor(
    readonly endpoint: string,
    timeoutMs: number,
  ) {
    const target = zmtpTarget(endpoint);
    this.via = target
      ? new ZmtpRequester(endpoint, target, timeoutMs, ZMQ_MAX_MESSAGE.reply)
      : new LibzmqPirate(endpoint, timeoutMs);
  }

  request(payload: string | Uint8Array): Promise<ZmqProbeResult> {
    return this.via.request(payload);
  }

  close(): void {
    this.via.close();
  }
}

/** The same through a zeromq.js Request, for the endpoints ZmtpRequester does not speak. */
export class LibzmqPirate implements ReqProbe {
  private socket: Request | undefined;
  private closed = false;

  constructor(
    readonly endpoint: string,
    private readonly timeoutMs: number,
  ) {}

  async request(payload: string | Uint8Array): Promise<ZmqProbeResult> {
    if (this.closed) return { kind: 'error', reason: 'probe closed' };
    const started = performance.now();
    try {
      const socket = (this.socket ??= await this.open());
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

  private async open(): Promise<Request> {
    // Loaded here: a console whose probes all go through ZmtpRequester never needs it for them.
    const { Request } = await import('zeromq');
    const socket = new Request({
      linger: 0,
      receiveTimeout: this.timeoutMs,
      sendTimeout: this.timeoutMs,
      maxMessageSize: ZMQ_MAX_MESSAGE.reply,
    });
    socket.connect(this.endpoint);
    if (this.closed) socket.close();
    return socket;
  }

  private drop(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}
