// The root: reads the stores, routes screens, and owns the one keyboard handler. Every key goes
// through the keymap reducer (core/ui/state.ts); screens and panes never listen to keys.
//
// The parts live in app/: what is read from the stores (app/snapshots.ts), what a frame shows
// (app/views.ts), the key loop (app/key-loop.ts). This file wires them and draws the frame.
import { Box, Text } from 'ink';
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, type ReactNode } from 'react';
import type { Machine } from './core/fleet/model.js';
import type { PortCheck } from './core/ports/rules.js';
import { SCREEN_TITLES, type Focus, type Screen } from './core/ui/keymap.js';
import {
  initialUi,
  filterKind,
  FILTER_SYNTAX,
  type AgentSort,
  type UiContext,
  type UiState,
} from './core/ui/state.js';
import type { AuditStore } from './stores/audit-store.js';
import { timeKey } from './core/ui/view.js';
import {
  HELP_LINES,
  HelpOverlay,
  helpRoom,
  Palette,
  TopBar,
  BottomBar,
} from './components/overlays.js';
import { ThemeContext, type Theme } from './components/theme.js';
import { PaneBoundary } from './components/pane-boundary.js';
import { useNow } from './hooks/use-now.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { Actions, flowHeight } from './screens/actions.js';
import { previewRoom } from './components/action-flow.js';
import { AgentDetail } from './screens/agent-detail.js';
import { Errors } from './screens/errors.js';
import { Fleet } from './screens/fleet.js';
import { Ports } from './screens/ports.js';
import { Scorecard } from './screens/scorecard.js';
import type { ActionRunner, RunnerSnapshot } from './stores/action-runner.js';
import type { DataPlane } from './wiring/data-plane.js';
import type { PhaseStore } from './stores/phase-store.js';
import { driftFindings } from './core/ports/drift.js';
import type { LintStore } from './stores/lint-store.js';
import type { SecurityStore } from './stores/security-store.js';
import { isStale } from './stores/resource-store.js';
import type { Readable } from './hooks/use-store.js';
import type { ActionCatalog, ActionEntry } from './core/ui/actions.js';
import type { ConfigSnapshot } from './stores/config-store.js';
import { HitContext, HitMap } from './components/hit-map.js';
import type { LogStore } from './stores/log-store.js';
import { Logs, logPage } from './screens/logs.js';
import { useConfig, useLogWatch, useSnapshots, type Snapshots } from './app/snapshots.js';
import { usePanes, useEntries, useScore, useTables } from './app/views.js';
import { modalOf, useKeyLoop, type Latest } from './app/key-loop.js';

export type { ActionCatalog };

export interface AppProps {
  plane: DataPlane;
  phase: PhaseStore;
  runner: ActionRunner;
  actions: ActionCatalog;
  ports: PortCheck;
  lint?: LintStore;
  security?: SecurityStore;
  /** The config files as they are now (canonical or not, agents changed since start). */
  config?: Readable<ConfigSnapshot>;
  theme: Theme;
  intervalMs: number;
  initialScreen?: Screen;
  initialSort?: AgentSort;
  onSort?(sort: AgentSort): void;
  /** The audit log: the Actions screen's history, who set each throttle level. */
  audit?: AuditStore;
  onScreen?(screen: Screen): void;
  onExit(): void;
  /** Fleet-wide warnings shown above every screen (two machines on one address). */
  warnings?: readonly string[];
  /** The log view's watch (`l`). */
  logs?: LogStore;
}

/** What holds the keys, for the footer. */
function focusOf(ui: UiState, panes: UiContext['panes'], modal: UiContext['modal']): Focus {
  if (ui.help) return 'help';
  if (ui.editing) return ui.editing;
  if (modal) return modal;
  if (ui.detail) return 'detail';
  if (ui.screen === 'agent') return 'agent';
  if (ui.screen === 'logs') return 'logs';
  const pane = panes[ui.pane]?.id ?? ui.screen;
  if (pane.startsWith('agents:')) return 'agents';
  return pane as Focus;
}

/** Everything one frame draws from. */
interface Frame {
  p: AppProps;
  ui: UiState;
  s: Snapshots;
  config: ConfigSnapshot;
  machines: readonly Machine[];
  tables: ReturnType<typeof useTables>;
  score: ReturnType<typeof useScore>;
  panes: UiContext['panes'];
  entries: ActionEntry[];
  warnings: readonly string[];
  width: number;
  bodyHeight: number;
  now: number;
}

const cursorOf = (f: Frame, id: string) => f.ui.cursor[id] ?? 0;
const natsOf = (f: Frame) => (f.p.plane.link ? (f.s.link?.state ?? 'connecting') : 'off');

/** Each screen's body, from the frame. */
const BODIES: Partial<Record<Screen, (f: Frame) => ReactNode>> = {
  fleet: (f) => (
    <Fleet
      machines={f.machines}
      agentRows={f.tables.agentLists}
      resources={f.s.resources.machines}
      refused={f.s.resources.refused}
      staleResources={Object.fromEntries(
        f.machines.map((m) => [m.id, isStale(f.s.resources.machines[m.id], f.now, f.p.intervalMs)]),
      )}
      zmqLastAt={f.s.errors.lastFrameAt}
      zmqLinks={f.s.errors.zmqLinks}
      started={f.p.plane.started}
      nats={natsOf(f)}
      errors={f.tables.errs}
      counters={f.s.errors.counters}
      cursors={[...f.machines.map((m) => cursorOf(f, `agents:${m.id}`)), cursorOf(f, 'errors')]}
      pane={f.ui.pane}
      width={f.width}
      height={f.bodyHeight}
      now={f.now}
      paused={f.ui.paused}
      filters={f.ui.filters}
      sort={f.ui.sort}
      throttleBy={f.s.audit.throttle}
    />
  ),
  agent: (f) => (
    <AgentDetail
      agentKey={f.ui.agent ?? ''}
      // Where each agent is defined now, after a migration moved the lines.
      machines={f.machines.map((m) => f.config.reloaded[m.id] ?? m)}
      health={f.s.health.agents}
      errors={f.s.errors.rows}
      resources={f.s.resources.machines}
      width={f.width}
      height={f.bodyHeight}
      now={f.now}
    />
  ),
  errors: (f) => (
    <Errors
      rows={f.tables.errs}
      counters={f.s.errors.counters}
      malformed={f.s.errors.malformed}
      cursor={Math.min(cursorOf(f, 'errors'), Math.max(0, f.tables.errs.length - 1))}
      width={f.width}
      height={f.bodyHeight}
      now={f.now}
      paused={f.ui.paused}
      filter={f.ui.filters.errors}
      detail={f.ui.detail}
    />
  ),
  ports: (f) => (
    <Ports
      check={f.p.ports}
      drift={driftFindings(f.machines, f.s.health.agents)}
      findings={f.tables.shownFindings}
      filter={f.ui.filters.ports}
      cursor={cursorOf(f, 'ports')}
      width={f.width}
      height={f.bodyHeight}
    />
  ),
  scorecard: (f) => (
    <Scorecard
      width={f.width}
      height={f.bodyHeight}
      sections={f.score}
      cursor={cursorOf(f, 'scorecard')}
      detail={f.ui.detail}
    />
  ),
  logs: (f) => (
    <Logs
      agentKey={f.ui.logs ?? ''}
      log={f.s.log}
      rows={f.tables.shownLog}
      follow={f.ui.logFollow}
      scroll={f.ui.logScroll}
      wrap={f.ui.logWrap}
      filter={f.ui.filters.logs}
      width={f.width}
      height={f.bodyHeight}
    />
  ),
  actions: (f) => (
    <Actions
      entries={f.entries}
      cursor={cursorOf(f, 'actions')}
      run={f.s.run}
      width={f.width}
      height={f.bodyHeight}
      scroll={f.ui.scroll}
      history={f.s.audit.entries}
      historyTotal={f.s.audit.total}
      note={f.s.notes[0]}
      now={f.now}
    />
  ),
};

/** The frame around the body: top bar, the first warning, the body or an overlay, the footer. */
function drawFrame(f: Frame, hits: HitMap): ReactNode {
  const { p, ui, width, warnings } = f;
  const run = f.s.run;
  const phase = f.s.phase.value;
  const body = BODIES[ui.screen]?.(f);
  const palette = f.tables.palette;
  return (
    <ThemeContext.Provider value={p.theme}>
      <HitContext.Provider value={hits}>
        <Box flexDirection="column" width={width}>
          <TopBar
            screen={ui.screen}
            nats={natsOf(f)}
            phase={phase ? `${phase.phase} ${phase.name}` : undefined}
            width={width}
            clock={new Date(f.now).toISOString().slice(11, 16)}
          />
          {warnings[0] ? (
            <Text
              wrap="truncate"
              color={p.theme.warn}
            >{`⚠ ${warnings.length > 1 ? `(1 of ${warnings.length}) ` : ''}${warnings[0]}`}</Text>
          ) : null}
          {/* At least the body's rows, whatever a screen draws: the key bar stays on the last row. */}
          <Box flexDirection="column" minHeight={f.bodyHeight}>
            {ui.help ? (
              <HelpOverlay width={width} height={f.bodyHeight} scroll={ui.scroll} />
            ) : ui.editing === 'palette' ? (
              <Palette
                entries={palette}
                draft={ui.draft}
                pick={ui.pick}
                width={width}
                height={f.bodyHeight}
              />
            ) : (
              <PaneBoundary name={`${SCREEN_TITLES[ui.screen]} screen`} width={width} retry={body}>
                {body}
              </PaneBoundary>
            )}
          </Box>
          {run.step && ui.screen !== 'actions' && !ui.help ? (
            <Text color={p.theme.warn} wrap="truncate">
              {run.step.phase === 'confirm'
                ? `${run.action?.title ?? ''} waits for your y on screen 5, where its preview is (5)`
                : `action: ${run.action?.title ?? ''} (${run.step.phase}) — screen 5 shows it`}
            </Text>
          ) : null}
          <BottomBar
            notice={ui.notice}
            syntax={FILTER_SYNTAX[filterKind(ui, { panes: f.panes, palette, now: f.now })]}
            focus={focusOf(ui, f.panes, modalOf(run, ui))}
            draft={ui.draft}
            width={width}
          />
        </Box>
      </HitContext.Provider>
    </ThemeContext.Provider>
  );
}

// What ↑↓ scroll: the help when it is open (it is longer than a short terminal), else the
// open action's preview.
function previewOf(
  ui: UiState,
  run: RunnerSnapshot,
  entries: number,
  bodyHeight: number,
): UiContext['preview'] {
  const open = run.step && 'preview' in run.step ? run.step.preview : undefined;
  if (ui.help) return { lines: HELP_LINES, room: helpRoom(bodyHeight) };
  if (!open) return undefined;
  return {
    lines: open.lines.length,
    room: previewRoom(flowHeight(bodyHeight, entries, run), open.checks?.length ?? 0),
  };
}

/** The stores told what the operator chose: pause, screen, sort. */
function useUiEffects(p: AppProps, ui: UiState): void {
  useEffect(() => {
    p.plane.errors.setPaused(ui.paused);
  }, [ui.paused, p.plane.errors]);
  useEffect(() => {
    p.onScreen?.(ui.screen);
  }, [ui.screen, p]);
  useEffect(() => {
    p.onSort?.(ui.sort);
  }, [ui.sort, p]);
}

/**
 * What moves with the clock alone, from what the last frame drew (read through a ref: the
 * heartbeat asks after that frame): the clock, the ages, the stale marks.
 */
function useDrawnKey(
  drawnRef: { current: ((t: number) => string) | undefined },
  s: Snapshots,
  machines: readonly Machine[],
  intervalMs: number,
): void {
  const { health, errors, resources, audit, notes } = s;
  // Set before useNow's effect reads it (layout effects run first).
  useLayoutEffect(() => {
    drawnRef.current = (t) =>
      timeKey(t, [
        ...[...health.agents.values()].map((h) => h.lastReplyAt),
        ...errors.rows.slice(0, 200).map((r) => r.lastAt),
        ...Object.values(errors.lastFrameAt),
        ...machines.map((m) => resources.machines[m.id]?.receivedAt),
        ...Object.values(resources.refused ?? {}).map((r) => r.at),
        ...Object.values(audit.throttle).map((o) => Date.parse(o.time)),
        ...notes.map((n) => n.at),
      ]) +
      machines.map((m) => (isStale(resources.machines[m.id], t, intervalMs) ? 'S' : '-')).join('');
  });
}

export function App(p: AppProps) {
  const size = useTerminalSize();
  const drawnRef = useRef<(t: number) => string>(undefined);
  const now = useNow(5000, drawnRef);
  const [ui, dispatch] = useReducer(
    (_: UiState, next: UiState) => next,
    initialUi(p.initialScreen ?? 'fleet', p.initialSort ?? 'config'),
  );
  const s = useSnapshots(p, ui.screen);
  useLogWatch(p.logs, ui);
  const machines: readonly Machine[] = p.plane.machines;
  const width = Math.max(40, size.columns);
  const config = useConfig(p.config);
  // A config edited under the running console comes first: what is probed is no longer the file.
  const warnings = useMemo(
    () => [...config.changes, ...(p.warnings ?? [])],
    [config.changes, p.warnings],
  );
  const entries = useEntries(ui.subject, p.actions, config.canonical);
  // Top bar, bottom bar, and the action notice line when an action runs off-screen (it is not
  // drawn on screen 5 or under the help: the body has that row then).
  const notice = p.runner.getSnapshot().step && ui.screen !== 'actions' && !ui.help;
  const extra = (notice ? 1 : 0) + (warnings[0] ? 1 : 0);
  const bodyHeight = Math.max(10, size.rows - 2 - extra);
  const findings = p.ports.findings;
  const tables = useTables(ui, s, { machines, findings, entries }, width, bodyHeight);
  const score = useScore(ui.screen, s, {
    machines,
    findings,
    canonical: config.canonical,
    now,
    intervalMs: p.intervalMs,
    hasLint: p.lint !== undefined,
    hasSecurity: p.security !== undefined,
  });
  const panes = usePanes(ui.screen, tables, { machines, entries, score }, bodyHeight);

  // The latest state for the key handler, which reads it through a ref.
  const current = (): Latest => ({
    ui,
    panes,
    palette: tables.palette,
    actionIds: tables.actionIds,
    run: s.run,
    entries,
    preview: previewOf(ui, s.run, entries.length, bodyHeight),
    logCtx: { total: s.log.total, rows: tables.shownLog.length, page: logPage(bodyHeight) },
  });
  const latest = useRef(current());
  useLayoutEffect(() => {
    latest.current = current();
  });
  useUiEffects(p, ui);
  const hits = useMemo(() => new HitMap(), []);
  useKeyLoop(p, latest, dispatch, hits);
  useDrawnKey(drawnRef, s, machines, p.intervalMs);
  const frame = { p, ui, s, config, machines, tables, score, panes, entries, warnings };
  return drawFrame({ ...frame, width, bodyHeight, now }, hits);
}
