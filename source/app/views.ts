// What a frame shows, from the snapshots: the action rows, the agent and error tables, the
// layout, the palette, the log rows, the scorecard and the panes the keys move through. Each is
// memoised on what it reads, so a frame that changes none of it recomputes nothing.
import { useMemo } from 'react';
import type { Machine } from '../core/fleet/model.js';
import type { PortCheck } from '../core/ports/rules.js';
import type { ActionCatalog, ActionEntry } from '../core/ui/actions.js';
import { agentKey } from '../core/fleet/agent-key.js';
import { LIFECYCLE_VERBS, type LifecycleVerb } from '../core/fleet/lifecycle.js';
import { SCREEN_TITLES, SCREENS } from '../core/ui/keymap.js';
import { fleetLayout } from '../core/ui/layout.js';
import { lazyList } from '../core/ui/lazy-list.js';
import { logRows } from '../core/ui/log-view.js';
import { metricKeys, scorecard } from '../core/ui/scorecard.js';
import type { UiContext, UiState } from '../core/ui/state.js';
import { agentRows, errorRows, findingRows } from '../core/ui/view.js';
import type { ConfigSnapshot } from '../stores/config-store.js';
import { isStale } from '../stores/resource-store.js';
import { findingKey } from '../screens/ports.js';
import { logPage } from '../screens/logs.js';
import type { Snapshots } from './snapshots.js';

const VERB_TITLE: Record<LifecycleVerb, string> = {
  restart: 'Restart',
  stop: 'Stop',
  start: 'Start',
};

/** Screen 5's rows for the agent acted on last: restart, stop, start (or how to pick one). */
export function agentEntries(subject: string | undefined, catalog: ActionCatalog): ActionEntry[] {
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

/** The catalog's migration rows, one per machine: `config.migrate.<machine>`. */
const MIGRATE_PREFIX = 'config.migrate.';

/**
 * The opened agent's lifecycle rows first, then the catalog; a machine whose file is canonical
 * now (migrated here or from a shell) has nothing to migrate.
 */
export const useEntries = (
  subject: string | undefined,
  actions: ActionCatalog,
  canonical: ConfigSnapshot['canonical'],
): ActionEntry[] =>
  useMemo(
    () => [
      ...agentEntries(subject, actions),
      ...actions.entries.map((a) =>
        a.id.startsWith(MIGRATE_PREFIX) &&
        !a.unavailable &&
        canonical[a.id.slice(MIGRATE_PREFIX.length)] === true
          ? { ...a, unavailable: 'already canonical (agent_groups schema): nothing to migrate' }
          : a,
      ),
    ],
    [subject, actions, canonical],
  );

/** What the scorecard reads besides the snapshots. */
export interface ScoreInputs {
  machines: readonly Machine[];
  findings: PortCheck['findings'];
  canonical: ConfigSnapshot['canonical'];
  now: number;
  intervalMs: number;
  /** Whether the console has a lint store and a security store at all. */
  hasLint: boolean;
  hasSecurity: boolean;
}

/** The scorecard's sections, computed only while it is shown. */
export function useScore(screen: UiState['screen'], s: Snapshots, i: ScoreInputs) {
  const { health, errors, resources, lint, security, phase, doctor } = s;
  const { machines, findings, canonical, now, intervalMs, hasLint, hasSecurity } = i;
  return useMemo(
    () =>
      screen === 'scorecard'
        ? scorecard({
            machines,
            health: health.agents,
            counters: errors.counters,
            publishers: errors.publishers,
            canonical,
            portConflicts: findings.filter((f) => f.severity === 'error').length,
            ...(hasLint ? { lint } : {}),
            ...(hasSecurity ? { auth: security.auth } : {}),
            ...(security.expiryDays !== undefined ? { expiryDays: security.expiryDays } : {}),
            ...(phase.value ? { phase: phase.value } : {}),
            ...(phase.note ? { phaseNote: phase.note } : {}),
            ...(doctor.diagnosis ? { errorbus: doctor.diagnosis } : {}),
            // An exporter counts while its agent's samples are fresh.
            exporters: Object.fromEntries(
              machines.map((m) => [
                m.id,
                isStale(resources.machines[m.id], now, intervalMs)
                  ? undefined
                  : resources.machines[m.id]?.sample.exporter,
              ]),
            ),
          })
        : [],
    [
      screen,
      resources,
      now,
      intervalMs,
      machines,
      health.agents,
      errors.counters,
      errors.publishers,
      canonical,
      findings,
      hasLint,
      lint,
      hasSecurity,
      security,
      phase,
      doctor.diagnosis,
    ],
  );
}

type Views = ReturnType<typeof useTables>;

/** The agent tables, the error rows, the fleet layout, the palette, the log and port rows. */
export function useTables(
  ui: UiState,
  s: Snapshots,
  f: { machines: readonly Machine[]; findings: PortCheck['findings']; entries: ActionEntry[] },
  width: number,
  bodyHeight: number,
) {
  const { machines, findings, entries } = f;
  const { health, errors, log } = s;
  const agentLists = useMemo(
    () => machines.map((m) => agentRows(m, health.agents, ui.filters.agents, ui.sort)),
    [machines, health, ui.filters.agents, ui.sort],
  );
  const errs = useMemo(
    () => errorRows(errors.rows, ui.filters.errors),
    [errors.rows, ui.filters.errors],
  );
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
  return { agentLists, errs, layout, palette, actionIds, shownLog, shownFindings };
}

/** The panes of the screen shown, for the keys: their rows and how many fit a page. */
export function usePanes(
  screen: UiState['screen'],
  t: Views,
  f: { machines: readonly Machine[]; entries: ActionEntry[]; score: ReturnType<typeof useScore> },
  bodyHeight: number,
): UiContext['panes'] {
  const { agentLists, errs, layout, shownFindings } = t;
  const { machines, entries, score } = f;
  return useMemo(() => {
    const errorPane = (page: number) => ({
      id: 'errors',
      // Made when a key reads them: the whole buffer's keys for every error notification were
      // ~13 of the 108 MB a 10 s Fleet frame window allocated (bench render).
      keys: lazyList(errs.length, (i) => String(errs[i]!.id)),
      page,
      agents: lazyList(errs.length, (i) => agentKey(errs[i]!.event.machine, errs[i]!.event.agent)),
    });
    switch (screen) {
      case 'fleet':
        return [
          ...machines.map((m, i) => ({
            id: `agents:${m.id}`,
            keys: agentLists[i]!.map((r) => r.key),
            page: layout.machines[i]!.visible,
          })),
          errorPane(layout.errors.visible),
        ];
      case 'errors':
        return [errorPane(bodyHeight - 12)];
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
  }, [screen, machines, agentLists, errs, shownFindings, score, entries, layout, bodyHeight]);
}
