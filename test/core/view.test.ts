// View helpers that decide what a cell shows (core/ui/view.ts): pure, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialHealth, observe, type AgentHealth } from '../../source/core/health/state.js';
import {
  ago,
  fit,
  healthDrawnDifferently,
  LATENCY_WARN_MS,
  latencyText,
  shownLatency,
  SPARKLINE_MAX,
} from '../../source/core/ui/view.js';
import { columns } from '../../source/core/ui/width.js';

test('fit pads and cuts by terminal columns: a wide character takes two, a combining mark none', () => {
  const cases: Array<[string, number, 'left' | 'right', string]> = [
    ['abc', 5, 'left', 'abc  '],
    ['abc', 5, 'right', '  abc'],
    ['abcdef', 4, 'left', 'abc…'],
    ['abc', 1, 'left', '…'],
    ['abc', 0, 'left', ''],
    ['応答なし', 10, 'left', '応答なし  '],
    ['応答なし', 6, 'left', '応答… '],
    ['応答なし', 4, 'left', '応… '],
    ['a応答', 4, 'left', 'a応…'],
    ['Cafe\u0301', 6, 'left', 'Cafe\u0301  '],
    ['● OK', 6, 'left', '● OK  '],
  ];
  for (const [text, width, align, want] of cases) {
    const got = fit(text, width, align);
    assert.equal(got, want, `fit(${JSON.stringify(text)}, ${width}, ${align})`);
    assert.equal(columns(got), width, `${JSON.stringify(got)} is ${width} columns`);
  }
});

test('ages move in coarse steps, each shown from when it is reached', () => {
  const now = 1_000_000_000;
  const cases: Array<[number | undefined, string]> = [
    [undefined, '-'],
    [now, '0s'],
    [now - 4_999, '0s'],
    [now - 5_000, '5s'],
    [now - 9_999, '5s'],
    [now - 10_000, '10s'],
    [now - 59_999, '50s'],
    [now - 60_000, '1m'],
    [now - 3_599_000, '59m'],
    [now - 7_200_000, '2h'],
    [now + 3_000, '0s'], // a clock a little ahead: never negative
  ];
  for (const [at, want] of cases) assert.equal(ago(at, now), want, `${now - (at ?? now)} ms ago`);
  // A healthy agent probed every 2 s: the cell never changes between replies.
  const seen = new Set<string>();
  for (let t = 0; t < 2000; t += 100) seen.add(ago(now, now + t));
  assert.deepEqual([...seen], ['0s']);
});

test('latency is shown at its precision: 5 ms below 10 ms, 10 below 100, 50 below 1 s, then 0.5 s', () => {
  const cases: Array<[number | undefined, string]> = [
    [undefined, '-'],
    [0.4, '<5ms'],
    [2.4, '<5ms'],
    [4.9, '<5ms'],
    [5.2, '5ms'],
    [7.6, '10ms'],
    [9.6, '10ms'],
    [12, '10ms'],
    [15, '20ms'],
    [97, '100ms'],
    [340, '350ms'],
    [974, '950ms'],
    [976, '1.0s'],
    [1234, '1.0s'],
    [1260, '1.5s'],
    [9_900, '10s'],
    [12_345, '12s'],
  ];
  for (const [ms, want] of cases) assert.equal(latencyText(ms), want, `${ms} ms`);
});

test('latency dead band: jitter within a step, or one odd reply, leaves the shown value; two replies beyond it or across the warning threshold show', () => {
  // The history, and the last probe's latency as the store keeps it (none when it failed).
  const h = (...ms: Array<number | undefined>) => ({
    history: ms.map((latencyMs) => (latencyMs === undefined ? {} : { latencyMs })),
    ...(ms.at(-1) === undefined ? {} : { latencyMs: ms.at(-1) }),
  });
  const cases: Array<[string, ReturnType<typeof h>, number | undefined]> = [
    ['no reply yet', h(), undefined],
    ['one reply', h(12), 12],
    ['jitter within 5 ms of 12', h(12, 14, 9, 16, 11, 17), 12],
    ['one reply beyond a step: an outlier', h(12, 14, 25), 12],
    ['two in a row: a move', h(12, 14, 25, 26), 25],
    ['then jitter around the new value', h(12, 25, 26, 20, 31, 27), 25],
    ['below 10 ms: 5 ms steps', h(3, 7, 2, 8), 3],
    ['a spike among fast replies moves nothing', h(3, 4, 40, 3, 4), 3],
    ['timeouts between replies change nothing', h(12, undefined, 13), 12],
    ['not answering now: no latency, however fast the last reply', h(12, undefined), undefined],
    ['slow: 50 ms steps', h(300, 340, 260, 349), 300],
    ['across the warning threshold within a step, twice', h(480, 510, 505), 505],
    ['and back, twice', h(480, 510, 505, 495, 490), 495],
    ['a big jump, once: not yet', h(12, 900), 12],
    ['a big jump, twice', h(12, 900, 910), 900],
    ['fast again at once after one slow first reply', h(900, 12), 12],
  ];
  for (const [what, health, want] of cases) assert.equal(shownLatency(health), want, what);
  // The last reply's latency when the history holds none (a store built without history).
  assert.equal(shownLatency({ history: [], latencyMs: 7 }), 7);
  assert.equal(LATENCY_WARN_MS, 500);
});

test('a latency that jitters by a few ms redraws its cell rarely; the raw value would every round', () => {
  // Replies of 20 ms +- 4 ms over 30 rounds: the shown text never moves.
  const history: { latencyMs: number }[] = [];
  const shown = new Set<string>();
  const raw = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const ms = 20 + ((i * 7) % 9) - 4;
    history.push({ latencyMs: ms });
    shown.add(latencyText(shownLatency({ history, latencyMs: ms })));
    raw.add(`${Math.round(ms)}ms`);
  }
  assert.deepEqual([...shown], ['20ms']);
  assert.ok(raw.size > 5);
});

test('a health change is drawn when a table would draw it differently, and only then', () => {
  const reply = (
    h: AgentHealth,
    ms: number,
    at: number,
    state: 'healthy' | 'degraded' = 'healthy',
  ) =>
    observe(h, {
      kind: 'reply',
      reading: { state, reason: 'ok', protocol: 'base-agent' },
      latencyMs: ms,
      at,
    });
  // A full history (30 rounds) of healthy replies around 20 ms.
  let base = initialHealth();
  for (let k = 0; k < 30; k++) base = reply(base, 20 + (k % 3), k * 2000);
  const map = (h: AgentHealth) => new Map([['mainpc/A', h]]);
  const shown = map(base);
  const cases: Array<[string, AgentHealth, boolean]> = [
    ['another reply, latency within the dead band', reply(base, 23, 60_000), false],
    ['one reply beyond the dead band (an outlier)', reply(base, 70, 60_000), false],
    ['two replies beyond the dead band', reply(reply(base, 70, 60_000), 72, 62_000), true],
    ['a degraded reply (pending: not yet the state)', reply(base, 20, 60_000, 'degraded'), true],
    [
      'a refused connection (state changes at once)',
      observe(base, { kind: 'refused', reason: 'refused', at: 60_000 }),
      true,
    ],
    ['an unknown new field', { ...base, moved: { port: 1 } } as AgentHealth, true],
    ['the very same object', base, false],
  ];
  for (const [what, next, want] of cases)
    assert.equal(healthDrawnDifferently(shown, map(next)), want, what);
  assert.equal(healthDrawnDifferently(shown, new Map()), true, 'an agent gone');
  // A history that is not full yet: each sample grows the sparkline.
  const young = reply(reply(initialHealth(), 20, 0), 21, 2000);
  assert.equal(healthDrawnDifferently(map(young), map(reply(young, 20, 4000))), true);
});

test('a sparkline change past the 20th column is drawn: the pane shows up to SPARKLINE_MAX', () => {
  const reply = (h: AgentHealth, at: number, state: 'healthy' | 'degraded' = 'healthy') =>
    observe(
      h,
      { kind: 'reply', reading: { state, reason: 'ok', protocol: 'base-agent' }, latencyMs: 3, at },
      { downAfter: 1, upAfter: 1, historySize: 30 },
    );
  // One degraded sample 25 rounds back, in a full history: the next sample moves it a column.
  let h = initialHealth();
  for (let k = 0; k < 30; k++) h = reply(h, k * 2000, k === 4 ? 'degraded' : 'healthy');
  const map = (x: AgentHealth) => new Map([['mainpc/A', x]]);
  assert.equal(SPARKLINE_MAX >= 30, true);
  assert.equal(healthDrawnDifferently(map(h), map(reply(h, 60_000))), true);
});
