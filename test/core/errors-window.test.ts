// The typed-array dedup window against the pipeline it replaced (test/support/pipeline-reference.ts):
// seeded random traffic (ids overlapping, partly known and split across events, id-less twins,
// bridged copies with made-up ids, both buses, time going back and forth, windows and caps
// tiny enough to evict) fed to both, with the same return value, counters and rows required
// after every event. The reference is given the window's entry capacity as its entry cap and no
// byte cap: the byte cap is now an entry cap (ENTRY_BYTES an entry, whatever its ids' lengths).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus, ErrorEvent } from '../../source/core/errors/event.js';
import { DEFAULT_FLOOD } from '../../source/core/errors/flood.js';
import { ErrorPipeline, type ErrorRow } from '../../source/core/errors/pipeline.js';
import { DedupWindow, ENTRY_BYTES, fp, hashId, hashText } from '../../source/core/errors/window.js';
import { ReferencePipeline } from '../support/pipeline-reference.js';
import { rng } from '../../source/core/seeded.js';

const ev = (i: number, ids: string[], bus: Bus): ErrorEvent => ({
  machine: 'pc2',
  agent: `Agent${i % 100}`,
  severity: 'error',
  category: 'TimeoutError',
  message: `request ${i} timed out`,
  details: {},
  ids,
  bus,
  format: bus === 'zmq' ? 'zmq-a' : 'nats-errors',
  receivedAt: 0,
});

const rowView = (r: ErrorRow) => ({
  id: r.id,
  bus: r.bus,
  count: r.count,
  flood: r.flood,
  lastAt: r.lastAt,
  rev: r.rev,
  gap: r.gap,
  message: r.event.message,
});

interface RefInner {
  order: unknown[];
  orderHead: number;
  byContent: Map<string, unknown>;
  byId: Map<string, unknown>;
  idlessLacking: number[];
}

// Long: one random sequence, its options and its traffic drawn from one seed, both pipelines
// fed and compared after every step; a table of knobs would read no shorter.
function runSequence(seed: number, steps: number, long = false): ErrorPipeline {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number) => Math.floor(rand() * n);
  const options = {
    capacity: 1 + int(20),
    // A long sequence holds thousands of entries: the ring grows while wrapped, indexes rehash.
    dedupWindowMs: long ? 20_000 : pick([0, 5, 20, 60, 200, 5000]),
    dedupMaxEntries: long ? pick([1500, 3000, 200_000]) : pick([1, 2, 3, 5, 8, 20, 50, 200_000]),
    dedupMaxBytes: long
      ? pick([ENTRY_BYTES * 2500, 24 * 2 ** 20])
      : pick([
          ENTRY_BYTES - 1, // less than one entry: the newest still stays
          ENTRY_BYTES * 2 + 7,
          ENTRY_BYTES * 6,
          ENTRY_BYTES * 30,
          24 * 2 ** 20,
        ]),
    flood: {
      ...DEFAULT_FLOOD,
      rateCount: pick([2, 3, 5, 1e9]),
      rateWindowMs: pick([10, 50, 1000]),
    },
  };
  const p = new ErrorPipeline(options);
  const ref = new ReferencePipeline({
    ...options,
    dedupMaxEntries: p.dedupCapacity,
    dedupMaxBytes: Infinity,
  });
  const idPool = long ? 20_000 : 1 + int(30);
  const agents = 1 + int(4);
  const texts = 1 + int(6);
  const dupIds = rand() < 0.1; // an event may name one id twice, or carry more than three
  let now = 1_750_000_000_000;
  const gaps: [ErrorRow, ErrorRow][] = [];
  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    // Long sequences alternate 4,000 steps of ~10 ms with 4,000 bursts (0-1 ms): the window
    // fills while its oldest slot is mid-ring, so the ring grows wrapped.
    // Each burst ends in a jump that leaves a few hundred of its entries: the ring is trimmed.
    if (long && step % 8000 === 7999) now += 19_800;
    else if (long && step % 8000 >= 4000) now += int(2);
    else now += pick([-40, -3, 0, 0, 1, 2, 5, 10, 30, 100]);
    const r = rand();
    let got: boolean | undefined;
    let want: boolean | undefined;
    if (r < 0.02) {
      const bad = { ok: false as const, reason: 'not JSON', sample: 'x' };
      got = p.ingest(bad, 'zmq', 'pc2', now);
      want = ref.ingest(bad, 'zmq', 'pc2', now);
    } else if (r < 0.03) {
      p.countDropped(2);
      ref.countDropped(2);
    } else if (r < 0.04) {
      const bus: Bus = rand() < 0.5 ? 'zmq' : 'nats';
      gaps.push([p.openGap('pc2', bus, 'x', now), ref.openGap('pc2', bus, 'x', now)]);
    } else if (r < 0.05 && gaps.length > 0) {
      const [a, b] = gaps.pop()!;
      p.closeGap(a, now);
      ref.closeGap(b, now);
    } else {
      const bridged = rand() < 0.15;
      const bus: Bus = bridged || rand() < 0.5 ? 'nats' : 'zmq';
      const n = rand() < 0.35 ? 0 : dupIds ? 1 + int(5) : 1 + int(3);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = `k${int(idPool)}`;
        if (dupIds || !ids.includes(id)) ids.push(id);
      }
      const e: ErrorEvent = {
        machine: pick(['mainpc', 'pc2']),
        agent: `A${int(agents)}`,
        severity: 'error',
        category: 'ValueError',
        message: `m${int(texts)}`,
        details: {},
        ids,
        bus,
        format: bus === 'zmq' ? 'zmq-a' : 'nats-errors',
        receivedAt: now,
      };
      if (bridged) {
        e.bridged = { machine: 'pc2', synthetic: rand() < 0.5 };
        if (rand() < 0.2) e.bridged.backlogMs = 9000;
      }
      got = p.add(e, now);
      want = ref.add(e, now);
    }
    assert.equal(got, want, `${where}: return value`);
    assert.deepEqual(p.counters, ref.counters, `${where}: counters`);
    const rows = p.rows.newest();
    const refRows = ref.rows.newest();
    assert.deepEqual(rows.map(rowView), refRows.map(rowView), `${where}: rows`);
    for (let i = 0; i < rows.length; i++) {
      // A gap row's event is each pipeline's own; every other row shows the event fed to both.
      if (rows[i]!.gap) assert.deepEqual(rows[i]!.event, refRows[i]!.event, `${where}: gap ${i}`);
      else assert.equal(rows[i]!.event, refRows[i]!.event, `${where}: row ${i}'s event`);
    }
    const inner = ref as unknown as RefInner;
    const window = (p as unknown as { window: DedupWindow }).window;
    assert.equal(window.size, inner.order.length - inner.orderHead, `${where}: window size`);
    assert.deepEqual(
      (p as unknown as { idlessLacking: number[] }).idlessLacking,
      inner.idlessLacking,
      `${where}: id-less counts`,
    );
    let refTexts = 0;
    for (const t of inner.byContent.values()) refTexts += t instanceof Map ? t.size : 1;
    assert.equal(p.dedupKeys.texts, refTexts, `${where}: content keys`);
    if (!dupIds) assert.equal(p.dedupKeys.ids, inner.byId.size, `${where}: id keys`);
  }
  assert.deepEqual([...p.publishers], [...ref.publishers], `seed ${seed}: publishers`);
  return p;
}

describe('typed-array dedup window = the pipeline it replaced', () => {
  test('3,000 seeded random sequences: same return values, counters and rows after every event', () => {
    const total = { matched: 0, copies: 0, dedupEvicted: 0, zmqOnly: 0, natsOnly: 0, collapsed: 0 };
    for (let seed = 1; seed <= 3000; seed++) {
      const c = runSequence(seed, 150).counters;
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += c[k];
    }
    // Every path was taken, often.
    for (const [k, n] of Object.entries(total)) assert.ok(n > 1000, `${k}: ${n}`);
  });

  test('long sequences: the ring and its indexes grow while wrapped, and are trimmed after bursts', () => {
    for (let seed = 10_001; seed <= 10_012; seed++) {
      const p = runSequence(seed, 20_000, true);
      assert.ok(p.counters.matched > 100, `seed ${seed}: ${p.counters.matched} matched`);
    }
  });
});

describe('fingerprints', () => {
  test('100,000 ids and 20,000 texts: no two fingerprints alike', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      hashId(`e-${i}-${(i * 2654435761) >>> 0}`);
      seen.add(`${fp[0]},${fp[1]}`);
      hashText(`Agent${i % 20_000}`, `request ${i % 500} failed`);
      seen.add(`${fp[0]},${fp[1]}`);
    }
    // 500 divides 20,000: the (agent, message) pairs repeat every 20,000, 20,000 distinct.
    assert.equal(seen.size, 100_000 + 20_000);
  });

  test('the agent and the message are kept apart: "ab|c" is not "a|bc"', () => {
    hashText('ab', 'c');
    const x = [fp[0], fp[1]];
    hashText('a', 'bc');
    assert.notDeepEqual([fp[0], fp[1]], x);
  });
});

describe('the window in typed arrays', () => {
  test('full of 3-id entries, its arrays and indexes take at most ENTRY_BYTES an entry', () => {
    const w = new DedupWindow(100_000);
    let slot = 0;
    for (let i = 0; i < 100_000; i++) {
      hashText('A', `m${i}`);
      slot = w.push(i, 1, i, fp[0]!, fp[1]!);
      for (let k = 0; k < 3; k++) {
        hashId(`id-${i}-${k}`);
        w.addId(slot, fp[0]!, fp[1]!);
      }
    }
    let bytes = 0;
    for (const v of Object.values(w)) if (ArrayBuffer.isView(v)) bytes += v.byteLength;
    assert.ok(bytes <= 100_000 * ENTRY_BYTES, `${bytes} bytes`);
    hashId('id-77-2');
    assert.equal(w.rowId[w.findId(fp[0]!, fp[1]!)], 77);
    assert.deepEqual(w.keys, { ids: 300_000, texts: 100_000 });
  });

  test("after a flood, a trickle does not keep the flood's arrays", () => {
    const p = new ErrorPipeline({ flood: { ...DEFAULT_FLOOD, rateCount: 1e9 } });
    const arrays = () => {
      const w = (p as unknown as { window: DedupWindow }).window;
      let bytes = 0;
      for (const v of Object.values(w)) if (ArrayBuffer.isView(v)) bytes += v.byteLength;
      return bytes;
    };
    const t0 = 1_750_000_000_000;
    for (let i = 0; i < 100_000; i++)
      p.add(ev(i, [`id-${i}`], i % 2 ? 'zmq' : 'nats'), t0 + Math.floor(i / 20));
    const flood = arrays();
    assert.ok(flood > 5 * 2 ** 20, `${flood} bytes in the flood`);
    // One event a second after it: each expiry trims by a quarter, down to the first size.
    for (let s = 10; s < 20; s++) p.add(ev(1e6 + s, [`late-${s}`], 'zmq'), t0 + s * 1000);
    assert.ok(arrays() < 200 * 1024, `${arrays()} bytes after`);
    // Still a window: the last one's twin is matched.
    p.add(ev(1e6 + 19, ['late-19'], 'nats'), t0 + 19_500);
    assert.equal(p.counters.matched, 1);
  });
});
