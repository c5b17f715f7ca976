// A bridge that restarts or goes silent leaves a gap row in the error stream with its length,
// never "0 dropped": what its publishers sent meanwhile past their queues is lost uncounted.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BridgeStore } from '../../source/stores/bridge-store.js';
import { ErrorStore } from '../../source/stores/error-store.js';

const status = (since: number, state = 'running') =>
  new TextEncoder().encode(
    JSON.stringify({
      schema: 'opsdeck.bridge/1',
      machine: 'mainpc',
      state,
      received: 1,
      published: 1,
      duplicates: 0,
      dropped: 0,
      queued: 0,
      nats: 'connected',
      endpoints: [],
      since,
    }),
  );

function wired() {
  const bridges = new BridgeStore();
  const errors = new ErrorStore({ notifyMs: 1 });
  bridges.onGap = (m, from, to, restarted) => errors.bridgeGap(m, from, to, restarted);
  return { bridges, errors, close: () => (bridges.close(), errors.close()) };
}

describe("a bridge's absence is a gap row", () => {
  test('a restart (a new start time) is a gap from its last word to the new start', () => {
    const w = wired();
    w.bridges.accept(status(1_000), 2_000);
    w.bridges.accept(status(1_000), 4_000);
    w.bridges.accept(status(9_500), 10_000);
    const snap = w.errors.flush();
    assert.equal(snap.counters.gaps, 1);
    const row = snap.rows.find((r) => r.gap)!;
    assert.deepEqual(row.gap, { from: 4_000, to: 9_500 });
    assert.match(
      row.event.message,
      /^mainpc's bridge restarted: 5\.5 s without it; ZMQ errors sent meanwhile past each publisher's queue were lost \(how many, nothing counts\)$/,
    );
    w.close();
  });

  test('a stop then a start, and a silence longer than its staleness, are gaps too; steady reports are not', () => {
    const w = wired();
    w.bridges.accept(status(1_000), 2_000);
    w.bridges.accept(status(1_000, 'stopped'), 3_000);
    w.bridges.accept(status(8_000), 8_100);
    w.bridges.accept(status(8_000), 10_000);
    w.bridges.accept(status(8_000), 12_000);
    w.bridges.accept(status(8_000), 30_000);
    const gaps = w.errors.flush().rows.filter((r) => r.gap);
    assert.deepEqual(
      gaps.map((r) => r.gap),
      [
        { from: 12_000, to: 30_000 },
        { from: 3_000, to: 8_000 },
      ],
    );
    assert.match(gaps[0]!.event.message, /was silent: 18\.0 s without it/);
    w.close();
  });
});
