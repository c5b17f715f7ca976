// The auto-throttle policy, table-driven: VRAM sequences in, level changes out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  autoStep,
  checkAutoPolicy,
  DEFAULT_AUTO_POLICY,
  initialAutoState,
  vramPercent,
  type AutoPolicy,
} from '../../source/core/resources/auto-throttle.js';
import {
  THROTTLE_LEVELS,
  levelOfThresholds,
  readThrottle,
  thresholdsRequest,
  throttleTable,
  type ThrottleLevel,
} from '../../source/core/resources/throttle.js';

const P: AutoPolicy = {
  raiseAbovePct: 85,
  lowerBelowPct: 60,
  samples: 3,
  minLevel: 0,
  maxLevel: 3,
};

/** Runs a sequence of VRAM percents; returns the level after each sample. */
function run(vram: Array<number | null>, policy = P, start: ThrottleLevel = 0): number[] {
  let state = initialAutoState(start);
  return vram.map((v) => {
    state = autoStep(state, { vramPct: v }, policy).state;
    return state.level;
  });
}

describe('auto-throttle policy', () => {
  const cases: Array<
    [string, Array<number | null>, number[], Partial<AutoPolicy>?, ThrottleLevel?]
  > = [
    ['stays at 0 while VRAM is moderate', [50, 70, 84, 85, 61], [0, 0, 0, 0, 0]],
    ['raises after 3 samples above the line, not before', [90, 90, 90], [0, 0, 1]],
    ['one dip below the line restarts the count', [90, 90, 80, 90, 90, 90], [0, 0, 0, 0, 0, 1]],
    [
      'after a raise the level gets 3 samples before the next',
      [90, 90, 90, 90, 90, 90],
      [0, 0, 1, 1, 1, 2],
    ],
    [
      'climbs to the top and stays there',
      Array(15).fill(95),
      [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3],
    ],
    [
      'lowers after 3 samples below the lower line',
      [50, 50, 50, 50, 50, 50],
      [2, 2, 1, 1, 1, 0],
      {},
      2,
    ],
    [
      'between the lines nothing moves (hysteresis)',
      [70, 75, 80, 65, 84, 61],
      [2, 2, 2, 2, 2, 2],
      {},
      2,
    ],
    ['never below minLevel', [10, 10, 10, 10, 10, 10], [1, 1, 1, 1, 1, 1], { minLevel: 1 }, 1],
    ['never above maxLevel', Array(9).fill(99), [0, 0, 1, 1, 1, 2, 2, 2, 2], { maxLevel: 2 }],
    ['a missing reading restarts the count', [90, 90, null, 90, 90, 90], [0, 0, 0, 0, 0, 1]],
    ['samples: 1 reacts on each sample', [90, 90, 50, 50], [1, 2, 1, 0], { samples: 1 }],
    [
      'custom lines: raise above 70, lower below 30',
      [75, 75, 40, 20, 20],
      [1, 2, 2, 1, 0],
      { raiseAbovePct: 70, lowerBelowPct: 30, samples: 1 },
    ],
  ];
  for (const [name, vram, levels, policy, start] of cases) {
    test(name, () => assert.deepEqual(run(vram, { ...P, ...policy }, start ?? 0), levels));
  }

  test('a change says why; a level set by hand is followed, not fought', () => {
    let s = initialAutoState(0);
    s = autoStep(s, { vramPct: 91 }, P).state;
    s = autoStep(s, { vramPct: 92 }, P).state;
    const step = autoStep(s, { vramPct: 93.26 }, P);
    assert.deepEqual(step.change, { from: 0, to: 1, reason: 'VRAM 93.3% above 85% for 3 samples' });
    const manual = autoStep(step.state, { vramPct: 99, reportedLevel: 3 }, P);
    assert.equal(manual.change, undefined);
    assert.equal(manual.state.level, 3);
    assert.match(manual.note!, /set elsewhere/);
  });

  test('policies without a gap, or with bad numbers, are refused', () => {
    assert.equal(checkAutoPolicy(DEFAULT_AUTO_POLICY), undefined);
    assert.match(checkAutoPolicy({ ...P, lowerBelowPct: 85 })!, /must be below the raise line/);
    assert.match(checkAutoPolicy({ ...P, raiseAbovePct: 120 })!, /percentages/);
    assert.match(checkAutoPolicy({ ...P, samples: 0 })!, /samples/);
    assert.match(checkAutoPolicy({ ...P, minLevel: 3, maxLevel: 1 })!, /lowest level/);
  });

  test('vramPercent of a sample', () => {
    assert.equal(vramPercent({ totalMb: 12288, usedMb: 6144 }), 50);
    assert.equal(vramPercent(null), null);
    assert.equal(vramPercent({ totalMb: 0, usedMb: 0 }), null);
  });
});

describe('throttle levels table', () => {
  test("each level is upstream's set_thresholds (its keys) and a nice value; limits tighten with the level", () => {
    assert.deepEqual(thresholdsRequest(0), {
      action: 'set_thresholds',
      cpu_threshold: 80,
      memory_threshold: 80,
      gpu_threshold: 80,
    });
    for (let i = 1; i < THROTTLE_LEVELS.length; i++) {
      const [a, b] = [THROTTLE_LEVELS[i - 1]!, THROTTLE_LEVELS[i]!];
      assert.ok(
        b.thresholds.gpu < a.thresholds.gpu && b.nice > a.nice,
        `level ${i} is tighter than ${i - 1}`,
      );
    }
    assert.deepEqual(
      THROTTLE_LEVELS.map((t) => t.name),
      ['normal', 'soft', 'hard', 'shed'],
    );
  });
  test('the help table has a header, a rule and one row per level', () => {
    const t = throttleTable();
    assert.equal(t.length, 2 + THROTTLE_LEVELS.length);
    assert.match(
      t[0]!,
      /^\| level \| name +\| ResourceManager set_thresholds \(%\) +\| agents nice \| effect +\|$/,
    );
    assert.match(t[5]!, /^\| 3 +\| shed +\| cpu 60 \/ memory 65 \/ gpu 40 +\| 15 +\|/);
  });
});

describe('the throttle read back from the machine', () => {
  const at = 1;
  test('thresholds and nice values that agree are that level', () => {
    const r = readThrottle({ cpu: 70, memory: 70, gpu: 55 }, [10, 10, 10], at);
    assert.equal(r.level, 2);
    assert.deepEqual(r.nice, { want: 10, at: 3, of: 3 });
    assert.match(r.summary, /thresholds 70\/70\/55 = level 2; 3\/3 agent processes at nice 10/);
  });
  test('a restarted ResourceManager (back at 80/80/80) under reniced agents is no level: stale', () => {
    const r = readThrottle({ cpu: 80, memory: 80, gpu: 80 }, [10, 10], at);
    assert.equal(r.level, null);
    assert.match(r.summary, /= level 0; 0\/2 agent processes at nice 0/);
  });
  test('thresholds set by hand match no level; no ResourceManager reads as an error', () => {
    assert.equal(readThrottle({ cpu: 71, memory: 70, gpu: 55 }, [], at).level, null);
    const r = readThrottle({ error: 'no ResourceManager on this machine' }, [], at);
    assert.equal(r.level, null);
    assert.match(r.summary, /^no ResourceManager/);
  });
  test('no agent process found leaves the thresholds to decide', () =>
    assert.equal(readThrottle({ cpu: 75, memory: 75, gpu: 70 }, [], at).level, 1));
  test('levelOfThresholds', () => {
    assert.equal(levelOfThresholds({ cpu: 60, memory: 65, gpu: 40 }), 3);
    assert.equal(levelOfThresholds({ cpu: 60, memory: 65, gpu: 41 }), undefined);
  });
});
