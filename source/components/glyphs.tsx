// Lines of text drawn as pieces Ink measures cheaply (see below): the Table's rows, the footer.
import { Text, Transform, useIsScreenReaderEnabled } from 'ink';
import { createElement, useMemo, type FunctionComponent, type ReactNode } from 'react';
// Ink's own colouring (its chalk, at the colour level Ink detected), so that a line styled here
// holds the very codes <Text color bold inverse> would give. A literal path, as in ink-caches.ts:
// esbuild resolves it to the file Ink imports, so the bundle has one chalk.
import colorize from '../../node_modules/ink/build/colorize.js';
import { codePointWidth, CONSOLE_GLYPHS } from '../core/ui/width.js';

// Ink measures every Text's width on every frame (string-width): ~1 µs for an ASCII line, but
// ~25 µs for a state cell holding `●` and ~100 µs for a 40-column sparkline or a message cut with
// `…`, which it segments grapheme by grapheme (bench: render; a 200x60 Fleet frame spent 5-17 ms
// of 20-60 measuring). So a row is one Text per run of plain ASCII cells, and the glyphs the
// console draws itself (GLYPH_LIST: one column each) are written as ASCII letters that a Transform
// turns back into the glyphs as Ink writes the line, after measuring; the frame is the same.
// Any other non-ASCII text (a CJK agent name, wire text) is a Text of its own, measured by Ink.
const PLAIN = /^[\x20-\x7e]*$/;

// Block levels, state symbols, the cut mark, the row markers. SGR sequences (`ESC[…m`) hold no
// letter but `m`, so the stand-ins are letters other than `m`; a glyph wider than one column in
// this string-width is left out (it is measured by Ink, as any other).
const GLYPH_LIST = [...`▁▂▃▄▅▆▇█${CONSOLE_GLYPHS}`].filter(
  (g) => codePointWidth(g.codePointAt(0)!) === 1,
);
const STAND_INS = [...'ABCDEFGHIJKLNOPQRSTUVWXYZ'];
const STAND_IN = new Map(GLYPH_LIST.map((g, i) => [g, STAND_INS[i]!]));
const GLYPH_OF = new Map(GLYPH_LIST.map((g, i) => [STAND_INS[i]!, g]));
const glyphClass = GLYPH_LIST.map(
  (g) => `\\u${g.charCodeAt(0).toString(16).padStart(4, '0')}`,
).join('');
/** A run of the glyphs, spaces allowed inside it (a sparkline with gaps). */
const GLYPH_RUN = new RegExp(`[${glyphClass}](?:[${glyphClass} ]*[${glyphClass}])?`, 'g');
const STAND_IN_CHARS = new RegExp(`[${[...GLYPH_OF.keys()].join('')}]`, 'g');

const toStandIns = (text: string) =>
  text.replace(GLYPH_RUN, (run) => [...run].map((c) => STAND_IN.get(c) ?? c).join(''));
const fromStandIns = (line: string) => line.replace(STAND_IN_CHARS, (c) => GLYPH_OF.get(c) ?? c);

export type Kind = 'plain' | 'glyphs' | 'other';
export interface Piece {
  text: string;
  color: string | undefined;
  kind: Kind;
}

/** A cell's text cut into glyph runs, plain ASCII and anything else, keeping its colour. */
export function piecesOf(text: string, color: string | undefined): Piece[] {
  if (PLAIN.test(text)) return [{ text, color, kind: 'plain' }];
  const out: Piece[] = [];
  const rest = (t: string) => {
    if (t) out.push({ text: t, color, kind: PLAIN.test(t) ? 'plain' : 'other' });
  };
  let at = 0;
  for (const m of text.matchAll(GLYPH_RUN)) {
    rest(text.slice(at, m.index));
    out.push({ text: m[0], color, kind: 'glyphs' });
    at = m.index + m[0].length;
  }
  rest(text.slice(at));
  return out;
}

/** A line's pieces and how the whole line is drawn. */
interface PiecesProps {
  pieces: readonly Piece[];
  inverse?: boolean;
  bold?: boolean;
}

/** Pieces as Texts: consecutive plain pieces share one, glyph runs and other text have one each. */
export function Runs({ pieces, inverse = false, bold = false }: PiecesProps) {
  const runs: Array<{ kind: Kind; pieces: Piece[] }> = [];
  for (const piece of pieces) {
    const last = runs[runs.length - 1];
    if (last && last.kind === 'plain' && piece.kind === 'plain') last.pieces.push(piece);
    else runs.push({ kind: piece.kind, pieces: [piece] });
  }
  return (
    <>
      {runs.map((run, k) =>
        run.kind === 'glyphs' ? (
          <Transform
            key={k}
            transform={fromStandIns}
            accessibilityLabel={run.pieces.map((p) => p.text).join('')}
          >
            <Text inverse={inverse} bold={bold}>
              {run.pieces.map((c, i) => (
                <Text key={i} color={c.color}>
                  {toStandIns(c.text)}
                </Text>
              ))}
            </Text>
          </Transform>
        ) : (
          <Text key={k} wrap="truncate" inverse={inverse} bold={bold}>
            {run.pieces.map((c, i) => (
              <Text key={i} color={c.color}>
                {c.text}
              </Text>
            ))}
          </Text>
        ),
      )}
    </>
  );
}

interface Styled {
  /** What Ink lays out and measures: glyphs as their ASCII stand-ins, no ANSI. */
  plain: string;
  /** What Ink writes: the pieces in their colours, with the glyphs. */
  transform: (line: string) => string;
  /** The text with its glyphs, for a screen reader. */
  text: string;
}

/**
 * A line as one Text: Ink measures `plain` (ASCII but for text it must measure itself), and a
 * transform, applied as Ink writes the line, swaps in the styled line with the glyphs. The
 * styling is <Text bold inverse> around <Text color> pieces, as Ink's Text components apply it
 * (Ink's colorize calls chalk[name] for any name chalk knows, modifiers included). When Ink cut
 * the line (wider than its box: cli-truncate keeps a prefix and adds `…`), the prefix it kept is
 * styled as when Ink cuts a Text of coloured Texts.
 */
export function styleLine(pieces: readonly Piece[], bold: boolean, inverse: boolean): Styled {
  const spans: Array<{ from: number; real: string; color: string | undefined }> = [];
  let plain = '';
  for (const p of pieces) {
    const stand = p.kind === 'glyphs' ? toStandIns(p.text) : p.text;
    spans.push({ from: plain.length, real: p.text, color: p.color });
    // A stand-in is one code unit for one: a piece where that fails is measured by Ink as it is.
    plain += stand.length === p.text.length ? stand : p.text;
  }
  const emphasis = (text: string) => {
    let out = text;
    if (bold) out = colorize(out, 'bold', 'foreground');
    if (inverse) out = colorize(out, 'inverse', 'foreground');
    return out;
  };
  const restyle = (line: string) => {
    const max = Math.min(line.length, plain.length);
    let kept = 0;
    while (kept < max && line.charCodeAt(kept) === plain.charCodeAt(kept)) kept++;
    // What Ink added (the `…`) takes the colour of the last character it kept, as slice-ansi
    // leaves that colour open.
    let out = '';
    let tail = line.slice(kept);
    for (let i = spans.length - 1; i >= 0; i--) {
      const s = spans[i]!;
      if (s.from >= kept) continue;
      out = colorize(s.real.slice(0, kept - s.from) + tail, s.color, 'foreground') + out;
      tail = '';
    }
    return emphasis(tail + out);
  };
  const whole = restyle(plain);
  return {
    plain,
    text: pieces.map((p) => p.text).join(''),
    transform: (line) => (line === plain ? whole : restyle(line)),
  };
}

// Ink's <Transform> is an `ink-text` with a transform; this one also says how to cut the line
// (Transform leaves it to wrap): the Ink element, made as Transform makes it.
const InkText = 'ink-text' as unknown as FunctionComponent<{
  style: Record<string, unknown>;
  internal_transform: (line: string, index: number) => string;
  children: ReactNode;
}>;
const LINE_STYLE = { flexGrow: 0, flexShrink: 1, flexDirection: 'row', textWrap: 'truncate' };

/**
 * Pieces as ONE Text holding a pre-styled line: two Ink nodes and one Yoga node where `Runs`
 * makes one per run and per piece. Ink's frame walks, squashes and measures every node of the
 * tree on every frame; a 200x60 Fleet screen has ~90 such lines.
 */
export function Line({ pieces, inverse = false, bold = false }: PiecesProps) {
  const reader = useIsScreenReaderEnabled();
  const line = useMemo(() => styleLine(pieces, bold, inverse), [pieces, bold, inverse]);
  if (reader) return <Text>{line.text}</Text>;
  return createElement(InkText, {
    style: LINE_STYLE,
    internal_transform: line.transform,
    children: line.plain,
  });
}
