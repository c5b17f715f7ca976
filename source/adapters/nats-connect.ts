// nats.js's connect(), with one fix: an attempt that is given up closes its socket. nats.js
// (2.29) gives up on a server that accepts TCP but never sends INFO (a hung or half-started
// server, a port forwarder with nothing behind it) after `timeout`, and then closes the
// transport, but its close() does nothing until the handshake has finished: the socket stays
// open. One leaks per attempt, on the first connect and on every reconnect, and the open
// sockets keep the process alive after everything else has stopped: a daemon that does not
// exit on SIGTERM. Upstream: nats-io/nats.js#64. Every connection of opsdeck's goes through
// here (eslint bans nats' own connect in source/).
import { createConnection, type Socket } from 'node:net';
import type { ConnectionOptions, NatsConnection } from 'nats';
import { NatsConnectionImpl, setTransportFactory } from 'nats/lib/nats-base-client/internal_mod.js';
import { NodeTransport, nodeResolveHost } from 'nats/lib/src/node_transport.js';

/**
 * The attempts of one connectNats() call, first connect and reconnects: nats.js hands every
 * transport the connection's options, and this rides along in them (nats.js copies unknown
 * options as they are), so an abort finds the attempts of its own connection only.
 */
class Attempts {
  readonly open = new Set<AttemptTransport>();
  aborted = false;

  abort(): void {
    this.aborted = true;
    for (const t of this.open) void t.close();
  }
}

const OWNER = 'opsdeckAttempts';
type Owned = ConnectionOptions & { [OWNER]?: Attempts };

/** A transport whose close() also ends an attempt that has not connected yet. */
class AttemptTransport extends NodeTransport {
  private abandoned = false;
  private owner: Attempts | undefined;

  override async connect(
    hp: { hostname: string; port: number; tlsName: string },
    options: Owned,
  ): Promise<void> {
    this.owner = options[OWNER];
    if (this.owner?.aborted) throw new Error('connection attempt aborted');
    this.owner?.open.add(this);
    try {
      await super.connect(hp, options);
    } finally {
      this.owner?.open.delete(this);
    }
  }

  /** The socket while its TCP connect is pending (a server dropping SYNs, a full backlog). */
  private dialing: Socket | undefined;

  // NodeTransport's dial, keeping the socket while it connects: given up then, it is destroyed at
  // once; nats.js's own held the process until the kernel gave up on the handshake (~2 min).
  override dial(hp: { hostname: string; port: number }): Promise<Socket> {
    if (this.abandoned) return Promise.reject(new Error('connection attempt abandoned'));
    return new Promise((resolve, reject) => {
      let failure: Error | undefined;
      const socket = createConnection(hp.port, hp.hostname, () => {
        this.dialing = undefined;
        socket.removeAllListeners();
        resolve(socket);
      });
      this.dialing = socket;
      socket.on('error', (error) => (failure = error));
      socket.on('close', () => {
        this.dialing = undefined;
        socket.removeAllListeners();
        reject(failure ?? new Error('connection attempt abandoned'));
      });
      socket.setNoDelay(true);
    });
  }

  override async close(err?: Error): Promise<void> {
    if (!this.connected) {
      this.abandoned = true;
      // Still dialling: destroying the socket rejects the dial. Waiting for INFO: destroying
      // it rejects that wait. Either ends connect().
      this.dialing?.destroy();
      this.socket?.destroy();
    }
    return super.close(err);
  }
}

/**
 * nats.js's connect(), every attempt's socket closed when it is given up. `signal` gives up the
 * attempt under way at once (nats.js's own wait is `timeout`): the connection rejects, or, once
 * connected, its next reconnect attempts fail until it is closed.
 */
export function connectNats(
  options: ConnectionOptions,
  signal?: AbortSignal,
): Promise<NatsConnection> {
  const attempts = new Attempts();
  const abort = () => attempts.abort();
  // The signal outlives this call (a link retries on its one signal): the listener goes when the
  // attempt fails or the connection closes, else one piled up per retry while NATS was down.
  const off = () => signal?.removeEventListener('abort', abort);
  if (signal?.aborted) attempts.abort();
  else signal?.addEventListener('abort', abort, { once: true });
  // Set on each call, as nats.js's own connect() does: the factory is global to the module, and
  // each new transport (each reconnect attempt too) is made by whichever was set last.
  setTransportFactory({
    factory: () => new AttemptTransport(),
    dnsResolveFn: nodeResolveHost,
  });
  return NatsConnectionImpl.connect({ ...options, [OWNER]: attempts } as Owned).then(
    (nc) => {
      void nc.closed().then(off, off);
      return nc;
    },
    (error: unknown) => {
      off();
      throw error;
    },
  );
}
