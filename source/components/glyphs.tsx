// Lines of text drawn as pieces Ink measures cheaply (see below): the Table's rows, the footer.
import { Text, Transform } from 'ink';
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

/** Pieces as Texts: consecutive plain pieces share one, glyph runs and other text have one each. */
export function Runs({
  pieces,
  inverse = false,
  bold = false,
}: {
  pieces: readonly Piece[];
  inverse?: boolean;
  bold?: boolean;
}) {
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
