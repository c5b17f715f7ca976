// The ZMTP REQ peer without sockets: frames as libzmq writes them (the byte layouts of ZMTP 3.0,
// rfc.zeromq.org/spec/23), fed whole and cut at every byte, and the peer's answers to what a
// REP, a PUB, a CURVE server or garbage would send. The same peer against real libzmq sockets:
// test/integration/zmtp-req.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GREETING_BYTES, zmtpGreeting } from '../../source/core/errorbus/zmtp.js';
import {
  ReqPeer,
  ZmtpReader,
  readyProperties,
  reqMessage,
  zmtpCommand,
  zmtpFrame,
  zmtpReady,
  type ReqStep,
  type ZmtpEvent,
} from '../../source/core/zmtp/req-peer.js';

const bytes = (...xs: (number | string | Uint8Array)[]): Uint8Array => {
  const parts = xs.map((x) =>
    typeof x === 'number'
      ? Uint8Array.of(x)
      : typeof x === 'string'
        ? new TextEncoder().encode(x)
        : x,
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A libzmq peer's greeting: version 3.1 (what libzmq 4.x sends), a mechanism. */
function greeting(mechanism = 'NULL', major = 3, minor = 1): Uint8Array {
  const g = new Uint8Array(GREETING_BYTES);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = major;
  g[11] = minor;
  g.set(new TextEncoder().encode(mechanism), 12);
  return g;
}
const REP_HELLO = bytes(greeting(), zmtpReady('REP'));
/** A reply as a REP sends it: the delimiter it was given back, then the body. */
const reply = (body: string) => reqMessage(new TextEncoder().encode(body));

describe('ZMTP frames', () => {
  test('short and long frames: flags, size, body', () => {
    assert.deepEqual([...zmtpFrame(0, bytes('ab'))], [0, 2, 0x61, 0x62]);
    const long = zmtpFrame(1, new Uint8Array(300));
    assert.deepEqual([...long.subarray(0, 9)], [0x03, 0, 0, 0, 0, 0, 0, 0x01, 0x2c]);
    assert.equal(long.length, 309);
  });

  test('a request is the empty delimiter (MORE) then the body', () => {
    assert.deepEqual([...reqMessage(bytes('hi'))], [0x01, 0x00, 0x00, 0x02, 0x68, 0x69]);
  });

  test("READY carries Socket-Type, and reads back as libzmq's parser reads it", () => {
    const ready = zmtpReady('REQ');
    // flags 0x04 (command), size, "\x05READY", "\x0bSocket-Type", 4-byte length, "REQ"
    assert.deepEqual(
      [...ready.subarray(0, 8)],
      [0x04, ready.length - 2, 5, ...bytes('READY').subarray(0, 5)],
    );
    const data = ready.subarray(2 + 6);
    assert.deepEqual([...readyProperties(data)!], [['Socket-Type', 'REQ']]);
    assert.equal(readyProperties(bytes(11, 'Socket-Type', 0, 0, 0, 9, 'REP')), undefined);
  });
});

describe('ZmtpReader', () => {
  const everySplit = (wire: Uint8Array, max = 1 << 20): ZmtpEvent[][] => {
    const runs: ZmtpEvent[][] = [];
    for (let cut = 1; cut < wire.length; cut++) {
      const r = new ZmtpReader(max);
      runs.push([...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))]);
    }
    const bytewise = new ZmtpReader(max);
    runs.push([...wire].flatMap((b) => bytewise.push(Uint8Array.of(b))));
    return runs;
  };

  test('greeting, READY and a two-part message, however the bytes are cut', () => {
    const wire = bytes(REP_HELLO, reply('{"status":"ok"}'));
    const whole = new ZmtpReader(1 << 20).push(wire);
    assert.deepEqual(
      whole.map((e) => e.kind),
      ['greeting', 'command', 'message'],
    );
    assert.deepEqual(whole[0], { kind: 'greeting', major: 3, minor: 1, mechanism: 'NULL' });
    const msg = whole[2] as Extract<ZmtpEvent, { kind: 'message' }>;
    assert.deepEqual(
      msg.parts.map((p) => text(p)),
      ['', '{"status":"ok"}'],
    );
    for (const run of everySplit(wire))
      assert.deepEqual(
        run.map((e) => (e.kind === 'message' ? e.parts.map(text) : e.kind)),
        ['greeting', 'command', ['', '{"status":"ok"}']],
      );
  });

  test('a long frame (8-byte size) cut anywhere', () => {
    const body = 'x'.repeat(1000);
    for (const run of everySplit(bytes(REP_HELLO, reply(body)).subarray(0, 200 + 1000))) {
      // The prefix may end inside the body: then no message yet, never a wrong one.
      const msg = run.find((e) => e.kind === 'message');
      if (msg) assert.equal(text((msg as { parts: Uint8Array[] }).parts[1]!), body);
    }
    const r = new ZmtpReader(1 << 20);
    const events = r.push(bytes(REP_HELLO, reply(body)));
    assert.equal(text((events[2] as { parts: Uint8Array[] }).parts[1]!), body);
  });

  test('fed from one reused buffer (a socket reading into a shared Buffer): what it keeps is copied', () => {
    const body = new Uint8Array(200_000).fill(0x42);
    const wire = bytes(REP_HELLO, reqMessage(body));
    for (const size of [7, 1000, 65536]) {
      const shared = Buffer.alloc(size); // a Buffer: its slice() is a view, which must not be kept
      const r = new ZmtpReader(1 << 20);
      const got: ZmtpEvent[] = [];
      for (let at = 0; at < wire.length; at += size) {
        const n = Math.min(size, wire.length - at);
        shared.set(wire.subarray(at, at + n));
        for (const e of r.push(shared.subarray(0, n)))
          got.push(
            e.kind === 'message' ? { ...e, parts: e.parts.map((p) => new Uint8Array(p)) } : e,
          );
        shared.fill(0xee); // the next read overwrites it
      }
      assert.deepEqual(
        got.map((e) => e.kind),
        ['greeting', 'command', 'message'],
        `reads of ${size}`,
      );
      const parts = (got[2] as { parts: Uint8Array[] }).parts;
      assert.equal(parts[1]!.length, body.length);
      assert.ok(
        parts[1]!.every((b) => b === 0x42),
        `reads of ${size}: the body is intact`,
      );
    }
  });

  test('a frame over the cap is refused from its header, before its body arrives', () => {
    const r = new ZmtpReader(1000);
    r.push(REP_HELLO);
    // Only the header of a 2 GB frame: the reader must not wait for (or hold) the body.
    const header = bytes(0x02, 0, 0, 0, 0, 0x80, 0, 0, 0);
    const events = r.push(header);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'error');
    assert.match((events[0] as { reason: string }).reason, /over 1000 bytes .*2147483648/);
    assert.deepEqual(r.push(reply('more')), [], 'nothing is read after an error');
  });

  test('the cap counts the whole message, headers included (a flood of empty frames)', () => {
    const r = new ZmtpReader(100);
    r.push(REP_HELLO);
    const flood = new Uint8Array(2 * 200);
    for (let i = 0; i < flood.length; i += 2) flood[i] = 0x01; // empty frames, MORE set
    const events = r.push(flood);
    assert.equal(events.at(-1)!.kind, 'error');
  });

  const bad: Array<[string, Uint8Array, RegExp]> = [
    ['an HTTP server', bytes('HTTP/1.1 400 Bad Request\r\n\r\n'), /not ZMQ: an HTTP server/],
    ['a text banner', bytes('SSH-2.0-OpenSSH\r\n'), /not ZMQ: first byte 0x53/],
    ['a broken signature', bytes(0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 3), /bad signature/],
    ['a ZMTP 2 peer', bytes(0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 5), /ZMTP 1\.x peer/],
    ['reserved flag bits', bytes(greeting(), 0x80, 0), /bad frame flags 0x80/],
    ['a command with MORE', bytes(greeting(), 0x05, 0), /command frame with MORE/],
    [
      'a command inside a message',
      bytes(greeting(), 0x01, 0, zmtpCommand('PING', bytes(0, 0))),
      /command inside a multipart/,
    ],
    ['a command shorter than its name', bytes(greeting(), 0x04, 1, 9), /shorter than its name/],
  ];
  for (const [what, wire, reason] of bad)
    test(`an error for ${what}`, () => {
      const events = new ZmtpReader(1 << 20).push(wire);
      const error = events.find((e) => e.kind === 'error') as { reason: string } | undefined;
      assert.ok(error, `no error in ${JSON.stringify(events)}`);
      assert.match(error.reason, reason);
    });
});

describe('ReqPeer', () => {
  const open = (): ReqPeer => {
    const peer = new ReqPeer(1 << 20);
    const step = peer.receive(REP_HELLO);
    assert.equal(step.opened, true);
    return peer;
  };

  test('greets, answers READY with REQ once the peer greets, opens on the REP READY', () => {
    const peer = new ReqPeer(1 << 20);
    // Signature and major version first; the rest once the peer's greeting came (libzmq's way).
    assert.deepEqual(peer.hello(), zmtpGreeting().subarray(0, 11));
    const first = peer.receive(greeting());
    assert.equal(peer.state, 'ready');
    assert.deepEqual(first.write, [zmtpGreeting().subarray(11)]);
    assert.deepEqual(bytes(peer.hello(), first.write[0]!), zmtpGreeting());
    assert.equal(first.opened, false);
    const second = peer.receive(zmtpReady('REP'));
    assert.deepEqual(second.write, [zmtpReady('REQ')], 'our READY once the peer said REP');
    assert.equal(second.opened, true);
    assert.equal(peer.state, 'open');
    assert.equal(peer.peer, 'REP (ZMTP 3.1, NULL)');
  });

  test('a peer of the wrong type is never sent our READY', () => {
    const peer = new ReqPeer(1024);
    const step = peer.receive(bytes(greeting(), zmtpReady('PUB')));
    assert.deepEqual(step.write, [zmtpGreeting().subarray(11)]);
    assert.match(step.failed ?? '', /a PUB/);
  });

  test('a ROUTER is a peer a REQ may talk to, as in libzmq', () => {
    assert.equal(new ReqPeer(1024).receive(bytes(greeting(), zmtpReady('ROUTER'))).opened, true);
  });

  test('one request at a time; its reply is the body frames behind the delimiter', () => {
    const peer = open();
    assert.deepEqual([...peer.request(bytes('q'))], [...reqMessage(bytes('q'))]);
    assert.throws(() => peer.request(bytes('again')), /already waiting/);
    const step = peer.receive(bytes(0x01, 0, 0x01, 1, 0x61, 0x00, 1, 0x62));
    assert.deepEqual(step.reply?.map(text), ['a', 'b']);
    peer.request(bytes('next')); // allowed again after the reply
  });

  test('replies not behind an empty delimiter, or unasked for, are dropped, not taken', () => {
    const peer = open();
    assert.equal(peer.receive(reply('unasked')).reply, undefined);
    peer.request(bytes('q'));
    assert.equal(peer.receive(bytes(0x00, 1, 0x61)).reply, undefined, 'no delimiter');
    assert.equal(peer.receive(bytes(0x00, 0)).reply, undefined, 'a delimiter alone');
    assert.deepEqual(peer.receive(reply('ok')).reply?.map(text), ['ok']);
  });

  test('PING is answered with PONG and its context', () => {
    const peer = open();
    const step = peer.receive(zmtpCommand('PING', bytes(0, 10, 'ctx')));
    assert.deepEqual(step.write, [zmtpCommand('PONG', bytes('ctx'))]);
    assert.equal(peer.state, 'open');
  });

  const refusals: Array<[string, Uint8Array, RegExp]> = [
    ['a CURVE server', greeting('CURVE'), /wants CURVE security/],
    ['a PUB', bytes(greeting(), zmtpReady('PUB')), /is a PUB, not a REP or ROUTER/],
    ['a READY without Socket-Type', bytes(greeting(), zmtpCommand('READY')), /of no type/],
    ['a message before READY', bytes(greeting(), reply('x')), /before the handshake/],
    ['another command before READY', bytes(greeting(), zmtpCommand('PING')), /PING before READY/],
    ['ERROR', bytes(REP_HELLO, zmtpCommand('ERROR', bytes(4, 'nope'))), /ERROR: nope/],
    ['garbage', bytes(REP_HELLO, 0xff, 0xff), /bad frame flags 0xff/],
  ];
  for (const [what, wire, reason] of refusals)
    test(`fails on ${what}, and stays failed`, () => {
      const peer = new ReqPeer(1 << 20);
      const step: ReqStep = peer.receive(wire);
      assert.match(step.failed ?? '(none)', reason);
      assert.equal(peer.state, 'failed');
      assert.deepEqual(peer.receive(reply('late')), { write: [], opened: false });
      assert.throws(() => peer.request(bytes('q')), /not open/);
    });
});
