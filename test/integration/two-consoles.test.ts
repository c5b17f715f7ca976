// Two consoles of one user on one host (two SSH sessions) against a real nats-server: each must
// see every NATS error. Both once bound the one durable consumer named per host, and JetStream
// split the messages between them: 50 each, `dropped 0`, no gap. Each data plane now takes a
// slot of its own; a console that restarts takes its old slot back and resumes from there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, StorageType, type NatsConnection } from 'nats';
import { startNatsServer, type NatsServer } from '../../source/adapters/nats-server.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';
import { NATS_BIN, NEEDS_NATS, sleep, tempDir, until } from '../fault/helpers.js';

const HOST = '127.0.19.1';
const DURABLE = 'opsdeck_testhost_ops';

describe('two consoles on one host, one NATS', { skip: NEEDS_NATS }, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const tmp = tempDir('slots');
  const slots = join(tmp.dir, 'slots');
  const planes: DataPlane[] = [];
  let sent = 0;

  const console_ = async (): Promise<DataPlane> => {
    const plane = startDataPlane({
      machines: [],
      nats: server.url,
      durable: DURABLE,
      slotDir: slots,
      live: false,
      // Every message its own row: no flood rule may fold the count.
      errors: { notifyMs: 10, flood: { rateCount: 1e9, rateWindowMs: 1000, rules: [] } },
    });
    planes.push(plane);
    await until('the feed attached', () => (plane.natsFeed()?.streams.length ?? 0) > 0);
    return plane;
  };
  const publish = async (count: number) => {
    const js = nc.jetstream();
    for (let i = 0; i < count; i++) {
      sent++;
      await js.publish(
        `errors.agents.Alpha`,
        JSON.stringify({
          error_id: `e-${sent}`,
          agent_name: 'Alpha',
          message: `disk ${sent} full`,
          severity: 'error',
          category: 'IOError',
        }),
      );
    }
  };
  const received = (p: DataPlane) => p.errors.flush().counters.received.nats;

  before(async () => {
    server = await startNatsServer({ bin: NATS_BIN!, host: HOST });
    nc = await connect({ servers: server.url });
    await (
      await nc.jetstreamManager()
    ).streams.add({ name: 'ERRORS', subjects: ['errors.>'], storage: StorageType.Memory });
  });
  after(async () => {
    for (const p of planes) await p.stop();
    await nc?.close();
    await server?.stop();
    tmp.remove();
  });

  test('both receive 100 of 100, on consumers of their own', async () => {
    const a = await console_();
    const b = await console_();
    await publish(100);
    await until(
      'both at 100',
      () => received(a) === 100 && received(b) === 100,
      15_000,
      () => `a ${received(a)}, b ${received(b)}`,
    );
    await sleep(500); // nothing more arrives: each got every message once
    assert.deepEqual([received(a), received(b)], [100, 100]);
    const consumers: string[] = [];
    for await (const c of (await nc.jetstreamManager()).consumers.list('ERRORS'))
      consumers.push(c.name);
    assert.deepEqual(consumers.sort(), [`${DURABLE}_0_ERRORS`, `${DURABLE}_1_ERRORS`]);
    assert.deepEqual(readdirSync(slots).sort(), [`${DURABLE}.0.pid`, `${DURABLE}.1.pid`]);
    await a.stop();
    await b.stop();
    assert.deepEqual(readdirSync(slots), [], 'each slot released on stop');
  });

  test('a console that restarts takes its slot back and shows what arrived meanwhile', async () => {
    await publish(10); // nobody is watching
    const again = await console_();
    await until(
      'the 10 that arrived meanwhile',
      () => received(again) === 10,
      15_000,
      () => String(received(again)),
    );
    assert.deepEqual(readdirSync(slots), [`${DURABLE}.0.pid`]);
  });
});
