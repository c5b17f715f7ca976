// The console's navigation state and its pure reducer: every key press becomes a new state plus,
// at most, one effect for the app to carry out (quit, open a row, run an action).
import { commandFor, type Command, type Screen } from './keymap.js';

// Every column of an agent row sorts: config order, worst state, name, port, protocol, slowest.
export type AgentSort = 'config' | 'state' | 'name' | 'port' | 'proto' | 'latency';
export const AGENT_SORTS: readonly AgentSort[] = [
  'config',
  'state',
  'name',
  'port',
  'proto',
  'latency',
];

export interface UiState {
  screen: Screen;
  sort: AgentSort;
  /** Where Esc from the agent detail returns to. */
  back: Screen;
  /** Focused pane on the current screen (index into ctx.panes). */
  pane: number;
  /** Selected row per list id. */
  cursor: Record<string, number>;
  /** machine/agent shown by the agent detail. */
  agent?: string;
  filters: Record<FilterKind, string>;
  editing?: 'filter' | 'palette';
  draft: string;
  /** Palette selection among its matches. */
  pick: number;
  help: boolean;
  /** The selected row of the current list shown in full (an error, a scorecard line). */
  detail: boolean;
  paused: boolean;
  /** First line of the open action's preview shown (long diffs scroll). */
  scroll: number;
  /** machine/agent whose log the log view shows, and where Esc returns from it. */
  logs?: string;
  logBack?: Screen;
  /** The log view follows new lines; paused, it holds still at `logAnchor` (items seen then). */
  logFollow: boolean;
  logAnchor?: number;
  /** Rows scrolled up from the bottom of the log view. */
  logScroll: number;
  logWrap: boolean;
  /** The agent acted on last (opened, its log shown): screen 5's restart / stop / start name it. */
  subject?: string;
  /** First Ctrl+C time: a second within QUIT_WINDOW_MS quits. */
  quitArmedAt?: number;
  notice?: string;
}

export const QUIT_WINDOW_MS = 2000;

export const initialUi = (screen: Screen = 'fleet', sort: AgentSort = 'config'): UiState => ({
  screen,
  sort,
  back: 'fleet',
  pane: 0,
  cursor: {},
  filters: { agents: '', errors: '', ports: '', logs: '' },
  draft: '',
  pick: 0,
  help: false,
  detail: false,
  paused: false,
  scroll: 0,
  logFollow: true,
  logScroll: 0,
  logWrap: false,
});

/** What the screen currently shows, so keys can act on it. */
export interface UiContext {
  /** Focusable lists on this screen, in Tab order, with their row keys (as shown, filtered). */
  panes: ReadonlyArray<{
    id: string;
    keys: readonly string[];
    page: number;
    /** The agent (machine/Agent) of each row, where rows are not agents themselves (errors). */
    agents?: readonly (string | undefined)[];
  }>;
  /** The log view: items received so far, rows it shows now (filtered), rows that fit. */
  log?: { total: number; rows: number; page: number };
  /** A modal owns the keys: the action confirmation, or an action's result waiting to be closed. */
  modal?: 'confirm' | 'result';
  /** The open action's preview: how many lines, and how many fit. */
  preview?: { lines: number; room: number };
  /** Palette entries: screens and actions, by name. */
  palette: ReadonlyArray<{ id: string; label: string }>;
  /** The Actions screen's rows (action ids, in order): the palette opens an action there. */
  actions?: readonly string[];
  now: number;
}

export type Effect =
  | { kind: 'exit' }
  | { kind: 'open'; list: string; key: string }
  | { kind: 'run'; id: string }
  | { kind: 'confirm' }
  | { kind: 'deny' };

export interface Step {
  state: UiState;
  effect?: Effect;
}

// How well one typed word names an entry: a whole word of its label beats the start of one,
// which beats text inside one (`level 2` must pick "level 2", not "level 0 ... PC2").
function wordScore(word: string, label: string, id: string): number {
  const words = label
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.includes(word)) return 3;
  if (words.some((w) => w.startsWith(word))) return 2;
  return label.toLowerCase().includes(word) || id.toLowerCase().includes(word) ? 1 : 0;
}

/** Entries matching every typed word, best first (ties keep their order). */
export const paletteMatches = (entries: UiContext['palette'], text: string) => {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const label = text.trim().toLowerCase();
  return entries
    .map((e, i) => {
      const scores = words.map((w) => wordScore(w, e.label, e.id));
      const exact =
        label !== '' && (e.label.toLowerCase() === label || e.id.toLowerCase() === label);
      return {
        e,
        i,
        ok: scores.every((n) => n > 0),
        score: (exact ? 100 : 0) + scores.reduce((a, b) => a + b, 0),
      };
    })
    .filter((m) => m.ok)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map((m) => m.e);
};

const clamp = (n: number, max: number) => Math.max(0, Math.min(n, Math.max(0, max - 1)));

function move(
  state: UiState,
  ctx: UiContext,
  by: (cur: number, len: number, page: number) => number,
): UiState {
  const pane = ctx.panes[state.pane];
  if (!pane) return state;
  const cur = state.cursor[pane.id] ?? 0;
  return {
    ...state,
    cursor: {
      ...state.cursor,
      [pane.id]: clamp(by(cur, pane.keys.length, pane.page), pane.keys.length),
    },
  };
}

function go(state: UiState, screen: Screen): UiState {
  const { agent: _agent, ...rest } = state;
  return {
    ...rest,
    screen,
    pane: 0,
    help: false,
    detail: false,
    notice: undefined,
    ...(screen === 'agent' && state.agent ? { agent: state.agent } : {}),
  };
}

/** Text entry for the filter and the palette: printable characters, backspace, ^U, ^W, enter, esc. */
function edit(state: UiState, name: string, input: string, ctx: UiContext): Step {
  const mode = state.editing!;
  if (name === 'esc') {
    const cleared =
      mode === 'filter' ? { filters: { ...state.filters, [filterKind(state, ctx)]: '' } } : {};
    return { state: { ...state, ...cleared, editing: undefined, draft: '' } };
  }
  if (name === 'enter') {
    if (mode === 'filter')
      return {
        state: {
          ...state,
          editing: undefined,
          filters: { ...state.filters, [filterKind(state, ctx)]: state.draft.trim() },
        },
      };
    const hit = paletteMatches(ctx.palette, state.draft)[state.pick];
    const closed = { ...state, editing: undefined, draft: '', pick: 0 };
    if (!hit) return { state: { ...closed, notice: `no command matches "${state.draft}"` } };
    if (hit.id.startsWith('screen:')) return { state: go(closed, hit.id.slice(7) as Screen) };
    // An action opens on its own screen, its row selected, so its preview is in view before
    // anything can confirm it (a preview behind another screen was confirmed blind).
    const id = hit.id.replace(/^action:/, '');
    const row = ctx.actions?.indexOf(id) ?? -1;
    const shown = go(closed, 'actions');
    return {
      state: row < 0 ? shown : { ...shown, cursor: { ...shown.cursor, actions: row } },
      effect: { kind: 'run', id: hit.id },
    };
  }
  if (mode === 'palette' && (name === 'up' || name === 'down')) {
    const n = paletteMatches(ctx.palette, state.draft).length;
    return { state: { ...state, pick: clamp(state.pick + (name === 'up' ? -1 : 1), n) } };
  }
  // The filter applies as you type; the palette narrows as you type.
  const typed = (draft: string): Step => ({
    state: {
      ...state,
      draft,
      pick: 0,
      ...(mode === 'filter'
        ? { filters: { ...state.filters, [filterKind(state, ctx)]: draft } }
        : {}),
    },
  });
  // By code points: an emoji is two UTF-16 units, and half of one is not text.
  if (name === 'backspace') return typed(Array.from(state.draft).slice(0, -1).join(''));
  // Readline's: Ctrl+U empties the line, Ctrl+W takes the last word (and the spaces after it).
  if (name === 'ctrl+u') return typed('');
  if (name === 'ctrl+w') return typed(state.draft.replace(/\S*\s*$/, ''));
  if (name === 'ctrl+c') return { state: { ...state, editing: undefined, draft: '' } };
  // One character (an emoji too: the key loop hands text on a code point at a time), never a
  // control (C0, DEL, or C1 such as U+009B, which some terminals take as CSI when drawn).
  if (Array.from(input).length === 1 && !/\p{Cc}/u.test(input) && !name.startsWith('ctrl+'))
    return typed(
      Array.from(state.draft + input)
        .slice(0, 120)
        .join(''),
    );
  return { state };
}

export type FilterKind = 'agents' | 'errors' | 'ports' | 'logs';

/** Which filter `/` edits: errors on the Errors screen or pane, findings on Ports, else agents. */
/** What each filter understands, for the footer while it is typed. */
export const FILTER_SYNTAX: Record<FilterKind, string> = {
  agents: 'agents: words in the name, group, state or protocol',
  errors: 'errors: machine: agent: sev: bus: and text',
  ports: 'ports: words in the port, owners or finding',
  logs: 'log: level:warn (and worse) and words',
};

export function filterKind(state: UiState, ctx: UiContext): FilterKind {
  if (state.screen === 'errors') return 'errors';
  if (state.screen === 'ports') return 'ports';
  if (state.screen === 'logs') return 'logs';
  const pane = ctx.panes[state.pane];
  return pane?.id === 'errors' ? 'errors' : 'agents';
}

/** A scroll key in a modal: the preview's first line moves, kept within its lines. */
function scroll(state: UiState, c: Command | undefined, ctx: UiContext): UiState | undefined {
  const by =
    c === 'scrollUp'
      ? -1
      : c === 'scrollDown'
        ? 1
        : c === 'scrollPageUp'
          ? -(ctx.preview?.room ?? 1)
          : c === 'scrollPageDown'
            ? (ctx.preview?.room ?? 1)
            : c === 'scrollTop'
              ? -Infinity
              : c === 'scrollBottom'
                ? Infinity
                : 0;
  if (by === 0) return undefined;
  const max = Math.max(0, (ctx.preview?.lines ?? 0) - (ctx.preview?.room ?? 0));
  const next = Math.max(0, Math.min(max, state.scroll + by));
  return next === state.scroll ? state : { ...state, scroll: next };
}

/** The agent the keys would act on: the log's, the detail's, the selected row's (or its error's). */
export function selectedAgent(state: UiState, ctx: UiContext): string | undefined {
  if (state.screen === 'logs') return state.logs;
  if (state.screen === 'agent') return state.agent;
  const pane = ctx.panes[state.pane];
  if (!pane) return undefined;
  const i = clamp(state.cursor[pane.id] ?? 0, pane.keys.length);
  if (pane.id.startsWith('agents:')) return pane.keys[i];
  return pane.agents?.[i];
}

/** Keys of the log view: scrolling pauses it, End (or p) follows again. */
function logKeys(
  state: UiState,
  command: Command | undefined,
  ctx: UiContext,
): UiState | undefined {
  const log = ctx.log ?? { total: 0, rows: 0, page: 1 };
  const max = Math.max(0, log.rows - log.page);
  const by =
    command === 'up'
      ? 1
      : command === 'down'
        ? -1
        : command === 'pageUp'
          ? log.page
          : command === 'pageDown'
            ? -log.page
            : command === 'top'
              ? Infinity
              : undefined;
  if (by !== undefined) {
    const held = state.logFollow ? { logFollow: false, logAnchor: log.total } : {};
    return { ...state, ...held, logScroll: Math.max(0, Math.min(max, state.logScroll + by)) };
  }
  if (command === 'bottom')
    return { ...state, logFollow: true, logAnchor: undefined, logScroll: 0 };
  if (command === 'pause')
    return state.logFollow
      ? { ...state, logFollow: false, logAnchor: log.total, notice: 'log paused: p or End follows' }
      : { ...state, logFollow: true, logAnchor: undefined, logScroll: 0 };
  if (command === 'wrap') return { ...state, logWrap: !state.logWrap };
  return undefined;
}

// Long: the key dispatch in priority order (help, text entry, modal, screen); split, the order that
// decides which layer takes a key would be spread over several functions.
export function reduce(state: UiState, name: string, input: string, ctx: UiContext): Step {
  // Priority: help overlay, text entry, confirmation modal, then the screen.
  if (state.help) {
    if (name === '?' || name === 'esc' || name === 'q')
      return { state: { ...state, help: false, scroll: 0 } };
    // A help longer than the terminal scrolls with the preview's keys (ctx.preview is its size).
    return { state: scroll(state, commandFor(name, ['confirm']), ctx) ?? state };
  }
  if (state.editing) return edit(state, name, input, ctx);
  if (ctx.modal) {
    const c = commandFor(name, ['confirm']);
    const scrolled = scroll(state, c, ctx);
    if (scrolled) return { state: scrolled };
    const closed = state.scroll === 0 ? state : { ...state, scroll: 0 };
    if (ctx.modal === 'confirm') {
      if (c === 'confirm') return { state, effect: { kind: 'confirm' } };
      if (c === 'deny' || name === 'ctrl+c') return { state: closed, effect: { kind: 'deny' } };
      return { state };
    }
    if (name === 'esc' || name === 'enter' || name === 'q')
      return { state: closed, effect: { kind: 'deny' } };
    return { state };
  }
  const command: Command | undefined = commandFor(name, ['list', 'global']);
  const armed = state.quitArmedAt !== undefined && ctx.now - state.quitArmedAt <= QUIT_WINDOW_MS;
  const base: UiState =
    command === 'interrupt' ? state : { ...state, quitArmedAt: undefined, notice: undefined };
  if (state.screen === 'logs') {
    const logged = logKeys(base, command, ctx);
    if (logged) return { state: logged };
  }
  switch (command) {
    case 'logs': {
      if (base.screen === 'logs') return { state: base };
      const key = selectedAgent(base, ctx);
      if (!key || key.startsWith('any/'))
        return { state: { ...base, notice: 'l: select an agent (or an error of one) first' } };
      return {
        state: {
          ...go(base, 'logs'),
          ...(base.agent ? { agent: base.agent } : {}),
          logs: key,
          logBack: base.screen,
          subject: key,
          logFollow: true,
          logAnchor: undefined,
          logScroll: 0,
          filters: { ...base.filters, logs: '' },
        },
      };
    }
    case 'restart': {
      const key = selectedAgent(base, ctx);
      if (!key || key.startsWith('any/'))
        return { state: { ...base, notice: 'R: select an agent (or an error of one) first' } };
      const shown = go(base, 'actions');
      // Its three rows head screen 5 (restart first), so its preview is in view.
      return {
        state: { ...shown, subject: key, cursor: { ...shown.cursor, actions: 0 } },
        effect: { kind: 'run', id: `action:agent.restart:${key}` },
      };
    }
    case 'wrap':
      return { state: base };
    case undefined:
      return { state };
    case 'interrupt':
      if (armed) return { state, effect: { kind: 'exit' } };
      return { state: { ...state, quitArmedAt: ctx.now, notice: 'press Ctrl+C again to quit' } };
    case 'quit':
      return { state: base, effect: { kind: 'exit' } };
    case 'help':
      return { state: { ...base, help: true, scroll: 0 } };
    case 'palette':
      return { state: { ...base, editing: 'palette', draft: '', pick: 0 } };
    case 'filter': {
      const kind = filterKind(base, ctx);
      return { state: { ...base, editing: 'filter', draft: base.filters[kind] } };
    }
    case 'pause':
      return { state: { ...base, paused: !base.paused } };
    case 'sort':
      return {
        state: {
          ...base,
          sort: AGENT_SORTS[(AGENT_SORTS.indexOf(base.sort) + 1) % AGENT_SORTS.length]!,
          notice: `agents sorted by ${AGENT_SORTS[(AGENT_SORTS.indexOf(base.sort) + 1) % AGENT_SORTS.length]}`,
        },
      };
    case 'back': {
      // Innermost first: an open detail, then the agent view, the filter, the screen.
      if (base.detail) return { state: { ...base, detail: false } };
      if (base.screen === 'logs' && !base.filters.logs) {
        const back = base.logBack ?? 'fleet';
        const { logs: _logs, ...rest } = base;
        return {
          state: {
            ...go(rest, back),
            ...(back === 'agent' && base.agent ? { agent: base.agent } : {}),
          },
        };
      }
      if (base.screen === 'agent') return { state: go(base, base.back) };
      const kind = filterKind(base, ctx);
      if (base.filters[kind])
        return { state: { ...base, filters: { ...base.filters, [kind]: '' } } };
      if (base.screen !== 'fleet') return { state: go(base, 'fleet') };
      return { state: base };
    }
    case 'nextPane':
    case 'prevPane': {
      const n = ctx.panes.length;
      if (n === 0) return { state: base };
      return { state: { ...base, pane: (base.pane + (command === 'nextPane' ? 1 : n - 1)) % n } };
    }
    case 'up':
      return { state: move(base, ctx, (c) => c - 1) };
    case 'down':
      return { state: move(base, ctx, (c) => c + 1) };
    case 'pageUp':
      return { state: move(base, ctx, (c, _l, p) => c - p) };
    case 'pageDown':
      return { state: move(base, ctx, (c, _l, p) => c + p) };
    case 'top':
      return { state: move(base, ctx, () => 0) };
    case 'bottom':
      return { state: move(base, ctx, (_c, l) => l - 1) };
    case 'open': {
      const pane = ctx.panes[base.pane];
      const key = pane?.keys[clamp(base.cursor[pane.id] ?? 0, pane.keys.length)];
      if (!pane || key === undefined) return { state: base };
      if (pane.id.startsWith('agents:'))
        return { state: { ...go(base, 'agent'), agent: key, back: base.screen, subject: key } };
      // Rows whose full text does not fit a line open in place: Esc closes them.
      if ((pane.id === 'errors' && base.screen === 'errors') || pane.id === 'scorecard')
        return { state: { ...base, detail: true } };
      return { state: base, effect: { kind: 'open', list: pane.id, key } };
    }
    default:
      if (command.startsWith('screen:')) {
        return { state: go(base, command.slice(7) as Screen) };
      }
      return { state: base };
  }
}

/** Where a mouse event landed: a pane's row (`row` undefined: its header or border), or nowhere. */
export interface Pointed {
  pane?: string;
  row?: number;
}

/**
 * The wheel and the left button, on what the screen shows. The wheel moves the selection of the
 * pane under the pointer (the focused one when it is over none), or scrolls an open preview; a
 * click focuses the pane and selects the row, and a click on the row already selected opens it,
 * as Enter does. Nothing happens while a text entry is open; over the help or a confirmation the
 * wheel scrolls it.
 */
export function reduceMouse(
  state: UiState,
  event: { kind: 'wheel'; delta: number } | { kind: 'click' },
  at: Pointed,
  ctx: UiContext,
): Step {
  if (state.editing) return { state };
  // Over the help, a confirmation or an agent's log the wheel scrolls it (in the log, as ↑↓
  // do: scrolling pauses the follow); a click does nothing.
  if (state.help || ctx.modal || state.screen === 'logs') {
    if (event.kind !== 'wheel') return { state };
    let s = state;
    for (let i = 0; i < Math.abs(event.delta); i++)
      s = reduce(s, event.delta > 0 ? 'down' : 'up', '', ctx).state;
    return { state: s };
  }
  const index = at.pane === undefined ? -1 : ctx.panes.findIndex((p) => p.id === at.pane);
  const focused = index >= 0 ? { ...state, pane: index } : state;
  if (event.kind === 'wheel') return { state: move(focused, ctx, (c) => c + event.delta) };
  if (index < 0 || at.row === undefined) return { state: focused };
  const pane = ctx.panes[index]!;
  if (at.row >= pane.keys.length) return { state: focused };
  if (state.pane === index && (state.cursor[pane.id] ?? 0) === at.row)
    return reduce(focused, 'enter', '\r', ctx);
  return { state: { ...focused, cursor: { ...focused.cursor, [pane.id]: at.row } } };
}
