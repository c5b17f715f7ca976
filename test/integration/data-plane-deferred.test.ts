// The console's data plane is built before its first frame and started after it (start-up,
// issue 16): built with autoStart false it opens no connection (health probe, ZMQ error bus,
// NATS) until start(), then opens all of them by itself; stopped before it started, it never
// starts. Plain TCP listeners stand in for the agent, the bus and the NATS server: an accepted
// connection is what is checked, and when.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { startDataPlane } from '../../source/wiring/data-plane.js';
import { host, sleep, tempDir, until, writeFleet } from '../fault/helpers.js';

const HOSTS = { mainpc: host(41), pc2: host(42) };
const tmp = tempDir('deferred');
const servers: Server[] = [];
const accepted: Socket[] = [];
after(() => {
  // The listeners answer nothing: a client still waiting on one (nats.js's first connect to a
  // server that never sends INFO outlives the link's close) is let go here, else the file's
  // process would not end.
  for (const socket of accepted) socket.destroy();
  for (const s of servers) s.close();
  tmp.remove();
});

/** A listener that keeps the time of every connection it accepts. */
async function listener(address: string, port: number): Promise<number[]> {
  const times: number[] = [];
  const server = createServer((socket) => {
    times.push(performance.now());
    accepted.push(socket);
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  return times;
}

describe('a data plane started later (autoStart false)', () => {
  const fleet = writeFleet(tmp.dir, {
    ...HOSTS,
    agents: { Alpha: [17971, 18971] },
    pc2Agents: { Bravo: [7171, 8171] },
    busPort: 7170,
  });

  test('connects to nothing until start(), then to the agents, the bus and NATS', async () => {
    const probe = await listener(HOSTS.mainpc, 18971);
    const bus = await listener(HOSTS.pc2, 7170);
    const nats = await listener(HOSTS.mainpc, 4270);
    const plane = startDataPlane({
      machines: fleet.machines,
      nats: `nats://${HOSTS.mainpc}:4270`,
      health: { intervalMs: 500, timeoutMs: 250 },
      autoStart: false,
    });
    try {
      assert.equal(plane.started, false);
      assert.equal(plane.link?.getSnapshot().state, 'connecting', 'about to connect, not off');
      const states = [...plane.health.getSnapshot().agents.values()].map((a) => a.state);
      assert.ok(
        states.every((s) => s === 'unknown'),
        `nothing probed yet: ${states.join(', ')}`,
      );
      // Room for a plane that started by itself to connect (a few ms on loopback): it must not.
      await sleep(300);
      const startedAt = performance.now();
      plane.start();
      assert.equal(plane.started, true);
      await until(
        'a probe, the bus and NATS connected to',
        () => probe.length > 0 && bus.length > 0 && nats.length > 0,
        10_000,
        () => `probe ${probe.length}, bus ${bus.length}, nats ${nats.length}`,
      );
      for (const [what, times] of [
        ['probe', probe],
        ['bus', bus],
        ['nats', nats],
      ] as const)
        assert.ok(
          times.every((t) => t >= startedAt),
          `${what}: connected before start() (${times.map((t) => (t - startedAt).toFixed(1)).join(', ')} ms from it)`,
        );
      assert.deepEqual(await plane.hostWarnings, [], 'the lookups ran once started');
    } finally {
      await plane.stop();
    }
  });

  test('stopped before it started: never starts, and what it promised settles', async () => {
    const plane = startDataPlane({
      machines: fleet.machines,
      nats: `nats://${HOSTS.mainpc}:4271`,
      autoStart: false,
    });
    await plane.stop();
    plane.start();
    assert.equal(plane.started, false);
    assert.equal(await plane.link?.connection(), undefined, 'no NATS connection');
    assert.deepEqual(await plane.hostWarnings, []);
  });
});
