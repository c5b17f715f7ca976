// The one keymap: it drives the key handler, the `?` overlay and the README's key list.
// Keys route by mode (modals first), then by screen; nothing else listens to the keyboard.

export const SCREENS = ['fleet', 'ports', 'errors', 'scorecard', 'actions'] as const;
export type Screen = (typeof SCREENS)[number] | 'agent' | 'logs';

export const SCREEN_TITLES: Record<Screen, string> = {
  fleet: 'Fleet',
  ports: 'Ports',
  errors: 'Errors',
  scorecard: 'Plan scorecard',
  actions: 'Actions',
  agent: 'Agent',
  logs: 'Log',
};

export type Command =
  | 'quit'
  | 'interrupt'
  | 'help'
  | 'palette'
  | 'filter'
  | 'back'
  | 'open'
  | 'up'
  | 'down'
  | 'pageUp'
  | 'pageDown'
  | 'top'
  | 'bottom'
  | 'nextPane'
  | 'prevPane'
  | 'pause'
  | 'sort'
  | 'confirm'
  | 'deny'
  | 'scrollUp'
  | 'scrollDown'
  | 'scrollPageUp'
  | 'scrollPageDown'
  | 'scrollTop'
  | 'scrollBottom'
  | 'logs'
  | 'wrap'
  | 'restart'
  | `screen:${(typeof SCREENS)[number]}`;

/** Where a binding applies; `global` everywhere a modal does not hold the keys. */
export type Scope = 'global' | 'list' | 'confirm';

export interface KeyBinding {
  command: Command;
  keys: readonly string[];
  scope: Scope;
  help: string;
}

export const KEYMAP: readonly KeyBinding[] = [
  {
    command: 'screen:fleet',
    keys: ['1'],
    scope: 'global',
    help: 'Fleet: both machines side by side',
  },
  {
    command: 'screen:ports',
    keys: ['2'],
    scope: 'global',
    help: 'Ports: the port matrix and its conflicts',
  },
  {
    command: 'screen:errors',
    keys: ['3'],
    scope: 'global',
    help: 'Errors: the merged error stream, full screen',
  },
  {
    command: 'screen:scorecard',
    keys: ['4'],
    scope: 'global',
    help: 'Plan scorecard: the action plan measured live',
  },
  {
    command: 'screen:actions',
    keys: ['5'],
    scope: 'global',
    help: 'Actions: phases, throttle, certs, migrate',
  },
  { command: 'nextPane', keys: ['tab'], scope: 'global', help: 'next pane' },
  { command: 'prevPane', keys: ['shift+tab'], scope: 'global', help: 'previous pane' },
  { command: 'up', keys: ['up', 'k'], scope: 'list', help: 'move up' },
  { command: 'down', keys: ['down', 'j'], scope: 'list', help: 'move down' },
  { command: 'pageUp', keys: ['pageup', 'ctrl+u'], scope: 'list', help: 'page up' },
  { command: 'pageDown', keys: ['pagedown', 'ctrl+d'], scope: 'list', help: 'page down' },
  { command: 'top', keys: ['home', 'g'], scope: 'list', help: 'first row' },
  { command: 'bottom', keys: ['end', 'G'], scope: 'list', help: 'last row' },
  {
    command: 'open',
    keys: ['enter'],
    scope: 'list',
    help: 'open the selected agent, error, scorecard line or action (its preview)',
  },
  { command: 'back', keys: ['esc'], scope: 'global', help: 'back / close / clear the filter' },
  {
    command: 'filter',
    keys: ['/'],
    scope: 'global',
    help: 'filter the focused list: agents, ports, errors (machine:, agent:, sev:, bus: and text)',
  },
  {
    command: 'palette',
    keys: [':'],
    scope: 'global',
    help: 'command palette: every screen and action by name',
  },
  {
    command: 'logs',
    keys: ['l'],
    scope: 'global',
    help: "the selected agent's log, full screen and live (an agent row, its detail, an error's agent)",
  },
  {
    command: 'restart',
    keys: ['R'],
    scope: 'global',
    help: 'restart the selected agent: its preview on screen 5 (stop and start are there too)',
  },
  {
    command: 'pause',
    keys: ['p'],
    scope: 'global',
    help: 'pause / follow the error stream or the log (scrolling a log pauses it; End follows)',
  },
  { command: 'wrap', keys: ['w'], scope: 'global', help: 'log view: wrap long lines / cut them' },
  {
    command: 'sort',
    keys: ['s'],
    scope: 'global',
    help: 'sort agents: config order, worst state, name, port, protocol, slowest',
  },
  { command: 'help', keys: ['?'], scope: 'global', help: 'this help' },
  {
    command: 'confirm',
    keys: ['y'],
    scope: 'confirm',
    help: 'confirm the action shown, on the target shown',
  },
  { command: 'deny', keys: ['n', 'esc'], scope: 'confirm', help: 'cancel the action' },
  {
    command: 'scrollUp',
    keys: ['up', 'k'],
    scope: 'confirm',
    help: 'scroll the action preview up',
  },
  {
    command: 'scrollDown',
    keys: ['down', 'j'],
    scope: 'confirm',
    help: 'scroll the action preview down',
  },
  {
    command: 'scrollPageUp',
    keys: ['pageup', 'ctrl+u'],
    scope: 'confirm',
    help: 'scroll the action preview a page up',
  },
  {
    command: 'scrollPageDown',
    keys: ['pagedown', 'ctrl+d'],
    scope: 'confirm',
    help: 'scroll the action preview a page down',
  },
  {
    command: 'scrollTop',
    keys: ['home', 'g'],
    scope: 'confirm',
    help: "the action preview's first line",
  },
  {
    command: 'scrollBottom',
    keys: ['end', 'G'],
    scope: 'confirm',
    help: "the action preview's last line",
  },
  { command: 'quit', keys: ['q'], scope: 'global', help: 'quit' },
  { command: 'interrupt', keys: ['ctrl+c'], scope: 'global', help: 'quit (press twice)' },
];

/** What ink's useInput hands us, reduced to what the keymap needs. */
export interface KeyEvent {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
  shift?: boolean;
  ctrl?: boolean;
  meta?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

/** A stable name for a key press: `tab`, `shift+tab`, `ctrl+c`, `up`, `j`, `G`, `/`. */
export function keyName(input: string, key: KeyEvent): string {
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pageup';
  if (key.pageDown) return 'pagedown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.return) return 'enter';
  if (key.escape) return 'esc';
  if (key.tab) return key.shift ? 'shift+tab' : 'tab';
  if (key.backspace || key.delete) return 'backspace';
  if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`;
  return input;
}

export function commandFor(name: string, scopes: readonly Scope[]): Command | undefined {
  for (const scope of scopes) {
    const hit = KEYMAP.find((b) => b.scope === scope && b.keys.includes(name));
    if (hit) return hit.command;
  }
  return undefined;
}

/** The mouse (on unless --no-mouse): listed with the keys in the help and the README. */
export const MOUSE_BINDINGS: ReadonlyArray<{ keys: readonly string[]; help: string }> = [
  {
    keys: ['wheel'],
    help: 'move the selection of the pane under the pointer; scroll an open action preview',
  },
  {
    keys: ['click'],
    help: 'focus the pane and select the row; a click on the selected row opens it (as Enter)',
  },
];

/** The key list as a Markdown table, for the README (`npx tsx scripts/readme-keys.ts` writes it). */
export function keyTable(): string {
  const rows = [...KEYMAP, ...MOUSE_BINDINGS].map(
    (b) => `| ${b.keys.map((k) => `\`${k}\``).join(' / ')} | ${b.help} |`,
  );
  return ['| keys | what it does |', '|---|---|', ...rows].join('\n');
}

/** What holds the keys right now: the footer shows that context's keys, nothing else. */
export type Focus =
  | 'palette'
  | 'filter'
  | 'confirm'
  | 'result'
  | 'help'
  | 'detail'
  | 'agents'
  | 'errors'
  | 'ports'
  | 'scorecard'
  | 'actions'
  | 'agent'
  | 'logs';

// Each context's keys, most useful first (the footer drops from the end when narrow, but
// always keeps help and quit). Keys shown are the keymap's own first keys for the command.
const FOOTER: Record<Focus, ReadonlyArray<Command | readonly [string, string]>> = {
  palette: [
    ['type', 'narrow'],
    ['↑↓', 'pick'],
    ['Enter', 'open'],
    ['Esc', 'close'],
    ['^U/^W', 'erase line/word'],
  ],
  filter: [
    ['type', 'filter as you go'],
    ['Enter', 'keep'],
    ['Esc', 'clear'],
    ['^U/^W', 'erase line/word'],
  ],
  confirm: ['confirm', 'deny', 'scrollDown', 'scrollPageDown', 'scrollBottom'],
  result: [['Esc/Enter', 'close']],
  help: [['? Esc q', 'close']],
  detail: [['Esc', 'close'], 'up', 'down'],
  agents: ['open', 'logs', 'filter', 'sort', 'nextPane', 'palette', 'screen:actions'],
  errors: ['open', 'logs', 'filter', 'pause', 'nextPane', 'bottom', 'palette'],
  ports: ['filter', 'down', 'palette'],
  scorecard: ['open', 'down', 'palette'],
  actions: ['open', 'down', 'palette'],
  agent: ['back', 'logs', 'restart', 'palette'],
  logs: ['back', 'pause', 'filter', 'wrap', 'bottom', 'restart'],
};

const SHORT: Partial<Record<Command, string>> = {
  open: 'open',
  filter: 'filter',
  sort: 'sort',
  nextPane: 'pane',
  palette: 'palette',
  pause: 'pause',
  bottom: 'newest',
  down: 'move',
  up: 'move',
  back: 'back',
  confirm: 'run it',
  deny: 'cancel',
  scrollDown: 'scroll',
  scrollPageDown: 'page',
  scrollBottom: 'end',
  'screen:actions': 'actions',
  logs: 'log',
  wrap: 'wrap',
  restart: 'restart',
  help: 'help',
  quit: 'quit',
};

const KEY_LOOK: Record<string, string> = {
  enter: 'Enter',
  esc: 'Esc',
  tab: 'Tab',
  down: '↓',
  up: '↑',
  pagedown: 'PgDn',
  end: 'End',
};

/** The footer's `key what` pairs for a focus, from the keymap; help and quit always last. */
export function footerHints(focus: Focus): Array<readonly [string, string]> {
  const hint = (c: Command, scope?: Scope): readonly [string, string] => {
    const b = KEYMAP.find((k) => k.command === c && (!scope || k.scope === scope))!;
    return [b.keys.map((k) => KEY_LOOK[k] ?? k).join('/'), SHORT[c] ?? c];
  };
  const modal = focus === 'confirm';
  const own = FOOTER[focus].map((e) => (typeof e === 'string' ? hint(e) : e));
  if (modal || focus === 'palette' || focus === 'filter' || focus === 'help' || focus === 'result')
    return own;
  return [...own, hint('help'), hint('quit')];
}
