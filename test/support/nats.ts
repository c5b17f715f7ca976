// A real nats-server on a loopback address for the tests of one describe block: started before
// them, stopped after, with one client connection. `natsSkip` says why when it is not installed.
import { after, before } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
  type NatsServer,
} from '../../source/adapters/nats-server.js';

export const NATS_BIN = findNatsServer();
export const natsSkip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until `probe` gives something (not undefined or false) and returns it; throws naming
 * `what` after `ms`. Generous by default: CI is a loaded 2-core machine, and a deadline only
 * costs time when the test fails anyway.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  for (const end = Date.now() + ms; ; await sleep(20)) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Call inside a describe: its `server` and `nc` are set before the first test. */
export function natsOnLoopback(host: string): { server: NatsServer; nc: NatsConnection } {
  const live = {} as { server: NatsServer; nc: NatsConnection };
  before(async () => {
    live.server = await startNatsServer({ bin: NATS_BIN!, host });
    live.nc = await connect({ servers: live.server.url });
  });
  after(async () => {
    await live.nc?.close();
    await live.server?.stop();
  });
  return live;
}
