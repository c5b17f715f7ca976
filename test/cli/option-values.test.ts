// Numbers and durations are checked where commander reads them (commands/options.ts): a bad value
// is a usage error naming the option, the value and what was expected, exit 2, before anything
// runs; defaults are written as typed (`3s`) and parsed once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { durationArg, intArg, numberArg } from '../../source/commands/options.js';
import { runCli } from '../support/run-cli.js';

const run = (args: string[]) => runCli(args, { OPSDECK_AUDIT: '/nonexistent/audit' }, tmpdir());

describe('option values', () => {
  for (const [args, message] of [
    [
      ['audit', '--last', '0'],
      /option '--last <n>' argument '0' is invalid\. expected a whole number >= 1, got "0"/,
    ],
    [
      ['audit', '--last', 'ten'],
      /option '--last <n>' argument 'ten' is invalid\. expected a whole number >= 1/,
    ],
    [
      ['certs', 'generate', '--days', '4000'],
      /option '--days <n>' argument '4000' is invalid\. expected whole days 1-3650, got "4000"/,
    ],
    [
      ['certs', 'rotate', '--token-days', '1.5'],
      /option '--token-days <n>' argument '1\.5' is invalid\. expected whole days 1-3650/,
    ],
    [
      ['status', '--timeout', 'soon'],
      /option '--timeout <duration>' argument 'soon' is invalid\. expected a duration like 500ms, 2s or 10m, got "soon"/,
    ],
    [
      ['ports', 'check', '--timeout', '10ms'],
      /option '--timeout <duration>' argument '10ms' is invalid\. 10ms is below the least allowed, 50ms/,
    ],
    [
      ['security', 'probe', '--timeout', '5'],
      /option '--timeout <duration>' argument '5' is invalid\./,
    ],
    [
      ['errorbus', 'phase', 'show', '--connect-timeout', 'x'],
      /option '--connect-timeout <duration>' argument 'x' is invalid\./,
    ],
    [
      ['throttle', 'pc2', '--level', '4'],
      /option '--level <n>' argument '4' is invalid\. expected a level 0-3, got "4"/,
    ],
    [
      ['throttle', 'pc2', '--auto', 'on', '--raise-above', '120'],
      /option '--raise-above <pct>' argument '120' is invalid\. expected a percentage 0-100/,
    ],
    [
      ['sim', '--seed', '-1'],
      /option '--seed <n>' argument '-1' is invalid\. expected a whole number >= 0, got "-1"/,
    ],
    [
      ['sim', '--duration', '5'],
      /option '--duration <duration>' argument '5' is invalid\. "5" has no unit: write 5ms or 5s/,
    ],
    [
      ['deploy', 'plan', '--metrics-port', 'none'],
      /option '--metrics-port <port>' argument 'none' is invalid\. expected off or a port 1-65535/,
    ],
    [
      ['status', '--collect', '99999999999h'],
      /option '--collect <duration>' argument '99999999999h' is invalid\. 99999999999h is above the most allowed, 576h/,
    ],
    [
      ['sim', 'ctl', 'status', '--timeout', '999999h'],
      /option '--timeout <duration>' argument '999999h' is invalid\. 999999h is above the most allowed, 576h/,
    ],
    [
      ['status', '--watch', '--interval', '0ms'],
      /option '--interval <duration>' argument '0ms' is invalid\. 0ms is below the least allowed, 200ms/,
    ],
    [
      ['stauts', '--json'],
      /^error: unknown command 'stauts' \(commands: config, ports, lint, sim, status,/,
    ],
    [
      ['console', '--interval', '100ms'],
      /option '--interval <duration>' argument '100ms' is invalid\. 100ms is below the least allowed, 200ms/,
    ],
  ] as const) {
    test(`${args.join(' ')}: exit 2 with the option, the value and what was expected`, async () => {
      const r = await run([...args]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.equal(r.out, '');
    });
  }

  test('the parsers: defaults as typed, bounds said', () => {
    assert.equal(durationArg({ minMs: 100 })('3s'), 3000);
    // Nothing longer than a Node timer holds (a longer one fires after 1 ms).
    assert.equal(durationArg()('576h'), 576 * 3_600_000);
    assert.throws(() => durationArg()('577h'), /577h is above the most allowed, 576h/);
    assert.throws(() => durationArg({ maxMs: 10 ** 12 })('600h'), /above the most allowed, 576h/);
    assert.equal(intArg(1, 3650, 'whole days')('397'), 397);
    assert.equal(numberArg(0, 100, 'a percentage')('12.5'), 12.5);
    assert.throws(() => numberArg(0, 100, 'a percentage')('101'), InvalidArgumentError);
    assert.throws(() => intArg(1)(''), /expected a whole number >= 1, got ""/);
  });
});
