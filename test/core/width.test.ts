// core/ui/width.ts answers some widths without string-width (start-up: its first non-ASCII
// measure costs ~0.1 s): each must be what string-width says, as Ink measures with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import {
  CONSOLE_GLYPHS,
  codePointWidth,
  columns,
  knownNarrow,
} from '../../source/core/ui/width.js';

test('every code point known narrow is one column to string-width', () => {
  const known: number[] = [];
  for (let cp = 0; cp <= 0xffff; cp++) if (knownNarrow(cp)) known.push(cp);
  // Box drawing and block elements, and the console's own glyphs.
  assert.equal(known.length, 0x25a0 - 0x2500 + [...CONSOLE_GLYPHS].length);
  for (const cp of known) {
    const ch = String.fromCodePoint(cp);
    assert.equal(stringWidth(ch), 1, `U+${cp.toString(16)} ${ch}`);
    assert.equal(codePointWidth(cp), 1);
  }
});

test('other text is measured as string-width measures it', () => {
  for (const text of ['界', '👍', 'e\u0301', 'ab●c', '▁▂▃ ▇█', '·…›', '\u00ad', 'Ａ'])
    assert.equal(columns(text), stringWidth(text), JSON.stringify(text));
});
