// The console's snapshots of parsed configs (adapters/parse-cache.ts): what comes from one is
// exactly what a fresh parse gives, and a changed file, another build or a bad snapshot is parsed
// afresh, never shown from the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCached, parseCacheFor, type ParseCache } from '../../source/adapters/parse-cache.js';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { parseYaml, type ParsedSource } from '../../source/core/fleet/yaml-source.js';

const FIXTURES = new URL('../fixtures/shapes/', import.meta.url).pathname;

const folder = () => mkdtempSync(join(tmpdir(), 'opsdeck-parse-cache-'));
const snapshots = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json'));

/** What a parse says: its data, its diagnostics, and where every key and a few misses point. */
function said(p: ParsedSource) {
  const paths = [...(p.index?.keys() ?? [])].map((k) => k.split('.'));
  return {
    data: p.data,
    diagnostics: p.diagnostics,
    locs: [...paths, ['nope'], ['agent_groups', 'nope', 'deeper'], []].map((path) =>
      p.locate(path),
    ),
  };
}

const TEXT = [
  'global_settings:',
  '  health_checks: {interval_seconds: 2}',
  'agent_groups:',
  '  core:',
  '    ServiceRegistry: {script_path: a.py, port: 7200, health_check_port: 8200}',
  '    ServiceRegistry: {script_path: b.py, port: 7201}',
  '    NLUAgent: {script_path: c.py, port: 5709, enabled: off}',
  '',
].join('\n');

test('a snapshot gives back exactly the parse, and is read instead of parsing again', () => {
  const dir = folder();
  try {
    const cache: ParseCache = { dir, build: 'b1' };
    const first = parseCached(TEXT, '/x/mainpc.yaml', cache);
    assert.deepEqual(said(first), said(parseYaml(TEXT, '/x/mainpc.yaml')));
    assert.equal(first.diagnostics[0]?.code, 'duplicate-key', 'warnings are kept');
    const [name] = snapshots(dir);
    assert.ok(name, 'a snapshot was written');
    const file = join(dir, name);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const inode = statSync(file).ino;
    const second = parseCached(TEXT, '/x/mainpc.yaml', cache);
    assert.deepEqual(said(second), said(first));
    // A miss writes the snapshot again (a new file renamed over it): this was a hit.
    assert.equal(statSync(file).ino, inode, 'the second parse read the snapshot');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a changed file, another path or another build is parsed afresh', () => {
  const dir = folder();
  try {
    const cache: ParseCache = { dir, build: 'b1' };
    parseCached(TEXT, '/x/mainpc.yaml', cache);
    const edited = TEXT.replace('port: 5709', 'port: 5710');
    const after = parseCached(edited, '/x/mainpc.yaml', cache);
    assert.deepEqual(said(after), said(parseYaml(edited, '/x/mainpc.yaml')));
    const moved = parseCached(TEXT, '/y/pc2.yaml', cache);
    assert.equal(moved.diagnostics[0]?.loc.file, '/y/pc2.yaml');
    parseCached(TEXT, '/x/mainpc.yaml', { dir, build: 'b2' });
    assert.equal(snapshots(dir).length, 4, 'one snapshot per text, path and build');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a torn, edited or misplaced snapshot is never used', () => {
  const dir = folder();
  try {
    const cache: ParseCache = { dir, build: 'b1' };
    const other = TEXT.replace('NLUAgent', 'OtherAgent');
    parseCached(TEXT, '/x/mainpc.yaml', cache);
    const [name] = snapshots(dir);
    const file = join(dir, name!);
    const good = readFileSync(file, 'utf8');
    const want = said(parseYaml(TEXT, '/x/mainpc.yaml'));
    const bad = [
      good.slice(0, good.length / 2), // torn
      good.replace('ServiceRegistry', 'ServiceRegistrX'), // edited: the body's hash fails
      'garbage',
      '',
    ];
    for (const text of bad) {
      writeFileSync(file, text);
      assert.deepEqual(said(parseCached(TEXT, '/x/mainpc.yaml', cache)), want);
      assert.equal(readFileSync(file, 'utf8'), good, 'and it was written again');
    }
    // Another text's snapshot under this one's name: its key inside does not match.
    parseCached(other, '/x/mainpc.yaml', cache);
    const otherName = snapshots(dir).find((f) => f !== name)!;
    copyFileSync(join(dir, otherName), file);
    assert.deepEqual(said(parseCached(TEXT, '/x/mainpc.yaml', cache)), want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data JSON would change (a timestamp, .inf) and failed parses are not kept', () => {
  const dir = folder();
  try {
    const cache: ParseCache = { dir, build: 'b1' };
    for (const text of ['when: 2001-12-14\n', 'limit: .inf\n', 'zero: -0.0\n', 'a: [1\n']) {
      const got = parseCached(text, '/x/a.yaml', cache);
      assert.deepEqual(said(got), said(parseYaml(text, '/x/a.yaml')), text);
    }
    assert.deepEqual(snapshots(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'an unwritable cache costs nothing but the parse',
  { skip: process.getuid?.() === 0 ? 'root writes anywhere' : false },
  () => {
    const dir = folder();
    try {
      chmodSync(dir, 0o500);
      const got = parseCached(TEXT, '/x/mainpc.yaml', { dir: join(dir, 'parsed'), build: 'b1' });
      assert.deepEqual(said(got), said(parseYaml(TEXT, '/x/mainpc.yaml')));
    } finally {
      chmodSync(dir, 0o700);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a cache path that is a file costs nothing but the parse', () => {
  const dir = folder();
  try {
    writeFileSync(join(dir, 'parsed'), 'not a folder');
    const got = parseCached(TEXT, '/x/mainpc.yaml', { dir: join(dir, 'parsed'), build: 'b1' });
    assert.deepEqual(said(got), said(parseYaml(TEXT, '/x/mainpc.yaml')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the console's cache: only with a build id, where the environment says, off when empty", () => {
  assert.equal(parseCacheFor({ HOME: '/h' }, undefined), undefined);
  assert.deepEqual(parseCacheFor({ HOME: '/h' }, 'b'), {
    dir: '/h/.cache/opsdeck/parsed',
    build: 'b',
  });
  assert.deepEqual(parseCacheFor({ HOME: '/h', XDG_CACHE_HOME: '/c' }, 'b'), {
    dir: '/c/opsdeck/parsed',
    build: 'b',
  });
  assert.deepEqual(parseCacheFor({ HOME: '/h', OPSDECK_CACHE_DIR: '/o' }, 'b'), {
    dir: '/o/parsed',
    build: 'b',
  });
  assert.equal(parseCacheFor({ HOME: '/h', OPSDECK_CACHE_DIR: '' }, 'b'), undefined);
});

test('every fixture shape loads the same through the cache, cold and warm', () => {
  const dir = folder();
  try {
    const cache: ParseCache = { dir, build: 'b1' };
    const env = { MAINPC_IP: '10.0.0.1', PC2_IP: '10.0.0.2' };
    for (const shape of readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml'))) {
      const files = { [shape.startsWith('pc2') ? 'pc2' : 'mainpc']: join(FIXTURES, shape) };
      const plain = loadFleet(files, env);
      assert.deepEqual(loadFleet(files, env, cache), plain, `${shape}, cold`);
      assert.deepEqual(loadFleet(files, env, cache), plain, `${shape}, warm`);
    }
    assert.ok(snapshots(dir).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
