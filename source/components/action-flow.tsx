// The action flow as the operator sees it: preview, the exact target, checks with evidence,
// then the confirmation, progress and result. Dumb: the runner's snapshot comes in as props.
import { Box, Text } from 'ink';
import type { RunnerSnapshot } from '../stores/action-runner.js';
import { useTheme } from './theme.js';

export function ActionFlow({ run, width, height }: { run: RunnerSnapshot; width: number; height: number }) {
  const theme = useTheme();
  const step = run.step;
  if (!step || !run.action) return null;
  const preview = 'preview' in step ? step.preview : undefined;
  const lines = preview?.lines ?? [];
  const room = Math.max(3, height - 8 - (preview?.checks?.length ?? 0));
  return (
    <Box flexDirection="column" borderStyle="double" borderColor={step.phase === 'failed' || step.phase === 'blocked' ? theme.bad : theme.accent} paddingX={1} width={width}>
      <Text bold color={theme.title} wrap="truncate">{`${run.action.title}`}</Text>
      {preview ? <Text wrap="truncate">{`target: ${preview.target}`}</Text> : <Text color={theme.muted}>preparing the preview…</Text>}
      {(preview?.checks ?? []).map((c) => (
        <Text key={c.name} wrap="truncate">
          <Text color={c.ok ? theme.ok : theme.bad}>{c.ok ? '  pass ' : '  FAIL '}</Text>
          {`${c.name}: ${c.evidence}`}
        </Text>
      ))}
      {lines.slice(0, room).map((l, i) => (
        <Text key={i} wrap="truncate" color={l.startsWith('+') ? theme.ok : l.startsWith('-') ? theme.bad : undefined}>{`  ${l}`}</Text>
      ))}
      {lines.length > room ? <Text color={theme.muted}>{`  … ${lines.length - room} more lines`}</Text> : null}
      {step.phase === 'confirm' ? (
        <Box flexDirection="column">
          <Text bold color={theme.warn} wrap="wrap">{`Run "${run.confirm}"?`}</Text>
          <Text bold>y = yes · n / Esc = cancel</Text>
        </Box>
      ) : null}
      {step.phase === 'blocked' ? <Text color={theme.bad}>Refused: a preflight check failed; nothing was changed. Esc to close.</Text> : null}
      {step.phase === 'running' ? <Text color={theme.accent}>running… (verifying after)</Text> : null}
      {step.phase === 'done' ? (
        <Box flexDirection="column">
          <Text color={step.outcome.ok ? theme.ok : theme.bad} wrap="truncate">{`${step.outcome.ok ? 'done' : 'FAILED'}: ${step.outcome.detail}`}</Text>
          {(step.outcome.lines ?? []).map((l, i) => (
            <Text key={i} wrap="truncate">{`  ${l}`}</Text>
          ))}
          <Text color={theme.muted}>Esc to close</Text>
        </Box>
      ) : null}
      {step.phase === 'failed' ? <Text color={theme.bad} wrap="truncate">{`failed: ${step.error} (Esc to close)`}</Text> : null}
    </Box>
  );
}
