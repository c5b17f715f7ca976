// Fault injection: one 500 MB ZMQ frame at each kind of socket opsdeck receives on: the
// console's error-bus SUB, a health probe's REQ (the frame is the reply), and the bridge's bound
// SUB. libzmq buffered such a frame whole before anyone could look at its size (the bridge went
// from 75 MB to 1.05 GB RSS); with maxMessageSize it drops the connection when the frame's header
// announces the size. Each receiver runs in a child process of its own, whose RSS is polled
// every 20 ms: it must not rise by more than the cap plus a margin for the runtime.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Reply, XPublisher, type Socket } from 'zeromq';
import { startNatsServer, type NatsServer } from '../../source/adapters/nats-server.js';
import { ZMQ_MAX_MESSAGE } from '../../source/adapters/zmq-limits.js';
import { host, NATS_BIN, NEEDS_NATS, until } from './helpers.js';

const CHILD = fileURLToPath(new URL('./huge-frame-child.ts', import.meta.url));
const MB = 1024 * 1024;
const FRAME = 500 * MB;
/** What the runtime may add while a connection is dropped and made again: generous. */
const MARGIN = 120 * MB;
const HOST = host(51);

class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  constructor(args: string[]) {
    this.proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, ...args], {
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.test.json' },
    });
    let buf = '';
    this.proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      this.lines.push(...parts);
    });
    this.proc.stderr.on('data', (d: Buffer) => this.lines.push(`stderr ${d.toString().trim()}`));
  }
  line(prefix: string): string | undefined {
    return this.lines.find((l) => l.startsWith(prefix));
  }
  async value(prefix: string, ms = 20_000): Promise<number> {
    const l = await until(
      `${prefix} from the child`,
      () => this.line(prefix),
      ms,
      () => this.lines.join(' | '),
    );
    return Number(l.split(' ')[1]);
  }
  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Resolves once the socket's peer connection closed (the receiver dropped it). */
const dropped = (socket: Socket) =>
  new Promise<string>((resolve) => socket.events.on('disconnect', () => resolve('dropped')));

/** Sends the frame, waits until the receiver dealt with it, and returns how much its RSS rose. */
async function rise(child: Child, send: (big: Buffer) => Promise<unknown>, dealt: Promise<string>) {
  const base = await child.value('ready');
  const big = Buffer.alloc(FRAME, 0x41);
  void send(big).catch(() => undefined);
  const how = await Promise.race([
    dealt,
    until(
      'the child to see the frame',
      () => child.line('event'),
      25_000,
      () => child.lines.join(' | '),
    ),
  ]);
  child.proc.stdin.write('done\n');
  const max = await child.value('max');
  const events = child.lines.filter((l) => l.startsWith('event'));
  // The figures for the README's Reliability section.
  console.log(
    `# RSS ${(base / MB).toFixed(0)} MB -> peak ${(max / MB).toFixed(0)} MB (${how}; ${events.join(', ') || 'no event'})`,
  );
  return { rise: max - base, how, events };
}

describe('a 500 MB ZMQ frame', () => {
  const cap = ZMQ_MAX_MESSAGE.errors;

  test('at the console error-bus SUB: the connection is dropped, RSS stays flat', async () => {
    const pub = new XPublisher({ linger: 0, sendHighWaterMark: 0 });
    cleanups.push(() => pub.close());
    await pub.bind(`tcp://${HOST}:7150`);
    const child = new Child(['sub', `tcp://${HOST}:7150`]);
    cleanups.push(() => child.kill());
    await pub.receive(); // its subscription: a frame sent now reaches it
    const r = await rise(child, (big) => pub.send(big), dropped(pub));
    assert.ok(
      r.rise < cap + MARGIN,
      `RSS rose ${(r.rise / MB).toFixed(0)} MB (cap ${cap / MB} MB + ${MARGIN / MB} MB); ${r.how}; ${r.events.join(', ')}`,
    );
  });

  test('as the reply to a health probe (REQ): the probe times out, RSS stays flat', async () => {
    const rep = new Reply({ linger: 0 });
    cleanups.push(() => rep.close());
    await rep.bind(`tcp://${HOST}:18151`);
    const child = new Child(['req', `tcp://${HOST}:18151`]);
    cleanups.push(() => child.kill());
    const r = await rise(
      child,
      async (big) => {
        await rep.receive();
        await rep.send(big);
      },
      dropped(rep),
    );
    assert.ok(
      r.rise < ZMQ_MAX_MESSAGE.reply + MARGIN,
      `RSS rose ${(r.rise / MB).toFixed(0)} MB (cap ${ZMQ_MAX_MESSAGE.reply / MB} MB + ${MARGIN / MB} MB); ${r.how}; ${r.events.join(', ')}`,
    );
  });

  describe('at the bridge', { skip: NEEDS_NATS }, () => {
    let server: NatsServer;
    before(async () => {
      server = await startNatsServer({ bin: NATS_BIN!, host: HOST });
      cleanups.push(() => server.stop());
    });
    test("at the bridge's bound SUB: the publisher is dropped, RSS stays flat", async () => {
      const child = new Child(['bridge', HOST, '7151', server.url]);
      cleanups.push(() => child.kill());
      await child.value('ready');
      const pub = new XPublisher({ linger: 0, sendHighWaterMark: 0 });
      cleanups.push(() => pub.close());
      pub.connect(`tcp://${HOST}:7151`);
      await pub.receive();
      const r = await rise(child, (big) => pub.send(big), dropped(pub));
      assert.ok(
        r.rise < cap + MARGIN,
        `RSS rose ${(r.rise / MB).toFixed(0)} MB (cap ${cap / MB} MB + ${MARGIN / MB} MB); ${r.how}; ${r.events.join(', ')}`,
      );
    });
  });
});
