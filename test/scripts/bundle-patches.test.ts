// The bundle's patches of @alcalzone/ansi-tokenize (scripts/bundle-patches.mjs): Ink's tokeniser,
// built with them exactly as scripts/bundle.mjs builds it, gives the same tokens as the original
// for every kind of text (ASCII, SGR and link codes, box drawing, emoji, flags, ZWJ sequences,
// combining marks, CR LF, wide characters), rows composed from its styled characters are the same
// strings, and the tokeniser's fast path's claim (one grapheme per code unit) holds for every pair
// of the characters it takes, by Intl.Segmenter itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { importPatched } from '../support/patched-build.js';
import * as original from '@alcalzone/ansi-tokenize';

const PATCHES = new URL('../../scripts/bundle-patches.mjs', import.meta.url).href;
const { ansiStyledCharsFast, ansiTokenizeFast, ONE_GRAPHEME_EACH } = (await import(PATCHES)) as {
  ansiStyledCharsFast: Plugin;
  ansiTokenizeFast: Plugin;
  ONE_GRAPHEME_EACH: RegExp;
};

type Lib = typeof original;

/** ansi-tokenize as the bundle has it. */
async function patched(): Promise<Lib> {
  const entry = fileURLToPath(import.meta.resolve('@alcalzone/ansi-tokenize'));
  const { module, result } = await importPatched<Lib>(entry, [
    ansiTokenizeFast,
    ansiStyledCharsFast,
  ]);
  assert.deepEqual(result.warnings, [], 'the patch applied');
  return module;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const count = (s: string) => [...graphemes.segment(s)].length;

test('every pair of the fast path characters is two graphemes', () => {
  const chars: string[] = [];
  for (let c = 0; c < 0x10000; c++) {
    const ch = String.fromCharCode(c);
    if (ONE_GRAPHEME_EACH.test(ch)) chars.push(ch);
  }
  assert.ok(chars.length > 600 && chars.includes('\u001b') && chars.includes('\u2500'));
  assert.ok(!chars.includes('\r') && !chars.includes('\u200d') && !chars.includes('\ufe0f'));
  const bad: string[] = [];
  for (const a of chars) for (const b of chars) if (count(a + b) !== 2) bad.push(a + b);
  assert.deepEqual(bad, []);
});

const ESC = '\u001b';
const TEXTS = [
  '',
  'plain ascii text with spaces   ',
  `${ESC}[1;36mopsdeck ${ESC}[0;7m 1 Fleet ${ESC}[0;90m 2 Ports${ESC}[39m`,
  `${ESC}[38;5;208morange${ESC}[39m ${ESC}[48;2;10;20;30mtrue${ESC}[49m`,
  '╭──────╮\n│ box  │\n╰──────╯',
  `${ESC}[7m${ESC}[1m›${ESC}[22m${ESC}[27m MainAgent000 · 12 ms … ▲▼ ●○ █▌ ←→`,
  'café naïve ½ © ×',
  'line\r\nnext\rcarriage',
  'e\u0301 combining, a\u0308',
  'emoji 😀 ❤️ 👍🏽 👨‍👩‍👧 flags 🇩🇪🇫🇷 keycap 1️⃣',
  '全角 テキスト 한국어 각',
  `${ESC}]8;;https://example.com${ESC}\\link${ESC}]8;;${ESC}\\ after`,
  'zero\u200bwidth\u200cnon\u200djoiner\ufeff',
  `${ESC}[31m${'x'.repeat(300)}${ESC}[0m`,
];

test('the patched tokeniser gives what the original gives', async () => {
  const { tokenize } = await patched();
  for (const text of TEXTS) {
    assert.deepEqual(tokenize(text), original.tokenize(text), JSON.stringify(text));
    for (const end of [0, 1, 5, 40])
      assert.deepEqual(
        tokenize(text, end),
        original.tokenize(text, end),
        `${JSON.stringify(text)} to ${end}`,
      );
  }
});

type Cell = ReturnType<Lib['styledCharsFromTokens']>[number];

test('rows composed from the styled characters are the same strings', async () => {
  const lib = await patched();
  const styled = (l: Lib, text: string) => l.styledCharsFromTokens(l.tokenize(text));
  const pieces = [
    ...TEXTS.flatMap((t) => t.split(/\r?\n/)),
    `${ESC}[1m${ESC}[2mbold dim${ESC}[22m plain ${ESC}[1mbold${ESC}[0m`,
    `${ESC}[31mred ${ESC}[32mgreen${ESC}[39m ${ESC}[4;31munder red${ESC}[24m red${ESC}[0m`,
    `${ESC}[31mred${ESC}[0m`,
    `${ESC}[31mred too${ESC}[0m`,
  ];
  for (const text of pieces) {
    assert.deepEqual(styled(lib, text), styled(original, text), JSON.stringify(text));
    assert.equal(
      lib.styledCharsToString(styled(lib, text)),
      original.styledCharsToString(styled(original, text)),
      JSON.stringify(text),
    );
  }
  // Rows as Ink's Output makes them: pieces written side by side over blank cells, each one
  // overwriting the cells it covers (the same codes from different writes meet at their edges).
  for (let round = 0; round < 300; round++) {
    const row = (l: Lib) => {
      let seed = round + 1;
      const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const cells: Cell[] = Array.from({ length: 60 }, () => ({
        type: 'char' as const,
        value: ' ',
        fullWidth: false,
        styles: [],
      }));
      for (let w = next(5); w >= 0; w--) {
        let x = next(60);
        for (const c of styled(l, pieces[next(pieces.length)]!)) if (x < 60) cells[x++] = c;
      }
      return l.styledCharsToString(cells);
    };
    assert.equal(row(lib), row(original), `round ${round}`);
  }
});

test('no Intl.Segmenter until a text needs one', async () => {
  const Real = Intl.Segmenter;
  const intl = Intl as { Segmenter: typeof Real };
  let made = 0;
  intl.Segmenter = class extends Real {
    constructor(...args: ConstructorParameters<typeof Real>) {
      super(...args);
      made++;
    }
  };
  try {
    const { tokenize } = await patched();
    tokenize(TEXTS[2]!);
    tokenize(TEXTS[4]!);
    tokenize(TEXTS[5]!);
    assert.equal(made, 0);
    tokenize(TEXTS[9]!);
    assert.equal(made, 1);
  } finally {
    intl.Segmenter = Real;
  }
});
