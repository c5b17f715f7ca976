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
  {
    title: 'ACTION',
    width: 34,
    cell: (a) => ({ text: a.title, tone: a.unavailable ? 'muted' : undefined }),
  },
  {
    title: 'WHAT IT DOES',
    width: Math.max(20, width - 38),
    cell: (a) => ({
      text: a.unavailable ? `unavailable: ${a.unavailable}` : a.what,
      tone: a.unavailable ? 'muted' : undefined,
    }),
  },
];

/** Rows of the list: all of them, or two around the cursor while an action is open (the flow needs the room). */
const listRows = (entries: number, open: boolean): number =>
  open ? Math.min(entries, 2) : entries;

/** The action flow's rows under the list (the app sizes the preview's scrolling from it). */
export const flowHeight = (height: number, entries: number, open = true): number =>
  Math.max(8, height - listRows(entries, open) - 5);

export function Actions({
  entries,
  cursor,
  run,
  width,
  height,
  scroll,
}: {
  entries: readonly ActionEntry[];
  cursor: number;
  run: RunnerSnapshot;
  width: number;
  height: number;
  scroll: number;
}) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" width={width}>
      <Text color={theme.muted} wrap="truncate">
        Enter previews; nothing changes until you confirm with y. Every run is audited.
      </Text>
      <Box borderStyle="round" borderColor={theme.focus}>
        <Table
          rows={entries}
          columns={columns(width - 4)}
          rowKey={(a) => a.id}
          cursor={cursor}
          focused={!run.step}
          height={Math.min(
            listRows(entries.length, run.step !== undefined) + 1,
            Math.max(3, height - 4),
          )}
          empty="no actions available"
        />
      </Box>
      <ActionFlow
        run={run}
        width={width}
        height={flowHeight(height, entries.length, run.step !== undefined)}
        scroll={scroll}
      />
    </Box>
  );
}
