// A windowed table: only the rows that fit are rendered, the selected one stays in view.
// Dumb: rows, columns, cursor and focus come in as props.
import { Box, Text } from 'ink';
import { memo } from 'react';
import { fit } from '../core/ui/view.js';
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
  rowKey(row: R): string;
  /** What a row's content depends on (rows are often rebuilt; their data is not). */
  rowIdent?(row: R): unknown;
  /** Bumps when a row's content changes in place (error rows count up). */
  rowRev?(row: R): number;
  cursor: number;
  focused: boolean;
  height: number;
  empty?: string;
}

export function windowStart(cursor: number, length: number, height: number): number {
  if (length <= height) return 0;
  return Math.max(0, Math.min(cursor - Math.floor(height / 2), length - height));
}

function TableView<R>({ rows, columns, rowKey, rowIdent, rowRev, cursor, focused, height, empty }: Props<R>) {
  const theme = useTheme();
  // Header, rows, and a position line when the rows do not all fit: never more than `height`.
  const overflow = rows.length > height - 1;
  const body = Math.max(1, height - 1 - (overflow ? 1 : 0));
  const start = windowStart(cursor, rows.length, body);
  const visible = rows.slice(start, start + body);
  return (
    <Box flexDirection="column">
      <Text color={theme.muted} bold wrap="truncate">
        {` ${columns.map((c) => fit(c.title, c.width, c.align)).join(' ')}`}
      </Text>
      {visible.length === 0 ? (
        <Text color={theme.muted}>{empty ?? '(nothing to show)'}</Text>
      ) : (
        visible.map((row, i) => (
          <Row key={rowKey(row)} row={row} ident={rowIdent ? rowIdent(row) : row} rev={rowRev?.(row) ?? 0} columns={columns} selected={start + i === cursor} focused={focused} theme={theme} />
        ))
      )}
      {overflow ? (
        <Text color={theme.muted}>
          {`  ${start + 1}-${Math.min(start + body, rows.length)} of ${rows.length}`}
        </Text>
      ) : null}
    </Box>
  );
}

interface RowProps<R> {
  row: R;
  ident: unknown;
  rev: number;
  columns: readonly Column<R>[];
  selected: boolean;
  focused: boolean;
  theme: Theme;
}

function RowView<R>({ row, columns, selected, focused, theme }: RowProps<R>) {
  const marker = selected ? (focused ? '›' : '·') : ' ';
  return (
    <Text wrap="truncate" inverse={selected && focused} bold={selected}>
      {marker}
      {columns.map((c, i) => {
        const cell = c.cell(row);
        const text = fit(cell.text, c.width, c.align);
        return (
          <Text key={i} color={cell.tone ? theme[cell.tone] : undefined}>
            {i === 0 ? text : ` ${text}`}
          </Text>
        );
      })}
    </Text>
  );
}

// Re-render a row only when it, its revision or its selection changed.
const Row = memo(RowView, (a, b) => a.ident === b.ident && a.rev === b.rev && a.selected === b.selected && a.focused === b.focused && a.columns === b.columns && a.theme === b.theme) as typeof RowView;

export const Table = TableView;
