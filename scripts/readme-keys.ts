// Rewrites the README's key list from the keymap table (the one source of truth for keys).
// Run: npx tsx scripts/readme-keys.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { keyTable } from '../source/core/ui/keymap.js';

const file = new URL('../README.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const next = text.replace(
  /(<!-- keys:start -->\n)[\s\S]*?(\n<!-- keys:end -->)/,
  `$1${keyTable()}$2`,
);
if (next === text) console.log('README key list already up to date');
else {
  writeFileSync(file, next);
  console.log('README key list rewritten from source/core/ui/keymap.ts');
}
