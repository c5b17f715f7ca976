// GET with a hard timeout, a body cap and keep-alive, for /health and /metrics probes.
import { Agent, request } from 'node:http';

export type HttpProbeResult =
  | { kind: 'reply'; status: number; text: string; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'refused'; reason: string }
  | { kind: 'error'; reason: string };

const MAX_BODY = 64 * 1024;

export class HttpProber {
  // Keep-alive: at a 2 s interval, a new TCP connection per probe would dominate idle CPU.
  // Made at the first probe: node:http loads on first use in the bundle (scripts/bundle.mjs),
  // and the console builds its prober before its first frame (start-up, issue 16).
  private kept: Agent | undefined;
  private get agent(): Agent {
    return (this.kept ??= new Agent({
      keepAlive: true,
      maxSockets: 4,
      maxFreeSockets: 1,
      timeout: 30_000,
    }));
  }

  get(host: string, port: number, path: string, timeoutMs: number): Promise<HttpProbeResult> {
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: HttpProbeResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = request(
        {
          host,
          port,
          path,
          method: 'GET',
          agent: this.agent,
          headers: { accept: 'application/json, text/plain' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_BODY) chunks.push(chunk);
          });
          res.on('end', () =>
            finish({
              kind: 'reply',
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              latencyMs: performance.now() - started,
            }),
          );
          res.on('error', (error) => finish({ kind: 'error', reason: error.message }));
        },
      );
      const timer = setTimeout(() => {
        finish({ kind: 'timeout' });
        req.destroy();
      }, timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED')
          finish({ kind: 'refused', reason: `connection refused on ${host}:${port}` });
        else if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH')
          finish({ kind: 'refused', reason: `${error.code} on ${host}:${port}` });
        else finish({ kind: 'error', reason: error.message });
      });
      req.end();
    });
  }

  close(): void {
    this.kept?.destroy();
  }
}
