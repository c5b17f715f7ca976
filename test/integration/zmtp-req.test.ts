// The health probes' REQ (ZmqPirate -> ZmtpRequester: ZMTP over a kept net.Socket) against real
// libzmq sockets (zeromq.js) and plain TCP servers on loopback: kept connections, Lazy Pirate
// after a timeout, a peer that goes away, a non-ZMQ listener, a reply over the size cap,
// garbage, and the answers a libzmq REQ gave in each case (same kinds, same requests).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket as NetSocket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Publisher, Reply, Router } from 'zeromq';
import { ZmqPirate } from '../../source/adapters/zmq-probe.js';
import { ZmtpRequester, zmtpTarget } from '../../source/adapters/zmtp-req.js';
import { ZMQ_MAX_MESSAGE } from '../../source/adapters/zmq-limits.js';
import { zmtpGreeting } from '../../source/core/errorbus/zmtp.js';
import { reqMessage, zmtpCommand, zmtpReady } from '../../source/core/zmtp/req-peer.js';

const HOST = '127.0.0.1';
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const portOf = (endpoint: string) => Number(/:(\d+)$/.exec(endpoint)![1]);

/** A real REP; `answer` returns the reply, or undefined to never answer (wedged). */
async function rep(
  answer: (req: string, n: number) => string | Buffer | undefined | Promise<string | undefined>,
  endpoint = `tcp://${HOST}:*`,
): Promise<{ socket: Reply; port: number; accepted: () => number; endpoint: string }> {
  const socket = new Reply({ linger: 0, maxMessageSize: -1 });
  await socket.bind(endpoint);
  // Handshakes, not accepts: the TCP check after a timeout is accepted too, but says nothing.
  let accepted = 0;
  socket.events.on('handshake', () => accepted++);
  void (async () => {
    let n = 0;
    try {
      for await (const [msg] of socket) {
        const reply = await answer(msg!.toString(), n++);
        if (reply === undefined) continue; // wedged: the REP cannot receive again until it sends
        if (!socket.closed) await socket.send(reply);
      }
    } catch {
      /* closed */
    }
  })();
  cleanups.push(() => socket.close());
  const bound = socket.lastEndpoint!;
  return {
    socket,
    port: bound.startsWith('tcp') ? portOf(bound) : 0,
    accepted: () => accepted,
    endpoint: bound,
  };
}

/** A plain TCP server; `onData` sees what the probe sent and may write back. */
async function tcp(
  onConnection: (socket: NetSocket, received: () => Buffer) => void,
): Promise<{ port: number; server: Server; got: Buffer[] }> {
  const got: Buffer[] = [];
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      got.push(d);
    });
    socket.on('error', () => undefined);
    onConnection(socket, () => buf);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { port: (server.address() as { port: number }).port, server, got };
}

const until = async (what: string, check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('ZMTP REQ probe against libzmq', () => {
  test('endpoints it speaks itself; the rest go to zeromq.js', () => {
    assert.deepEqual(zmtpTarget('tcp://127.0.0.2:7113'), { host: '127.0.0.2', port: 7113 });
    assert.deepEqual(zmtpTarget('tcp://[::1]:5'), { host: '::1', port: 5 });
    assert.deepEqual(zmtpTarget('tcp://pc2.local:8113'), { host: 'pc2.local', port: 8113 });
    assert.deepEqual(zmtpTarget('ipc:///tmp/x.sock'), { path: '/tmp/x.sock' });
    assert.deepEqual(zmtpTarget('ipc://@abstract'), { path: '\0abstract' });
    for (const other of ['inproc://x', 'tcp://*:5555', 'tcp://10.0.0.1:0', 'tcp://a;b:5', 'x'])
      assert.equal(zmtpTarget(other), undefined, other);
  });

  test('a REP answers; the connection is kept across requests (one accept for many)', async () => {
    const r = await rep((req, n) => `${n}:${req}`);
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 5000);
    cleanups.push(() => probe.close());
    for (let i = 0; i < 20; i++) {
      const result = await probe.request(`{"action":"health_check","i":${i}}`);
      assert.equal(result.kind, 'reply');
      assert.equal(
        result.kind === 'reply' && result.text,
        `${i}:{"action":"health_check","i":${i}}`,
      );
      assert.ok(result.kind === 'reply' && result.latencyMs >= 0);
    }
    assert.equal(r.accepted(), 1, 'one TCP connection for 20 requests');
  });

  test('a ROUTER (what a REQ may also talk to) gets [delimiter, body] and its reply is read', async () => {
    const router = new Router({ linger: 0 });
    await router.bind(`tcp://${HOST}:*`);
    cleanups.push(() => router.close());
    void (async () => {
      try {
        for await (const [id, delimiter, body] of router)
          await router.send([
            id!,
            delimiter!,
            `router saw ${delimiter!.length}+${body!.toString()}`,
          ]);
      } catch {
        /* closed */
      }
    })();
    const probe = new ZmqPirate(router.lastEndpoint!, 5000);
    cleanups.push(() => probe.close());
    const result = await probe.request('health_check');
    assert.deepEqual(result.kind === 'reply' && result.text, 'router saw 0+health_check');
  });

  test('a REP that answers too late: timeout, then a new connection (Lazy Pirate), never the stale reply', async () => {
    let release: (() => void) | undefined;
    const r = await rep(async (req, n) => {
      if (n === 0) await new Promise<void>((resolve) => (release = resolve));
      return `reply to ${req}`;
    });
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 150);
    cleanups.push(() => probe.close());
    const first = await probe.request('first');
    assert.deepEqual(first, { kind: 'timeout' }, 'silence on an open port is a timeout');
    release!(); // the REP now answers the first request: to a connection that is gone
    const second = await probe.request('second');
    assert.deepEqual(second.kind === 'reply' && second.text, 'reply to second');
    assert.equal(r.accepted(), 2, 'the timed-out connection was replaced');
  });

  test('a REP that never answers: every request times out, each on a new connection', async () => {
    const r = await rep(() => undefined);
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 60);
    cleanups.push(() => probe.close());
    for (let i = 0; i < 3; i++) assert.equal((await probe.request('x')).kind, 'timeout');
    await until('three connections', () => r.accepted() === 3);
  });

  test('nothing listens: refused, once the timeout ends (as libzmq retried until then)', async () => {
    const r = await rep(() => 'x');
    const port = r.port;
    r.socket.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const probe = new ZmqPirate(`tcp://${HOST}:${port}`, 300);
    cleanups.push(() => probe.close());
    const result = await probe.request('x');
    assert.deepEqual(result, { kind: 'refused', reason: `connection refused on ${HOST}:${port}` });
  });

  test('a REP that binds while the request waits (an agent starting) answers it', async () => {
    const r = await rep(() => 'x');
    const port = r.port;
    r.socket.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const probe = new ZmqPirate(`tcp://${HOST}:${port}`, 5000);
    cleanups.push(() => probe.close());
    const asked = probe.request('x');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await rep(() => 'up now', `tcp://${HOST}:${port}`);
    const result = await asked;
    assert.equal(result.kind === 'reply' && result.text, 'up now');
  });

  test('a REP that goes away while idle: the kept connection is replaced by the next request', async () => {
    const first = await rep(() => 'one');
    const probe = new ZmqPirate(`tcp://${HOST}:${first.port}`, 300);
    cleanups.push(() => probe.close());
    assert.equal((await probe.request('x')).kind, 'reply');
    first.socket.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await probe.request('x')).kind, 'refused', 'nothing listens now');
    const again = await rep(() => 'two', `tcp://${HOST}:${first.port}`);
    const result = await probe.request('x');
    assert.equal(result.kind === 'reply' && result.text, 'two');
    assert.equal(again.accepted(), 1);
  });

  test('a REP that closes while a request waits: refused once the timeout ends', async () => {
    const r = await rep(() => {
      r.socket.close();
      return undefined;
    });
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 200);
    cleanups.push(() => probe.close());
    const result = await probe.request('x');
    assert.equal(result.kind, 'refused');
  });

  test('a listener that is not ZMQ: only a greeting is sent, and the probe times out saying why', async () => {
    const server = await tcp((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    const probe = new ZmqPirate(`tcp://${HOST}:${server.port}`, 200);
    cleanups.push(() => probe.close());
    const result = await probe.request('{"action":"health_check"}');
    assert.equal(result.kind, 'timeout');
    assert.match(result.kind === 'timeout' ? (result.reason ?? '') : '', /not ZMQ: an HTTP server/);
    assert.deepEqual(
      Buffer.concat(server.got),
      Buffer.from(zmtpGreeting().subarray(0, 11)),
      'only the greeting (its first part: the listener answered that) reaches a port that is not a REP',
    );
  });

  test('a PUB on the port: READY says PUB, no request is sent, timeout saying so', async () => {
    const pub = new Publisher({ linger: 0 });
    await pub.bind(`tcp://${HOST}:*`);
    cleanups.push(() => pub.close());
    const probe = new ZmqPirate(pub.lastEndpoint!, 200);
    cleanups.push(() => probe.close());
    const result = await probe.request('x');
    assert.equal(result.kind, 'timeout');
    assert.match(result.kind === 'timeout' ? (result.reason ?? '') : '', /is a PUB, not a REP/);
  });

  test('a CURVE REP: not spoken; timeout saying so', async () => {
    const keys = (await import('zeromq')).curveKeyPair();
    const secure = new Reply({ linger: 0, curveServer: true, curveSecretKey: keys.secretKey });
    await secure.bind(`tcp://${HOST}:*`);
    cleanups.push(() => secure.close());
    const probe = new ZmqPirate(secure.lastEndpoint!, 200);
    cleanups.push(() => probe.close());
    const result = await probe.request('x');
    assert.equal(result.kind, 'timeout');
    assert.match(result.kind === 'timeout' ? (result.reason ?? '') : '', /wants CURVE security/);
  });

  test(`a reply over the cap (${ZMQ_MAX_MESSAGE.reply} bytes) drops the connection; one just under it is read`, async () => {
    const big = Buffer.alloc(ZMQ_MAX_MESSAGE.reply + 1, 0x41);
    const fits = 'B'.repeat(ZMQ_MAX_MESSAGE.reply - 64);
    const r = await rep((req) => (req === 'big' ? big : fits));
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 500);
    cleanups.push(() => probe.close());
    const over = await probe.request('big');
    assert.equal(over.kind, 'timeout');
    assert.match(over.kind === 'timeout' ? (over.reason ?? '') : '', /message over 1048576 bytes/);
    const under = await probe.request('small');
    assert.equal(under.kind === 'reply' && under.text.length, fits.length);
    assert.equal(r.accepted(), 2);
  });

  test('garbage frames after a good handshake: the connection is dropped, the next one works', async () => {
    // By request, not by connection: the TCP check after each timeout connects too.
    let asked = 0;
    const server = await tcp((socket, received) => {
      socket.write(Buffer.concat([zmtpGreeting(), zmtpReady('REP')]));
      socket.on('data', () => {
        const got = received();
        if (!got.includes(Buffer.from('ask'))) return;
        const n = asked++;
        if (n === 0)
          socket.write(Buffer.from([0xf0, 0x05, 1, 2, 3, 4, 5])); // reserved flag bits
        else if (n === 1)
          socket.write(Buffer.from([0x00, 0x02, 0x68, 0x69])); // no delimiter: dropped
        else
          socket.write(
            Buffer.concat([
              zmtpCommand('PING', Buffer.from([0, 0])),
              reqMessage(Buffer.from('fine')),
            ]),
          );
      });
    });
    const probe = new ZmqPirate(`tcp://${HOST}:${server.port}`, 200);
    cleanups.push(() => probe.close());
    const bad = await probe.request('ask');
    assert.equal(bad.kind, 'timeout');
    assert.match(bad.kind === 'timeout' ? (bad.reason ?? '') : '', /bad frame flags 0xf0/);
    assert.deepEqual(await probe.request('ask'), { kind: 'timeout' }, 'no delimiter: not a reply');
    const good = await probe.request('ask');
    assert.equal(good.kind === 'reply' && good.text, 'fine');
    // The PING got its PONG on the wire.
    await until('the PONG', () =>
      Buffer.concat(server.got).includes(Buffer.from(zmtpCommand('PONG'))),
    );
  });

  test('ipc:// is spoken too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zmtp-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = await rep(() => 'over ipc', `ipc://${join(dir, 'rep.sock')}`);
    const requester = new ZmtpRequester(r.endpoint, zmtpTarget(r.endpoint)!, 5000, 1024);
    cleanups.push(() => requester.close());
    const result = await requester.request('x');
    assert.equal(result.kind === 'reply' && result.text, 'over ipc');
  });

  test('one request at a time; close() ends the one waiting', async () => {
    const r = await rep(() => undefined);
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 60_000);
    const waiting = probe.request('x');
    assert.deepEqual(await probe.request('y'), {
      kind: 'error',
      reason: 'a request is already waiting (REQ)',
    });
    probe.close();
    assert.deepEqual(await waiting, { kind: 'error', reason: 'probe closed' });
    assert.deepEqual(await probe.request('z'), { kind: 'error', reason: 'probe closed' });
  });

  test('an idle kept connection does not hold the process open', async () => {
    const r = await rep(() => 'ok');
    const probe = new ZmqPirate(`tcp://${HOST}:${r.port}`, 5000);
    cleanups.push(() => probe.close());
    assert.equal((await probe.request('x')).kind, 'reply');
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    const sockets = handles.filter(
      (h) =>
        (h as { constructor?: { name?: string } }).constructor?.name === 'Socket' &&
        (h as NetSocket).remotePort === r.port,
    );
    // _getActiveHandles lists only ref'd handles: the kept socket is unref'd between requests.
    assert.equal(sockets.length, 0);
  });
});
