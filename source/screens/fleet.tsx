// Fleet (home): both machines side by side (stacked when narrow), the merged error stream below.
import { Box } from 'ink';
import type { Machine } from '../core/fleet/model.js';
import type { ErrorCounters, ErrorRow } from '../core/errors/pipeline.js';
import type { AgentRow } from '../core/ui/view.js';
import type { LinkState } from '../core/nats/link.js';
import type { MachineResources, Refused } from '../core/resources/machine.js';
import { ErrorPane } from '../components/error-pane.js';
import { MachinePane } from '../components/machine-pane.js';
import { fleetLayout } from '../core/ui/layout.js';
import { PaneBoundary } from '../components/pane-boundary.js';

export interface FleetProps {
  machines: readonly Machine[];
  agentRows: readonly (readonly AgentRow[])[];
  resources: Readonly<Record<string, MachineResources>>;
  /** Samples refused per machine (out of range, malformed): said in its pane. */
  refused?: Readonly<Record<string, Refused>>;
  staleResources: Readonly<Record<string, boolean>>;
  zmqLastAt: Readonly<Record<string, number>>;
  /** The console's ZMQ SUB per machine: connected to something on the bus port, or not. */
  zmqLinks?: Readonly<Record<string, { connected: boolean }>>;
  /** false before the data plane has started (the first frame): no SUB has tried to connect. */
  started?: boolean;
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

// The pane shows it in whole seconds: in a flood the exact time changes with every batch, and
// would re-render both machine panes for nothing.
const toSecond = (ms: number | undefined) =>
  ms === undefined ? undefined : Math.floor(ms / 1000) * 1000;

export function Fleet(p: FleetProps) {
  const layout = fleetLayout(
    p.width,
    p.height,
    p.machines.map((_, i) => p.agentRows[i]?.length ?? 0),
  );
  const pane = (m: Machine, i: number) => (
    <PaneBoundary
      key={m.id}
      name={`${m.id.toUpperCase()} pane`}
      width={layout.machines[i]!.width}
      data={p.resources[m.id]?.sample}
      retry={p.resources[m.id]}
    >
      <MachinePane
        machine={m}
        rows={p.agentRows[i] ?? []}
        resources={p.resources[m.id]}
        stale={p.staleResources[m.id] ?? true}
        nats={p.nats}
        zmqLastAt={toSecond(p.zmqLastAt[`zmq:${m.id}`])}
        zmqConnected={p.zmqLinks?.[m.id]?.connected ?? false}
        zmqStarting={p.started === false}
        busPort={m.globals.errorBusPort?.value ?? 7150}
        cursor={p.cursors[i] ?? 0}
        focused={p.pane === i}
        width={layout.machines[i]!.width}
        height={layout.machines[i]!.height}
        compact={layout.machines[i]!.compact}
        now={p.now}
        filter={p.filters.agents}
        {...(p.sort ? { sort: p.sort } : {})}
        {...(p.throttleBy?.[m.id] ? { throttleBy: p.throttleBy[m.id] } : {})}
        {...(p.refused?.[m.id] ? { refused: p.refused[m.id] } : {})}
      />
    </PaneBoundary>
  );
  const errors = (
    <PaneBoundary name="error pane" width={layout.errors.width} retry={p.errors}>
      <ErrorPane
        rows={p.errors}
        counters={p.counters}
        cursor={p.cursors[p.machines.length] ?? 0}
        focused={p.pane === p.machines.length}
        width={layout.errors.width}
        height={layout.errors.height}
        now={p.now}
        paused={p.paused}
        filter={p.filters.errors}
        compact={layout.errors.compact}
      />
    </PaneBoundary>
  );
  // The taller machine has the whole height; the error pane sits under the shorter one.
  if (layout.errorsUnder !== undefined)
    return (
      <Box flexDirection="row" width={p.width} height={p.height}>
        {p.machines.map((m, i) =>
          i === layout.errorsUnder ? (
            <Box key={m.id} flexDirection="column" width={layout.machines[i]!.width}>
              {pane(m, i)}
              {errors}
            </Box>
          ) : (
            pane(m, i)
          ),
        )}
      </Box>
    );
  return (
    <Box flexDirection="column" width={p.width}>
      <Box flexDirection={layout.side ? 'row' : 'column'}>{p.machines.map(pane)}</Box>
      {errors}
    </Box>
  );
}
