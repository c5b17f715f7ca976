// Actions: every operator action, each run through the same flow (preview, confirm on the
// exact target, run, verify, audit).
import { Box, Text } from 'ink';
import type { RunnerSnapshot } from '../stores/action-runner.js';
import { ActionFlow } from '../components/action-flow.js';
import { Table, type Column } from '../components/table.js';
import { useTheme } from '../components/theme.js';

export interface ActionEntry {
  id: string;
  title: string;
  what: string;
  /** Why it cannot run here now (no NATS, no file), if so. */
  unavailable?: string;
}

const columns = (width: number): Column<ActionEntry>[] => [
  { title: 'ACTION', width: 34, cell: (a) => ({ text: a.title, tone: a.unavailable ? 'muted' : undefined }) },
  { title: 'WHAT IT DOES', width: Math.max(20, width - 38), cell: (a) => ({ text: a.unavailable ? `unavailable: ${a.unavailable}` : a.what, tone: a.unavailable ? 'muted' : undefined }) },
];

export function Actions({ entries, cursor, run, width, height }: { entries: readonly ActionEntry[]; cursor: number; run: RunnerSnapshot; width: number; height: number }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" width={width}>
      <Text color={theme.muted}>Enter previews the action; nothing changes until you confirm it with y. Every run is written to the audit log.</Text>
      <Box borderStyle="round" borderColor={theme.focus}>
        <Table rows={entries} columns={columns(width - 4)} rowKey={(a) => a.id} cursor={cursor} focused={!run.step} height={Math.min(entries.length + 1, Math.max(3, height - 4))} empty="no actions available" />
      </Box>
      <ActionFlow run={run} width={width} height={Math.max(8, height - entries.length - 5)} />
    </Box>
  );
}
