// Terminal columns of text, as Ink lays it out (string-width) and terminals draw it: wide
// (East Asian, emoji) code points take two, combining marks and joiners none.
import stringWidth from 'string-width';

const widths = new Map<number, 0 | 1 | 2>();

/** The glyphs the console draws itself besides box drawing and block elements (U+2500-259F). */
export const CONSOLE_GLYPHS = '●▲✖○·◌…›';
const GLYPH_CODES = new Set([...CONSOLE_GLYPHS].map((g) => g.codePointAt(0)!));

/**
 * One column, known without asking string-width: box drawing, block elements and the console's
 * glyphs (all East Asian Width narrow or ambiguous, none an emoji or a mark; the width test
 * checks each against string-width). Start-up: string-width's first non-ASCII measure costs
 * ~0.1 s (an Intl.Segmenter, its RGI-emoji regex), and the first frame holds only these.
 */
export const knownNarrow = (cp: number): boolean =>
  (cp >= 0x2500 && cp <= 0x259f) || GLYPH_CODES.has(cp);

/** Columns one code point takes. */
export function codePointWidth(cp: number): 0 | 1 | 2 {
  if (cp >= 0x20 && cp < 0x7f) return 1;
  if (knownNarrow(cp)) return 1;
  let w = widths.get(cp);
  if (w === undefined) {
    w = Math.min(2, stringWidth(String.fromCodePoint(cp))) as 0 | 1 | 2;
    widths.set(cp, w);
  }
  return w;
}

const PLAIN = /^[\x20-\x7e]*$/;

/** Columns a line of text takes. */
export function columns(text: string): number {
  if (PLAIN.test(text)) return text.length;
  let n = 0;
  for (const ch of text) n += codePointWidth(ch.codePointAt(0)!);
  return n;
}

/** The longest start of `text` that fits in `width` columns. */
export function cutToColumns(text: string, width: number): string {
  if (PLAIN.test(text)) return text.slice(0, width);
  let n = 0;
  let end = 0;
  for (const ch of text) {
    const w = codePointWidth(ch.codePointAt(0)!);
    if (n + w > width) break;
    n += w;
    end += ch.length;
  }
  return text.slice(0, end);
}
