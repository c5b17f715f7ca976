// The health feed (opsdeck.<machine>.health): what an agent sends is what the console shows,
// bounded on the way, checked and sanitised on arrival; a feed that stops turns STALE.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import {
  AGENTS_PER_PART,
  HEALTH_SCHEMA,
  healthParts,
  MESSAGE_LIMIT,
  readHealthPart,
  TEXT_LIMIT,
} from '../../source/core/health/feed.js';
import { initialHealth, observe, type AgentHealth } from '../../source/core/health/state.js';
import { AgentHealthFeed } from '../../source/stores/health-feed.js';
import { healthChange } from '../../source/core/ui/view.js';

const NOW = 1_750_000_000_000;
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

const machine: Machine = loadConfigText(
  `agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 7200, health_check_port: 8200}\n    Bravo: {script_path: b.py, port: 7201, health_check_port: 8201}\n    Charlie: {script_path: c.py, port: 7202}\n`,
  'mainpc.yaml',
  { env: {} },
).machines[0]!;

const answered = (at: number): AgentHealth =>
  observe(initialHealth(), {
    kind: 'reply',
    reading: { state: 'healthy', reason: 'ok', protocol: 'json-rm', uptimeSec: 9 },
    latencyMs: 1.5,
    at,
    raw: '{"status": "ok"}',
    via: 'ZMQ {"action": "health_check"} to 127.0.0.2:7113',
  });
const refused = (at: number): AgentHealth => ({
  ...observe(answered(at - 2000), {
    kind: 'refused',
    reason: 'nothing listens on 127.0.0.1:8201',
    at,
    note: 'MOVED: its name answered on 5001',
  }),
  moved: { port: 5000, healthPort: 5001, how: 'its name answered on 5001' },
  instrumented: false,
  metricsAnswer: 'GET /metrics on 8202: 200 with an HTTP 500 page as its body',
});

describe('the wire format', () => {
  test('a record goes out and comes back unchanged', () => {
    const agents = new Map([
      ['Alpha', answered(NOW)],
      ['Bravo', refused(NOW)],
    ]);
    const [part] = healthParts('mainpc', agents, NOW, 2000, 7);
    const read = readHealthPart(bytes(part));
    assert.ok(read.ok, read.ok ? '' : read.reason);
    assert.deepEqual(read.part.agents.Alpha, agents.get('Alpha'));
    assert.deepEqual(read.part.agents.Bravo, agents.get('Bravo'));
    assert.equal(read.part.schema, HEALTH_SCHEMA);
  });

  test('bounded: a large fleet with maximal texts goes out in parts, each under the limit', () => {
    const long = 'x'.repeat(5000);
    const huge: AgentHealth = {
      ...refused(NOW),
      reason: long,
      note: long,
      via: long,
      lastReply: long,
      metricsAnswer: long,
      answeredAs: long,
      moved: { port: 1, healthPort: 2, how: long },
      history: Array.from({ length: 500 }, () => ({ state: 'healthy' as const, latencyMs: 1.25 })),
    };
    const agents = new Map(Array.from({ length: 200 }, (_, i) => [`Agent${i}`, huge]));
    const parts = healthParts('pc2', agents, NOW, 2000, 1);
    assert.equal(parts.length, Math.ceil(200 / AGENTS_PER_PART));
    for (const p of parts) {
      const size = bytes(p).byteLength;
      assert.ok(size < MESSAGE_LIMIT, `${size} bytes`);
      const read = readHealthPart(bytes(p));
      assert.ok(read.ok);
      const a = Object.values(read.part.agents)[0]!;
      assert.equal(a.reason.length, TEXT_LIMIT);
      assert.equal(a.history.length, 60);
    }
  });

  test('what reaches the terminal is sanitised; what is not understood is refused with a reason', () => {
    const part = healthParts('mainpc', new Map([['Alpha', answered(NOW)]]), NOW, 2000, 1)[0]!;
    const evil = {
      ...part,
      agents: {
        'Al\u001b[2Jpha': {
          ...answered(NOW),
          reason: 'ok\u001b]52;c;ZXZpbA==\u0007 \u202eevil',
          note: '\u009b31m red',
        },
      },
    };
    const read = readHealthPart(bytes(evil));
    assert.ok(read.ok);
    const [name, h] = Object.entries(read.part.agents)[0]!;
    assert.equal(name, 'Alpha');
    assert.equal(h.reason, 'ok evil');
    assert.equal(h.note, ' red');

    const refusedFor = (v: unknown) => {
      const r = readHealthPart(typeof v === 'string' ? new TextEncoder().encode(v) : bytes(v));
      assert.equal(r.ok, false, JSON.stringify(v).slice(0, 80));
      return r.ok ? '' : r.reason;
    };
    assert.match(refusedFor('{not json'), /not JSON/);
    assert.match(refusedFor([1]), /not a JSON object/);
    assert.match(refusedFor({ ...part, schema: 'opsdeck.health/9' }), /expected opsdeck.health\/1/);
    assert.match(refusedFor({ ...part, machine: '../x' }), /machine/);
    assert.match(refusedFor({ ...part, part: 3, parts: 2 }), /part must be/);
    assert.match(
      refusedFor({ ...part, agents: { A: { ...answered(NOW), state: 'great' } } }),
      /state/,
    );
    assert.match(
      refusedFor({ ...part, agents: { A: { ...answered(NOW), protocol: 'telnet' } } }),
      /protocol/,
    );
    assert.match(
      refusedFor({ ...part, agents: { A: { ...answered(NOW), moved: { port: 99999 } } } }),
      /moved/,
    );
    assert.match(
      refusedFor({ ...part, agents: { A: { ...answered(NOW), latencyMs: 'fast' } } }),
      /latencyMs/,
    );
    const big = new Uint8Array(MESSAGE_LIMIT + 1);
    const r = readHealthPart(big);
    assert.equal(r.ok, false);
  });
});

describe('the console side (--health-from agents)', () => {
  const key = (a: string) => `mainpc/${a}`;

  test('waiting before the agent speaks; then its records, on this clock; unprobed agents say why', () => {
    const feed = new AgentHealthFeed([machine], { notifyMs: 1 });
    assert.match(
      feed.flush().agents.get(key('Alpha'))!.reason,
      /waiting for mainpc's opsdeck agent on opsdeck\.mainpc\.health/,
    );
    // The agent's clock is 5 s behind ours: times are moved onto ours.
    const skew = 5000;
    const sent = healthParts(
      'mainpc',
      new Map([
        ['Alpha', answered(NOW - skew)],
        ['Bravo', refused(NOW - skew)],
        ['Stranger', answered(NOW - skew)],
      ]),
      NOW - skew,
      2000,
      1,
    );
    for (const p of sent) feed.accept(bytes(p), NOW);
    const agents = feed.flush().agents;
    assert.equal(agents.get(key('Alpha'))!.state, 'healthy');
    assert.equal(agents.get(key('Alpha'))!.lastReplyAt, NOW);
    assert.equal(agents.get(key('Bravo'))!.state, 'unreachable');
    assert.equal(agents.get(key('Bravo'))!.cause, 'refused');
    assert.deepEqual(agents.get(key('Bravo'))!.moved, refused(NOW).moved);
    assert.match(
      agents.get(key('Charlie'))!.reason,
      /mainpc's opsdeck agent does not probe it: its fleet config has no Charlie/,
    );
    assert.equal(agents.has('mainpc/Stranger'), false);
    feed.stop();
  });

  test("a round that changes nothing the tables draw is no change to show now, across the wire's clock shift", () => {
    const feed = new AgentHealthFeed([machine], { notifyMs: 1 });
    // The agent's own records: a full history of replies around 2 ms, and one agent refused and
    // found elsewhere (MOVED), each round a new object on the agent's side.
    const round = (k: number, at: number) => {
      let alpha = initialHealth();
      for (let i = 0; i <= k; i++)
        alpha = observe(alpha, {
          kind: 'reply',
          reading: { state: 'healthy', reason: 'ok', protocol: 'json-rm' },
          latencyMs: 1.5 + (i % 2) / 10,
          at: at - (k - i) * 2000,
        });
      return new Map([
        ['Alpha', alpha],
        ['Bravo', refused(NOW - 60_000)],
      ]);
    };
    // Each message arrives a few ms after it was sent, never the same few: the shift differs.
    const send = (k: number, at: number, delay: number) => {
      for (const p of healthParts('mainpc', round(k, at), at, 2000, k))
        feed.accept(bytes(p), at + delay);
      return feed.flush().agents;
    };
    const first = send(40, NOW, 3);
    const second = send(41, NOW + 2000, 7);
    assert.notEqual(
      second.get(key('Alpha')),
      first.get(key('Alpha')),
      'the feed makes new objects',
    );
    assert.notEqual(
      healthChange(first, second),
      'now',
      'nothing drawn at once changed (since moved with the delay, moved is a new equal object)',
    );
    // A drawn change (Alpha stops answering) is a new object for Alpha only.
    const down = new Map(round(42, NOW + 4000));
    down.set(
      'Alpha',
      observe(down.get('Alpha')!, { kind: 'refused', reason: 'refused', at: NOW + 4000 }),
    );
    for (const p of healthParts('mainpc', down, NOW + 4000, 2000, 42))
      feed.accept(bytes(p), NOW + 4004);
    const third = feed.flush().agents;
    assert.equal(third.get(key('Alpha'))!.state, 'unreachable');
    assert.equal(healthChange(second, third), 'now', 'a state the tables draw changed');
    feed.stop();
  });

  test('a feed that stops: every row turns STALE after a few of its intervals, and back when it resumes', () => {
    const feed = new AgentHealthFeed([machine], { notifyMs: 1, minStaleMs: 1000 });
    const send = (at: number) => {
      for (const p of healthParts('mainpc', new Map([['Alpha', answered(at)]]), at, 2000, at))
        feed.accept(bytes(p), at);
    };
    send(NOW);
    feed.checkStale(NOW + 6000);
    assert.equal(feed.flush().agents.get(key('Alpha'))!.state, 'healthy', 'within 3 intervals');
    feed.checkStale(NOW + 6001);
    const stale = feed.flush().agents.get(key('Alpha'))!;
    assert.equal(stale.state, 'stale');
    assert.match(stale.reason, /no health from mainpc's opsdeck agent for 6 s/);
    assert.equal(feed.feeds()[0]!.stale, true);
    send(NOW + 7000);
    assert.equal(feed.flush().agents.get(key('Alpha'))!.state, 'healthy');
    feed.stop();
  });

  test('refused messages change nothing and are counted; probeAll waits for a full round', async () => {
    const feed = new AgentHealthFeed([machine], { notifyMs: 1, waitMs: 60_000 });
    const before = feed.flush().agents.get(key('Alpha'));
    feed.accept(new TextEncoder().encode('{"schema":"opsdeck.health/1"}'), NOW);
    assert.equal(feed.rejected, 1);
    assert.match(feed.lastRejection ?? '', /machine/);
    assert.deepEqual(feed.flush().agents.get(key('Alpha')), before);
    let done = false;
    const waiting = feed.probeAll().then(() => (done = true));
    const parts = healthParts(
      'mainpc',
      new Map(Array.from({ length: AGENTS_PER_PART + 1 }, (_, i) => [`A${i}`, answered(NOW)])),
      NOW,
      2000,
      3,
    );
    feed.accept(bytes(parts[0]), NOW);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(done, false, 'one part of two is not a round');
    feed.accept(bytes(parts[1]), NOW);
    await waiting;
    assert.equal(feed.feeds()[0]!.complete, true);
    feed.stop();
  });
});
