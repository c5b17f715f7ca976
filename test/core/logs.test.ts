// The log line parser, the per-watcher rate cap and the log view's keys (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineText, parseLogLine, type LogItem } from '../../source/core/logs/line.js';
import { parseLogsRequest, RateCap } from '../../source/core/logs/stream.js';
import { logRows, logWindow } from '../../source/core/ui/log-view.js';
import { initialUi, reduce, type UiContext } from '../../source/core/ui/state.js';

test('upstream JSON lines: time, level, message, the rest as extra; sanitised and capped', () => {
  const l = parseLogLine(
    JSON.stringify({
      timestamp: '2026-01-02T03:04:05Z',
      level: 'WARNING',
      agent: 'ServiceRegistry',
      message: 'port \u001b]52;c;aGk=\u0007busy',
      request_id: 'r1',
      exc_info: 'Traceback\n  line 1',
    }),
  );
  assert.equal(l.format, 'json');
  assert.equal(l.at, '2026-01-02T03:04:05Z');
  assert.equal(l.level, 'WARNING');
  assert.equal(l.message, 'port busy');
  assert.deepEqual(l.extra, {
    agent: 'ServiceRegistry',
    request_id: 'r1',
    exc_info: 'Traceback   line 1',
  });
  const long = parseLogLine(JSON.stringify({ message: 'x'.repeat(5000), level: 'INFO' }));
  assert.match(long.message, /… \(3000 more chars\)$/);
});

test("log_setup.py's plain lines keep their level; other text passes through", () => {
  const p = parseLogLine('2026-01-02 03:04:05,123 - nlu.agent - ERROR - it broke');
  assert.deepEqual(
    [p.format, p.at, p.level, p.message, p.extra?.logger],
    ['plain', '2026-01-02 03:04:05,123', 'ERROR', 'it broke', 'nlu.agent'],
  );
  assert.equal(parseLogLine('[WARNING] disk low').level, 'WARNING');
  const raw = parseLogLine('Traceback (most recent call last):');
  assert.equal(raw.level, undefined);
  assert.equal(raw.message, 'Traceback (most recent call last):');
  assert.equal(parseLogLine('{not json').message, '{not json');
  assert.equal(lineText(p), '2026-01-02 03:04:05,123 ERROR it broke logger=nlu.agent');
});

test('the rate cap keeps the newest lines and counts the rest in their place', () => {
  const cap = new RateCap(10, 0);
  const lines = (n: number, from = 0): LogItem[] =>
    Array.from({ length: n }, (_, i) => parseLogLine(`line ${from + i}`));
  assert.equal(cap.take(lines(10), 0).length, 10);
  const out = cap.take(lines(30, 10), 1000); // one second later: 10 more allowed
  assert.equal(out[0]!.kind, 'skipped');
  assert.equal((out[0] as { count: number }).count, 20);
  assert.equal(out.filter((i) => i.kind === 'line').length, 10);
  assert.equal((out.at(-1) as { message: string }).message, 'line 39');
  // The opening burst: what was asked for on open passes whole, once.
  const burst = new RateCap(10, 0, 500);
  assert.equal(burst.take(lines(500), 0).length, 500);
  assert.equal(burst.take(lines(50), 100).filter((i) => i.kind === 'line').length, 1);
});

test('logs requests: bad input says what was expected', () => {
  assert.equal(parseLogsRequest({ agent: 'A', inbox: '_INBOX.x', lines: 5 }).kind, 'watch');
  for (const bad of [
    null,
    { agent: 'a b', inbox: 'x' },
    { agent: 'A', inbox: 'x.>' },
    { agent: 'A', inbox: 'x', lines: 1e9 },
    { agent: 'A', inbox: 'x', follow: 'yes' },
  ])
    assert.equal(parseLogsRequest(bad).kind, 'bad');
});

test('log view keys: l opens the selected agent, scrolling pauses, End follows, Esc goes back', () => {
  const ctx: UiContext = {
    panes: [{ id: 'agents:mainpc', keys: ['mainpc/A', 'mainpc/B'], page: 10 }],
    palette: [],
    now: 0,
    log: { total: 100, rows: 100, page: 20 },
  };
  let s = reduce(initialUi(), 'j', 'j', ctx).state;
  s = reduce(s, 'l', 'l', ctx).state;
  assert.deepEqual(
    [s.screen, s.logs, s.logFollow, s.subject],
    ['logs', 'mainpc/B', true, 'mainpc/B'],
  );
  s = reduce(s, 'k', 'k', ctx).state;
  assert.deepEqual([s.logFollow, s.logAnchor, s.logScroll], [false, 100, 1]);
  s = reduce(s, 'end', '', { ...ctx, log: { total: 150, rows: 150, page: 20 } }).state;
  assert.deepEqual([s.logFollow, s.logScroll], [true, 0]);
  s = reduce(s, 'p', 'p', ctx).state;
  assert.equal(s.logFollow, false);
  s = reduce(s, 'w', 'w', ctx).state;
  assert.equal(s.logWrap, true);
  s = reduce(s, 'esc', '', ctx).state;
  assert.equal(s.screen, 'fleet');
  // An error row's agent: l and R act on it.
  const errs: UiContext = {
    ...ctx,
    panes: [{ id: 'errors', keys: ['7'], page: 5, agents: ['pc2/Gamma'] }],
  };
  const r = reduce(initialUi('errors'), 'R', 'R', errs);
  assert.deepEqual(r.effect, { kind: 'run', id: 'action:agent.restart:pc2/Gamma' });
  assert.equal(r.state.screen, 'actions');
});

test('the view shows rows under its anchor, filtered, from the bottom', () => {
  const items = Array.from({ length: 50 }, (_, i) =>
    parseLogLine(JSON.stringify({ level: i % 10 === 0 ? 'ERROR' : 'INFO', message: `m${i}` })),
  );
  const snap = { items, first: 0, total: 50 };
  assert.equal(logRows(snap, 20, '').length, 20);
  assert.equal(logRows(snap, undefined, 'level:error').length, 5);
  const shown = logWindow(logRows(snap, undefined, ''), 5, 10, false, 80);
  assert.equal((shown.at(-1) as { message: string }).message, 'm44');
  assert.equal(shown.length, 10);
});
