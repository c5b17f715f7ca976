// Source patches scripts/bundle.mjs applies to dependencies in the bundle, kept apart so that the
// tests can build a dependency with them and check it against the original
// (test/scripts/bundle-patches.test.ts).
import { readFileSync } from 'node:fs';

/**
 * Code units that are each a grapheme of their own, whatever is around them (Unicode's grapheme
 * cluster rules, UAX #29): ASCII but CR (CR LF is one grapheme), Latin-1's letters and signs,
 * punctuation (U+2010-U+205F: dashes, quotes, bullets, ellipsis, angle quotes), arrows,
 * box drawing, block elements and geometric shapes. None of them extends, joins or prepends, so a
 * string made only of them splits into one grapheme per code unit; anything else (CR, combining
 * marks, ZWJ, variation selectors, surrogates, Hangul jamo...) takes Intl.Segmenter's path.
 */
export const ONE_GRAPHEME_EACH =
  // eslint-disable-next-line no-control-regex -- ESC and the other controls are graphemes too
  /^[\0-\x0c\x0e-\x7f\u00a0-\u00ff\u2010-\u205f\u2190-\u21ff\u2500-\u25ff]*$/;

// @alcalzone/ansi-tokenize (Ink's Output: every line of every frame, when not in opsdeck's
// caches) walks each string by graphemes with an Intl.Segmenter built at load (~25 ms of ICU's
// break rules before the first frame), and every step of ICU's walk costs more than the rest of
// the loop: on the console's first frame (~12,000 cells) it was most of composing the screen.
// A string that ONE_GRAPHEME_EACH matches is walked code unit by code unit, with the same
// { segment, index } steps the segmenter would give; the segmenter is made on first need.
export const ansiTokenizeFast = {
  name: 'ansi-tokenize-fast',
  setup(b) {
    b.onLoad(
      { filter: /[\\/]@alcalzone[\\/]ansi-tokenize[\\/]build[\\/]tokenize\.js$/ },
      (args) => {
        const text = readFileSync(args.path, 'utf8');
        const eager =
          'const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });';
        if (!text.includes(eager))
          return {
            contents: text,
            loader: 'js',
            warnings: [
              {
                text: `ansi-tokenize (${args.path}): not the segmenter this build knows (slower frames)`,
              },
            ],
          };
        const fast = [
          'let realSegmenter;',
          `const ONE_GRAPHEME_EACH = ${ONE_GRAPHEME_EACH};`,
          'const unitByUnit = (str) => {',
          '  let index = 0;',
          '  return {',
          '    [Symbol.iterator]() { return this; },',
          '    next() {',
          '      if (index >= str.length) return { value: undefined, done: true };',
          '      const step = { value: { segment: str[index], index }, done: false };',
          '      index++;',
          '      return step;',
          '    },',
          '  };',
          '};',
          'const segmenter = {',
          '  segment: (str) =>',
          '    ONE_GRAPHEME_EACH.test(str)',
          '      ? unitByUnit(str)',
          '      : (realSegmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" })).segment(str),',
          '};',
        ].join('\n');
        return { contents: text.replace(eager, () => fast), loader: 'js' };
      },
    );
  },
};

// Composing a row, Ink turns each cell's styles into the ANSI codes from the cell before it
// (ansi-tokenize's styledCharsToString: diffAnsiCodes makes three Sets and two arrays per cell,
// ~12,000 cells on the console's first frame), and every character of a tokenised line gets a
// copy of the codes in force (a char token is { type, value, fullWidth }: tokenize.js and the
// fast path above). Here a run of characters shares one array of codes (reduce makes a
// new array for every code it takes and never changes one; nothing else writes to them), and two
// neighbouring cells with the same codes, which diffAnsiCodes answers with nothing, skip it.
export const ansiStyledCharsFast = {
  name: 'ansi-styled-chars-fast',
  setup(b) {
    b.onLoad(
      { filter: /[\\/]@alcalzone[\\/]ansi-tokenize[\\/]build[\\/]styledChars\.js$/ },
      (args) => {
        const text = readFileSync(args.path, 'utf8');
        const copy = `ret.push({
                ...token,
                styles: [...codes],
            });`;
        const diff = `ret += ansiCodesToString(diffAnsiCodes(chars[i - 1].styles, char.styles));`;
        if (!text.includes(copy) || !text.includes(diff))
          return {
            contents: text,
            loader: 'js',
            warnings: [
              {
                text: `ansi-tokenize (${args.path}): not the styledChars this build knows (slower frames)`,
              },
            ],
          };
        const patched = text
          // Its fields named, not spread: a spread copies through a generic path, several times
          // slower while TurboFan is off (start-up; bin/opsdeck.js) and ~12,000 times a first frame.
          .replace(
            copy,
            () =>
              'ret.push({ type: token.type, value: token.value, fullWidth: token.fullWidth, styles: codes });',
          )
          .replace(
            diff,
            () =>
              'if (!sameCodes(chars[i - 1].styles, char.styles)) ret += ansiCodesToString(diffAnsiCodes(chars[i - 1].styles, char.styles));',
          );
        const helper = [
          'function sameCodes(from, to) {',
          '  if (from === to) return true;',
          '  if (from.length !== to.length) return false;',
          '  for (let k = 0; k < from.length; k++)',
          '    if (from[k].code !== to[k].code || from[k].endCode !== to[k].endCode) return false;',
          '  return true;',
          '}',
        ].join('\n');
        return { contents: `${patched}\n${helper}\n`, loader: 'js' };
      },
    );
  },
};

// Ink 6.8's parseKeypress names a key by its escape sequence's code (`[P` of Ctrl+F1's
// `ESC[1;5P`) and leaves the name undefined when the code is not in its table; with the Ctrl
// bit of the sequence's modifier set, useInput then hands that undefined on as the input and
// calls startsWith on it: the console died on Ctrl+F1-F4, on xterm's focus reports with a
// modifier, and on an escape sequence pasted into a filter (`ESC[31m` from a coloured log).
// Here an unknown code is named '' (what Ink 7 does, ink#902; 7 needs Node 22), so the key
// is an unknown key that the keymap ignores. The build fails when Ink's line is not found: a
// bundle without the patch would crash on these keys again.
export const inkUnknownKeys = {
  name: 'ink-unknown-keys',
  setup(b) {
    b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]parse-keypress\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const named = 'key.name = keyName[code];';
      if (!text.includes(named))
        return {
          errors: [
            {
              text: `ink (${args.path}): not the parseKeypress this build knows: an unknown escape sequence would crash the console`,
            },
          ],
        };
      return {
        contents: text.replace(named, () => "key.name = keyName[code] ?? '';"),
        loader: 'js',
      };
    });
  },
};
