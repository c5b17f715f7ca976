// The README's key list is the keymap table, not a copy that drifts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { keyTable } from '../../source/core/ui/keymap.js';

test('README key list matches the keymap (npx tsx scripts/readme-keys.ts rewrites it)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = /<!-- keys:start -->\n([\s\S]*?)\n<!-- keys:end -->/.exec(readme)?.[1];
  assert.equal(section, keyTable());
});
