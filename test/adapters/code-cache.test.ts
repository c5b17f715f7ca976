// V8's cached code for the CommonJS bundle (adapters/code-cache.ts): a launch uses only a cache
// of its own build, command and Node, whole and written by this user; anything else (torn,
// damaged, another build's, one V8 refuses) is ignored and written again, and no cache, an
// unwritable one or a bad one never stops the bundle from running. The bundles here are small
// real scripts; a launch that must read a cache file (not V8's in-process compile cache) runs in
// a child process, as bin/opsdeck.js would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';
import { commandKey, loadBundle, optimizeLater } from '../../source/adapters/code-cache.js';

const ADAPTER = fileURLToPath(new URL('../../source/adapters/code-cache.ts', import.meta.url));

const folder = () => mkdtempSync(join(tmpdir(), 'opsdeck-code-cache-'));
const caches = (cache: string) => {
  try {
    return readdirSync(join(cache, 'code')).filter((f) => f.endsWith('.v8'));
  } catch {
    return [];
  }
};

const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

/**
 * A bundle of build `build` (a new source each time: V8 keeps compiled scripts per process);
 * `wrapped`: carrying Node's CommonJS wrapper itself, as scripts/bundle.mjs writes it.
 */
function bundle(dir: string, build: string | undefined, extra = '', wrapped = false): string {
  const file = join(dir, 'cli.cjs');
  const first = build === undefined ? '// no build line' : `/* opsdeck build ${build} */`;
  const lines = [
    wrapped ? `${first}${WRAPPER}` : first,
    `// ${randomUUID()}`,
    'exports.answer = (n) => n * 2;',
    "exports.where = () => new Error('here').stack;",
    "exports.joined = require('node:path').join('a', 'b');",
    'exports.dirname = __dirname;',
    "exports.imported = () => import('node:os').then((os) => typeof os.tmpdir);",
    extra,
    ...(wrapped ? ['})'] : []),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A launch in a child process: what the cache did, and that the bundle ran. */
function launch(file: string, cache: string, command = 'console') {
  const code = [
    `import { loadBundle } from ${JSON.stringify(ADAPTER)};`,
    `const b = loadBundle(${JSON.stringify(file)}, { env: { OPSDECK_CACHE_DIR: ${JSON.stringify(cache)} }, command: ${JSON.stringify(command)} });`,
    'const saved = b.save();',
    'console.log(JSON.stringify({ cache: b.cache, saved, answer: b.exports.answer(21) }));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { cache: string; saved: boolean; answer: number };
}

test('the first launch compiles and keeps the code (0644, private folder); the next one uses it', () => {
  const dir = folder();
  const cache = join(dir, 'cache');
  const file = bundle(dir, randomUUID());
  assert.deepEqual(launch(file, cache), { cache: 'missing', saved: true, answer: 42 });
  const [name] = caches(cache);
  assert.ok(name);
  assert.equal(statSync(join(cache, 'code', name)).mode & 0o777, 0o644);
  assert.equal(statSync(join(cache, 'code')).mode & 0o777, 0o700);
  assert.deepEqual(launch(file, cache), { cache: 'used', saved: false, answer: 42 });
  // Another command keeps its own.
  assert.deepEqual(launch(file, cache, 'status'), { cache: 'missing', saved: true, answer: 42 });
  assert.equal(caches(cache).length, 2);
});

test('a torn, damaged or widened cache file is not used, and is written again', () => {
  const dir = folder();
  const cache = join(dir, 'cache');
  const file = bundle(dir, randomUUID());
  launch(file, cache);
  const path = join(cache, 'code', caches(cache)[0]!);
  const whole = readFileSync(path);
  const damage: Array<[string, () => void]> = [
    ['torn', () => truncateSync(path, Math.floor(whole.length / 2))],
    ['header only', () => truncateSync(path, whole.indexOf(10) + 1)],
    // V8 itself would take this one (it checks lengths, not content) and crash.
    [
      'a flipped byte',
      () => {
        const bad = Buffer.from(whole);
        const at = bad.length - 100;
        bad[at] = bad[at]! ^ 0xff;
        writeFileSync(path, bad);
      },
    ],
    ['empty', () => writeFileSync(path, '')],
    ['not ours', () => writeFileSync(path, 'opsdeck-parse-cache 1 abc\n{}')],
    ['writable by others', () => chmodSync(path, 0o666)],
  ];
  for (const [what, spoil] of damage) {
    spoil();
    assert.deepEqual(launch(file, cache), { cache: 'invalid', saved: true, answer: 42 }, what);
    assert.equal(statSync(path).mode & 0o777, 0o644, what);
    assert.deepEqual(launch(file, cache), { cache: 'used', saved: false, answer: 42 }, what);
  }
});

test("another build's cache is never used, even under this build's name", () => {
  const dir = folder();
  const cache = join(dir, 'cache');
  const old = randomUUID();
  const file = bundle(dir, old);
  launch(file, cache);
  const [oldName] = caches(cache);
  const oldBytes = readFileSync(join(cache, 'code', oldName!));
  // The rebuilt bundle, same place and (here) same length: V8 alone would take the old code.
  const build = randomUUID();
  bundle(dir, build);
  const name = oldName!.replace(old, build);
  mkdirSync(join(cache, 'code'), { recursive: true });
  writeFileSync(join(cache, 'code', name), oldBytes, { mode: 0o644 });
  assert.deepEqual(launch(file, cache), { cache: 'invalid', saved: true, answer: 42 });
  // The rewrite pruned the old build's cache at this place.
  assert.deepEqual(caches(cache), [name]);
  assert.deepEqual(launch(file, cache), { cache: 'used', saved: false, answer: 42 });
});

test('a cache V8 refuses (code of another source, header right) is rewritten', () => {
  const dir = folder();
  const cache = join(dir, 'cache');
  const file = bundle(dir, randomUUID());
  launch(file, cache);
  const path = join(cache, 'code', caches(cache)[0]!);
  const whole = readFileSync(path);
  const header = whole.subarray(0, whole.indexOf(10)).toString('latin1');
  const foreign = new vm.Script(`(function () { return ${JSON.stringify(randomUUID())}; })`);
  foreign.runInThisContext();
  const data = foreign.createCachedData();
  const line = `${header.slice(0, header.lastIndexOf(' '))} ${crc32(data).toString(16)}\n`;
  writeFileSync(path, Buffer.concat([Buffer.from(line), data]));
  assert.deepEqual(launch(file, cache), { cache: 'rejected', saved: true, answer: 42 });
  assert.deepEqual(launch(file, cache), { cache: 'used', saved: false, answer: 42 });
});

test('no cache folder, an empty OPSDECK_CACHE_DIR or a bundle without a build id: no cache, runs', () => {
  const dir = folder();
  const file = bundle(dir, randomUUID());
  for (const env of [{ OPSDECK_CACHE_DIR: '' }, {}]) {
    const b = loadBundle(file, { env, command: 'console' });
    assert.equal(b.cache, 'off');
    assert.equal(b.file, undefined);
    assert.equal(b.save(), false);
    assert.equal((b.exports.answer as (n: number) => number)(2), 4);
  }
  const unbuilt = bundle(dir, undefined);
  const cache = join(dir, 'cache');
  const b = loadBundle(unbuilt, { env: { OPSDECK_CACHE_DIR: cache }, command: 'console' });
  assert.equal(b.cache, 'off');
  assert.equal(b.save(), false);
  assert.deepEqual(caches(cache), []);
});

test('an unwritable cache folder: the bundle runs, save() says no', () => {
  const dir = folder();
  const file = bundle(dir, randomUUID());
  const blocker = join(dir, 'not-a-folder');
  writeFileSync(blocker, 'x');
  const b = loadBundle(file, { env: { OPSDECK_CACHE_DIR: blocker }, command: 'console' });
  assert.equal(b.cache, 'invalid'); // its folder cannot be a folder
  assert.equal((b.exports.answer as (n: number) => number)(5), 10);
  assert.equal(b.save(), false);
  assert.equal(b.save(), false);
});

test('the bundle runs as Node would run it: require, __dirname, import(), stack lines', async () => {
  const dir = folder();
  const file = bundle(dir, randomUUID());
  const b = loadBundle(file, { env: { OPSDECK_CACHE_DIR: '' }, command: 'console' });
  assert.equal(b.exports.joined, join('a', 'b'));
  assert.equal(b.exports.dirname, dir);
  assert.equal(await (b.exports.imported as () => Promise<string>)(), 'function');
  // `new Error` is on line 4 of the file, column 23.
  assert.match((b.exports.where as () => string)(), new RegExp(`${file}:4:23`));
});

test('a bundle that carries its wrapper runs as read, with the same lines, and its cache is used', () => {
  const dir = folder();
  const cache = join(dir, 'cache');
  const file = bundle(dir, randomUUID(), '', true);
  const b = loadBundle(file, { env: { OPSDECK_CACHE_DIR: '' }, command: 'console' });
  assert.equal(b.exports.joined, join('a', 'b'));
  assert.equal(b.exports.dirname, dir);
  // Not wrapped twice (its exports would be empty), and line 4 is still line 4.
  assert.match((b.exports.where as () => string)(), new RegExp(`${file}:4:23`));
  assert.deepEqual(launch(file, cache), { cache: 'missing', saved: true, answer: 42 });
  assert.deepEqual(launch(file, cache), { cache: 'used', saved: false, answer: 42 });
});

test('the cache key of a command line is its first word when that is a command name', () => {
  assert.equal(commandKey([]), 'default');
  assert.equal(commandKey(['console', '--screen', 'ports']), 'console');
  assert.equal(commandKey(['status', '--json']), 'status');
  assert.equal(commandKey(['--help']), 'default');
  assert.equal(commandKey(['../../etc/passwd']), 'default');
  assert.equal(commandKey(['Status']), 'default');
});

test("start-up without TurboFan, unless node's flags say something about the optimizer", () => {
  for (const [argv, options] of [
    [['--no-turbofan'], ''],
    [['--jitless'], ''],
    [['--turbofan'], ''],
    [[], '--max-opt=2'],
    [[], '--enable-source-maps --max_opt=1'],
    [['--no-opt'], ''],
  ] as const)
    assert.equal(optimizeLater(argv, options), undefined, `${argv.join(' ')} ${options}`);
  assert.equal(typeof optimizeLater(['--cpu-prof'], '--enable-source-maps'), 'function');
});

test('TurboFan is off until the function returned turns it back on', () => {
  // In a child: V8's own word on a hot function (natives syntax), before and after.
  const code = [
    `import { optimizeLater } from ${JSON.stringify(ADAPTER)};`,
    "const status = new Function('f', 'return %GetOptimizationStatus(f)');",
    'const hot = (n) => { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; };',
    'const run = () => { for (let k = 0; k < 3000; k++) hot(1000); };',
    'const TURBOFANNED = 64;',
    'const on = optimizeLater(process.execArgv, process.env.NODE_OPTIONS);',
    'run();',
    'const before = (status(hot) & TURBOFANNED) !== 0;',
    'on();',
    'run(); run();',
    'setTimeout(() => { run(); console.log(JSON.stringify({ before, after: (status(hot) & TURBOFANNED) !== 0 })); }, 50);',
  ].join('\n');
  const r = spawnSync(
    process.execPath,
    ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', code],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { before: false, after: true });
});
