// A windowed table: only the rows that fit are rendered, the selected one stays in view.
// Dumb: rows, columns, cursor and focus come in as props.
import { Box, Text } from 'ink';
import { memo } from 'react';
import { fit } from '../core/ui/view.js';
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
  rowKey: (row: R, index: number) => string;
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

// One Text per run of cells that are plain ASCII, and one per cell that is not (a state symbol, a
// sparkline, a cut-off "…"): Ink measures every Text's width on every frame, at ~2 µs for an
// ASCII line and ~160 µs for a 100-column line holding one such glyph (string-width segments
// it grapheme by grapheme), so a row in one Text cost each frame ~0.2 ms of measuring alone.
const PLAIN = /^[\x20-\x7e]*$/;

function RowView({ cells, selected, focused }: RowProps) {
  const marker = selected ? (focused ? '›' : '·') : ' ';
  const runs: Array<Array<{ text: string; color: string | undefined }>> = [];
  let plainRun = false;
  const pieces = [
    { text: marker, color: undefined },
    ...cells.map((c, i) => ({ text: i === 0 ? c.text : ` ${c.text}`, color: c.color })),
  ];
  pieces.forEach((piece) => {
    const plain = PLAIN.test(piece.text);
    if (plain && plainRun) runs[runs.length - 1]!.push(piece);
    else runs.push([piece]);
    plainRun = plain;
  });
  return (
    <Box>
      {runs.map((run, k) => (
        <Text key={k} wrap="truncate" inverse={selected && focused} bold={selected}>
          {run.map((c, i) => (
            <Text key={i} color={c.color}>
              {c.text}
            </Text>
          ))}
        </Text>
      ))}
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
