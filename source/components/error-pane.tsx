// The merged error stream (newest first) with every counter, so nothing is silently lost.
import { Text } from 'ink';
import { memo, useMemo } from 'react';
import { accounting, type ErrorCounters, type ErrorRow } from '../core/errors/pipeline.js';
import { ago } from '../core/ui/view.js';
import { PaneFrame } from './pane-frame.js';
import { Table, type Column } from './table.js';
import type { Severity } from '../core/errors/event.js';
import { SEVERITY_TONE, useTheme } from './theme.js';

export interface ErrorPaneProps {
  rows: readonly ErrorRow[];
  counters: ErrorCounters;
  cursor: number;
  focused: boolean;
  width: number;
  height: number;
  now: number;
  paused: boolean;
  filter: string;
  title?: string;
  /** No bottom border (80x24: the footer below separates it): one error row more. */
  compact?: boolean;
}

// zmq->nats: carried into NATS by `opsdeck agent --bridge` (no native NATS copy).
const BUS: Record<string, string> = {
  zmq: 'zmq',
  nats: 'nats',
  both: 'both',
  'zmq->nats': 'zmq->nats',
};
const SEVERITY_SHORT: Record<Severity, string> = {
  critical: 'CRIT',
  error: 'ERR',
  warning: 'WARN',
  info: 'INFO',
  debug: 'DBG',
};

function columnsFor(width: number, now: number): Column<ErrorRow>[] {
  const fixed: Column<ErrorRow>[] = [
    {
      title: 'AGE',
      width: 4,
      align: 'right',
      cell: (r) => ({ text: ago(r.lastAt, now), tone: 'muted' }),
    },
    { title: 'MACH', width: 6, cell: (r) => ({ text: r.event.machine }) },
    {
      title: 'AGENT',
      width: Math.min(24, Math.max(12, Math.floor(width / 6))),
      cell: (r) => ({ text: r.event.agent }),
    },
    {
      title: 'SEV',
      width: 4,
      cell: (r) => ({
        text: SEVERITY_SHORT[r.event.severity],
        tone: SEVERITY_TONE[r.event.severity],
      }),
    },
    {
      title: 'BUS',
      width: 9,
      cell: (r) => ({ text: BUS[r.bus] ?? r.bus, tone: r.bus === 'both' ? 'ok' : undefined }),
    },
    {
      title: 'COUNT',
      width: 6,
      align: 'right',
      cell: (r) => ({
        text: r.count > 1 ? `x${r.count}` : '',
        tone: r.flood ? (r.flood.action === 'escalate' ? 'bad' : 'warn') : undefined,
      }),
    },
  ];
  const used = fixed.reduce((n, c) => n + c.width + 1, 2);
  fixed.push({
    title: 'MESSAGE',
    width: Math.max(10, width - used - 1),
    cell: (r) => ({
      text: `${r.event.bridged?.backlogMs !== undefined ? `[backlog, ${Math.round(r.event.bridged.backlogMs / 1000)} s old] ` : ''}${r.flood ? `${r.event.message} (flood: ${r.flood.rule})` : r.event.message}`,
    }),
  });
  return fixed;
}

/**
 * The counters as a sum that adds up (every message that came in is one of the parts), then
 * where they came from and what is worth knowing besides.
 */
export function countersLine(c: ErrorCounters): string {
  const a = accounting(c);
  const sum = `in ${a.in} (zmq ${c.received.zmq} nats ${c.received.nats}) = ${a.parts.map(([k, n]) => `${k} ${n}`).join(' + ')}`;
  const extra = [
    c.bridged ? `zmq->nats ${c.bridged}${c.backlog ? ` (backlog ${c.backlog})` : ''}` : '',
    c.gaps ? `gaps ${c.gaps}` : '',
    c.dedupEvicted ? `dedup full ${c.dedupEvicted}` : '',
  ].filter(Boolean);
  return extra.length ? `${sum} · ${extra.join(' · ')}` : sum;
}

function ErrorPaneView(p: ErrorPaneProps) {
  const theme = useTheme();
  const c = p.counters;
  const columns = useMemo(() => columnsFor(p.width - 2, p.now), [p.width, p.now]);
  return (
    <PaneFrame compact={p.compact} focused={p.focused} width={p.width} height={p.height}>
      <Text wrap="truncate">
        <Text bold color={theme.title}>
          {p.title ?? 'ERRORS'}
        </Text>
        {p.paused ? <Text color={theme.warn}>{' PAUSED (p to follow)'}</Text> : null}
        {p.filter ? <Text color={theme.accent}>{` filter "${p.filter}"`}</Text> : null}
        <Text color={theme.muted}>{`  ${countersLine(c)}`}</Text>
      </Text>
      <Table
        rows={p.rows}
        columns={columns}
        rowKey={(r) => String(r.id)}
        cursor={p.cursor}
        focused={p.focused}
        height={Math.max(2, p.height - (p.compact ? 2 : 3))}
        empty={p.filter ? 'no error matches the filter' : 'no errors yet'}
        hit="errors"
      />
    </PaneFrame>
  );
}

// Skipped when its props are unchanged: a notification from another store (errors for a machine
// pane, health for the error pane) then costs this pane no render.
export const ErrorPane = memo(ErrorPaneView);
