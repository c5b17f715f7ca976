// The NATS error feed's stop() during a rescan that is attaching a stream leaves nothing
// running: the process ends on its own. It once let the scan go on to create an ordered
// consumer on the draining connection, which nats.js retried for ~15 minutes on a 30 s timer
// (the same leak data-plane-stop.test.ts covers for the feed's first attach).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { findNatsServer, NATS_INSTALL_HINT, startNatsServer, type NatsServer } from '../../source/adapters/nats-server.js';

const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const CHILD = join(import.meta.dirname, 'nats-feed-stop-child.ts');

/** Runs the child; resolves with its exit code, or 'still running' if it has not ended in `ms`. */
function runChild(url: string, ms: number): Promise<{ code: number | 'still running'; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, url], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.test.json' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'still running', out, err });
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

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
    const r = await runChild(server.url, 15_000);
    assert.equal(r.code, 0, `${r.code}\n${r.out}\n${r.err}`);
    assert.match(r.out, /^stopped; mode /);
  });
});
