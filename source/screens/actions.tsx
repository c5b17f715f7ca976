// Actions: every operator action, each run through the same flow (preview, confirm on the
// exact target, run, verify, audit), and below the list what has been done: the audit log,
// newest first, as every writer left it (this console, the CLI, auto mode, other operators).
import { Box, Text } from 'ink';
import type { AuditEntry } from '../core/audit.js';
import { sanitise } from '../core/errors/sanitise.js';
import type { RunnerSnapshot } from '../core/action.js';
import type { ActionEntry, Note } from '../core/ui/actions.js';
import { ago } from '../core/ui/view.js';
import { ActionFlow } from '../components/action-flow.js';
import { Table, type Column } from '../components/table.js';
import { useTheme } from '../components/theme.js';

export type { ActionEntry };

const columns = (width: number, entries: readonly ActionEntry[]): Column<ActionEntry>[] => {
  // As wide as the longest title, up to half the width: the description takes the rest.
  const titles = Math.min(
    Math.max(10, ...entries.map((a) => a.title.length)),
    Math.floor(width / 2),
  );
  return [
    {
      title: 'ACTION',
      width: titles,
      cell: (a) => ({ text: a.title, tone: a.unavailable ? 'muted' : undefined }),
    },
    {
      title: 'WHAT IT DOES',
      width: Math.max(20, width - titles - 4),
      cell: (a) => ({
        text: a.unavailable ? `unavailable: ${a.unavailable}` : a.what,
        tone: a.unavailable ? 'muted' : undefined,
      }),
    },
  ];
};

const OUTCOME_TONE = {
  ok: 'ok',
  refused: 'warn',
  failed: 'bad',
  cancelled: 'muted',
  started: 'muted',
  interrupted: 'bad',
} as const;

const historyColumns = (width: number): Column<AuditEntry>[] => [
  { title: 'WHEN', width: 19, cell: (e) => ({ text: e.time.slice(0, 19).replace('T', ' ') }) },
  { title: 'OPERATOR', width: 14, cell: (e) => ({ text: sanitise(e.operator) }) },
  { title: 'MACHINE', width: 7, cell: (e) => ({ text: sanitise(e.machine) }) },
  { title: 'ACTION', width: 22, cell: (e) => ({ text: sanitise(e.action) }) },
  {
    title: 'OUTCOME',
    width: 9,
    cell: (e) => ({ text: e.outcome, tone: OUTCOME_TONE[e.outcome] }),
  },
  {
    title: 'DETAIL',
    width: Math.max(10, width - 19 - 14 - 7 - 22 - 9 - 7),
    cell: (e) => ({ text: sanitise(e.detail ?? '') }),
  },
];

/** The history's least: its border, title and three rows. */
const HISTORY_MIN = 6;

/** Rows an open flow uses in full: its preview lines and checks, plus its frame and result. */
function flowNeed(run: RunnerSnapshot): number {
  const step = run.step;
  const preview = step && 'preview' in step ? step.preview : undefined;
  return (preview?.lines.length ?? 4) + (preview?.checks?.length ?? 0) + 10;
}

/**
 * Rows of the list: all of them; while an action is open, what its flow leaves (at least two
 * around the cursor: a long preview takes the room, a short one leaves the list its rows).
 */
const listRows = (height: number, entries: number, run?: RunnerSnapshot): number =>
  run?.step
    ? Math.max(Math.min(entries, 2), Math.min(entries, height - 6 - flowNeed(run)))
    : entries;

/** The action flow's rows under the list (the app sizes the preview's scrolling from it). */
export const flowHeight = (height: number, entries: number, run?: RunnerSnapshot): number =>
  Math.max(8, height - listRows(height, entries, run) - 5);

/**
 * Rows of the list's table. Besides the list's box (borders 2): the top line, and the selected
 * action's two lines or the flow. Without a flow the history keeps at least three rows when the
 * screen has them: the list scrolls rather than push it off.
 */
function listHeightFor(height: number, entries: number, run: RunnerSnapshot): number {
  const room = Math.max(3, height - 5);
  // The header and at least one line: a row, or "no actions available" when there is none.
  const want = Math.max(2, listRows(height, entries, run) + 1);
  if (run.step !== undefined) return Math.min(want, room);
  if (want + HISTORY_MIN <= room) return want;
  return room - HISTORY_MIN >= 3 ? room - HISTORY_MIN : room;
}

export function Actions({
  entries,
  cursor,
  run,
  width,
  height,
  scroll,
  history = [],
  historyTotal = history.length,
  note,
  now = 0,
}: {
  entries: readonly ActionEntry[];
  cursor: number;
  run: RunnerSnapshot;
  width: number;
  height: number;
  scroll: number;
  /** The audit log, newest first. */
  history?: readonly AuditEntry[];
  historyTotal?: number;
  /** The newest line from work left running (the auto-throttle runner). */
  note?: Note;
  now?: number;
}) {
  const theme = useTheme();
  const open = run.step !== undefined;
  const listHeight = listHeightFor(height, entries.length, run);
  // Without a flow: the selected action in full (2 lines), then the history to the bottom.
  const historyRows = height - 1 - (listHeight + 2) - 2 - 3;
  return (
    <Box flexDirection="column" width={width}>
      <TopLine note={note} now={now} />
      <Box borderStyle="round" borderColor={theme.focus}>
        <Table
          rows={entries}
          columns={columns(width - 4, entries)}
          rowKey={(a) => a.id}
          cursor={cursor}
          focused={!open}
          height={listHeight}
          empty="no actions available"
          hit="actions"
        />
      </Box>
      {open ? (
        <ActionFlow
          run={run}
          width={width}
          height={flowHeight(height, entries.length, run)}
          scroll={scroll}
        />
      ) : (
        <Box flexDirection="column">
          <Selected entry={entries[cursor]} />
          {historyRows >= 3 ? (
            <History history={history} total={historyTotal} width={width} rows={historyRows} />
          ) : null}
        </Box>
      )}
    </Box>
  );
}

/** The newest note of work left running, else how the screen works. */
function TopLine({ note, now }: { note: Note | undefined; now: number }) {
  const theme = useTheme();
  return note ? (
    <Text color={theme.accent} wrap="truncate">
      {`${note.text} (${ago(note.at, now)} ago)`}
    </Text>
  ) : (
    <Text color={theme.muted} wrap="truncate">
      Enter previews; nothing changes until you confirm with y. Every run is audited.
    </Text>
  );
}

/** The selected action in full, on two lines. */
function Selected({ entry }: { entry: ActionEntry | undefined }) {
  return (
    <Box height={2} paddingX={1} overflow="hidden">
      <Text wrap="wrap">
        {entry
          ? `${entry.title}: ${entry.unavailable ? `unavailable: ${entry.unavailable}` : entry.what}`
          : ''}
      </Text>
    </Box>
  );
}

/** The audit log, newest first, in `rows` rows under its title. */
function History({
  history,
  total,
  width,
  rows,
}: {
  history: readonly AuditEntry[];
  total: number;
  width: number;
  rows: number;
}) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" height={rows + 3} borderStyle="round" borderColor={theme.muted}>
      <Text bold color={theme.title} wrap="truncate">
        {`HISTORY  the audit log, newest first (${total} entries; \`opsdeck audit\` prints them all)`}
      </Text>
      <Table
        rows={history}
        columns={historyColumns(width - 4)}
        rowKey={(_e, i) => String(i)}
        cursor={-1}
        focused={false}
        height={rows}
        empty="nothing done yet"
      />
    </Box>
  );
}
