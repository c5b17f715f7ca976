// Errors, full screen: filter by text, machine, agent, severity, bus; pause and follow; scroll;
// the selected event in full below the list.
import { DetailBox } from '../components/detail-box.js';
import { Box, Text } from 'ink';
import type { ErrorCounters, ErrorRow, MalformedSample } from '../core/errors/pipeline.js';
import { sanitise, sanitiseValue } from '../core/errors/sanitise.js';
import { ErrorPane } from '../components/error-pane.js';
import { useTheme } from '../components/theme.js';

export interface ErrorsProps {
  rows: readonly ErrorRow[];
  counters: ErrorCounters;
  malformed: readonly MalformedSample[];
  cursor: number;
  width: number;
  height: number;
  now: number;
  paused: boolean;
  filter: string;
  /** The selected event in full (Enter), in place of the list; Esc closes it. */
  detail?: boolean;
}

/** An event's details as indented JSON, each line sanitised, at most `rows` lines. */
export function detailLines(details: unknown, rows: number): string[] {
  let text: string;
  try {
    text = JSON.stringify(details, null, 2) ?? String(details);
  } catch {
    text = sanitiseValue(details, 4000);
  }
  const lines = text.split('\n').map((l) => sanitise(l));
  return lines.length > rows
    ? [...lines.slice(0, rows - 1), `… ${lines.length - rows + 1} more lines`]
    : lines;
}

/** The selected event, every field, wrapped: what a one-line row cuts. */
function ErrorDetail({ row, width, height }: { row: ErrorRow; width: number; height: number }) {
  const theme = useTheme();
  const e = row.event;
  return (
    <DetailBox width={width} height={height}>
      <Text bold wrap="truncate">
        {`${e.machine}/${e.agent} · ${e.severity} · ${e.category} · ${e.format} via ${row.bus}${row.count > 1 ? ` · x${row.count}` : ''}`}
      </Text>
      <Text wrap="wrap">{e.message}</Text>
      <Text wrap="wrap" color={theme.muted}>
        {`ids ${e.ids.join(', ') || '-'} · sent ${e.sentAt ?? '-'} · received ${new Date(e.receivedAt).toISOString()}`}
      </Text>
      {row.flood ? (
        <Text wrap="wrap" color={theme.warn}>
          {`flood since ${new Date(row.flood.since).toISOString()} by rule ${row.flood.rule} (${row.flood.action})`}
        </Text>
      ) : null}
      <Text color={theme.muted}>Esc closes · ↑↓ the previous / next event · details:</Text>
      {detailLines(e.details, Math.max(1, height - 8)).map((l, i) => (
        <Text key={i} wrap="truncate">
          {l}
        </Text>
      ))}
    </DetailBox>
  );
}

export function Errors(p: ErrorsProps) {
  const theme = useTheme();
  const selected = p.rows[p.cursor];
  // The selected error's lines under the list, as many as it has (the list takes the rest).
  const detailHeight = selected
    ? 4 + (selected.flood ? 1 : 0) + (p.malformed[0] ? 1 : 0)
    : 1 + (p.malformed[0] ? 1 : 0);
  if (p.detail && selected) return <ErrorDetail row={selected} width={p.width} height={p.height} />;
  return (
    <Box flexDirection="column" width={p.width}>
      <ErrorPane
        title="ERROR STREAM"
        rows={p.rows}
        counters={p.counters}
        cursor={p.cursor}
        focused
        width={p.width}
        height={p.height - detailHeight}
        now={p.now}
        paused={p.paused}
        filter={p.filter}
      />
      <Box flexDirection="column" height={detailHeight} paddingX={1}>
        {selected ? (
          <>
            <Text
              wrap="truncate"
              bold
            >{`${selected.event.machine}/${selected.event.agent} · ${selected.event.severity} · ${selected.event.category} · ${selected.event.format} via ${selected.bus}${selected.count > 1 ? ` · x${selected.count}` : ''}`}</Text>
            <Text wrap="truncate">{selected.event.message}</Text>
            <Text
              wrap="truncate"
              color={theme.muted}
            >{`ids ${selected.event.ids.join(', ') || '-'} · sent ${selected.event.sentAt ?? '-'} · received ${new Date(selected.event.receivedAt).toISOString()}`}</Text>
            <Text
              wrap="truncate"
              color={theme.muted}
            >{`details ${sanitiseValue(selected.event.details, 400)}`}</Text>
            {selected.flood ? (
              <Text
                color={theme.warn}
                wrap="truncate"
              >{`flood since ${new Date(selected.flood.since).toISOString()} by rule ${selected.flood.rule} (${selected.flood.action})`}</Text>
            ) : null}
          </>
        ) : (
          <Text color={theme.muted}>No event selected.</Text>
        )}
        {p.malformed[0] ? (
          <Text
            wrap="truncate"
            color={theme.warn}
          >{`last malformed (${p.malformed[0].bus} ${p.malformed[0].machine}): ${p.malformed[0].reason}: ${p.malformed[0].sample}`}</Text>
        ) : null}
      </Box>
    </Box>
  );
}
