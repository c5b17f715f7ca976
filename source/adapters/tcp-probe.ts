// One TCP connect, to tell an open port from a closed one: refused (RST), open (connected),
// or no answer within the timeout (filtered or unreachable: cannot tell).
import { connect } from 'node:net';
import type { PortProbe } from '../core/errorbus/preflight.js';

export function probeTcp(host: string, port: number, timeoutMs = 1000): Promise<PortProbe> {
  return new Promise((resolve) => {
    const began = Date.now();
    const socket = connect({ host, port });
    const done = (probe: PortProbe) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(probe);
    };
    const timer = setTimeout(() => done({ result: 'timeout', ms: Date.now() - began }), timeoutMs);
    socket.once('connect', () => done({ result: 'open' }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(
        error.code === 'ECONNREFUSED'
          ? { result: 'refused' }
          : { result: 'error', code: error.code ?? 'ERROR', message: error.message },
      ),
    );
  });
}

/** tcp://host:port -> {host, port}; undefined for other transports (ipc://). */
export function tcpEndpoint(endpoint: string): { host: string; port: number } | undefined {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(endpoint);
  return m ? { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } : undefined;
}

/**
 * After a request went unanswered: ZMQ hides connection failures (libzmq retries forever), so a
 * plain TCP connect tells a dead agent (refused: definitive) from a slow one (accepted: maybe
 * just busy). Any connect error counts as refused, with its code; no answer, or an endpoint
 * that is not tcp://, tells nothing (undefined).
 */
export async function refused(
  endpoint: string,
  timeoutMs = 250,
): Promise<{ kind: 'refused'; reason: string } | undefined> {
  const at = tcpEndpoint(endpoint);
  if (!at) return undefined;
  const probe = await probeTcp(at.host, at.port, timeoutMs);
  if (probe.result === 'refused')
    return { kind: 'refused', reason: `connection refused on ${at.host}:${at.port}` };
  if (probe.result === 'error')
    return { kind: 'refused', reason: `${probe.code} on ${at.host}:${at.port}` };
  return undefined;
}
