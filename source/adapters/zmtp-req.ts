// A ZMQ REQ spoken over a kept net.Socket (the protocol in core/zmtp/req-peer.ts), for health
// probes and other one-request-at-a-time clients: no libzmq socket, so a probe is one write and
// one read on the event loop, and libzmq's I/O thread (and its wake-ups of the event loop) is
// not involved. Measured on 50 REPs in rounds: ~35-40 µs of CPU a probe, all threads, against
// ~50-64 µs through a zeromq.js Request; what is left is mostly the write system call itself.
//
// It keeps what a libzmq REQ with the Lazy Pirate rule answers, case by case:
// - the connection is kept after a reply (a REP is ready for the next request then);
// - no reply within the timeout: the connection is closed (Lazy Pirate: a REQ whose request
//   timed out is never reused) and a plain TCP connect tells refused from timeout, as before;
// - the connection fails during a request (peer closed, not ZMQ, another socket type, CURVE
//   or PLAIN security, garbage, a reply over the size cap): libzmq would drop it and reconnect,
//   and its REQ would wait out the timeout (a REQ never resends), so this waits out the timeout
//   too and answers the same, with what went wrong as `reason`;
// - a refused connection is tried again every 100 ms until the timeout, as libzmq reconnects
//   (an agent that binds meanwhile answers), then the same TCP check says refused: a dead
//   agent's verdict and its timing are what they were (answering a refusal at once made the
//   prober find moved agents by a port scan before the process table's evidence arrived).
import { connect, type Socket } from 'node:net';
import { ReqPeer } from '../core/zmtp/req-peer.js';
import type { ZmqProbeResult } from '../core/seams/prober.js';
import { refused } from './tcp-probe.js';

export type { ZmqProbeResult };

export type ZmtpTarget = { host: string; port: number } | { path: string };

/** tcp://host:port, tcp://[v6]:port and ipc://path; undefined for what this does not speak. */
export function zmtpTarget(endpoint: string): ZmtpTarget | undefined {
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/;[\]*]+):(\d{1,5})$/.exec(endpoint);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) return undefined;
    return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port };
  }
  const ipc = /^ipc:\/\/(.+)$/.exec(endpoint);
  // `ipc://@name` is Linux's abstract namespace: node spells it with a leading NUL.
  if (ipc) return { path: ipc[1]!.startsWith('@') ? `\0${ipc[1]!.slice(1)}` : ipc[1]! };
  return undefined;
}

interface Waiting {
  resolve(result: ZmqProbeResult): void;
  timer: NodeJS.Timeout;
  started: number;
  /** Frames to send once the handshake ends (the connection is new). */
  body?: Uint8Array;
  /** What broke the connection while this request waited. */
  failure?: string;
  /** The next connection attempt after a refusal. */
  retry?: NodeJS.Timeout;
}

/** libzmq's default reconnect interval (ZMQ_RECONNECT_IVL). */
const RECONNECT_MS = 100;

/** Why a peer hung up, from how far the handshake got. */
const hangUp = (peer: ReqPeer): string =>
  peer.state === 'greeting'
    ? 'the peer hung up during the greeting (not a ZMTP 3 peer, or it is going away)'
    : peer.state === 'ready'
      ? `the peer hung up before its READY (${peer.peer})`
      : `the peer closed the connection (${peer.peer})`;

/** Every requester reads into this one buffer; a read is handled before the next begins. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const where = (t: ZmtpTarget): string =>
  'path' in t ? t.path.replace(/^\0/, '@') : `${t.host}:${t.port}`;

export class ZmtpRequester {
  private socket: Socket | undefined;
  private peer: ReqPeer | undefined;
  private waiting: Waiting | undefined;
  private closed = false;
  private lastText: string | undefined;
  private lastBytes: Uint8Array | undefined;

  constructor(
    readonly endpoint: string,
    private readonly target: ZmtpTarget,
    private readonly timeoutMs: number,
    /** The largest reply (all frames) read; a bigger one drops the connection from its header. */
    private readonly maxMessage: number,
  ) {}

  request(payload: string | Uint8Array): Promise<ZmqProbeResult> {
    if (this.closed) return Promise.resolve({ kind: 'error', reason: 'probe closed' });
    if (this.waiting)
      return Promise.resolve({ kind: 'error', reason: 'a request is already waiting (REQ)' });
    const body = typeof payload === 'string' ? this.encode(payload) : payload;
    return new Promise((resolve) => {
      const waiting: Waiting = {
        resolve,
        started: performance.now(),
        timer: setTimeout(() => void this.expire(waiting), this.timeoutMs),
      };
      this.waiting = waiting;
      const socket = this.socket;
      if (socket && this.peer?.state === 'open') {
        socket.ref();
        socket.write(this.peer.request(body));
        return;
      }
      waiting.body = body;
      if (socket) socket.ref();
      else this.open();
    });
  }

  close(): void {
    this.closed = true;
    this.drop();
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      clearTimeout(waiting.timer);
      clearTimeout(waiting.retry);
      waiting.resolve({ kind: 'error', reason: 'probe closed' });
    }
  }

  /** A health probe sends the same few requests again and again: encode each once. */
  private encode(text: string): Uint8Array {
    if (text !== this.lastText) {
      this.lastText = text;
      this.lastBytes = Buffer.from(text, 'utf8');
    }
    return this.lastBytes!;
  }

  private open(): void {
    const t = this.target;
    const peer = new ReqPeer(this.maxMessage);
    // Reads land in one shared buffer and reach `data` directly: no stream machinery and no
    // 64 KiB allocation per read (each was an external-memory hint that brought GCs forward).
    const onread = {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        this.data(socket, peer, buf.subarray(0, n));
        return true;
      },
    };
    const socket =
      'path' in t
        ? connect({ path: t.path, onread })
        : connect({ host: t.host, port: t.port, onread });
    this.socket = socket;
    this.peer = peer;
    let connected = false;
    socket.setNoDelay(true);
    socket.once('connect', () => {
      connected = true;
      socket.write(peer.hello());
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (connected) return this.broken(socket, `${error.code ?? 'error'}: ${error.message}`);
      if (socket !== this.socket) return;
      // Nothing listens (yet): libzmq's REQ reconnects every 100 ms (reconnect_ivl) until its
      // timeout; so does this, and the timeout's TCP check gives the verdict.
      this.drop();
      const waiting = this.waiting;
      if (!waiting) return;
      waiting.failure = `${error.code ?? 'ERROR'} on ${where(t)}`;
      waiting.retry = setTimeout(() => {
        delete waiting.retry;
        if (waiting === this.waiting && !this.socket && !this.closed) this.open();
      }, RECONNECT_MS);
    });
    socket.on('close', () => this.broken(socket, hangUp(peer)));
  }

  /** `chunk` is a view into READ_BUFFER: everything is read from it before this returns. */
  private data(socket: Socket, peer: ReqPeer, chunk: Uint8Array): void {
    if (socket !== this.socket) return;
    const step = peer.receive(chunk);
    if (step.failed) return this.broken(socket, `${step.failed} (${where(this.target)})`);
    const out = step.write;
    const waiting = this.waiting;
    if (step.opened && waiting?.body) {
      out.push(peer.request(waiting.body));
      delete waiting.body;
    }
    if (out.length === 1) socket.write(out[0]!);
    else if (out.length > 1) socket.write(Buffer.concat(out));
    if (step.reply && waiting) {
      const first = step.reply[0]!;
      this.settle({
        kind: 'reply',
        text: Buffer.from(first.buffer, first.byteOffset, first.byteLength).toString('utf8'),
        latencyMs: performance.now() - waiting.started,
      });
    }
  }

  /** The connection is unusable: drop it; a request waiting waits out its timeout (see top). */
  private broken(socket: Socket, reason: string): void {
    if (socket !== this.socket) return;
    this.drop();
    if (this.waiting) this.waiting.failure ??= reason;
  }

  private async expire(waiting: Waiting): Promise<void> {
    if (waiting !== this.waiting) return;
    this.waiting = undefined;
    clearTimeout(waiting.retry);
    this.drop(); // Lazy Pirate: a REQ whose request timed out is never used again
    const gone = await refused(this.endpoint);
    waiting.resolve(
      gone ??
        (waiting.failure ? { kind: 'timeout', reason: waiting.failure } : { kind: 'timeout' }),
    );
  }

  private settle(result: ZmqProbeResult): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    clearTimeout(waiting.timer);
    clearTimeout(waiting.retry);
    // Idle between probes: the kept connection must not hold the process open.
    this.socket?.unref();
    waiting.resolve(result);
  }

  private drop(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    this.peer = undefined;
    socket.destroy();
  }
}
