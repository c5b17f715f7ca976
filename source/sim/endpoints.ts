// The simulator's listening endpoints: ZMQ REP, HTTP, bare TCP and the error-bus PUB with a
// serial outbox. Each opener binds (or reports why it could not) and returns its closer.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import * as zmq from 'zeromq';
import { ZMQ_MAX_MESSAGE } from '../adapters/zmq-limits.js';

/** One context for every socket: libzmq's default cap (1023 sockets) is too small for 1,000 agents. */
export const newZmqContext = (): zmq.Context =>
  new zmq.Context({ maxSockets: 32768, blocky: false });

export type BindFailure = { ok: false; code: string; message: string };
export type Opened<T> = ({ ok: true } & T) | BindFailure;

const failure = (error: unknown): BindFailure => {
  const e = error as { code?: string; message?: string };
  return { ok: false, code: e.code ?? 'ERROR', message: e.message ?? String(error) };
};

/**
 * libzmq closes a socket's listener in its I/O thread, after close() returns: a second start
 * right after a stop could still find the port taken. So closing waits until a plain bind of
 * the port succeeds (at most `ms`).
 */
export async function released(host: string, port: number, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createTcpServer();
      probe.once('error', () => resolve(false));
      probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
    });
    if (free) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const endpointParts = (endpoint: string): { host: string; port: number } | undefined => {
  const m = /^tcp:\/\/([\d.]+):(\d+)$/.exec(endpoint);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
};

/** A reply to send, or `wedge`: never reply, leaving the REP socket stuck as upstream's would. */
export type RepAnswer = { send: string | Uint8Array } | { wedge: true };

export async function openRep(
  context: zmq.Context,
  endpoint: string,
  handle: (payload: Uint8Array) => RepAnswer | Promise<RepAnswer>,
): Promise<Opened<{ close: () => Promise<void> }>> {
  const sock = new zmq.Reply({ context, linger: 0, maxMessageSize: ZMQ_MAX_MESSAGE.reply });
  try {
    await sock.bind(endpoint);
  } catch (error) {
    sock.close();
    return failure(error);
  }
  void (async () => {
    try {
      for await (const frames of sock) {
        const answer = await handle(frames[0] ?? new Uint8Array());
        if ('wedge' in answer) return; // the socket stays bound and silent until closed
        if (sock.closed) return;
        await sock.send(answer.send);
      }
    } catch {
      // closed while receiving or sending: the agent was killed or the sim is stopping
    }
  })();
  return {
    ok: true,
    close: async () => {
      sock.close();
      const at = endpointParts(endpoint);
      if (at) await released(at.host, at.port);
    },
  };
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * How long an idle keep-alive connection stays open. Upstream's HTTP services are FastAPI under
 * uvicorn, whose `timeout_keep_alive` defaults to 5 s (upstream-protocols b3): a client polling
 * every 2 s keeps one connection. BaseAgent's HTTP mirror keeps the sim's older 1 s (what its
 * server does is not described: not changed without evidence).
 */
export const KEEP_ALIVE_MS = { service: 5000, mirror: 1000 } as const;

export async function openHttp(
  host: string,
  port: number,
  handle: (method: string, url: string) => HttpAnswer | Promise<HttpAnswer>,
  keepAliveMs: number = KEEP_ALIVE_MS.mirror,
): Promise<Opened<{ close: () => Promise<void> }>> {
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    void (async () => {
      try {
        const answer = await handle(req.method ?? 'GET', req.url ?? '/');
        res.writeHead(answer.status, {
          'Content-Type': answer.contentType,
          'Content-Length': Buffer.byteLength(answer.body),
        });
        res.end(req.method === 'HEAD' ? undefined : answer.body);
      } catch {
        res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = keepAliveMs;
  const listening = await new Promise<true | BindFailure>((resolve) => {
    server.once('error', (error) => resolve(failure(error)));
    server.listen({ host, port, exclusive: true }, () => resolve(true));
  });
  if (listening !== true) return listening;
  server.on('error', () => undefined); // after listen (EMFILE on accept): keep serving the rest
  return {
    ok: true,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port a hub's own transport (gRPC, REST, metrics) would hold: accepts and hangs up. */
export async function openTcp(
  host: string,
  port: number,
): Promise<Opened<{ close: () => Promise<void> }>> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.end();
  });
  const listening = await new Promise<true | BindFailure>((resolve) => {
    server.once('error', (error) => resolve(failure(error)));
    server.listen({ host, port, exclusive: true }, () => resolve(true));
  });
  if (listening !== true) return listening;
  server.on('error', () => undefined);
  return {
    ok: true,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A PUB socket with a bounded queue in front: zeromq.js allows one send in flight per socket,
 * and a flood must cost memory up to the bound only (drops are counted, as a HWM would).
 */
const EMPTY: (string | Uint8Array)[] = [];

export class PubOutbox {
  readonly sock: zmq.Publisher;
  // A queue with a moving head: Array.shift() on a 20k-long array is O(n) per message.
  private queue: (string | Uint8Array)[][] = [];
  private head = 0;
  private pumping = false;
  private endpoint: string | undefined;
  sent = 0;
  dropped = 0;
  closed = false;

  constructor(
    context: zmq.Context,
    readonly limit = 20_000,
    sendHighWaterMark = 100_000,
  ) {
    // sendTimeout 0: a PUB never blocks (it drops at the HWM), and without it zeromq.js resolves
    // only 512 sends per event-loop turn, which a busy loop turns into a trickle.
    this.sock = new zmq.Publisher({ context, linger: 0, sendHighWaterMark, sendTimeout: 0 });
  }

  async bind(endpoint: string): Promise<BindFailure | undefined> {
    try {
      await this.sock.bind(endpoint);
      this.endpoint = endpoint;
      return undefined;
    } catch (error) {
      void this.close();
      return failure(error);
    }
  }

  /** Connects (as upstream's ErrorPublisher does): never fails; ZMQ retries in the background. */
  connect(endpoint: string): void {
    this.sock.connect(endpoint);
  }

  push(frames: (string | Uint8Array)[]): boolean {
    if (this.closed || this.queue.length - this.head >= this.limit) {
      this.dropped += 1;
      return false;
    }
    this.queue.push(frames);
    if (!this.pumping) void this.pump();
    return true;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.head < this.queue.length && !this.closed) {
        const frames = this.queue[this.head]!;
        this.queue[this.head++] = EMPTY;
        if (this.head >= 4096 && this.head * 2 >= this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        await this.sock.send(frames);
        this.sent += 1;
        // Sends resolve synchronously now: yield now and then so replies and timers still run.
        if (this.sent % 1000 === 0) await new Promise((r) => setImmediate(r));
      }
    } catch {
      // closed mid-send
    } finally {
      this.pumping = false;
    }
  }

  /** Closes the socket; resolves once its port is free again. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropped += this.queue.length - this.head;
    this.queue = [];
    this.head = 0;
    this.sock.close();
    const at = this.endpoint ? endpointParts(this.endpoint) : undefined;
    if (at) await released(at.host, at.port);
  }
}
