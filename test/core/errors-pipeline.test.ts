// Dedup across buses, flood collapse and the counters, replayed on exact timelines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, ErrorEvent } from '../../source/core/errors/event.js';
import { DEFAULT_FLOOD, FloodDetector, signature } from '../../source/core/errors/flood.js';
import {
  accounting,
  byLastSeen,
  ErrorPipeline,
  seenAt,
} from '../../source/core/errors/pipeline.js';
import { Ring } from '../../source/core/errors/ring.js';
import { ENTRY_BYTES } from '../../source/core/errors/window.js';

const ev = (over: Partial<ErrorEvent> & { bus: Bus }): ErrorEvent => ({
  machine: 'mainpc',
  agent: 'NLUAgent',
  severity: 'error',
  category: 'ValueError',
  message: 'bad input',
  details: {},
  ids: [],
  format: over.bus === 'zmq' ? 'zmq-a' : 'nats-errors',
  receivedAt: 0,
  ...over,
});

describe('ring', () => {
  test('keeps the newest, reports what it pushes out', () => {
    const r = new Ring<number>(3);
    assert.equal(r.push(1), undefined);
    r.push(2);
    r.push(3);
    assert.equal(r.push(4), 1);
    assert.deepEqual(r.newest(), [4, 3, 2]);
    assert.deepEqual(r.newest(2), [4, 3]);
    assert.equal(r.size, 3);
    assert.throws(() => new Ring(0), /positive integer/);
  });
});

describe('cross-bus dedup', () => {
  test('the same id on ZMQ and NATS is one row marked both', () => {
    const p = new ErrorPipeline();
    p.add(ev({ bus: 'zmq', ids: ['e1'] }), 1000);
    p.add(ev({ bus: 'nats', ids: ['n9', 'e1'], message: 'worded differently' }), 1010);
    const rows = p.rows.newest();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.bus, 'both');
    assert.equal(p.counters.matched, 1);
    assert.deepEqual(p.counters.received, { zmq: 1, nats: 1 });
  });

  test('without ids the content fingerprint matches within the window only', () => {
    const p = new ErrorPipeline({ dedupWindowMs: 5000 });
    p.add(ev({ bus: 'zmq', format: 'zmq-b' }), 1000);
    p.add(ev({ bus: 'nats' }), 2000);
    assert.equal(p.rows.size, 1);
    p.add(ev({ bus: 'zmq', format: 'zmq-b' }), 9000);
    p.add(ev({ bus: 'nats' }), 20_000);
    assert.equal(p.rows.size, 3, 'beyond the window they are separate errors');
    p.add(ev({ bus: 'zmq', message: 'tick' }), 40_000);
    assert.equal(p.counters.zmqOnly, 1);
    assert.equal(p.counters.natsOnly, 1);
  });

  test('same-bus repeats (errors.events + errors.agents.<a>) are copies, not rows', () => {
    const p = new ErrorPipeline();
    p.add(ev({ bus: 'nats', ids: ['n1'] }), 0);
    p.add(ev({ bus: 'nats', ids: ['n1'] }), 1);
    assert.equal(p.rows.size, 1);
    assert.equal(p.counters.copies, 1);
    assert.equal(p.rows.newest()[0]!.bus, 'nats');
  });

  test('id-less repeats on one bus are new occurrences (variant B floods), not copies', () => {
    const p = new ErrorPipeline({ flood: { rateCount: 5, rateWindowMs: 10_000, rules: [] } });
    for (let i = 0; i < 50; i++) p.add(ev({ bus: 'zmq', format: 'zmq-b' }), i);
    assert.equal(p.counters.copies, 0);
    assert.equal(p.counters.shown + p.counters.collapsed, 50);
    assert.equal(p.rows.newest()[0]!.count, 45);
  });

  test('distinct ids with the same text are distinct errors', () => {
    const p = new ErrorPipeline();
    p.add(ev({ bus: 'zmq', ids: ['a'] }), 0);
    p.add(ev({ bus: 'nats', ids: ['b'] }), 1);
    assert.equal(p.rows.size, 2);
    assert.equal(p.counters.matched, 0);
  });

  test('publishers per bus feed the phase preflight', () => {
    const p = new ErrorPipeline();
    p.add(ev({ bus: 'zmq', ids: ['1'] }), 5);
    p.add(ev({ bus: 'nats', ids: ['1'] }), 6);
    p.add(ev({ bus: 'zmq', agent: 'Executor', ids: ['2'] }), 7);
    assert.deepEqual(p.publishers.get('mainpc|NLUAgent'), {
      machine: 'mainpc',
      agent: 'NLUAgent',
      zmq: 1,
      nats: 1,
      lastZmq: 5,
      lastNats: 6,
    });
    assert.equal(p.publishers.get('mainpc|Executor')?.nats, 0);
  });
});

describe('floods', () => {
  test('a burst collapses into one row that keeps counting; every event is accounted for', () => {
    const p = new ErrorPipeline({ flood: { rateCount: 20, rateWindowMs: 10_000, rules: [] } });
    for (let i = 0; i < 1000; i++)
      p.add(ev({ bus: 'zmq', ids: [`x${i}`], message: `disk full at block ${i}` }), 1000 + i);
    const rows = p.rows.newest();
    assert.equal(rows.length, 21, '20 rows before the threshold, then one flood row');
    const flood = rows[0]!;
    assert.equal(flood.count, 980);
    assert.match(flood.flood!.rule, /rate>20\/10s/);
    const c = p.counters;
    assert.equal(c.received.zmq, 1000);
    assert.equal(c.shown + c.collapsed, 1000);
  });

  test('a flood ends when its window passes; the next burst gets a new row', () => {
    const p = new ErrorPipeline({ flood: { rateCount: 2, rateWindowMs: 1000, rules: [] } });
    for (let i = 0; i < 5; i++) p.add(ev({ bus: 'zmq', ids: [`a${i}`] }), i);
    for (let i = 0; i < 5; i++) p.add(ev({ bus: 'zmq', ids: [`b${i}`] }), 5000 + i);
    const floods = p.rows.newest().filter((r) => r.flood);
    assert.equal(floods.length, 2);
    assert.deepEqual(
      floods.map((r) => r.count),
      [3, 3],
    );
  });

  test('the ZMQ twin of a collapsed NATS event marks the flood row both', () => {
    const p = new ErrorPipeline({ flood: { rateCount: 1, rateWindowMs: 10_000, rules: [] } });
    p.add(ev({ bus: 'nats', ids: ['1'] }), 0);
    p.add(ev({ bus: 'nats', ids: ['2'] }), 1);
    p.add(ev({ bus: 'nats', ids: ['3'] }), 2);
    p.add(ev({ bus: 'zmq', ids: ['3'] }), 3);
    const flood = p.rows.newest()[0]!;
    assert.equal(flood.count, 2);
    assert.equal(flood.bus, 'both');
  });

  const upstream: Array<[string, Partial<ErrorEvent>, number, string, string]> = [
    [
      'ConnectionError 10/60 s throttles',
      { message: 'ConnectionError: refused' },
      10,
      'ConnectionError 10/60s',
      'throttle',
    ],
    [
      'TimeoutError 5/30 s throttles',
      { category: 'TimeoutError' },
      5,
      'TimeoutError 5/30s',
      'throttle',
    ],
    [
      'MemoryError 3/300 s escalates',
      { message: 'MemoryError in loader' },
      3,
      'MemoryError 3/300s',
      'escalate',
    ],
    ['CRITICAL 5/60 s escalates', { severity: 'critical' }, 5, 'CRITICAL 5/60s', 'escalate'],
  ];
  for (const [name, over, count, rule, action] of upstream) {
    test(name, () => {
      const d = new FloodDetector();
      let verdict = d.check(ev({ bus: 'zmq', ...over }), 0);
      for (let i = 1; i < count - 1; i++) verdict = d.check(ev({ bus: 'zmq', ...over }), i * 10);
      assert.equal(verdict.flooding, false, 'not before the limit');
      verdict = d.check(ev({ bus: 'zmq', ...over }), count * 10);
      assert.deepEqual([verdict.flooding, verdict.rule, verdict.action], [true, rule, action]);
    });
  }

  test('window keys are machine|agent|category|signature, however many it has kept made', () => {
    const d = new FloodDetector();
    // More combinations than it keeps (4,096 rate keys, 1,024 agents' rule keys), each twice.
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 6000; i++) {
        const e = ev({
          bus: 'zmq',
          machine: i % 2 ? 'pc2' : 'mainpc',
          agent: `Agent${i % 1500}`,
          category: i % 3 ? 'TimeoutError' : 'pc2_service',
          message: `TimeoutError on call ${i % 7} after ${i} ms`,
        });
        const v = d.check(e, 1000 * round + i);
        assert.equal(v.key, `${e.machine}|${e.agent}|${signature(e)}`);
      }
  });

  test('signatures fold numbers and ids', () => {
    const a = signature(ev({ bus: 'zmq', message: 'timeout after 31 ms on 0xdeadbeef' }));
    const b = signature(ev({ bus: 'zmq', message: 'timeout after 32 ms on 0xcafef00d' }));
    assert.equal(a, b);
  });
});

describe('bounded', () => {
  test('the ring evicts and counts; malformed frames keep a few samples', () => {
    const p = new ErrorPipeline({
      capacity: 10,
      flood: { rateCount: 1e9, rateWindowMs: 1000, rules: [] },
    });
    for (let i = 0; i < 25; i++) p.add(ev({ bus: 'zmq', ids: [`i${i}`], message: `m${i}` }), i);
    assert.equal(p.rows.size, 10);
    assert.equal(p.counters.evicted, 15);
    for (let i = 0; i < 30; i++)
      p.ingest({ ok: false, reason: 'bad', sample: `s${i}` }, 'zmq', 'pc2', i);
    assert.equal(p.counters.malformed, 30);
    assert.equal(p.malformedSamples.size, 20);
    assert.equal(p.malformedSamples.newest(1)[0]!.sample, 's29');
    p.countDropped(7);
    assert.equal(p.counters.dropped, 7);
  });

  test('the dedup window does not grow without bound under a long flood', () => {
    const p = new ErrorPipeline({ capacity: 100, dedupWindowMs: 100 });
    for (let i = 0; i < 50_000; i++)
      p.add(ev({ bus: 'zmq', ids: [`k${i}`], message: `m${i % 7}` }), i);
    // 100 ms window at 1 event/ms: about 100 live entries, filed by id and by content.
    const { ids, texts } = p.dedupKeys;
    assert.ok(ids < 200, `window holds ${ids} ids`);
    assert.ok(texts < 200, `window holds ${texts} texts`);
  });

  test('the dedup window holds at most dedupMaxEntries, the oldest evicted and counted', () => {
    assert.equal(new ErrorPipeline()['options'].dedupMaxEntries, 200_000, 'a cap by default');
    // A long window and a small cap: every entry would still be in its window.
    const p = new ErrorPipeline({
      capacity: 1000,
      dedupWindowMs: 60_000,
      dedupMaxEntries: 100,
      flood: { rateCount: 1e9, rateWindowMs: 1000, rules: [] },
    });
    for (let i = 0; i < 250; i++) p.add(ev({ bus: 'zmq', ids: [`k${i}`], message: `m${i}` }), i);
    assert.deepEqual(p.dedupKeys, { ids: 100, texts: 100 });
    assert.equal(p.counters.dedupEvicted, 150);
    assert.equal(p.counters.zmqOnly, 150, 'an evicted entry closes as seen on one bus');
    // The newest still matches its twin; the evicted oldest does not (a row of its own).
    p.add(ev({ bus: 'nats', ids: ['k249'], message: 'm249' }), 300);
    assert.equal(p.counters.matched, 1);
    p.add(ev({ bus: 'nats', ids: ['k0'], message: 'm0' }), 301);
    assert.equal(p.counters.matched, 1);
    assert.equal(p.counters.shown, 251);
  });
});

describe('memory bound by bytes, not only entries (issue 16)', () => {
  test('the dedup window holds at most dedupMaxBytes: an entry takes as much whatever its ids', () => {
    // The window keeps ids' fingerprints, not the ids: a byte cap is a cap on entries, at the most
    // an entry (of up to three ids, index slots included) can take.
    const quiet = { rateCount: 1e9, rateWindowMs: 1000, rules: [] };
    const short = new ErrorPipeline({
      dedupWindowMs: 60_000,
      dedupMaxBytes: 64 * 1024,
      flood: quiet,
    });
    const long = new ErrorPipeline({
      dedupWindowMs: 60_000,
      dedupMaxBytes: 64 * 1024,
      flood: quiet,
    });
    for (let i = 0; i < 2000; i++) {
      short.add(ev({ bus: 'zmq', ids: [`k${i}`], message: `m${i}` }), i);
      long.add(ev({ bus: 'zmq', ids: [`${'x'.repeat(1000)}${i}`], message: `m${i}` }), i);
    }
    const held = Math.floor((64 * 1024) / ENTRY_BYTES);
    assert.equal(long.dedupCapacity, held);
    assert.deepEqual(short.dedupKeys, { ids: held, texts: held });
    assert.deepEqual(long.dedupKeys, { ids: held, texts: held });
    assert.equal(long.counters.dedupEvicted, 2000 - held, 'every eviction counted');
    // The newest is still in the window: its twin is matched; the oldest has gone.
    long.add(ev({ bus: 'nats', ids: [`${'x'.repeat(1000)}1999`], message: 'm1999' }), 2001);
    assert.equal(long.counters.matched, 1);
    long.add(ev({ bus: 'nats', ids: [`${'x'.repeat(1000)}0`], message: 'm0' }), 2002);
    assert.equal(long.counters.matched, 1);
  });

  test('flood windows stay under maxBytes under a flood of distinct agents, and still count', () => {
    const f = new FloodDetector({ ...DEFAULT_FLOOD, maxBytes: 256 * 1024 });
    const at = 1_750_000_000_000;
    for (let i = 0; i < 50_000; i++)
      f.check(ev({ bus: 'zmq', agent: `Agent${i}`, message: `request ${i} failed` }), at + i);
    const inner = f as unknown as { windows: Map<string, unknown>; bytes: number };
    assert.ok(inner.bytes <= 256 * 1024, `${inner.bytes} bytes`);
    assert.ok(inner.windows.size < 2500, `${inner.windows.size} windows`);
    // A flood of one signature amid it is still seen.
    let verdict = f.check(ev({ bus: 'zmq', agent: 'Loud' }), at + 50_000);
    for (let i = 1; i <= 25; i++)
      verdict = f.check(ev({ bus: 'zmq', agent: 'Loud' }), at + 50_000 + i);
    assert.equal(verdict.flooding, true);
  });
});

describe('the id-less ZMQ twin (PC2 in phase 1)', () => {
  const zmqB = ev({ bus: 'zmq', format: 'zmq-b', machine: 'pc2', agent: 'AuthenticationAgent' });
  const natsX = (id: string) =>
    ev({ bus: 'nats', ids: [id], machine: 'pc2', agent: 'AuthenticationAgent' });

  test('ZMQ first, then its NATS copy with an id (on both subjects): one row, marked both', () => {
    const p = new ErrorPipeline();
    p.add(zmqB, 1000);
    p.add(natsX('n1'), 1005); // errors.events
    p.add(natsX('n1'), 1006); // errors.agents.<agent>: the same id again
    const rows = p.rows.newest();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.bus, 'both');
    assert.deepEqual([p.counters.matched, p.counters.copies], [1, 1]);
  });

  test('NATS first, then the id-less ZMQ frame: one row', () => {
    const p = new ErrorPipeline();
    p.add(natsX('n1'), 1000);
    p.add(zmqB, 1004);
    assert.equal(p.rows.size, 1);
    assert.equal(p.rows.newest()[0]!.bus, 'both');
  });

  test('two NATS errors with different ids and the same text stay two errors', () => {
    const p = new ErrorPipeline();
    p.add(zmqB, 1000);
    p.add(natsX('n1'), 1001);
    p.add(natsX('n2'), 1002);
    assert.equal(p.rows.size, 2);
  });
});

describe('counters that add up', () => {
  test('in = rows + collapsed + twins + copies + malformed + dropped, whatever the traffic', () => {
    // A seeded mix of ids, id-less frames, twins, same-id copies, floods, malformed and drops.
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const p = new ErrorPipeline({ capacity: 50, dedupMaxEntries: 300 });
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      now += Math.floor(rand() * 20);
      const r = rand();
      const bus: Bus = rand() < 0.5 ? 'zmq' : 'nats';
      if (r < 0.03) {
        p.ingest({ ok: false, reason: 'not JSON', sample: 'x' }, bus, 'pc2', now);
        continue;
      }
      if (r < 0.05) {
        p.countDropped(1 + Math.floor(rand() * 3));
        continue;
      }
      const id = String(Math.floor(rand() * 400));
      p.add(
        ev({
          bus,
          agent: `A${Math.floor(rand() * 5)}`,
          message: `m${Math.floor(rand() * 30)}`,
          ids: rand() < 0.5 ? [] : [id],
        }),
        now,
      );
    }
    const a = accounting(p.counters);
    assert.equal(
      a.parts.reduce((n, [, v]) => n + v, 0),
      a.in,
      JSON.stringify(p.counters),
    );
    assert.ok(
      a.parts.every(([, v]) => v > 0),
      `every kind happened: ${JSON.stringify(a.parts)}`,
    );
  });
});

describe('rows by when they were last seen', () => {
  test('a flood that keeps going moves above rows that came after it started', () => {
    const p = new ErrorPipeline({
      flood: { ...DEFAULT_FLOOD, rateCount: 2, rateWindowMs: 60_000 },
    });
    for (let i = 0; i < 4; i++) p.add(ev({ bus: 'zmq', message: 'disk full' }), 1000 + i);
    p.add(ev({ bus: 'zmq', agent: 'Other', message: 'once' }), 5000);
    p.add(ev({ bus: 'zmq', message: 'disk full' }), 9000);
    const rows = byLastSeen(p.rows.newest());
    assert.equal(rows[0]!.flood !== undefined && rows[0]!.lastAt, 9000);
    assert.equal(rows[1]!.event.message, 'once');
    const ages = rows.map(seenAt);
    assert.deepEqual(
      ages,
      [...ages].sort((x, y) => y - x),
      'newest first',
    );
  });
});
