// What the error pipeline keeps under a flood of distinct agents. At 10k/s the dedup window
// (5 s) outlives the ring of shown rows (5,000) tenfold; its entries held their rows, so 50,000
// events (details and all) stayed alive instead of 5,000, and RSS reached 920 MB after two
// minutes of errors from unique agents. Entries now hold a row's id: a row that left the ring
// can be collected while its twin is still awaited. bench/rss-errors.ts measures the whole.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ErrorEvent } from '../../source/core/errors/event.js';
import { ErrorPipeline } from '../../source/core/errors/pipeline.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const event = (i: number, agent: string): ErrorEvent => ({
  machine: 'pc2',
  agent,
  severity: 'error',
  category: 'TimeoutError',
  message: `request ${i} timed out`,
  details: { trace: `${'x'.repeat(2000)}${i}` },
  ids: [`id-${i}`],
  bus: 'zmq',
  format: 'zmq-a',
  receivedAt: 0,
});

describe('error pipeline memory under a flood of distinct agents', () => {
  test('rows pushed out of the ring are not kept alive by the dedup window', async () => {
    const p = new ErrorPipeline({ capacity: 100 });
    const t0 = 1_750_000_000_000;
    const early: WeakRef<ErrorEvent>[] = [];
    // 2,000 events in 0.2 s (10k/s): all inside the 5 s dedup window, 1,900 out of the ring.
    for (let i = 0; i < 2000; i++) {
      const e = event(i, `Agent${i}`);
      if (i < 1000) early.push(new WeakRef(e));
      p.add(e, t0 + i / 10);
    }
    await new Promise((r) => setImmediate(r));
    gc();
    const alive = early.filter((w) => w.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of 1,000 events out of the ring still held`);
    // The window still works for them: a NATS twin of an early one is matched, and counted.
    const twin = { ...event(5, 'Agent5'), bus: 'nats' as const };
    assert.equal(p.add(twin, t0 + 300), false, 'nothing on screen changes: its row is gone');
    assert.equal(p.counters.matched, 1);
    assert.equal(p.counters.shown, 2000);
  });

  test('a twin of a row still shown updates it to both', () => {
    const p = new ErrorPipeline({ capacity: 100 });
    p.add(event(1, 'A'), 1000);
    assert.equal(p.add({ ...event(1, 'A'), bus: 'nats' }, 1100), true);
    assert.equal(p.rows.newest()[0]!.bus, 'both');
  });

  test('publishers: 20,000 distinct agents tracked, then no more (memory bounded by entries)', () => {
    const p = new ErrorPipeline({ capacity: 10 });
    for (let i = 0; i < 25_000; i++) p.add(event(i, `Agent${i}`), 1000 + i);
    assert.equal(p.publishers.size, 20_000);
  });
});
