// The keymap reducer, table-driven: one state and key sequence in, one state and effect out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { commandFor, KEYMAP, keyName, keyTable } from '../../source/core/ui/keymap.js';
import { fitHints } from '../../source/components/overlays.js';
import { footerHints } from '../../source/core/ui/keymap.js';
import {
  initialUi,
  paletteMatches,
  QUIT_WINDOW_MS,
  reduce,
  type Effect,
  type UiContext,
  type UiState,
} from '../../source/core/ui/state.js';

const ctx = (over: Partial<UiContext> = {}): UiContext => ({
  panes: [
    { id: 'agents:mainpc', keys: ['mainpc/A', 'mainpc/B', 'mainpc/C'], page: 2 },
    { id: 'agents:pc2', keys: ['pc2/X'], page: 2 },
    { id: 'errors', keys: ['1', '2'], page: 2 },
  ],
  palette: [
    { id: 'screen:ports', label: 'go to Ports' },
    { id: 'action:certs.generate', label: 'Generate certs, keys and tokens' },
  ],
  actions: ['throttle.pc2.0', 'certs.generate'],
  now: 10_000,
  ...over,
});

function press(
  keys: string[],
  state: UiState = initialUi(),
  c: UiContext = ctx(),
): { state: UiState; effects: Effect[] } {
  const effects: Effect[] = [];
  for (const k of keys) {
    const step = reduce(state, k, k.length === 1 ? k : '', c);
    state = step.state;
    if (step.effect) effects.push(step.effect);
  }
  return { state, effects };
}

describe('palette ranking', () => {
  const entries = [0, 1, 2, 3].map((n) => ({
    id: `action:throttle.pc2.${n}`,
    label: `Throttle PC2: level ${n} ${['off', 'soft', 'firm', 'hard'][n]}`,
  }));
  test('a whole word beats a word inside another (2 is level 2, not the 2 of PC2)', () =>
    assert.equal(paletteMatches(entries, 'level 2')[0]!.id, 'action:throttle.pc2.2'));
  test('a word start beats text inside a word', () =>
    assert.equal(paletteMatches(entries, 'fi')[0]!.id, 'action:throttle.pc2.2'));
  test('every word must match; ties keep their order', () => {
    assert.deepEqual(paletteMatches(entries, 'level zz'), []);
    assert.deepEqual(
      paletteMatches(entries, 'throttle').map((e) => e.id),
      entries.map((e) => e.id),
    );
  });
  test('an exact label wins outright', () =>
    assert.equal(
      paletteMatches(
        [
          { id: 'a', label: 'go to Ports x' },
          { id: 'b', label: 'ports' },
        ],
        'ports',
      )[0]!.id,
      'b',
    ));
});

describe('footer', () => {
  test('each focus shows its own keys; narrow drops its own last, never help or quit', () => {
    assert.match(fitHints(footerHints('agents'), 200), /^Enter open · l log · \/ filter · s sort/);
    assert.match(fitHints(footerHints('confirm'), 200), /^y run it · n\/Esc cancel/);
    assert.match(fitHints(footerHints('palette'), 200), /Enter open · Esc close/);
    const narrow = fitHints(footerHints('errors'), 40);
    assert.ok(narrow.length <= 40, narrow);
    assert.match(narrow, /\? help · q quit$/);
  });
});

describe('key names', () => {
  const table: Array<[string, Parameters<typeof keyName>[1], string]> = [
    ['', { upArrow: true }, 'up'],
    ['', { tab: true, shift: true }, 'shift+tab'],
    ['c', { ctrl: true }, 'ctrl+c'],
    ['', { return: true }, 'enter'],
    ['', { escape: true }, 'esc'],
    ['G', {}, 'G'],
    ['/', {}, '/'],
  ];
  for (const [input, key, want] of table) test(want, () => assert.equal(keyName(input, key), want));
  test('bindings resolve by scope', () => {
    assert.equal(commandFor('j', ['list', 'global']), 'down');
    assert.equal(
      commandFor('y', ['list', 'global']),
      undefined,
      'y means something only in a confirmation',
    );
    assert.equal(commandFor('y', ['confirm']), 'confirm');
  });
  test('no key is bound twice in one scope', () => {
    const seen = new Set<string>();
    for (const b of KEYMAP)
      for (const k of b.keys) {
        const id = `${b.scope}:${k}`;
        assert.ok(!seen.has(id), `${id} bound twice`);
        seen.add(id);
      }
  });
  test('the README key table comes from the keymap', () => {
    const t = keyTable();
    for (const b of KEYMAP) assert.ok(t.includes(b.help), b.help);
  });
});

describe('reducer', () => {
  const cases: Array<[string, string[], (s: UiState, e: Effect[]) => void]> = [
    [
      'j moves down, k up, bounded',
      ['j', 'j', 'j', 'j', 'k'],
      (s) => assert.equal(s.cursor['agents:mainpc'], 1),
    ],
    [
      'G goes to the last row, g to the first',
      ['G'],
      (s) => assert.equal(s.cursor['agents:mainpc'], 2),
    ],
    ['page down moves by a page', ['pagedown'], (s) => assert.equal(s.cursor['agents:mainpc'], 2)],
    [
      'Tab cycles panes, shift+Tab back',
      ['tab', 'tab', 'tab', 'shift+tab'],
      (s) => assert.equal(s.pane, 2),
    ],
    [
      'Enter on an agent opens its detail; Esc returns',
      ['j', 'enter'],
      (s) => assert.deepEqual([s.screen, s.agent, s.back], ['agent', 'mainpc/B', 'fleet']),
    ],
    ['Esc from the detail goes back', ['enter', 'esc'], (s) => assert.equal(s.screen, 'fleet')],
    [
      'Enter on an error asks the app to open it',
      ['tab', 'tab', 'j', 'enter'],
      (_s, e) => assert.deepEqual(e, [{ kind: 'open', list: 'errors', key: '2' }]),
    ],
    ['number keys switch screens', ['3'], (s) => assert.equal(s.screen, 'errors')],
    ['q quits at once', ['q'], (_s, e) => assert.deepEqual(e, [{ kind: 'exit' }])],
    [
      'one Ctrl+C only warns',
      ['ctrl+c'],
      (s, e) => assert.deepEqual([e.length, s.notice], [0, 'press Ctrl+C again to quit']),
    ],
    ['two Ctrl+C quit', ['ctrl+c', 'ctrl+c'], (_s, e) => assert.deepEqual(e, [{ kind: 'exit' }])],
    [
      'a key between two Ctrl+C disarms',
      ['ctrl+c', 'j', 'ctrl+c'],
      (_s, e) => assert.equal(e.length, 0),
    ],
    [
      '? opens help; any of ? Esc q closes it without quitting',
      ['?', 'q'],
      (s, e) => assert.deepEqual([s.help, e.length], [false, 0]),
    ],
    [
      'keys do nothing else while help is open',
      ['?', 'j', '3'],
      (s) =>
        assert.deepEqual([s.help, s.screen, s.cursor['agents:mainpc']], [true, 'fleet', undefined]),
    ],
    ['p toggles pause', ['p'], (s) => assert.equal(s.paused, true)],
    [
      's cycles the agent sort: config, state, name',
      ['s', 's'],
      (s) => assert.deepEqual([s.sort, s.notice], ['name', 'agents sorted by name']),
    ],
    [
      '/ on an agent pane filters agents as you type',
      ['/', 'n', 'l', 'u'],
      (s) => assert.deepEqual([s.editing, s.filters.agents], ['filter', 'nlu']),
    ],
    [
      'Enter keeps the filter; Esc then clears it',
      ['/', 'x', 'enter', 'esc'],
      (s) => assert.deepEqual([s.editing, s.filters.agents], [undefined, '']),
    ],
    [
      '/ on the errors pane filters errors',
      ['tab', 'tab', '/', 's', 'e', 'v', ':', 'e', 'enter'],
      (s) => assert.deepEqual([s.filters.errors, s.filters.agents], ['sev:e', '']),
    ],
    [
      'backspace edits the filter',
      ['/', 'a', 'b', 'backspace'],
      (s) => assert.equal(s.filters.agents, 'a'),
    ],
    [
      'Ctrl+W takes the last word of the filter',
      ['/', 'a', 'b', ' ', 'c', 'd', 'ctrl+w'],
      (s) => assert.equal(s.filters.agents, 'ab '),
    ],
    [
      'Ctrl+U empties the filter (not page up) and it stays open',
      ['/', 'a', 'b', 'ctrl+u'],
      (s) => assert.deepEqual([s.editing, s.filters.agents], ['filter', '']),
    ],
    [
      'Ctrl+U empties the palette line (not page up)',
      [':', 'c', 'e', 'r', 't', 'ctrl+u'],
      (s) => assert.deepEqual([s.editing, s.draft, s.screen], ['palette', '', 'fleet']),
    ],
    [
      'q while typing a filter is text, not quit',
      ['/', 'q'],
      (s, e) => assert.deepEqual([s.filters.agents, e.length], ['q', 0]),
    ],
    [
      ': then text then Enter opens the action on screen 5, its row selected, and starts its preview',
      [':', 'c', 'e', 'r', 't', 'enter'],
      (s, e) =>
        assert.deepEqual(
          [s.editing, s.screen, s.cursor.actions, e],
          [undefined, 'actions', 1, [{ kind: 'run', id: 'action:certs.generate' }]],
        ),
    ],
    [
      'Enter on the Errors screen opens the event in full; Esc closes it and stays',
      ['3', 'enter', 'esc'],
      (s) => assert.deepEqual([s.screen, s.detail], ['errors', false]),
    ],
    [
      'a second Esc then leaves the Errors screen',
      ['3', 'enter', 'esc', 'esc'],
      (s) => assert.equal(s.screen, 'fleet'),
    ],
    [
      '/ on Ports filters the findings',
      ['2', '/', '7', '1', '5', '0', 'enter'],
      (s) => assert.deepEqual([s.filters.ports, s.filters.agents], ['7150', '']),
    ],
    [
      ': reaches screens by name',
      [':', 'p', 'o', 'r', 't', 'enter'],
      (s) => assert.equal(s.screen, 'ports'),
    ],
    [
      ': with no match says so',
      [':', 'z', 'z', 'enter'],
      (s) => assert.equal(s.notice, 'no command matches "zz"'),
    ],
  ];
  for (const [name, keys, check] of cases) {
    test(name, () => {
      const r = press(keys);
      check(r.state, r.effects);
    });
  }

  test('a filter takes any character, an emoji too, but no control; backspace takes a whole one', () => {
    let s = reduce(initialUi(), '/', '/', ctx()).state;
    for (const ch of ['ñ', '🚀', '中', '\u009b', '\u0007', 'x']) s = reduce(s, ch, ch, ctx()).state;
    assert.equal(s.filters.agents, 'ñ🚀中x');
    s = reduce(s, 'backspace', '', ctx()).state;
    s = reduce(s, 'backspace', '', ctx()).state;
    assert.equal(s.filters.agents, 'ñ🚀');
    s = reduce(s, 'backspace', '', ctx()).state;
    assert.equal(s.filters.agents, 'ñ');
  });

  test('the second Ctrl+C must come within the window', () => {
    let s = reduce(initialUi(), 'ctrl+c', '', ctx({ now: 0 })).state;
    const late = reduce(s, 'ctrl+c', '', ctx({ now: QUIT_WINDOW_MS + 1 }));
    assert.equal(late.effect, undefined);
    s = late.state;
    assert.deepEqual(reduce(s, 'ctrl+c', '', ctx({ now: QUIT_WINDOW_MS + 500 })).effect, {
      kind: 'exit',
    });
  });

  test('a confirmation modal takes every key: y confirms, n / Esc / Ctrl+C cancel, others ignored', () => {
    const modal = ctx({ modal: 'confirm' });
    assert.deepEqual(reduce(initialUi(), 'y', 'y', modal).effect, { kind: 'confirm' });
    assert.deepEqual(reduce(initialUi(), 'n', 'n', modal).effect, { kind: 'deny' });
    assert.deepEqual(reduce(initialUi(), 'esc', '', modal).effect, { kind: 'deny' });
    assert.deepEqual(reduce(initialUi(), 'ctrl+c', '', modal).effect, { kind: 'deny' });
    const q = reduce(initialUi(), 'q', 'q', modal);
    assert.equal(q.effect, undefined, 'q does not quit past an open confirmation');
    assert.equal(reduce(initialUi(), '3', '3', modal).state.screen, 'fleet');
  });

  test('a long preview scrolls inside the modal: a line, a page, kept within its lines; closing starts the next at the top', () => {
    const modal = ctx({ modal: 'confirm', preview: { lines: 30, room: 10 } });
    const keys = (state: ReturnType<typeof initialUi>, ...names: string[]) =>
      names.reduce((s, n) => reduce(s, n, n.length === 1 ? n : '', modal).state, state);
    assert.equal(keys(initialUi(), 'down', 'j').scroll, 2);
    assert.equal(keys(initialUi(), 'pagedown').scroll, 10);
    assert.equal(
      keys(initialUi(), 'pagedown', 'pagedown', 'pagedown', 'j').scroll,
      20,
      'stops where the last line is shown',
    );
    assert.equal(keys(initialUi(), 'up', 'k', 'pageup').scroll, 0);
    const scrolled = keys(initialUi(), 'pagedown');
    assert.equal(
      reduce(scrolled, 'y', 'y', modal).effect?.kind,
      'confirm',
      'y still confirms after scrolling',
    );
    const denied = reduce(scrolled, 'esc', '', modal);
    assert.deepEqual([denied.effect, denied.state.scroll], [{ kind: 'deny' }, 0]);
    const short = ctx({ modal: 'confirm', preview: { lines: 4, room: 10 } });
    assert.equal(reduce(initialUi(), 'down', '', short).state.scroll, 0, 'nothing to scroll');
  });

  test('End and Home reach the last and first lines of a preview', () => {
    const modal = ctx({ modal: 'confirm', preview: { lines: 30, room: 10 } });
    const end = reduce(initialUi(), 'end', '', modal).state;
    assert.equal(end.scroll, 20);
    assert.equal(reduce(end, 'G', 'G', modal).state.scroll, 20);
    assert.equal(reduce(end, 'home', '', modal).state.scroll, 0);
    assert.equal(reduce(end, 'g', 'g', modal).state.scroll, 0);
  });

  test('a result waiting to be read closes with Esc or Enter', () => {
    const modal = ctx({ modal: 'result' });
    assert.deepEqual(reduce(initialUi(), 'esc', '', modal).effect, { kind: 'deny' });
    assert.equal(reduce(initialUi(), 'j', 'j', modal).effect, undefined);
  });
});
