// `opsdeck agent --metrics ADDR:PORT`: /metrics in the Prometheus text format, built at each
// scrape. GET and HEAD only; nothing else is served. A port that cannot be bound fails the start
// with a sentence saying why (the command exits 2), never a stack trace.
import { createServer, type Server } from 'node:http';

/** A failed listen, in the operator's words. */
const LISTEN_FAILURE: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is in use',
  EADDRNOTAVAIL: 'no such address on this machine',
  EACCES: 'permission denied (ports below 1024 need root)',
};

export interface ListenAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9470`, `[::1]:9470`, `mainpc:9470`, `0.0.0.0:9470`; undefined when it is none. */
export function parseListen(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

export const listenText = (a: ListenAddress): string =>
  `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsServer {
  /** Where it listens (the port the system gave, when asked for 0). */
  address: ListenAddress;
  close(): Promise<void>;
}

export async function serveMetrics(
  at: ListenAddress,
  render: () => string,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (path !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('opsdeck agent: the Prometheus metrics are at /metrics\n');
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': METRICS_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper that stops mid-request must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot serve /metrics on ${listenText(at)}: ${LISTEN_FAILURE[error.code ?? ''] ?? error.message}`,
        ),
      ),
    );
    server.listen(at.port, at.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : at.port;
  return {
    address: { host: at.host, port },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
