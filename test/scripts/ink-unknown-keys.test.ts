// The bundle's patch of Ink's parseKeypress (scripts/bundle-patches.mjs, inkUnknownKeys): a
// modified escape sequence whose code Ink has no name for (Ctrl+F1's ESC[1;5P, a pasted
// ESC[31m) is an unnamed key, not an undefined name that useInput calls startsWith on (the
// console died on it). Ink built with the patch exactly as scripts/bundle.mjs builds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { importPatched } from '../support/patched-build.js';

const PATCHES = new URL('../../scripts/bundle-patches.mjs', import.meta.url).href;
const { inkUnknownKeys } = (await import(PATCHES)) as { inkUnknownKeys: Plugin };

type Parse = (s: string) => { name?: string; ctrl: boolean; sequence: string };

/** Ink's parseKeypress, built with `plugins`. */
async function parser(plugins: Plugin[]): Promise<Parse> {
  const entry = fileURLToPath(new URL('./parse-keypress.js', import.meta.resolve('ink')));
  const { module, result } = await importPatched<{ default: Parse }>(entry, plugins);
  assert.deepEqual(result.errors, [], 'the patch applied');
  return module.default;
}

// Ctrl+F1-F4 (xterm), a focus report with a modifier, a colour code pasted with text.
const UNKNOWN = [
  '\u001b[1;5P',
  '\u001b[1;5Q',
  '\u001b[1;5R',
  '\u001b[1;5S',
  '\u001b[1;5I',
  '\u001b[31m',
];

test('without the patch, Ink names these keys undefined with Ctrl set (what crashed useInput)', async () => {
  const parse = await parser([]);
  for (const s of UNKNOWN) {
    const k = parse(s);
    assert.equal(k.name, undefined, JSON.stringify(s));
    assert.equal(k.ctrl, true, JSON.stringify(s));
  }
});

test('with the patch, every one is an unnamed key; known keys keep their names', async () => {
  const parse = await parser([inkUnknownKeys]);
  for (const s of UNKNOWN) assert.equal(parse(s).name, '', JSON.stringify(s));
  assert.equal(parse('\u001b[A').name, 'up');
  assert.equal(parse('\u001b[1;5A').name, 'up');
  assert.equal(parse('\u001b[5~').name, 'pageup');
  assert.equal(parse('\u001bOP').name, 'f1');
});
