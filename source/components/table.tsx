// A windowed table: only the rows that fit are rendered, the selected one stays in view.
// Dumb: rows, columns, cursor and focus come in as props.
import { Box, Text, Transform } from 'ink';
import { memo } from 'react';
import { fit } from '../core/ui/view.js';
import { codePointWidth } from '../core/ui/width.js';
import { useHit } from './hit-map.js';
import { useTheme, type Theme } from './theme.js';

export interface Cell {
  text: string;
  tone?: keyof Theme;
}

export interface Column<R> {
  title: string;
  width: number;
  align?: 'left' | 'right';
  cell(row: R): Cell;
}

interface Props<R> {
  rows: readonly R[];
  columns: readonly Column<R>[];
  /** A stable key for a row; `index` is its place in `rows`. */
  rowKey(row: R, index: number): string;
  cursor: number;
  focused: boolean;
  height: number;
  empty?: string;
  /** The pane id the mouse knows this list by (clicks select its rows, the wheel moves them). */
  hit?: string;
}

export function windowStart(cursor: number, length: number, height: number): number {
  if (length <= height) return 0;
  return Math.max(0, Math.min(cursor - Math.floor(height / 2), length - height));
}

function TableView<R>({ rows, columns, rowKey, cursor, focused, height, empty, hit }: Props<R>) {
  const theme = useTheme();
  // Header, rows, and a position line when the rows do not all fit: never more than `height`.
  const overflow = rows.length > height - 1;
  const body = Math.max(1, height - 1 - (overflow ? 1 : 0));
  const start = windowStart(cursor, rows.length, body);
  const visible = rows.slice(start, start + body);
  const ref = useHit(hit, start, visible.length);
  return (
    <Box flexDirection="column" ref={ref}>
      <Text color={theme.muted} bold wrap="truncate">
        {` ${columns.map((c) => fit(c.title, c.width, c.align)).join(' ')}`}
      </Text>
      {visible.length === 0 ? (
        <Text color={theme.muted}>{empty ?? '(nothing to show)'}</Text>
      ) : (
        visible.map((row, i) => {
          const cells = columns.map((c) => {
            const cell = c.cell(row);
            return {
              text: fit(cell.text, c.width, c.align),
              color: cell.tone ? theme[cell.tone] : undefined,
            };
          });
          return (
            <Row
              key={rowKey(row, start + i)}
              cells={cells}
              shown={cells.map((c) => `${c.color ?? ''}\u0001${c.text}`).join('\u0000')}
              selected={start + i === cursor}
              focused={focused}
            />
          );
        })
      )}
      {overflow ? (
        <Text color={theme.muted}>
          {`  ${start + 1}-${Math.min(start + body, rows.length)} of ${rows.length}`}
        </Text>
      ) : null}
    </Box>
  );
}

interface RowProps {
  cells: ReadonlyArray<{ text: string; color: string | undefined }>;
  /** The cells as one string: what the row looks like. */
  shown: string;
  selected: boolean;
  focused: boolean;
}

// Ink measures every Text's width on every frame (string-width): ~1 µs for an ASCII line, but
// ~25 µs for a state cell holding `●` and ~100 µs for a 40-column sparkline or a message cut with
// `…`, which it segments grapheme by grapheme (bench: render; a 200x60 Fleet frame spent 5-17 ms
// of 20-60 measuring). So a row is one Text per run of plain ASCII cells, and the glyphs the
// console draws itself (GLYPHS: one column each) are written as ASCII letters that a Transform
// turns back into the glyphs as Ink writes the line, after measuring; the frame is the same.
// Any other non-ASCII text (a CJK agent name, wire text) is a Text of its own, measured by Ink.
const PLAIN = /^[\x20-\x7e]*$/;

// Block levels, state symbols, the cut mark, the row markers. SGR sequences (`ESC[…m`) hold no
// letter but `m`, so the stand-ins are letters other than `m`; a glyph wider than one column in
// this string-width is left out (it is measured by Ink, as any other).
const GLYPH_LIST = [...'▁▂▃▄▅▆▇█●▲✖○·◌…›'].filter((g) => codePointWidth(g.codePointAt(0)!) === 1);
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

type Kind = 'plain' | 'glyphs' | 'other';
interface Piece {
  text: string;
  color: string | undefined;
  kind: Kind;
}

/** A cell's text cut into glyph runs, plain ASCII and anything else, keeping its colour. */
function piecesOf(text: string, color: string | undefined): Piece[] {
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

function RowView({ cells, selected, focused }: RowProps) {
  const marker = selected ? (focused ? '›' : '·') : ' ';
  const pieces = [
    ...piecesOf(marker, undefined),
    ...cells.flatMap((c, i) => piecesOf(i === 0 ? c.text : ` ${c.text}`, c.color)),
  ];
  // Consecutive plain pieces share a Text; glyph runs and other text have one each.
  const runs: Array<{ kind: Kind; pieces: Piece[] }> = [];
  for (const piece of pieces) {
    const last = runs[runs.length - 1];
    if (last && last.kind === 'plain' && piece.kind === 'plain') last.pieces.push(piece);
    else runs.push({ kind: piece.kind, pieces: [piece] });
  }
  const inverse = selected && focused;
  return (
    <Box>
      {runs.map((run, k) =>
        run.kind === 'glyphs' ? (
          <Transform
            key={k}
            transform={fromStandIns}
            accessibilityLabel={run.pieces.map((p) => p.text).join('')}
          >
            <Text inverse={inverse} bold={selected}>
              {run.pieces.map((c, i) => (
                <Text key={i} color={c.color}>
                  {toStandIns(c.text)}
                </Text>
              ))}
            </Text>
          </Transform>
        ) : (
          <Text key={k} wrap="truncate" inverse={inverse} bold={selected}>
            {run.pieces.map((c, i) => (
              <Text key={i} color={c.color}>
                {c.text}
              </Text>
            ))}
          </Text>
        ),
      )}
    </Box>
  );
}

// Re-render a row only when what it shows changed: its data objects are rebuilt on every probe
// round and its columns on every clock second, mostly with the same cells.
const Row = memo(
  RowView,
  (a, b) => a.shown === b.shown && a.selected === b.selected && a.focused === b.focused,
);

export const Table = TableView;
