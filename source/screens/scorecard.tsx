// Plan scorecard: the action plan's success metrics, live. A list: the selected line opens in
// full (Enter) below the list, since a metric's note rarely fits one line.
import { DetailBox } from '../components/detail-box.js';
import { Box, Text } from 'ink';
import type { Metric, Section, Verdict } from '../core/ui/scorecard.js';
import { fit } from '../core/ui/view.js';
import { windowStart } from '../components/table.js';
import { useTheme, type Theme } from '../components/theme.js';

const MARK: Record<Verdict, { sym: string; tone: keyof Theme }> = {
  good: { sym: '✔', tone: 'ok' },
  warn: { sym: '▲', tone: 'warn' },
  bad: { sym: '✖', tone: 'bad' },
  unknown: { sym: '?', tone: 'muted' },
};

type Line =
  | { kind: 'head'; section: Section }
  | { kind: 'metric'; section: Section; metric: Metric; row: number };

/** Section titles and metric lines in screen order; `row` is the metric's cursor index. */
function linesOf(sections: readonly Section[]): Line[] {
  const out: Line[] = [];
  let row = 0;
  for (const section of sections) {
    out.push({ kind: 'head', section });
    for (const metric of section.metrics) out.push({ kind: 'metric', section, metric, row: row++ });
  }
  return out;
}

export interface ScorecardProps {
  sections: readonly Section[];
  width: number;
  /** Rows it may use; without it every line is drawn. */
  height?: number;
  cursor?: number;
  /** The selected line shown in full below the list. */
  detail?: boolean;
}

export function Scorecard({ sections, width, height, cursor = -1, detail }: ScorecardProps) {
  const theme = useTheme();
  const lines = linesOf(sections);
  const at = lines.findIndex((l) => l.kind === 'metric' && l.row === cursor);
  const selected = at >= 0 ? (lines[at] as Extract<Line, { kind: 'metric' }>) : undefined;
  // The selected line in full: on Enter, or whenever the screen has the rows to spare.
  const spare = height !== undefined && height - lines.length >= 7;
  const detailRows = (detail || spare) && selected ? 6 : 0;
  const room = height === undefined ? lines.length : Math.max(3, height - detailRows - 1);
  const start = windowStart(Math.max(0, at), lines.length, room);
  const shown = lines.slice(start, start + room);
  // Labels as wide as the longest, up to 45% of the width: values and notes get the rest.
  const longest = Math.max(
    0,
    ...lines.map((l) => (l.kind === 'metric' ? l.metric.label.length : 0)),
  );
  const labelWidth = Math.min(longest, Math.max(20, Math.floor(width * 0.45)));
  return (
    <Box flexDirection="column" width={width} paddingX={1}>
      {shown.map((l) =>
        l.kind === 'head' ? (
          <Text key={`h:${l.section.plan}`} bold color={theme.title} wrap="truncate">
            {`${l.section.plan}  ${l.section.title}`}
          </Text>
        ) : (
          <Text
            key={`${l.section.plan}:${l.metric.label}`}
            wrap="truncate"
            inverse={l.row === cursor}
          >
            <Text color={theme[MARK[l.metric.verdict].tone]}>
              {`  ${MARK[l.metric.verdict].sym} `}
            </Text>
            {fit(l.metric.label, labelWidth)}
            {` ${l.metric.value}`}
            {l.metric.note ? <Text color={theme.muted}>{`  — ${l.metric.note}`}</Text> : null}
          </Text>
        ),
      )}
      {height !== undefined && lines.length > room ? (
        <Text color={theme.muted}>
          {`lines ${start + 1}-${Math.min(lines.length, start + room)} of ${lines.length} · Enter shows the selected line in full`}
        </Text>
      ) : null}
      {detailRows ? (
        <DetailBox height={detailRows}>
          <Text bold wrap="truncate">{`${selected!.section.plan} ${selected!.metric.label}`}</Text>
          <Text wrap="wrap">
            <Text color={theme[MARK[selected!.metric.verdict].tone]}>
              {`${MARK[selected!.metric.verdict].sym} ${selected!.metric.value}`}
            </Text>
            {selected!.metric.note ? ` — ${selected!.metric.note}` : ''}
          </Text>
        </DetailBox>
      ) : null}
    </Box>
  );
}
