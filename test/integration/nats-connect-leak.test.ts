// A NATS server that accepts TCP but never speaks (hung, half-started, a forwarder with nothing
// behind it): every connection attempt to it is given up after `timeout`, and nats.js (2.29) then
// kept the attempt's socket open, on the first connect and on each reconnect. The sockets piled
// up and held the process alive after everything else had stopped: an `opsdeck agent` that did
// not exit on SIGTERM. Counted here from the server's side, on real sockets.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { createServer, Socket, type Server } from 'node:net';
import { connectNats } from '../../source/adapters/nats-connect.js';
import { NatsLink } from '../../source/adapters/nats-link.js';
import { freePort, startNatsServer } from '../../source/adapters/nats-server.js';
import { NATS_BIN, natsSkip, sleep, until } from '../support/nats.js';

/** A TCP server that never writes a byte; it counts what was accepted and what is still open. */
async function silentServer(host: string, port: number) {
  const open = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    url: `nats://${host}:${port}`,
    accepted: () => accepted,
    open: () => open.size,
    stop: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const stops: Array<() => unknown> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe('connections to a NATS server that never sends INFO', () => {
  test('a first connect that times out closes its socket', async () => {
    const host = '127.0.41.1';
    const silent = await silentServer(host, await freePort(host));
    stops.push(silent.stop);
    await assert.rejects(connectNats({ servers: silent.url, timeout: 300, reconnect: false }));
    assert.equal(silent.accepted(), 1);
    await until('the timed-out attempt to close its socket', () => silent.open() === 0);
  });

  test('an aborted first connect gives up at once, well before its timeout, and closes its socket', async () => {
    const host = '127.0.41.2';
    const silent = await silentServer(host, await freePort(host));
    stops.push(silent.stop);
    const giveUp = new AbortController();
    // A minute's timeout: only the abort can end this attempt within the test's deadline.
    const attempt = connectNats(
      { servers: silent.url, timeout: 60_000, reconnect: false },
      giveUp.signal,
    );
    await until('the attempt to reach the server', () => silent.accepted() === 1);
    giveUp.abort();
    await assert.rejects(attempt);
    await until('the aborted attempt to close its socket', () => silent.open() === 0);
  });

  test('a link closed while its first connect waits for INFO leaves no socket behind', async () => {
    const host = '127.0.41.3';
    const silent = await silentServer(host, await freePort(host));
    stops.push(silent.stop);
    const link = new NatsLink({ servers: silent.url });
    await until('the link to reach the server', () => silent.accepted() >= 1);
    await link.close();
    assert.equal(await link.connection(), undefined);
    await until('every socket of the link to close', () => silent.open() === 0);
  });
});

describe('attempts given up before a server answers', () => {
  test('failed attempts on one signal leave no listener on it (a link retries on one)', async () => {
    const host = '127.0.41.5';
    const port = await freePort(host); // nothing listens: refused at once
    const giveUp = new AbortController();
    for (let i = 0; i < 12; i++)
      await assert.rejects(
        connectNats({ servers: `nats://${host}:${port}`, reconnect: false }, giveUp.signal),
      );
    assert.equal(getEventListeners(giveUp.signal, 'abort').length, 0);
  });

  test('an attempt aborted while its TCP connect is pending ends at once and keeps no socket', async () => {
    // A listener that never accepts, its backlog (0) already full: the kernel drops the next SYN,
    // so a connect to it stays pending until the kernel gives up (~2 min on Linux). Node's own
    // servers always accept, hence Python.
    const host = '127.0.41.6';
    const never = spawn('python3', ['-c', NEVER_ACCEPTS, host], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    stops.push(() => never.kill('SIGKILL'));
    const port = await new Promise<number>((resolve, reject) => {
      never.stdout.once('data', (b: Buffer) => resolve(Number(String(b).trim())));
      never.once('exit', (code) => reject(new Error(`python3 exited ${code}`)));
    });
    const connecting = () =>
      (process as unknown as { _getActiveHandles(): unknown[] })
        ._getActiveHandles()
        .filter((h) => h instanceof Socket && h.connecting).length;
    const before = connecting();
    const giveUp = new AbortController();
    // A minute's timeout: only the abort can end this attempt within the test's deadline.
    const attempt = connectNats(
      { servers: `nats://${host}:${port}`, timeout: 60_000, reconnect: false },
      giveUp.signal,
    );
    await until('the attempt to be dialling', () => connecting() > before);
    giveUp.abort();
    let settled = false;
    attempt.then(
      () => (settled = true),
      () => (settled = true),
    );
    await until('the aborted attempt to end', () => settled);
    await assert.rejects(attempt);
    assert.equal(connecting(), before, 'the pending socket was destroyed');
  });
});

const NEVER_ACCEPTS = `
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(s.getsockname())
    except BlockingIOError:
        pass
    fill.append(c)
time.sleep(0.2)
print(s.getsockname()[1], flush=True)
time.sleep(600)
`;

describe('reconnecting to a NATS server that went silent', { skip: natsSkip }, () => {
  test('keeps at most the attempt under way open, and close() ends that one too', async () => {
    const host = '127.0.41.4';
    const nats = await startNatsServer({ bin: NATS_BIN!, host });
    stops.push(() => nats.stop());
    const nc = await connectNats({
      servers: nats.url,
      timeout: 300,
      reconnectTimeWait: 50,
      maxReconnectAttempts: -1,
    });
    // The server dies hard, and something that never speaks takes its port.
    process.kill(nats.pid!, 'SIGKILL');
    await nats.stop();
    const silent = await until('the port to be free for the silent server', () =>
      silentServer(host, nats.port).catch(() => undefined),
    );
    stops.push(silent.stop);
    await until('several reconnect attempts', () => silent.accepted() >= 4);
    // One attempt at a time, each closed when given up (two: one closing as the next begins).
    for (let i = 0; i < 10; i++, await sleep(50)) assert.ok(silent.open() <= 2, 'attempts pile up');
    await nc.close();
    await until('the attempt under way to close with the connection', () => silent.open() === 0);
  });
});
