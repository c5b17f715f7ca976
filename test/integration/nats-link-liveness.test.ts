// The NATS link's liveness check against a real nats-server: a connection busy draining a
// backlog that takes longer than the ping window is alive (the server's PONG waits behind the
// backlog, but every message received proves the server there), while a server that answers
// nothing at all (frozen: SIGSTOP) is still noticed within the window. The link once dropped the
// busy connection as stale (nats.js's maxPingOut counts unanswered pings only) and the rest of
// the backlog was lost with it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { NatsLink } from '../../source/adapters/nats-link.js';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
  type NatsServer,
} from '../../source/adapters/nats-server.js';

const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A ping window of 2 x 400 ms: the backlog below takes several times that to drain.
const PING = { pingIntervalMs: 400, maxPingOut: 2 };

describe(
  'the NATS link with a backlog that drains for longer than the ping window',
  { skip },
  () => {
    let server: NatsServer;
    before(async () => {
      server = await startNatsServer({ bin: NATS_BIN!, host: '127.0.17.3' });
    });
    after(async () => {
      await server?.stop();
    });

    test('stays connected and receives all of it', async () => {
      const link = new NatsLink({ servers: server.url, ...PING });
      const states: string[] = [];
      link.subscribe(() => states.push(link.getSnapshot().state));
      const nc = (await link.connection())!;
      const total = 3000;
      let received = 0;
      const done = new Promise<void>((resolve) => {
        nc.subscribe('backlog', {
          callback: () => {
            // A slow consumer: ~1.5 ms of work per message, ~4.5 s for the backlog (the window is 0.8 s).
            const until = performance.now() + 1.5;
            while (performance.now() < until) {
              /* busy */
            }
            if (++received === total) resolve();
          },
        });
      });
      await nc.flush();
      const pub = await connect({ servers: server.url });
      const payload = new Uint8Array(1024).fill(120);
      for (let i = 0; i < total; i++) pub.publish('backlog', payload);
      await pub.flush();
      const started = Date.now();
      await Promise.race([done, sleep(15_000)]);
      const took = Date.now() - started;
      await pub.close();
      const snap = link.getSnapshot();
      await link.close();
      assert.ok(
        took > 2 * PING.pingIntervalMs * PING.maxPingOut,
        `the backlog drained in ${took} ms: too fast to test anything`,
      );
      assert.equal(
        received,
        total,
        `received ${received} of ${total} (states: ${states.join(' ')})`,
      );
      assert.equal(snap.reconnects, 0);
      assert.ok(!states.includes('reconnecting'), `states: ${states.join(' ')}`);
    });

    test('a server that answers nothing is still noticed within the ping window', async () => {
      const link = new NatsLink({ servers: server.url, ...PING });
      await link.connection();
      process.kill(server.pid!, 'SIGSTOP');
      try {
        const frozen = Date.now();
        while (link.getSnapshot().state !== 'reconnecting' && Date.now() - frozen < 10_000)
          await sleep(20);
        const noticed = Date.now() - frozen;
        // Within the 10 s of the loop: the window (0.8 s) and one check period on a quiet machine;
        // nats.js's own pings would take minutes. How long exactly is not this test's business.
        assert.equal(link.getSnapshot().state, 'reconnecting', `not noticed in ${noticed} ms`);
      } finally {
        process.kill(server.pid!, 'SIGCONT');
        await link.close();
      }
    });
  },
);
