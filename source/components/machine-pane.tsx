// One machine: a header (address, links, CPU, RAM, VRAM bar with numbers) and its agent table.
import { Text } from 'ink';
import { memo, useMemo } from 'react';
import type { Machine } from '../core/fleet/model.js';
import type { MachineResources, Refused } from '../core/resources/machine.js';
import type { ThrottleReading } from '../core/resources/throttle.js';
import type { LinkState } from '../core/nats/link.js';
import { ago, bar, levels, sparkline, type AgentRow } from '../core/ui/view.js';
import { agentLabel, type AgentLabel } from '../core/ui/agent-label.js';
import { VERSION } from '../version.js';
import { LATENCY_WARN_MS, latencyText, shownLatency, SPARKLINE_MAX } from '../core/ui/view.js';
import { PaneFrame } from './pane-frame.js';
import { Table, type Column } from './table.js';
import { rowLook, useTheme } from './theme.js';
import { protocolLabel } from '../core/ui/view.js';

export interface MachinePaneProps {
  machine: Machine;
  rows: readonly AgentRow[];
  resources: MachineResources | undefined;
  stale: boolean;
  nats: LinkState | 'off';
  /** When the last ZMQ error-bus frame arrived from this machine. */
  zmqLastAt: number | undefined;
  /** Whether the console's SUB is connected to anything on the machine's bus port. */
  zmqConnected?: boolean;
  /** The SUB has not tried yet (the console's first frame, before the data plane starts). */
  zmqStarting?: boolean;
  busPort?: number;
  cursor: number;
  focused: boolean;
  width: number;
  height: number;
  /** One header line and no bottom border, for short terminals (fleetLayout decides). */
  compact?: boolean;
  now: number;
  filter: string;
  /** How the agents are sorted (said when not in config order). */
  sort?: string;
  /** Who set the throttle level in force, from the audit log. */
  throttleBy?: { level: number; operator: string; time: string; auto: boolean };
  /** Samples from this machine refused at the boundary (shown for a minute after the last). */
  refused?: Refused;
}

/** How long a refused sample stays said in the header. */
const REFUSED_SHOWN_MS = 60_000;

/**
 * Columns sized to the pane and to what they hold: the fixed columns (state, ports, protocol,
 * latency, age) are never cut; AGENT and GROUP get their longest value when there is room; the
 * HISTORY sparkline takes what is left, and is the first to go. Names are cut last.
 */
// Long: a table of columns (title, width, cell), in screen order.
function columnsFor(width: number, now: number, rows: readonly AgentRow[]): Column<AgentRow>[] {
  const longest = (f: (r: AgentRow) => string, floor: number) =>
    rows.reduce((n, r) => Math.max(n, f(r).length), floor);
  const nameWant = Math.min(
    32,
    longest((r) => r.agent.name, 5),
  );
  const cols: Column<AgentRow>[] = [
    {
      title: 'STATE',
      width: 9,
      cell: (r) => {
        const look = rowLook(r.state, r.health);
        return { text: `${look.symbol} ${look.word}`, tone: look.tone };
      },
    },
    {
      title: 'AGENT',
      width: nameWant, // cut below to what is left once the fixed columns are placed
      cell: (r) => ({ text: r.agent.name }),
    },
    {
      title: 'PORT',
      width: 5,
      align: 'right',
      // Where it really answers when it moved; the configured port is in the detail.
      cell: (r) =>
        r.health?.moved
          ? { text: String(r.health.moved.port), tone: 'warn' }
          : { text: String(r.agent.port.value) },
    },
    {
      title: 'HLTH',
      width: 5,
      align: 'right',
      cell: (r) =>
        r.health?.moved
          ? { text: String(r.health.moved.healthPort), tone: 'warn' }
          : r.health?.protocol === 'pub'
            ? { text: '-', tone: 'muted' } // no health port: judged by its PUB
            : {
                text: String(r.agent.healthPort.value),
                tone: r.agent.healthPortImplicit ? 'muted' : undefined,
              },
    },
    {
      title: 'PROTO',
      width: 7,
      cell: (r) => ({ text: protocolLabel(r.health?.protocol) }),
    },
    {
      title: 'LAT',
      width: 5,
      align: 'right',
      cell: (r) => {
        const ms = shownLatency(r.health);
        return {
          text: latencyText(ms),
          tone: ms !== undefined && ms >= LATENCY_WARN_MS ? 'warn' : undefined,
        };
      },
    },
    {
      title: 'SEEN',
      width: 4,
      align: 'right',
      cell: (r) => ({ text: ago(r.health?.lastReplyAt, now), tone: 'muted' }),
    },
  ];
  const spent = (list: Column<AgentRow>[]) => list.reduce((n, c) => n + c.width + 1, 2);
  const name = cols[1]!;
  // The name gets what the fixed columns leave, up to its longest (never under 8).
  name.width = Math.max(8, Math.min(nameWant, width - spent(cols) + name.width));
  const groupWant = Math.min(
    20,
    longest((r) => r.agent.group, 5),
  );
  // GROUP whole when it fits, cut when at least 8 columns are left, else left out.
  const groupRoom = Math.min(groupWant, width - spent(cols) - 1);
  if (groupRoom >= Math.min(groupWant, 8))
    cols.splice(2, 0, {
      title: 'GROUP',
      width: groupRoom,
      cell: (r) => ({ text: r.agent.group, tone: 'muted' }),
    });
  // The history takes what is left (it is the first to shrink), when that is enough to read.
  const HISTORY_MIN = 8;
  const left = width - spent(cols) - 1;
  if (left >= HISTORY_MIN) {
    const w = Math.min(SPARKLINE_MAX, left);
    cols.push({
      title: 'HISTORY',
      width: w,
      cell: (r) => ({
        text: sparkline(r.health?.history ?? [], w),
        tone: r.state === 'healthy' ? 'ok' : 'warn',
      }),
    });
  }
  return cols;
}

/**
 * The throttle as read back from the machine (ResourceManager's thresholds, the agents' nice
 * values): a level when both agree, `?` with what was read when they do not. Who set it comes
 * from the audit log and is shown only when it set the level the machine shows.
 */
function ThrottleBadge(p: {
  reading: ThrottleReading | undefined;
  by: MachinePaneProps['throttleBy'];
  now: number;
}) {
  const theme = useTheme();
  const r = p.reading;
  if (!r || 'error' in r.thresholds) return null; // no ResourceManager here: nothing to throttle
  if (r.level === null) return <Text color={theme.warn}>{`  throttle ? (${r.summary})`}</Text>;
  if (r.level === 0) return null;
  const by =
    p.by && p.by.level === r.level
      ? ` set by ${p.by.auto ? 'auto mode for ' : ''}${p.by.operator} ${ago(Date.parse(p.by.time), p.now)} ago`
      : '';
  return (
    <>
      <Text color={theme.warn}>{`  throttle L${r.level}`}</Text>
      {by ? <Text color={theme.muted}>{by}</Text> : null}
    </>
  );
}

/**
 * The resource line: VRAM first (what the fleet runs short of), whether the numbers are signed,
 * the throttle, CPU and RAM, staleness, refused samples, then the links.
 */
function ResourceLine(p: MachinePaneProps) {
  const theme = useTheme();
  const res = p.resources?.sample;
  const gpu = res?.gpu;
  const vram = gpu
    ? `${bar(gpu.usedMb, gpu.totalMb, 10)} ${(gpu.usedMb / 1024).toFixed(1)}/${(gpu.totalMb / 1024).toFixed(0)}G`
    : res
      ? 'no GPU'
      : '-';
  const link = (state: string, ok: boolean) => (
    <Text color={ok ? theme.ok : theme.bad}>{state}</Text>
  );
  const zmqOk = p.zmqLastAt !== undefined && p.now - p.zmqLastAt < 60_000;
  return (
    <>
      {'VRAM '}
      <Text
        color={
          gpu && gpu.usedMb / gpu.totalMb > 0.9
            ? theme.bad
            : gpu && gpu.usedMb / gpu.totalMb > 0.7
              ? theme.warn
              : undefined
        }
      >
        {vram}
      </Text>
      {/* Said right after the numbers it qualifies: nothing proves this machine sent them. */}
      {p.resources && !p.resources.auth.verified ? (
        <Text color={theme.warn}>{' unverified'}</Text>
      ) : null}
      {!p.compact && gpu && p.resources && p.resources.history.length > 1 ? (
        <Text color={theme.muted}>{` ${levels(
          p.resources.history.map((h) => h.vramMb ?? 0),
          gpu.totalMb,
          16,
        )}`}</Text>
      ) : null}
      <ThrottleBadge
        reading={res?.throttle}
        by={p.compact ? undefined : p.throttleBy}
        now={p.now}
      />
      {res
        ? `  CPU ${res.cpuPct.toFixed(0)}%  RAM ${(res.ramUsedMb / 1024).toFixed(1)}/${(res.ramTotalMb / 1024).toFixed(0)}G`
        : ''}
      {/* Stale is an old sample; before the first one there is nothing to be stale. */}
      {p.stale ? (
        <Text color={theme.warn}>
          {res
            ? '  (resources stale)'
            : p.refused
              ? '  (no accepted sample yet)'
              : '  (no sample yet)'}
        </Text>
      ) : null}
      {p.refused && p.now - p.refused.at < REFUSED_SHOWN_MS ? (
        <Text
          color={theme.bad}
        >{`  ${p.refused.count} sample${p.refused.count === 1 ? '' : 's'} refused: ${p.refused.reason}`}</Text>
      ) : null}
      {'  NATS '}
      {link(p.nats === 'connected' ? 'ok' : p.nats, p.nats === 'connected')}
      {'  ZMQ '}
      {/* Quiet only means something when the SUB is connected: else nothing listens there. */}
      {link(
        zmqOk
          ? ago(p.zmqLastAt, p.now)
          : p.zmqStarting
            ? 'connecting'
            : p.zmqConnected === false
              ? `no PUB on :${p.busPort ?? 7150}`
              : 'quiet',
        zmqOk,
      )}
    </>
  );
}

/** The header's counts: `ok` as the pane words it, then degraded and down when there are any. */
function StateCounts({ rows, ok }: { rows: readonly AgentRow[]; ok: (healthy: number) => string }) {
  const theme = useTheme();
  const counts = rows.reduce<Record<string, number>>(
    (acc, r) => ((acc[r.state] = (acc[r.state] ?? 0) + 1), acc),
    {},
  );
  const down = (counts.unhealthy ?? 0) + (counts.unreachable ?? 0);
  return (
    <>
      <Text color={theme.ok}>{ok(counts.healthy ?? 0)}</Text>
      {counts.degraded ? <Text color={theme.warn}>{`${counts.degraded} degr `}</Text> : null}
      {down ? <Text color={theme.bad}>{`${down} down `}</Text> : null}
    </>
  );
}

/** The agent table below the header, `height` rows with its title. */
function AgentTable({
  p,
  columns,
  height,
}: {
  p: MachinePaneProps;
  columns: Column<AgentRow>[];
  height: number;
}) {
  return (
    <Table
      rows={p.rows}
      columns={columns}
      rowKey={(r) => r.key}
      cursor={p.cursor}
      focused={p.focused}
      height={height}
      empty={p.filter ? 'no agent matches the filter' : 'no agents'}
      hit={`agents:${p.machine.id}`}
    />
  );
}

/** The compact pane's one header line: counts and links before the rest (see MachinePaneView). */
function CompactHeader({ p, agent }: { p: MachinePaneProps; agent: AgentLabel | undefined }) {
  const theme = useTheme();
  return (
    <Text wrap="truncate">
      <Text bold color={theme.title}>
        {p.machine.id.toUpperCase()}
      </Text>{' '}
      <StateCounts rows={p.rows} ok={(n) => `${n}/${p.rows.length} ok `} />
      {agent?.warn ? <Text color={theme.warn}>{`${agent.text} `}</Text> : null}
      {p.filter ? <Text color={theme.accent}>{`"${p.filter}" `}</Text> : null}
      <ResourceLine {...p} />
    </Text>
  );
}

/** The full pane's two header lines: the machine and its agents, then its resources and links. */
function FullHeader({ p, agent }: { p: MachinePaneProps; agent: AgentLabel | undefined }) {
  const theme = useTheme();
  return (
    <>
      <Text wrap="truncate">
        <Text bold color={theme.title}>
          {p.machine.id.toUpperCase()}
        </Text>
        <Text color={theme.muted}>{` ${p.machine.host}  `}</Text>
        {`${p.rows.length} agents `}
        <StateCounts rows={p.rows} ok={(n) => `${n} ok `} />
        {p.filter ? <Text color={theme.accent}>{` filter "${p.filter}"`}</Text> : null}
        {p.sort && p.sort !== 'config' ? (
          <Text color={theme.muted}>{` sorted by ${p.sort}`}</Text>
        ) : null}
        {agent ? (
          <Text color={agent.warn ? theme.warn : theme.muted}>{`  ${agent.text}`}</Text>
        ) : null}
      </Text>
      <Text wrap="truncate">
        <ResourceLine {...p} />
      </Text>
    </>
  );
}

function MachinePaneView(p: MachinePaneProps) {
  const columns = useMemo(() => columnsFor(p.width - 2, p.now, p.rows), [p.width, p.now, p.rows]);
  const agent = agentLabel(p.resources?.sample, p.resources?.receivedAt, p.now, p.stale, VERSION);
  // Compact: one header line and no bottom border, so the table keeps two more rows.
  return (
    <PaneFrame compact={p.compact} focused={p.focused} width={p.width} height={p.height}>
      {p.compact ? <CompactHeader p={p} agent={agent} /> : <FullHeader p={p} agent={agent} />}
      <AgentTable p={p} columns={columns} height={Math.max(2, p.height - (p.compact ? 2 : 4))} />
    </PaneFrame>
  );
}

// Skipped when its props are unchanged: a notification from another store (errors for a machine
// pane, health for the error pane) then costs this pane no render.
export const MachinePane = memo(MachinePaneView);
