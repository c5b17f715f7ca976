// Fault injection: 11,000 hostile frames (malformed JSON, binary, 1 MiB, escape sequences in
// every field a screen shows, bidi overrides, unknown topics, a NATS header carrying ESC) into
// the real data plane over real ZeroMQ and a real nats-server. Nothing crashes, every frame is
// accounted for (malformed counted exactly, the rest received), and nothing unsanitised reaches
// a rendered frame: the Errors screen (ink-testing-library) and the real binary in tmux, where
// an escaped title or OSC 52 clipboard write would show as the pane title or a paste buffer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { connect, headers, type NatsConnection } from 'nats';
import { Publisher } from 'zeromq';
import { startNatsServer, type NatsServer } from '../../source/adapters/nats-server.js';
import { Errors } from '../../source/screens/errors.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';
import {
  consoleCommand,
  host,
  NATS_BIN,
  NEEDS_NATS,
  NEEDS_TMUX_NATS,
  re,
  sleep,
  tempDir,
  Tmux,
  until,
  writeFleet,
} from './helpers.js';

const HOSTS = { mainpc: host(91), pc2: host(92) };
const tmp = tempDir('hostile');
const fleet = writeFleet(tmp.dir, HOSTS);
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});

const ESC =
  '\u001b]0;opsdeck pwned\u0007\u001b[2J\u001b[31;5m\u009b6n\u001b]52;c;b3BzZGVjaw==\u0007';
const BIDI = '\u202eLAHPLA\u202c';
/** Any control character, C1, DEL or bidi override: what must never reach the screen. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;
// Ink's own SGR colour codes are the only escapes a rendered frame may carry.
// eslint-disable-next-line no-control-regex
const withoutInkColour = (frame: string) => frame.replace(/\x1b\[[0-9;]*m/g, '');

type Frame = (string | Buffer)[];
interface Batch {
  frames: Frame[];
  malformed: number;
  valid: number;
}

/** Frames for one machine: six in eight malformed (one in 500 of them 1 MiB), two in eight valid but hostile. */
function zmqBatch(machine: string, count: number): Batch {
  const frames: Frame[] = [];
  let malformed = 0;
  let valid = 0;
  const bin = (i: number) =>
    Buffer.from([
      0x00,
      0xff,
      0xc3,
      0x28,
      0x1b,
      0x9b,
      0x9d,
      0x07,
      ...Array.from({ length: 56 }, (_, k) => (i * 31 + k * 7) & 0xff),
    ]);
  for (let i = 0; i < count; i++) {
    if (i % 500 === 499) {
      frames.push([
        `ERROR:{"source":"Alpha","error_data":{"details":{"blob":"${'x'.repeat(1024 * 1024)}${ESC}"}}}`,
      ]);
      malformed++;
      continue;
    }
    switch (i % 8) {
      case 0:
        frames.push([`ERROR:{"source":"Alpha","error_data":{"error_id":"${machine}-${i}",`]);
        malformed++;
        break;
      case 1:
        frames.push([bin(i)]);
        malformed++;
        break;
      case 2:
        frames.push([`${ESC} not an error frame ${i}`]);
        malformed++;
        break;
      case 3:
        frames.push([`${ESC}TOPIC`, '{"x": 1}']); // an unknown topic, quoted in the reason
        malformed++;
        break;
      case 4:
        frames.push(['ERROR', '{}', `${ESC}third`]);
        malformed++;
        break;
      case 5:
        frames.push([
          'ERROR:' +
            JSON.stringify({
              source: `Alpha${ESC}`,
              timestamp: `2025-01-01T00:00:00${ESC}`,
              error_data: {
                error_id: `${machine}-${i}${ESC}`,
                error_type: `Timeout${ESC}`,
                severity: 'high',
                details: { message: `disk on fire ${ESC} ${i % 40}`, note: ESC },
              },
            }),
        ]);
        valid++;
        break;
      case 6:
        frames.push([
          'ERROR',
          JSON.stringify({
            agent: `${BIDI}${ESC}`,
            error_type: 'ConnectionError',
            message: `reset by ${BIDI} ${i % 40}`,
            id: `${machine}-b-${i}${ESC}`,
            timestamp: ESC,
          }),
        ]);
        valid++;
        break;
      default:
        frames.push(['']);
        malformed++;
    }
  }
  return { frames, malformed, valid };
}

async function bindPub(host: string, port: number): Promise<Publisher> {
  // Unlimited send queue: every frame must reach the subscriber, so the count can be exact.
  const pub = new Publisher({ linger: 0, sendHighWaterMark: 0 });
  await pub.bind(`tcp://${host}:${port}`);
  cleanups.push(() => pub.close());
  return pub;
}

const pc2BusPort = () =>
  fleet.machines.find((m) => m.id === 'pc2')!.globals.errorBusPort?.value ?? 7150;

describe('hostile frames into the data plane', { skip: NEEDS_NATS }, () => {
  let server: NatsServer;
  let plane: DataPlane;
  let nc: NatsConnection;
  let pubs: Record<string, Publisher>;

  before(async () => {
    server = await startNatsServer({ bin: NATS_BIN!, host: HOSTS.mainpc });
    cleanups.push(() => server.stop());
    pubs = {
      mainpc: await bindPub(HOSTS.mainpc, 7150),
      pc2: await bindPub(HOSTS.pc2, pc2BusPort()),
    };
    plane = startDataPlane({
      machines: fleet.machines,
      nats: server.url,
      live: false,
      errors: { notifyMs: 10 },
    });
    cleanups.push(() => plane.stop());
    nc = await connect({ servers: server.url });
    cleanups.push(() => nc.close());
    // Past the slow joiner: publish a probe on each bus until it shows.
    const seen = (text: string) => plane.errors.flush().rows.some((r) => r.event.message === text);
    for (const [machine, pub] of Object.entries(pubs)) {
      await until(`${machine} bus subscribed`, async () => {
        await pub.send(
          `ERROR:${JSON.stringify({ source: 'Probe', error_data: { error_type: 'probe', details: { message: `probe ${machine}` } } })}`,
        );
        await sleep(20);
        return seen(`probe ${machine}`);
      });
    }
    await until('NATS feed', () => plane.natsFeed());
    await until('NATS subscribed', async () => {
      nc.publish(
        'errors.agents.Probe',
        JSON.stringify({ agent_name: 'Probe', message: 'probe nats', category: 'probe' }),
      );
      await nc.flush();
      await sleep(20);
      return seen('probe nats');
    });
    await sleep(200); // probes in flight land before the baseline
  });

  test('10,000 ZMQ and 1,000 NATS hostile frames: no crash, every one accounted for', async () => {
    const base = plane.errors.flush().counters;
    const baseMalformed = base.malformed;
    const baseReceived = { ...base.received };
    const batches = { mainpc: zmqBatch('mainpc', 5000), pc2: zmqBatch('pc2', 5000) };
    const sending = Object.entries(batches).map(async ([machine, batch]) => {
      for (const f of batch.frames) await pubs[machine]!.send(f);
    });
    let natsMalformed = 0;
    let natsValid = 0;
    for (let i = 0; i < 1000; i++) {
      const h = headers();
      h.set('machine', `pc2${ESC}`);
      h.set('agent', `Echo${ESC}`);
      switch (i % 4) {
        case 0:
          nc.publish('errors.agents.Echo', Buffer.from([0x00, 0xff, 0x1b, 0x9b, 0x5b, 0x32, 0x4a]));
          natsMalformed++;
          break;
        case 1:
          nc.publish(`errors.agents.Echo`, `{"agent_name": "Echo${ESC}", "message": `, {
            headers: h,
          });
          natsMalformed++;
          break;
        case 2:
          nc.publish(
            'errors.agents.Echo',
            JSON.stringify({
              agent_name: `Echo${ESC}`,
              severity: `error${ESC}`,
              category: ESC,
              message: `queue full ${ESC} ${i % 30}`,
              id: `n-${i}${ESC}`,
              timestamp: ESC,
            }),
            { headers: h },
          );
          natsValid++;
          break;
        default:
          nc.publish(
            `errors.error.Echo`,
            JSON.stringify({
              source_agent: `${BIDI}Echo`,
              error_id: `s-${i}${ESC}`,
              correlation_id: ESC,
              error_type: ESC,
              message: `stream ${ESC} ${i % 30}`,
              timestamp: ESC,
            }),
            { headers: h },
          );
          natsValid++;
      }
    }
    await nc.flush();
    await Promise.all(sending);
    const wantMalformed =
      baseMalformed + batches.mainpc.malformed + batches.pc2.malformed + natsMalformed;
    const want = {
      zmq: baseReceived.zmq + batches.mainpc.valid + batches.pc2.valid,
      nats: baseReceived.nats + natsValid,
    };
    const counters = await until(
      'every frame counted',
      () => {
        const c = plane.errors.flush().counters;
        return c.malformed === wantMalformed &&
          c.received.zmq === want.zmq &&
          c.received.nats === want.nats
          ? c
          : undefined;
      },
      20_000,
      () =>
        `counters ${JSON.stringify(plane.errors.flush().counters)}, want malformed ${wantMalformed}, received ${JSON.stringify(want)}`,
    );
    assert.ok(
      batches.mainpc.malformed + batches.pc2.malformed + natsMalformed >= 7500,
      'most of the frames are malformed',
    );
    assert.equal(counters.dropped, 0);
    await sleep(300);
    const after = plane.errors.flush().counters;
    assert.equal(after.malformed, wantMalformed, 'nothing counted twice');
    assert.deepEqual(after.received, want);
  });

  test('every row, sample and reason in the store is inert text', () => {
    const snap = plane.errors.flush();
    assert.ok(snap.rows.length > 0 && snap.malformed.length > 0);
    for (const r of snap.rows) {
      const e = r.event;
      for (const [field, value] of Object.entries({
        machine: e.machine,
        agent: e.agent,
        category: e.category,
        message: e.message,
        sentAt: e.sentAt ?? '',
        ids: e.ids.join(' '),
      })) {
        assert.doesNotMatch(value, UNSAFE, `row ${r.id} ${field}: ${JSON.stringify(value)}`);
      }
    }
    for (const s of snap.malformed) {
      assert.doesNotMatch(s.reason, UNSAFE, `malformed reason ${JSON.stringify(s.reason)}`);
      assert.doesNotMatch(s.sample, UNSAFE, `malformed sample ${JSON.stringify(s.sample)}`);
      assert.ok(s.sample.length < 400, 'a 1 MiB frame is sampled, not kept');
    }
    for (const p of snap.publishers) assert.doesNotMatch(`${p.machine} ${p.agent}`, UNSAFE);
  });

  test('the Errors screen renders every hostile row and its detail without one escape byte', () => {
    const snap = plane.errors.flush();
    const hostile = snap.rows.filter(
      (r) =>
        r.event.message !== 'probe mainpc' &&
        r.event.message !== 'probe pc2' &&
        r.event.message !== 'probe nats',
    );
    assert.ok(hostile.length >= 4, `${hostile.length} hostile rows`);
    const shown = new Set<string>();
    const words = ['disk on fire', 'reset by', 'queue full', 'stream'];
    // One row of each hostile kind selected (its detail in full below the list), and the newest few.
    const cursors = new Set([
      0,
      1,
      2,
      3,
      ...words.map((w) => snap.rows.findIndex((r) => r.event.message.startsWith(w))),
    ]);
    for (const cursor of cursors) {
      assert.ok(cursor >= 0, 'every hostile kind has a row');
      const { lastFrame, unmount } = render(
        <Errors
          rows={snap.rows}
          counters={snap.counters}
          malformed={snap.malformed}
          cursor={cursor}
          width={160}
          height={30}
          now={Date.now()}
          paused={false}
          filter=""
        />,
      );
      const frame = withoutInkColour(lastFrame() ?? '');
      unmount();
      assert.doesNotMatch(
        frame,
        UNSAFE,
        `cursor ${cursor}: ${JSON.stringify(frame.split('\n').find((l) => UNSAFE.test(l)))}`,
      );
      for (const word of [...words, 'last malformed']) if (frame.includes(word)) shown.add(word);
    }
    assert.deepEqual(
      [...shown].sort(),
      ['disk on fire', 'last malformed', 'queue full', 'reset by', 'stream'],
      'the hostile rows were on screen',
    );
  });
});

describe('hostile frames on the real console (tmux)', { skip: NEEDS_TMUX_NATS }, () => {
  // set-clipboard on: an OSC 52 reaching tmux becomes a paste buffer; OSC 0 sets the pane title.
  const conf = join(tmp.dir, 'tmux.conf');
  writeFileSync(conf, 'set -g set-clipboard on\nset -g allow-rename on\n');
  const tmux = new Tmux('hostile', conf);
  let server: NatsServer;
  let pubs: Publisher[];

  before(async () => {
    server = await startNatsServer({ bin: NATS_BIN!, host: HOSTS.pc2 });
    cleanups.push(() => server.stop());
    // PC2's bus on a port of its own, so these publishers are this test's alone.
    const own = join(tmp.dir, 'console');
    mkdirSync(own);
    const sub = writeFleet(own, { ...HOSTS, busPort: 7151, agents: { Alpha: [17911, 18911] } });
    pubs = [await bindPub(HOSTS.pc2, 7151)];
    const args = [
      'console',
      '--mainpc',
      sub.files.mainpc,
      '--pc2',
      sub.files.pc2,
      '--nats',
      server.url,
      '--interval',
      '500ms',
    ];
    tmux.run(
      'new-session',
      '-d',
      '-s',
      'ops',
      '-x',
      '160',
      '-y',
      '40',
      '-e',
      `MAINPC_IP=${HOSTS.mainpc}`,
      '-e',
      `PC2_IP=${HOSTS.pc2}`,
      '-e',
      `OPSDECK_CONFIG_DIR=${tmp.dir}`,
      '-e',
      `OPSDECK_AUDIT=${join(tmp.dir, 'audit.jsonl')}`,
      '-e',
      'TERM=xterm-256color',
      consoleCommand(args),
    );
    cleanups.push(() => tmux.kill());
    await tmux.until('the console', (t) => new RegExp(`PC2 ${re(HOSTS.pc2)}`).test(t));
  });

  test('escape sequences in every field: no title change, no clipboard write, the console stays up', async () => {
    const title = tmux.display('#{pane_title}');
    const pc2 = pubs[0]!;
    // The console's SUB joins late: keep sending until the rows show, then a burst.
    await until(
      'hostile rows on screen',
      async () => {
        for (let i = 0; i < 50; i++) {
          await pc2.send([
            'ERROR',
            JSON.stringify({
              agent: `Mallory${ESC}`,
              error_type: ESC,
              message: `disk on fire ${ESC} ${i}`,
              id: `x-${i}${ESC}`,
              timestamp: ESC,
            }),
          ]);
          await pc2.send([`${ESC}TOPIC`, '{}']);
          await pc2.send([`${ESC} raw`]);
        }
        return /disk on fire/.test(tmux.screen());
      },
      15_000,
    );
    tmux.keys('3'); // the Errors screen: the selected row's ids, timestamp and details in full
    const text = await tmux.until(
      'errors screen with detail',
      (t) => /ERROR STREAM/.test(t) && /ids x-\d+/.test(t) && /last malformed/.test(t),
    );
    assert.match(text, /Mallory/);
    assert.equal(
      tmux.display('#{pane_title}'),
      title,
      'the pane title was not changed by an OSC 0',
    );
    assert.equal(tmux.run('list-buffers'), '', 'no OSC 52 clipboard write reached tmux');
    assert.equal(tmux.display('#{alternate_on}'), '1', 'still on the alternate screen');
    assert.doesNotMatch(text, /EXIT=/, 'the console is still running');
    tmux.keys('q');
    const end = await tmux.until('exit', (t) => t.includes('EXIT='));
    assert.match(end, /EXIT=0/);
  });

  test('control: the same bytes printed raw do change the title and write the clipboard', async () => {
    // Proves the two detectors above can fail.
    tmux.run(
      'new-window',
      '-t',
      'ops',
      '-n',
      'raw',
      `printf '${ESC.replaceAll('\u001b', '\\033').replaceAll('\u0007', '\\007').replaceAll('\u009b', '')}'; sleep 30`,
    );
    await until(
      'title changed by the raw bytes',
      () => tmux.display('#{pane_title}', 'ops:raw') === 'opsdeck pwned',
      5000,
    );
    assert.match(tmux.run('list-buffers'), /opsdeck/);
  });
});
