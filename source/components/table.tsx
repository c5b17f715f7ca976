// A windowed table: only the rows that fit are rendered, the selected one stays in view.
// Dumb: rows, columns, cursor and focus come in as props.
import { Box, Text } from 'ink';
import { memo } from 'react';
import { fit } from '../core/ui/view.js';
import { Line, piecesOf } from './glyphs.js';
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

// A row is one Text holding the styled line, its glyphs as stand-ins Ink measures on the ASCII
// path (glyphs.tsx): a 200x60 Fleet frame spent 5-17 ms of 20-60 measuring rows whose Texts held
// a glyph, and a Box of Texts per run and per cell made ~25 Ink nodes a row for every frame to
// walk, squash and lay out.
function RowView({ cells, selected, focused }: RowProps) {
  const marker = selected ? (focused ? '›' : '·') : ' ';
  const pieces = [
    ...piecesOf(marker, undefined),
    ...cells.flatMap((c, i) => piecesOf(i === 0 ? c.text : ` ${c.text}`, c.color)),
  ];
  return <Line pieces={pieces} inverse={selected && focused} bold={selected} />;
}

// Re-render a row only when what it shows changed: its data objects are rebuilt on every probe
// round and its columns on every clock second, mostly with the same cells.
const Row = memo(
  RowView,
  (a, b) => a.shown === b.shown && a.selected === b.selected && a.focused === b.focused,
);

export const Table = TableView;
