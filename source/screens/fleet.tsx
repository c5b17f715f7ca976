// Fleet (home): both machines side by side (stacked when narrow), the merged error stream below.
import { Box } from 'ink';
import type { Machine } from '../core/fleet/model.js';
import type { ErrorCounters, ErrorRow } from '../core/errors/pipeline.js';
import type { AgentRow } from '../core/ui/view.js';
import type { LinkState } from '../adapters/nats-link.js';
import type { MachineResources } from '../stores/resource-store.js';
import { ErrorPane } from '../components/error-pane.js';
import { MachinePane } from '../components/machine-pane.js';

export interface FleetProps {
  machines: readonly Machine[];
  agentRows: readonly (readonly AgentRow[])[];
  resources: Readonly<Record<string, MachineResources>>;
  staleResources: Readonly<Record<string, boolean>>;
  zmqLastAt: Readonly<Record<string, number>>;
  /** The console's ZMQ SUB per machine: connected to something on the bus port, or not. */
  zmqLinks?: Readonly<Record<string, { connected: boolean }>>;
  nats: LinkState | 'off';
  errors: readonly ErrorRow[];
  counters: ErrorCounters;
  cursors: readonly number[];
  pane: number;
  width: number;
  height: number;
  now: number;
  paused: boolean;
  filters: { agents: string; errors: string };
  sort?: string;
  throttleBy?: Readonly<
    Record<string, { level: number; operator: string; time: string; auto: boolean }>
  >;
}

/** Side by side needs room for two readable agent tables. */
export const SIDE_BY_SIDE_MIN = 150;

/** Stacked panes shorter than this go compact: every line saved is an agent row more. */
export const COMPACT_BELOW = 12;

export function fleetLayout(width: number, height: number, machineCount: number) {
  const errorsHeight = Math.max(6, Math.floor(height * 0.3));
  const top = height - errorsHeight;
  const side = width >= SIDE_BY_SIDE_MIN || machineCount === 1;
  const paneHeight = side ? top : Math.max(5, Math.floor(top / machineCount));
  const paneWidth = side ? Math.floor(width / machineCount) : width;
  // Compact (80x24 over SSH): one header line and no bottom border (the next pane's top border
  // separates them): two agents per machine become four.
  const compact = !side && paneHeight < COMPACT_BELOW;
  const chrome = compact ? 3 : 5;
  return {
    errorsHeight,
    paneHeight,
    paneWidth,
    side,
    compact,
    agentRowsVisible: Math.max(1, paneHeight - chrome),
    errorRowsVisible: Math.max(1, errorsHeight - 4),
  };
}

// The pane shows it in whole seconds: in a flood the exact time changes with every batch, and
// would re-render both machine panes for nothing.
const toSecond = (ms: number | undefined) =>
  ms === undefined ? undefined : Math.floor(ms / 1000) * 1000;

export function Fleet(p: FleetProps) {
  const layout = fleetLayout(p.width, p.height, p.machines.length);
  return (
    <Box flexDirection="column" width={p.width}>
      <Box flexDirection={layout.side ? 'row' : 'column'}>
        {p.machines.map((m, i) => (
          <MachinePane
            key={m.id}
            machine={m}
            rows={p.agentRows[i] ?? []}
            resources={p.resources[m.id]}
            stale={p.staleResources[m.id] ?? true}
            nats={p.nats}
            zmqLastAt={toSecond(p.zmqLastAt[`zmq:${m.id}`])}
            zmqConnected={p.zmqLinks?.[m.id]?.connected ?? false}
            busPort={m.globals.errorBusPort?.value ?? 7150}
            cursor={p.cursors[i] ?? 0}
            focused={p.pane === i}
            width={layout.paneWidth}
            height={layout.paneHeight}
            compact={layout.compact}
            now={p.now}
            filter={p.filters.agents}
            {...(p.sort ? { sort: p.sort } : {})}
            {...(p.throttleBy?.[m.id] ? { throttleBy: p.throttleBy[m.id] } : {})}
          />
        ))}
      </Box>
      <ErrorPane
        rows={p.errors}
        counters={p.counters}
        cursor={p.cursors[p.machines.length] ?? 0}
        focused={p.pane === p.machines.length}
        width={p.width}
        height={layout.errorsHeight}
        now={p.now}
        paused={p.paused}
        filter={p.filters.errors}
      />
    </Box>
  );
}
