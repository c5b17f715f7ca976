// The root: reads the stores, routes screens, and owns the one keyboard handler. Every key goes
// through the keymap reducer (core/ui/state.ts); screens and panes never listen to keys.
import { Box, Text, useApp, useInput } from 'ink';
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef } from 'react';
import type { Machine } from './core/fleet/model.js';
import type { PortCheck } from './core/ports/rules.js';
import {
  keyName,
  SCREEN_TITLES,
  SCREENS,
  type Focus,
  type KeyEvent,
  type Screen,
} from './core/ui/keymap.js';
import { metricKeys, scorecard } from './core/ui/scorecard.js';
import {
  initialUi,
  reduce,
  reduceMouse,
  filterKind,
  FILTER_SYNTAX,
  type AgentSort,
  type Effect,
  type UiContext,
  type UiState,
} from './core/ui/state.js';
import type { AuditSnapshot, AuditStore } from './stores/audit-store.js';
import { agentRows, errorRows, findingRows, healthChange, timeKey } from './core/ui/view.js';
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
import { heardBy, useStore } from './hooks/use-store.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { Actions, flowHeight } from './screens/actions.js';
import { previewRoom } from './components/action-flow.js';
import { AgentDetail } from './screens/agent-detail.js';
import { Errors } from './screens/errors.js';
import { Fleet } from './screens/fleet.js';
import { fleetLayout } from './core/ui/layout.js';
import { findingKey, Ports } from './screens/ports.js';
import { Scorecard } from './screens/scorecard.js';
import type { ActionRunner, RunnerSnapshot } from './stores/action-runner.js';
import type { DataPlane } from './wiring/data-plane.js';
import type { PhaseStore } from './stores/phase-store.js';
import { driftFindings } from './core/ports/drift.js';
import type { LintSnapshot, LintStore } from './stores/lint-store.js';
import type { SecuritySnapshot, SecurityStore } from './stores/security-store.js';
import { isStale } from './stores/resource-store.js';
import type { LinkStatus } from './adapters/nats-link.js';
import type { Readable } from './hooks/use-store.js';
import type { ActionCatalog, ActionEntry, Note } from './core/ui/actions.js';
import { agentKey } from './core/fleet/agent-key.js';
import type { ConfigSnapshot } from './stores/config-store.js';
import { HitContext, HitMap } from './components/hit-map.js';
import { joinMouse, parseMouse, WHEEL_ROWS } from './core/ui/mouse.js';
import type { LogSnapshot, LogStore } from './stores/log-store.js';
import { Logs, logPage } from './screens/logs.js';
import { logRows } from './core/ui/log-view.js';
import { LIFECYCLE_VERBS, type LifecycleVerb } from './core/fleet/lifecycle.js';

export type { ActionCatalog };

const VERB_TITLE: Record<LifecycleVerb, string> = {
  restart: 'Restart',
  stop: 'Stop',
  start: 'Start',
};

/** Screen 5's rows for the agent acted on last: restart, stop, start (or how to pick one). */
function agentEntries(subject: string | undefined, catalog: ActionCatalog): ActionEntry[] {
  if (!catalog.agent) return [];
  if (!subject)
    return [
      {
        id: 'agent.pick',
        title: 'Restart / stop / start an agent',
        what: "through its machine's opsdeck agent, verified by the health probe",
        unavailable:
          'select an agent first (Enter or l on it, or R in its log view), then come back',
      },
    ];
  return LIFECYCLE_VERBS.map((verb) => ({
    id: `agent.${verb}:${subject}`,
    title: `${VERB_TITLE[verb]} ${subject}`,
    what:
      verb === 'restart'
        ? 'stop it, see it DOWN, start it, see it OK; the preview names the exact process or container'
        : verb === 'stop'
          ? 'stop it and see it DOWN'
          : 'start it and see it OK',
    ...(catalog.agentUnavailable ? { unavailable: catalog.agentUnavailable } : {}),
  }));
}

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

/** One character of a chunk as the key it stands for (Enter, Tab and Backspace arrive as bytes). */
const splitKey = (ch: string): readonly [string, KeyEvent] =>
  ch === '\r' || ch === '\n'
    ? ['', { return: true }]
    : ch === '\t'
      ? ['', { tab: true }]
      : ch === '\x7f' || ch === '\b'
        ? ['', { backspace: true }]
        : [ch, {}];

const OFF_LINK: Readable<LinkStatus | undefined> = {
  subscribe: () => () => {},
  getSnapshot: () => undefined,
};
// Constant snapshots: useSyncExternalStore treats a new object per call as a change, forever.
const NO_LINT_SNAPSHOT: LintSnapshot = { state: 'pending' };
const NO_LINT: Readable<LintSnapshot> = {
  subscribe: () => () => {},
  getSnapshot: () => NO_LINT_SNAPSHOT,
};
const NO_SECURITY_SNAPSHOT: SecuritySnapshot = { auth: {} };
const NO_NOTE_LIST: readonly Note[] = [];
const NO_NOTES: Readable<readonly Note[]> = {
  subscribe: () => () => {},
  getSnapshot: () => NO_NOTE_LIST,
};
/** The catalog's migration rows, one per machine: `config.migrate.<machine>`. */
const MIGRATE_PREFIX = 'config.migrate.';
const NO_CONFIG_SNAPSHOT: ConfigSnapshot = { canonical: {}, changes: [], reloaded: {} };
const NO_CONFIG: Readable<ConfigSnapshot> = {
  subscribe: () => () => {},
  getSnapshot: () => NO_CONFIG_SNAPSHOT,
};
const NO_LOG_SNAPSHOT: LogSnapshot = { state: 'idle', items: [], first: 0, total: 0, skipped: 0 };
const NO_LOGS: Readable<LogSnapshot> = {
  subscribe: () => () => {},
  getSnapshot: () => NO_LOG_SNAPSHOT,
};
const NO_AUDIT_SNAPSHOT: AuditSnapshot = { entries: [], total: 0, damaged: 0, throttle: {} };
const NO_AUDIT: Readable<AuditSnapshot> = {
  subscribe: () => () => {},
  getSnapshot: () => NO_AUDIT_SNAPSHOT,
};
// Ports shows health too: the drift between config and where agents really answer.
const SHOWS_HEALTH: readonly Screen[] = ['fleet', 'agent', 'scorecard', 'ports'];
const SHOWS_ERRORS: readonly Screen[] = ['fleet', 'agent', 'errors', 'scorecard'];
/** How long a moved latency or sparkline may wait for a frame (states are drawn at once). */
const LATER_MS = 10_000;
const unheard = <T,>(store: Readable<T>): Readable<T> => ({
  subscribe: () => () => {},
  getSnapshot: store.getSnapshot,
});
const NO_SECURITY: Readable<SecuritySnapshot> = {
  subscribe: () => () => {},
  getSnapshot: () => NO_SECURITY_SNAPSHOT,
};

/** The action flow holds the keys only where it is drawn: on screen 5, nothing over it. */
function modalOf(run: RunnerSnapshot, ui: UiState): UiContext['modal'] {
  if (ui.screen !== 'actions' || ui.help || ui.editing) return undefined;
  const step = run.step?.phase;
  if (step === 'confirm') return 'confirm';
  return step === 'done' || step === 'failed' || step === 'blocked' ? 'result' : undefined;
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

export function App(p: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize();
  // What moves with the clock alone, from what the last frame drew (read through refs: the
  // heartbeat asks after that frame): the clock, the ages, the stale marks.
  const drawnRef = useRef<(t: number) => string>(undefined);
  const now = useNow(5000, drawnRef);
  const [ui, dispatch] = useReducer(
    (s: UiState, next: UiState) => next,
    initialUi(p.initialScreen ?? 'fleet', p.initialSort ?? 'config'),
  );
  // A screen that does not show a store does not redraw on its notifications (the Ports screen
  // in an error flood); it still reads the latest snapshot whenever it does redraw.
  const quietHealth = useMemo(() => unheard(p.plane.health), [p.plane.health]);
  const quietErrors = useMemo(() => unheard(p.plane.errors), [p.plane.errors]);
  const quietDoctor = useMemo(() => unheard(p.plane.doctor), [p.plane.doctor]);
  // The agent tables redraw for what they show, not for every probe round (view.ts); a latency
  // or a sparkline that moved waits up to LATER_MS for a frame (idle CPU: bench/ idle).
  const drawnHealth = useMemo(
    () => heardBy(p.plane.health, (a, b) => healthChange(a.agents, b.agents), LATER_MS),
    [p.plane.health],
  );
  const health = useStore(
    ui.screen === 'fleet'
      ? drawnHealth
      : SHOWS_HEALTH.includes(ui.screen)
        ? p.plane.health
        : quietHealth,
  );
  const errors = useStore(SHOWS_ERRORS.includes(ui.screen) ? p.plane.errors : quietErrors);
  const resources = useStore(p.plane.resources);
  // Only the scorecard shows the diagnosis: elsewhere its refresh (every 15 s) is not a frame.
  const doctor = useStore(ui.screen === 'scorecard' ? p.plane.doctor : quietDoctor);
  const link = useStore(p.plane.link ?? OFF_LINK);
  const phase = useStore(p.phase);
  const run = useStore(p.runner);
  const lint = useStore(p.lint ?? NO_LINT);
  const security = useStore(p.security ?? NO_SECURITY);
  const audit = useStore(p.audit ?? NO_AUDIT);
  const notes = useStore(p.actions.notes ?? NO_NOTES);
  const log = useStore(ui.screen === 'logs' && p.logs ? p.logs : NO_LOGS);
  // The watch lives while the view is open: leaving it stops the daemon's reading and sending.
  const watching = ui.screen === 'logs' ? ui.logs : undefined;
  useEffect(() => {
    if (!p.logs) return;
    if (watching) p.logs.open(watching);
    else p.logs.close();
  }, [watching, p.logs]);
  useEffect(() => () => p.logs?.close(), [p.logs]);
  const machines: readonly Machine[] = p.plane.machines;
  const width = Math.max(40, size.columns);
  const run0 = p.runner.getSnapshot();
  // Top bar, bottom bar, and the action notice line when an action runs off-screen.
  const config = useStore(p.config ?? NO_CONFIG);
  // A config edited under the running console comes first: what is probed is no longer the file.
  const warnings = useMemo(
    () => [...config.changes, ...(p.warnings ?? [])],
    [config.changes, p.warnings],
  );
  const warning = warnings[0];
  // A machine whose file is canonical now (migrated here or from a shell) has nothing to migrate.
  // The opened agent's lifecycle rows first, then the catalog; a machine whose file is
  // canonical now (migrated here or from a shell) has nothing to migrate.
  const entries = useMemo(
    () => [
      ...agentEntries(ui.subject, p.actions),
      ...p.actions.entries.map((a) =>
        a.id.startsWith(MIGRATE_PREFIX) &&
        !a.unavailable &&
        config.canonical[a.id.slice(MIGRATE_PREFIX.length)] === true
          ? { ...a, unavailable: 'already canonical (agent_groups schema): nothing to migrate' }
          : a,
      ),
    ],
    [ui.subject, p.actions, config.canonical],
  );
  const bodyHeight = Math.max(10, size.rows - 2 - (run0.step ? 1 : 0) - (warning ? 1 : 0));

  const agentLists = useMemo(
    () => machines.map((m) => agentRows(m, health.agents, ui.filters.agents, ui.sort)),
    [machines, health, ui.filters.agents, ui.sort],
  );
  const errs = useMemo(
    () => errorRows(errors.rows, ui.filters.errors),
    [errors.rows, ui.filters.errors],
  );
  const findings = p.ports.findings;
  const layout = useMemo(
    () =>
      fleetLayout(
        width,
        bodyHeight,
        agentLists.map((rows) => rows.length),
      ),
    [width, bodyHeight, agentLists],
  );

  // Unavailable actions are listed too: choosing one opens its row, which says why.
  const palette = useMemo(
    () => [
      ...SCREENS.map((s) => ({ id: `screen:${s}`, label: `go to ${SCREEN_TITLES[s]}` })),
      ...entries.map((a) => ({
        id: `action:${a.id}`,
        label: a.unavailable ? `${a.title} (unavailable)` : a.title,
      })),
    ],
    [entries],
  );
  const actionIds = useMemo(() => entries.map((a) => a.id), [entries]);
  const shownLog = useMemo(
    () =>
      ui.screen === 'logs'
        ? logRows(log, ui.logFollow ? undefined : ui.logAnchor, ui.filters.logs)
        : [],
    [ui.screen, log, ui.logFollow, ui.logAnchor, ui.filters.logs],
  );
  const shownFindings = useMemo(
    () => findingRows(findings, ui.filters.ports),
    [findings, ui.filters.ports],
  );
  const score = useMemo(
    () =>
      ui.screen === 'scorecard'
        ? scorecard({
            machines,
            health: health.agents,
            counters: errors.counters,
            publishers: errors.publishers,
            canonical: config.canonical,
            portConflicts: findings.filter((f) => f.severity === 'error').length,
            ...(p.lint ? { lint } : {}),
            ...(p.security ? { auth: security.auth } : {}),
            ...(security.expiryDays !== undefined ? { expiryDays: security.expiryDays } : {}),
            ...(phase.value ? { phase: phase.value } : {}),
            ...(phase.note ? { phaseNote: phase.note } : {}),
            ...(doctor.diagnosis ? { errorbus: doctor.diagnosis } : {}),
            // An exporter counts while its agent's samples are fresh.
            exporters: Object.fromEntries(
              machines.map((m) => [
                m.id,
                isStale(resources.machines[m.id], now, p.intervalMs)
                  ? undefined
                  : resources.machines[m.id]?.sample.exporter,
              ]),
            ),
          })
        : [],
    [
      ui.screen,
      resources,
      now,
      p.intervalMs,
      machines,
      health.agents,
      errors.counters,
      errors.publishers,
      config.canonical,
      findings,
      p.lint,
      lint,
      p.security,
      security,
      phase,
      doctor.diagnosis,
    ],
  );

  const panes: UiContext['panes'] = useMemo(() => {
    switch (ui.screen) {
      case 'fleet':
        return [
          ...machines.map((m, i) => ({
            id: `agents:${m.id}`,
            keys: agentLists[i]!.map((r) => r.key),
            page: layout.machines[i]!.visible,
          })),
          {
            id: 'errors',
            keys: errs.map((r) => String(r.id)),
            page: layout.errors.visible,
            agents: errs.map((r) => agentKey(r.event.machine, r.event.agent)),
          },
        ];
      case 'errors':
        return [
          {
            id: 'errors',
            keys: errs.map((r) => String(r.id)),
            page: bodyHeight - 12,
            agents: errs.map((r) => agentKey(r.event.machine, r.event.agent)),
          },
        ];
      case 'logs':
        return [{ id: 'logs', keys: [], page: logPage(bodyHeight) }];
      case 'ports':
        return [{ id: 'ports', keys: shownFindings.map(findingKey), page: bodyHeight - 10 }];
      case 'scorecard':
        return [{ id: 'scorecard', keys: metricKeys(score), page: bodyHeight - 4 }];
      case 'actions':
        return [{ id: 'actions', keys: entries.map((a) => a.id), page: 10 }];
      default:
        return [];
    }
  }, [ui.screen, machines, agentLists, errs, shownFindings, score, entries, layout, bodyHeight]);

  // The latest state for the key handler, which is registered once.
  const open = run.step && 'preview' in run.step ? run.step.preview : undefined;
  // What ↑↓ scroll: the help when it is open (it is longer than a short terminal), else the
  // open action's preview.
  const preview = ui.help
    ? { lines: HELP_LINES, room: helpRoom(bodyHeight) }
    : open
      ? {
          lines: open.lines.length,
          room: previewRoom(flowHeight(bodyHeight, entries.length, run), open.checks?.length ?? 0),
        }
      : undefined;
  const logCtx = { total: log.total, rows: shownLog.length, page: logPage(bodyHeight) };
  const latest = useRef({ ui, panes, palette, actionIds, run, preview, entries, logCtx });
  useLayoutEffect(() => {
    latest.current = { ui, panes, palette, actionIds, run, preview, entries, logCtx };
  });

  useEffect(() => {
    p.plane.errors.setPaused(ui.paused);
  }, [ui.paused, p.plane.errors]);
  useEffect(() => {
    p.onScreen?.(ui.screen);
  }, [ui.screen, p]);
  useEffect(() => {
    p.onSort?.(ui.sort);
  }, [ui.sort, p]);

  // Both entry points (a row on screen 5, the palette) land here, on screen 5: the reducer has
  // already moved there, so the preview is what the operator sees next.
  const start = (id: string) => {
    const agent = /^agent\.(restart|stop|start):(.+)$/.exec(id);
    // An agent action asked for by R names its agent: its rows may not be drawn yet.
    const entry = agent
      ? agentEntries(agent[2], p.actions).find((a) => a.id === id)
      : latest.current.entries.find((a) => a.id === id);
    const action =
      entry && !entry.unavailable
        ? agent
          ? p.actions.agent?.(agent[1] as LifecycleVerb, agent[2]!)
          : p.actions.make(id)
        : undefined;
    if (action) {
      void p.runner.start(action);
      return;
    }
    const cur = latest.current;
    const next: UiState = {
      ...cur.ui,
      notice: `${entry?.title ?? id}: ${entry?.unavailable ?? 'not available right now (is NATS connected?)'}`,
    };
    latest.current = { ...cur, ui: next };
    dispatch(next);
  };

  const carryOut = (effect: Effect | undefined) => {
    if (!effect) return;
    switch (effect.kind) {
      case 'exit':
        p.onExit();
        exit();
        return;
      case 'confirm':
        void p.runner.confirm();
        return;
      case 'deny':
        p.runner.cancel();
        return;
      case 'run':
        start(effect.id.replace(/^action:/, ''));
        return;
      case 'open':
        if (effect.list === 'actions') start(effect.key);
        else if (effect.list === 'errors' && latest.current.ui.screen === 'fleet') {
          // The error opens in full on the Errors screen; Esc closes it there.
          const cur = latest.current;
          const next: UiState = {
            ...cur.ui,
            screen: 'errors',
            pane: 0,
            detail: true,
            cursor: { ...cur.ui.cursor, errors: cur.ui.cursor.errors ?? 0 },
          };
          latest.current = { ...cur, ui: next };
          dispatch(next);
        }
        return;
    }
  };

  const hits = useMemo(() => new HitMap(), []);
  // A mouse report, never a key: it must not be typed into a filter one character at a time.
  // What the screen shows, for the reducer: one place for keys and the mouse.
  const contextOf = (cur: typeof latest.current, ui: UiState): UiContext => {
    const modal = modalOf(cur.run, ui);
    return {
      panes: cur.panes,
      palette: cur.palette,
      actions: cur.actionIds,
      now: Date.now(),
      ...(modal ? { modal } : {}),
      ...(cur.preview ? { preview: cur.preview } : {}),
      log: cur.logCtx,
    };
  };
  const heldMouse = useRef('');
  // Mouse reports, never keys: they must not be typed into a filter one character at a time,
  // even when a slow link splits one over two reads. Returns what is left for the keys.
  const onMouse = (input: string): string => {
    if (!heldMouse.current && !input.startsWith('[<')) return input;
    const joined = joinMouse(heldMouse.current, input);
    heldMouse.current = joined.held;
    for (const report of joined.reports) {
      const mouse = parseMouse(report);
      if (!mouse || mouse.kind === 'other') continue;
      const cur = latest.current;
      const next = reduceMouse(
        cur.ui,
        mouse.kind === 'wheel' ? { kind: 'wheel', delta: mouse.delta * WHEEL_ROWS } : mouse,
        hits.at(mouse.x, mouse.y),
        contextOf(cur, cur.ui),
      );
      if (next.state !== cur.ui) {
        latest.current = { ...cur, ui: next.state };
        dispatch(next.state);
      }
      carryOut(next.effect);
    }
    return joined.keys;
  };

  useInput((input, key) => {
    const rest = onMouse(input);
    if (rest === '' && input !== '') return;
    // Keys typed faster than a frame (or pasted) arrive as one chunk: replay them one by one
    // (so is what a mouse report left over).
    const presses =
      rest !== input || (input.length > 1 && !key.ctrl && !key.meta)
        ? [...rest].map(splitKey)
        : [[input, key] as const];
    let ui = latest.current.ui;
    for (const [ch, k] of presses) {
      const cur = latest.current;
      const next = reduce(ui, keyName(ch, k), ch, contextOf(cur, ui));
      if (next.state !== ui) {
        ui = next.state;
        latest.current = { ...cur, ui };
        dispatch(ui);
      }
      carryOut(next.effect);
    }
  });

  const cursorOf = (id: string) => ui.cursor[id] ?? 0;
  const staleResources = Object.fromEntries(
    machines.map((m) => [m.id, isStale(resources.machines[m.id], now, p.intervalMs)]),
  );
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
      machines
        .map((m) => (isStale(resources.machines[m.id], t, p.intervalMs) ? 'S' : '-'))
        .join('');
  });
  const natsState = p.plane.link ? (link?.state ?? 'connecting') : 'off';
  const phaseLabel = phase.value ? `${phase.value.phase} ${phase.value.name}` : undefined;

  let body;
  switch (ui.screen) {
    case 'fleet':
      body = (
        <Fleet
          machines={machines}
          agentRows={agentLists}
          resources={resources.machines}
          refused={resources.refused}
          staleResources={staleResources}
          zmqLastAt={errors.lastFrameAt}
          zmqLinks={errors.zmqLinks}
          nats={natsState}
          errors={errs}
          counters={errors.counters}
          cursors={[...machines.map((m) => cursorOf(`agents:${m.id}`)), cursorOf('errors')]}
          pane={ui.pane}
          width={width}
          height={bodyHeight}
          now={now}
          paused={ui.paused}
          filters={ui.filters}
          sort={ui.sort}
          throttleBy={audit.throttle}
        />
      );
      break;
    case 'agent':
      body = (
        <AgentDetail
          agentKey={ui.agent ?? ''}
          // Where each agent is defined now, after a migration moved the lines.
          machines={machines.map((m) => config.reloaded[m.id] ?? m)}
          health={health.agents}
          errors={errors.rows}
          resources={resources.machines}
          width={width}
          height={bodyHeight}
          now={now}
        />
      );
      break;
    case 'errors':
      body = (
        <Errors
          rows={errs}
          counters={errors.counters}
          malformed={errors.malformed}
          cursor={Math.min(cursorOf('errors'), Math.max(0, errs.length - 1))}
          width={width}
          height={bodyHeight}
          now={now}
          paused={ui.paused}
          filter={ui.filters.errors}
          detail={ui.detail}
        />
      );
      break;
    case 'ports':
      body = (
        <Ports
          check={p.ports}
          drift={driftFindings(machines, health.agents)}
          findings={shownFindings}
          filter={ui.filters.ports}
          cursor={cursorOf('ports')}
          width={width}
          height={bodyHeight}
        />
      );
      break;
    case 'scorecard':
      body = (
        <Scorecard
          width={width}
          height={bodyHeight}
          sections={score}
          cursor={cursorOf('scorecard')}
          detail={ui.detail}
        />
      );
      break;
    case 'logs':
      body = (
        <Logs
          agentKey={ui.logs ?? ''}
          log={log}
          rows={shownLog}
          follow={ui.logFollow}
          scroll={ui.logScroll}
          wrap={ui.logWrap}
          filter={ui.filters.logs}
          width={width}
          height={bodyHeight}
        />
      );
      break;
    case 'actions':
      body = (
        <Actions
          entries={entries}
          cursor={cursorOf('actions')}
          run={run}
          width={width}
          height={bodyHeight}
          scroll={ui.scroll}
          history={audit.entries}
          historyTotal={audit.total}
          note={notes[0]}
          now={now}
        />
      );
      break;
  }

  return (
    <ThemeContext.Provider value={p.theme}>
      <HitContext.Provider value={hits}>
        <Box flexDirection="column" width={width}>
          <TopBar
            screen={ui.screen}
            nats={natsState}
            phase={phaseLabel}
            width={width}
            clock={new Date(now).toISOString().slice(11, 16)}
          />
          {warning ? (
            <Text
              wrap="truncate"
              color={p.theme.warn}
            >{`⚠ ${warnings.length > 1 ? `(1 of ${warnings.length}) ` : ''}${warning}`}</Text>
          ) : null}
          {ui.help ? (
            <HelpOverlay width={width} height={bodyHeight} scroll={ui.scroll} />
          ) : ui.editing === 'palette' ? (
            <Palette entries={palette} draft={ui.draft} pick={ui.pick} width={width} />
          ) : (
            <PaneBoundary name={`${SCREEN_TITLES[ui.screen]} screen`} width={width} retry={body}>
              {body}
            </PaneBoundary>
          )}
          {run.step && ui.screen !== 'actions' && !ui.help ? (
            <Text color={p.theme.warn} wrap="truncate">
              {run.step.phase === 'confirm'
                ? `${run.action?.title ?? ''} waits for your y on screen 5, where its preview is (5)`
                : `action: ${run.action?.title ?? ''} (${run.step.phase}) — screen 5 shows it`}
            </Text>
          ) : null}
          <BottomBar
            notice={ui.notice}
            syntax={FILTER_SYNTAX[filterKind(ui, { panes, palette, now })]}
            focus={focusOf(ui, panes, modalOf(run, ui))}
            draft={ui.draft}
            width={width}
          />
        </Box>
      </HitContext.Provider>
    </ThemeContext.Provider>
  );
}
