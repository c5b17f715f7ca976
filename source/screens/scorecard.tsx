// Plan scorecard: the action plan's success metrics, live.
import { Box, Text } from 'ink';
import type { Section, Verdict } from '../core/ui/scorecard.js';
import { fit } from '../core/ui/view.js';
import { useTheme, type Theme } from '../components/theme.js';

const MARK: Record<Verdict, { sym: string; tone: keyof Theme }> = {
  good: { sym: '✔', tone: 'ok' },
  warn: { sym: '▲', tone: 'warn' },
  bad: { sym: '✖', tone: 'bad' },
  unknown: { sym: '?', tone: 'muted' },
};

export function Scorecard({ sections, width }: { sections: readonly Section[]; width: number }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" width={width} paddingX={1}>
      {sections.map((s) => (
        <Box key={s.plan} flexDirection="column">
          <Text bold color={theme.title}>{`${s.plan}  ${s.title}`}</Text>
          {s.metrics.map((m) => (
            <Text key={m.label} wrap="truncate">
              <Text color={theme[MARK[m.verdict].tone]}>{`  ${MARK[m.verdict].sym} `}</Text>
              {fit(m.label, 44)}
              {` ${m.value}`}
              {m.note ? <Text color={theme.muted}>{`  — ${m.note}`}</Text> : null}
            </Text>
          ))}
        </Box>
      ))}
    </Box>
  );
}
