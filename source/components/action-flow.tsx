// The action flow as the operator sees it: preview, the exact target, checks with evidence,
// then the confirmation, progress and result. Dumb: the runner's snapshot comes in as props.
import { Box, Text } from 'ink';
import type { RunnerSnapshot } from '../core/action.js';
import { useTheme } from './theme.js';

/** How many preview lines fit in a flow of `height` rows (the rest scrolls). */
export const previewRoom = (height: number, checks: number): number =>
  Math.max(3, height - 8 - checks);

export function ActionFlow({
  run,
  width,
  height,
  scroll = 0,
}: {
  run: RunnerSnapshot;
  width: number;
  height: number;
  scroll?: number;
}) {
  const theme = useTheme();
  const step = run.step;
  if (!step || !run.action) return null;
  const preview = 'preview' in step ? step.preview : undefined;
  const lines = preview?.lines ?? [];
  const room = previewRoom(height, preview?.checks?.length ?? 0);
  const top = Math.max(0, Math.min(scroll, lines.length - room));
  return (
    <Box
      flexDirection="column"
      borderStyle="double"
      borderColor={step.phase === 'failed' || step.phase === 'blocked' ? theme.bad : theme.accent}
      paddingX={1}
      width={width}
    >
      <Text bold color={theme.title} wrap="truncate">{`${run.action.title}`}</Text>
      {preview ? (
        <Text wrap="truncate">{`target: ${preview.target}`}</Text>
      ) : (
        <Text color={theme.muted}>preparing the preview…</Text>
      )}
      {(preview?.checks ?? []).map((c) => (
        <Text key={c.name} wrap="truncate">
          <Text color={c.ok ? theme.ok : theme.bad}>{c.ok ? '  pass ' : '  FAIL '}</Text>
          {`${c.name}: ${c.evidence}`}
        </Text>
      ))}
      {lines.slice(top, top + room).map((l, i) => (
        <Text
          key={top + i}
          wrap="truncate"
          color={l.startsWith('+') ? theme.ok : l.startsWith('-') ? theme.bad : undefined}
        >{`  ${l}`}</Text>
      ))}
      {lines.length > room ? (
        <Text
          color={theme.muted}
        >{`  lines ${top + 1}-${Math.min(lines.length, top + room)} of ${lines.length} · ↑↓ / PgUp PgDn scroll`}</Text>
      ) : null}
      {step.phase === 'confirm' ? (
        <Box flexDirection="column">
          <Text bold color={theme.warn} wrap="wrap">{`Run "${run.confirm}"?`}</Text>
          <Text bold>y = yes · n / Esc = cancel</Text>
        </Box>
      ) : null}
      {step.phase === 'blocked' ? (
        <Text color={theme.bad}>
          Refused: a preflight check failed; nothing was changed. Esc to close.
        </Text>
      ) : null}
      {step.phase === 'running' ? (
        <Text color={theme.accent}>running… (verifying after)</Text>
      ) : null}
      {step.phase === 'done' ? (
        <Box flexDirection="column">
          <Text
            color={step.outcome.ok ? theme.ok : theme.bad}
            wrap="truncate"
          >{`${step.outcome.ok ? 'done' : 'FAILED'}: ${step.outcome.detail}`}</Text>
          {(step.outcome.lines ?? []).map((l, i) => (
            <Text key={i} wrap="truncate">{`  ${l}`}</Text>
          ))}
          <Text color={theme.muted}>Esc to close</Text>
        </Box>
      ) : null}
      {step.phase === 'failed' ? (
        <Text color={theme.bad} wrap="truncate">{`failed: ${step.error} (Esc to close)`}</Text>
      ) : null}
    </Box>
  );
}
