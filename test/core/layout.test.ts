// The Fleet screen's geometry at the operator's sizes: no pane shows blank rows while another
// hides agents, the error pane takes what is left, everything adds up to the screen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetLayout, COMPACT_BELOW, type FleetLayout } from '../../source/core/ui/layout.js';

/** Body heights of the console at its sizes: the terminal less the top bar and the footer. */
const SIZES: Array<[number, number]> = [
  [80, 22],
  [120, 38],
  [200, 58],
  [150, 30],
  [100, 60],
];
const FLEETS: Array<[string, number[]]> = [
  ['real fleet', [49, 23]],
  ['small', [2, 3]],
  ['one empty after a filter', [0, 23]],
  ['equal', [30, 30]],
  ['huge', [500, 400]],
];

// Rows a pane spends besides its agents (see layout.ts).
const chrome = (compact: boolean) => (compact ? 3 : 5);
const hidden = (l: FleetLayout, rows: number[], i: number) => rows[i]! > l.machines[i]!.visible;
const blank = (l: FleetLayout, rows: number[], i: number) => {
  const m = l.machines[i]!;
  const shown = Math.min(rows[i]!, m.visible) + (hidden(l, rows, i) ? 1 : 0);
  return m.height - chrome(m.compact) - Math.max(1, shown);
};

describe('fleet layout', () => {
  for (const [w, h] of SIZES)
    for (const [what, rows] of FLEETS)
      test(`${w}x${h}, ${what} (${rows.join(' + ')})`, () => {
        const l = fleetLayout(w, h, rows);
        // It fills the body exactly: stacked, panes and errors add up; side by side, each column.
        if (!l.side)
          assert.equal(l.machines.reduce((n, m) => n + m.height, 0) + l.errors.height, h);
        else if (l.errorsUnder === undefined)
          assert.equal(Math.max(...l.machines.map((m) => m.height)) + l.errors.height, h);
        else {
          assert.equal(l.machines[l.errorsUnder]!.height + l.errors.height, h);
          assert.ok(l.machines.every((m) => m.height <= h));
        }
        assert.ok(l.errors.visible >= 3, `error rows ${l.errors.visible}`);
        // No blank rows inside a pane while another machine pane hides agents.
        for (let i = 0; i < rows.length; i++)
          for (let j = 0; j < rows.length; j++)
            if (i !== j && hidden(l, rows, j))
              assert.ok(
                blank(l, rows, i) <= 0,
                `pane ${i} has ${blank(l, rows, i)} blank rows while pane ${j} hides ${rows[j]! - l.machines[j]!.visible}`,
              );
        // Compact exactly when short and stacked.
        for (const m of l.machines) if (l.side) assert.equal(m.compact, false);
        for (const m of l.machines) if (m.compact) assert.ok(m.height < COMPACT_BELOW + 3);
      });

  test('200x58, the real fleet: MainPC whole on the left, PC2 and the errors on the right', () => {
    const l = fleetLayout(200, 58, [49, 23]);
    assert.equal(l.errorsUnder, 1);
    assert.deepEqual(
      l.machines.map((m) => [m.height, m.visible]),
      [
        [58, 53],
        [28, 23],
      ],
    );
    assert.deepEqual([l.errors.height, l.errors.width], [30, 100]);
  });

  test('80x22: both compact, the error pane keeps three rows', () => {
    const l = fleetLayout(80, 22, [49, 23]);
    assert.deepEqual(
      l.machines.map((m) => m.compact),
      [true, true],
    );
    assert.deepEqual([l.errors.visible, l.errors.compact], [4, true]);
  });

  test('120x34 stacked, two small machines: full panes (address and counts kept), nothing hidden', () => {
    const l = fleetLayout(120, 34, [2, 3]);
    assert.deepEqual(
      l.machines.map((m) => [m.compact, m.visible]),
      [
        [false, 2],
        [false, 3],
      ],
    );
  });

  test('a filter that leaves few agents gives the rows back to the error pane', () => {
    const all = fleetLayout(120, 38, [49, 23]);
    const filtered = fleetLayout(120, 38, [1, 2]);
    assert.ok(filtered.errors.height > all.errors.height + 10);
  });
});
