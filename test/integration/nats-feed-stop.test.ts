// The NATS error feed's stop() during a rescan that is attaching a stream leaves nothing
// running: the process ends on its own. It once let the scan go on to create an ordered
// consumer on the draining connection, which nats.js retried for ~15 minutes on a 30 s timer
// (the same leak data-plane-stop.test.ts covers for the feed's first attach).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runTsChild } from '../support/run-child.js';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
  type NatsServer,
} from '../../source/adapters/nats-server.js';

const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const CHILD = join(import.meta.dirname, 'nats-feed-stop-child.ts');

describe('a NATS error feed stopped while its rescan attaches a new stream', { skip }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer({ bin: NATS_BIN!, host: '127.0.17.2' });
  });
  after(async () => {
    await server?.stop();
  });

  test('leaves nothing running: its process ends on its own', async () => {
    // Start-up under tsx takes a second or two, more on a loaded box; the leak held it 30 s and more.
    const r = await runTsChild(CHILD, [server.url], 15_000);
    assert.equal(r.code, 0, `${r.code}\n${r.out}\n${r.err}`);
    assert.match(r.out, /^stopped; mode /);
  });
});
