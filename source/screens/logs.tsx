// An agent's log, full screen and live: the last lines when it opens, then new ones as they come
// (following), paused by p or by scrolling, filtered by /, each line's level as a colour, a
// symbol and a word; long lines cut or wrapped (w). Skipped lines and rotations show in place.
import { Box, Text } from 'ink';
import { LEVEL_LOOK, type LogItem, type LogLevel } from '../core/logs/line.js';
import { clock, logWindow, rowBody } from '../core/ui/log-view.js';
import type { LogSnapshot } from '../core/logs/snapshot.js';
import { useTheme, type Theme } from '../components/theme.js';

export interface LogsProps {
  agentKey: string;
  log: LogSnapshot;
  /** Filtered rows under the anchor (core/ui/log-view.ts logRows). */
  rows: readonly LogItem[];
  follow: boolean;
  scroll: number;
  wrap: boolean;
  filter: string;
  width: number;
  height: number;
}

const LEVEL_TONE: Record<LogLevel, keyof Theme> = {
  DEBUG: 'muted',
  INFO: 'ok',
  WARNING: 'warn',
  ERROR: 'bad',
  CRITICAL: 'bad',
};

/** Lines the view gives the log itself (the rest: a header, a status line). */
export const logPage = (height: number): number => Math.max(3, height - 2);

function Row({ item, wrap }: { item: LogItem; wrap: boolean }) {
  const theme = useTheme();
  const mode = wrap ? 'wrap' : 'truncate';
  if (item.kind === 'skipped')
    return (
      <Text wrap={mode} color={theme.warn}>
        {`········ ⋯ ${item.count} lines skipped (${item.why}) ⋯`}
      </Text>
    );
  if (item.kind === 'note')
    return <Text wrap={mode} color={theme.muted}>{`········ ─ ${item.text} ─`}</Text>;
  const look = item.level ? LEVEL_LOOK[item.level] : undefined;
  const { message, extra } = rowBody(item);
  return (
    <Text wrap={mode}>
      <Text color={theme.muted}>{clock(item.at)}</Text>{' '}
      {look ? (
        <Text
          color={theme[LEVEL_TONE[item.level!]]}
        >{`${look.symbol} ${look.word.padEnd(5)}`}</Text>
      ) : (
        <Text color={theme.muted}>{'  -    '}</Text>
      )}
      {` ${message}`}
      {extra ? <Text color={theme.muted}>{` ${extra}`}</Text> : null}
    </Text>
  );
}

export function Logs(p: LogsProps) {
  const theme = useTheme();
  const page = logPage(p.height);
  const shown = logWindow(p.rows, p.scroll, page, p.wrap, p.width);
  const newer = p.follow ? 0 : Math.max(0, p.log.total - (p.log.first + p.rows.length));
  const state =
    p.log.state === 'failed'
      ? `✖ ${p.log.reason ?? 'failed'}`
      : p.log.state === 'ended'
        ? `ended: ${p.log.reason ?? ''}`
        : p.log.state === 'opening'
          ? "asking its machine's opsdeck agent…"
          : p.follow
            ? '● FOLLOWING'
            : `‖ PAUSED${p.scroll ? ` ${p.scroll} rows up` : ''} (p or End follows)`;
  return (
    <Box flexDirection="column" width={p.width} height={p.height}>
      <Text wrap="truncate">
        <Text bold color={theme.title}>{`LOG ${p.agentKey}`}</Text>
        <Text color={theme.muted}>{` · ${p.log.source ?? '…'}`}</Text>
      </Text>
      <Text
        wrap="truncate"
        color={p.log.state === 'failed' ? theme.bad : p.follow ? theme.ok : theme.warn}
      >
        {`${state} · ${p.log.total} lines${p.log.skipped ? ` · ${p.log.skipped} skipped (over ${p.log.rate ?? '?'}/s)` : ''}${p.filter ? ` · filter "${p.filter}" ${p.rows.filter((i) => i.kind === 'line').length} match` : ''}${newer ? ` · ${newer} newer` : ''} · wrap ${p.wrap ? 'on' : 'off'}`}
      </Text>
      <Box flexDirection="column" height={page} overflow="hidden">
        {shown.length === 0 ? (
          <Text color={theme.muted}>
            {p.log.state === 'open' ? 'no lines yet' : p.filter ? 'no line matches the filter' : ''}
          </Text>
        ) : (
          shown.map((item, i) => <Row key={i} item={item} wrap={p.wrap} />)
        )}
      </Box>
    </Box>
  );
}
