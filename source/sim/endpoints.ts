// The simulator's listening endpoints: ZMQ REP, HTTP, bare TCP and the error-bus PUB with a
// serial outbox. Each opener binds (or reports why it could not) and returns its closer.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import * as zmq from 'zeromq';

/** One context for every socket: libzmq's default cap (1023 sockets) is too small for 1,000 agents. */
export const newZmqContext = (): zmq.Context => new zmq.Context({ maxSockets: 32768, blocky: false });

export type BindFailure = { ok: false; code: string; message: string };
export type Opened<T> = ({ ok: true } & T) | BindFailure;

const failure = (error: unknown): BindFailure => {
  const e = error as { code?: string; message?: string };
  return { ok: false, code: e.code ?? 'ERROR', message: e.message ?? String(error) };
};

/** A reply to send, or `wedge`: never reply, leaving the REP socket stuck as upstream's would. */
export type RepAnswer = { send: string | Uint8Array } | { wedge: true };

export async function openRep(
  context: zmq.Context,
  endpoint: string,
  handle: (payload: Uint8Array) => RepAnswer | Promise<RepAnswer>,
): Promise<Opened<{ close(): void }>> {
  const sock = new zmq.Reply({ context, linger: 0 });
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
  return { ok: true, close: () => sock.close() };
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

export async function openHttp(
  host: string,
  port: number,
  handle: (method: string, url: string) => HttpAnswer | Promise<HttpAnswer>,
): Promise<Opened<{ close(): Promise<void> }>> {
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    void (async () => {
      try {
        const answer = await handle(req.method ?? 'GET', req.url ?? '/');
        res.writeHead(answer.status, { 'Content-Type': answer.contentType, 'Content-Length': Buffer.byteLength(answer.body) });
        res.end(req.method === 'HEAD' ? undefined : answer.body);
      } catch {
        res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 1000;
  const listening = await new Promise<true | BindFailure>((resolve) => {
    server.once('error', (error) => resolve(failure(error)));
    server.listen({ host, port, exclusive: true }, () => resolve(true));
  });
  if (listening !== true) return listening;
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
export async function openTcp(host: string, port: number): Promise<Opened<{ close(): Promise<void> }>> {
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
export class PubOutbox {
  readonly sock: zmq.Publisher;
  private queue: (string | Uint8Array)[][] = [];
  private pumping = false;
  sent = 0;
  dropped = 0;
  closed = false;

  constructor(context: zmq.Context, readonly limit = 20_000) {
    this.sock = new zmq.Publisher({ context, linger: 0, sendHighWaterMark: 100_000 });
  }

  async bind(endpoint: string): Promise<BindFailure | undefined> {
    try {
      await this.sock.bind(endpoint);
      return undefined;
    } catch (error) {
      this.close();
      return failure(error);
    }
  }

  push(frames: (string | Uint8Array)[]): boolean {
    if (this.closed || this.queue.length >= this.limit) {
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
      while (this.queue.length > 0 && !this.closed) {
        const frames = this.queue.shift()!;
        await this.sock.send(frames);
        this.sent += 1;
      }
    } catch {
      // closed mid-send
    } finally {
      this.pumping = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropped += this.queue.length;
    this.queue = [];
    this.sock.close();
  }
}
