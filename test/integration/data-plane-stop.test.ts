// A data plane stopped right after it connected (what every one-shot command does: errorbus
// phase show, status, doctor) leaves nothing running: the process it ran in ends on its own. It
// once attached its JetStream error feed after stop() had begun draining the connection; nats.js's
// ordered consumer then retried creating itself on the dead connection for ~15 minutes, and its
// 30 s timer kept the process alive (errorbus-phase.test.ts only ended through --test-force-exit).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from 'nats';
import { runTsChild } from '../support/run-child.js';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
  type NatsServer,
} from '../../source/adapters/nats-server.js';

const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const CHILD = join(import.meta.dirname, 'data-plane-stop-child.ts');

describe('a data plane stopped while its NATS error feed is attaching', { skip }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer({ bin: NATS_BIN! });
    const nc = await connect({ servers: server.url });
    await (await nc.jetstreamManager()).streams.add({ name: 'ERRORS', subjects: ['errors.>'] });
    await nc.close();
  });
  after(async () => {
    await server?.stop();
  });

  test('leaves nothing running: its process ends on its own', async () => {
    // Start-up under tsx takes a second or two, more on a loaded box; the leak held it 30 s and more.
    const r = await runTsChild(CHILD, [server.url], 15_000);
    assert.equal(r.code, 0, `${r.code}\n${r.out}\n${r.err}`);
    assert.match(r.out, /^stopped; feed /);
  });
});
