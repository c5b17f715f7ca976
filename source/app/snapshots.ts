// What App reads from the stores, once per render: each store through useStore, and a store the
// screen does not show swapped for a quiet one, so it does not wake React.
import { useEffect, useMemo } from 'react';
import type { Readable } from '../core/readable.js';
import type { Note } from '../core/ui/actions.js';
import type { Screen } from '../core/ui/keymap.js';
import type { UiState } from '../core/ui/state.js';
import { healthChange } from '../core/ui/view.js';
import { heardBy, useStore } from '../hooks/use-store.js';
import type { LinkStatus } from '../adapters/nats-link.js';
import type { AuditSnapshot, AuditStore } from '../stores/audit-store.js';
import type { ConfigSnapshot } from '../stores/config-store.js';
import type { LintSnapshot, LintStore } from '../stores/lint-store.js';
import type { LogSnapshot, LogStore } from '../stores/log-store.js';
import type { SecuritySnapshot, SecurityStore } from '../stores/security-store.js';
import type { ActionRunner } from '../stores/action-runner.js';
import type { DataPlane } from '../wiring/data-plane.js';
import type { PhaseStore } from '../stores/phase-store.js';
import type { ActionCatalog } from '../core/ui/actions.js';

/** The stores App reads (its props, less the rest). */
export interface Sources {
  plane: DataPlane;
  phase: PhaseStore;
  runner: ActionRunner;
  actions: ActionCatalog;
  lint?: LintStore;
  security?: SecurityStore;
  config?: Readable<ConfigSnapshot>;
  audit?: AuditStore;
  logs?: LogStore;
}

const silent = <T>(snapshot: T): Readable<T> => ({
  subscribe: () => () => {},
  getSnapshot: () => snapshot,
});
// Constant snapshots: useSyncExternalStore treats a new object per call as a change, forever.
const OFF_LINK = silent<LinkStatus | undefined>(undefined);
const NO_LINT = silent<LintSnapshot>({ state: 'pending' });
const NO_NOTES = silent<readonly Note[]>([]);
const NO_CONFIG = silent<ConfigSnapshot>({ canonical: {}, changes: [], reloaded: {} });
const NO_LOGS = silent<LogSnapshot>({ state: 'idle', items: [], first: 0, total: 0, skipped: 0 });
const NO_AUDIT = silent<AuditSnapshot>({ entries: [], total: 0, damaged: 0, throttle: {} });
const NO_SECURITY = silent<SecuritySnapshot>({ auth: {} });

// Ports shows health too: the drift between config and where agents really answer.
const SHOWS_HEALTH: readonly Screen[] = ['fleet', 'agent', 'scorecard', 'ports'];
const SHOWS_ERRORS: readonly Screen[] = ['fleet', 'agent', 'errors', 'scorecard'];
/** How long a moved latency or sparkline may wait for a frame (states are drawn at once). */
const LATER_MS = 10_000;
const unheard = <T>(store: Readable<T>): Readable<T> => ({
  subscribe: () => () => {},
  getSnapshot: store.getSnapshot,
});

/** The plane's stores, heard only on the screens that show them. */
function usePlane(plane: DataPlane, screen: Screen) {
  // A screen that does not show a store does not redraw on its notifications (the Ports screen
  // in an error flood); it still reads the latest snapshot whenever it does redraw.
  const quietHealth = useMemo(() => unheard(plane.health), [plane.health]);
  const quietErrors = useMemo(() => unheard(plane.errors), [plane.errors]);
  const quietDoctor = useMemo(() => unheard(plane.doctor), [plane.doctor]);
  // The agent tables redraw for what they show, not for every probe round (view.ts); a latency
  // or a sparkline that moved waits up to LATER_MS for a frame (idle CPU: bench/ idle).
  const drawnHealth = useMemo(
    () => heardBy(plane.health, (a, b) => healthChange(a.agents, b.agents), LATER_MS),
    [plane.health],
  );
  const health = useStore(
    screen === 'fleet' ? drawnHealth : SHOWS_HEALTH.includes(screen) ? plane.health : quietHealth,
  );
  const errors = useStore(SHOWS_ERRORS.includes(screen) ? plane.errors : quietErrors);
  const resources = useStore(plane.resources);
  // Only the scorecard shows the diagnosis: elsewhere its refresh (every 15 s) is not a frame.
  const doctor = useStore(screen === 'scorecard' ? plane.doctor : quietDoctor);
  const link = useStore(plane.link ?? OFF_LINK);
  return { health, errors, resources, doctor, link };
}

/** Every snapshot a frame draws from, in the order App has always read them. */
export function useSnapshots(p: Sources, screen: Screen) {
  const plane = usePlane(p.plane, screen);
  const phase = useStore(p.phase);
  const run = useStore(p.runner);
  const lint = useStore(p.lint ?? NO_LINT);
  const security = useStore(p.security ?? NO_SECURITY);
  const audit = useStore(p.audit ?? NO_AUDIT);
  const notes = useStore(p.actions.notes ?? NO_NOTES);
  const log = useStore(screen === 'logs' && p.logs ? p.logs : NO_LOGS);
  return { ...plane, phase, run, lint, security, audit, notes, log };
}

export type Snapshots = ReturnType<typeof useSnapshots>;

/** The config files as they are now (read after the log watch's effects, as App always has). */
export const useConfig = (config: Readable<ConfigSnapshot> | undefined): ConfigSnapshot =>
  useStore(config ?? NO_CONFIG);

/** The watch lives while the view is open: leaving it stops the daemon's reading and sending. */
export function useLogWatch(logs: LogStore | undefined, ui: UiState): void {
  const watching = ui.screen === 'logs' ? ui.logs : undefined;
  useEffect(() => {
    if (!logs) return;
    if (watching) logs.open(watching);
    else logs.close();
  }, [watching, logs]);
  useEffect(() => () => logs?.close(), [logs]);
}
