// Start-up (issue 7): a launch loads only the command it runs. Which commands a command line
// reaches, and that each command's help is the same as with every command registered.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram, commandsFor, main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';

const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));

const reached = (...argv: string[]) => commandsFor(argv).map((c) => c.names[0]);

function capture(): { io: Io; text: () => string } {
  let text = '';
  const io: Io = {
    out: (t) => void (text += t),
    err: (t) => void (text += t),
    env: {},
    cwd: process.cwd(),
  };
  return { io, text: () => text };
}

describe('which commands a launch loads', () => {
  test('a bare launch or console options only: the console alone', () => {
    assert.deepEqual(reached(), ['console']);
    assert.deepEqual(reached('--screen', 'errors', '--interval', '500ms'), ['console']);
  });

  test('a command named first: that command alone (demo lives with the console)', () => {
    assert.deepEqual(reached('status', '--json'), ['status']);
    assert.deepEqual(reached('config', 'migrate', 'x.yaml'), ['config']);
    assert.deepEqual(reached('errorbus', 'doctor'), ['errorbus']);
    assert.deepEqual(reached('demo'), ['console']);
  });

  test('help, version, a command name after an option, an unknown word: all of them', () => {
    const all = reached('--help');
    assert.ok(all.length > 10 && all.includes('status') && all.includes('console'));
    for (const argv of [
      ['-h'],
      ['--version'],
      ['-V'],
      ['help', 'status'],
      ['--nats', 'x', '--help'],
      ['--', 'status'],
      ['--screen', 'ports'],
      ['stauts'],
    ]) {
      assert.deepEqual(reached(...argv), all, argv.join(' '));
    }
  });
});

describe('help with only the command loaded', () => {
  const lines = [
    ['--help'],
    ['console'],
    ['demo'],
    ['status'],
    ['config'],
    ['config', 'migrate'],
    ['ports'],
    ['lint'],
    ['sim'],
    ['agent'],
    ['errorbus'],
    ['errorbus', 'doctor'],
    ['audit'],
    ['certs'],
    ['security'],
    ['throttle'],
    ['deploy'],
    ['deploy', 'plan'],
  ];
  for (const argv of lines) {
    const args = argv[0] === '--help' ? argv : [...argv, '--help'];
    test(`opsdeck ${args.join(' ')}: same text and exit 0 as with every command registered`, async () => {
      const lazy = capture();
      assert.equal(await main(args, lazy.io), 0);
      const full = capture();
      const program = await buildProgram(full.io);
      await assert.rejects(
        program.parseAsync(args, { from: 'user' }),
        (e: { exitCode?: number }) => e.exitCode === 0,
      );
      assert.equal(lazy.text(), full.text());
      assert.match(lazy.text(), /^Usage: opsdeck/);
    });
  }
});

describe('the launcher', () => {
  // Development mode runs dist/cli.js (tsc's output), production the bundle when it is fresh;
  // both must answer the same (npm run build has run before the tests).
  for (const env of [{ NODE_ENV: 'production' }, { NODE_ENV: 'development' }]) {
    test(`NODE_ENV=${env.NODE_ENV}: --version and a usage error`, () => {
      const version = spawnSync(process.execPath, [BIN, '--version'], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout.trim(), '0.1.0');
      const bad = spawnSync(process.execPath, [BIN, 'status', '--bogus'], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /unknown option '--bogus'/);
    });
  }
});

describe("the launcher and V8's code for the bundle (adapters/code-cache.ts)", () => {
  const version = (cache: string) => {
    const r = spawnSync(process.execPath, [BIN, '--version'], {
      env: { ...process.env, NODE_ENV: 'production', OPSDECK_CACHE_DIR: cache },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0.1.0');
    assert.equal(r.stderr, '');
  };

  test('kept by the first launch, used by the next, a torn one written again', () => {
    const cache = mkdtempSync(join(tmpdir(), 'opsdeck-launch-cache-'));
    version(cache);
    const names = readdirSync(join(cache, 'code'));
    assert.equal(names.length, 1, 'one cache file for the bundle and --version');
    const path = join(cache, 'code', names[0]!);
    const first = statSync(path);
    version(cache);
    assert.equal(statSync(path).ino, first.ino, 'used, not written again');
    truncateSync(path, 100);
    version(cache);
    const again = statSync(path);
    assert.ok(again.ino !== first.ino && again.size > first.size / 2, 'written again whole');
    version(cache);
    assert.equal(statSync(path).ino, again.ino, 'and then used');
  });

  test('an unwritable cache folder changes nothing a launch does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsdeck-launch-cache-'));
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    version(blocker);
    version('');
  });
});
