// App's one keyboard handler: every chunk of input goes through the mouse reader, then each key
// through the keymap reducer (core/ui/state.ts), and each effect the reducer asks for is carried
// out here (run an action, confirm, exit). The handler is registered once per render and reads
// the latest frame's state through a ref, so keys typed faster than a frame see each other.
import { useApp, useInput, type Key } from 'ink';
import { useRef, type RefObject } from 'react';
import type { ActionCatalog, ActionEntry } from '../core/ui/actions.js';
import type { LifecycleVerb } from '../core/fleet/lifecycle.js';
import { keyName, type KeyEvent } from '../core/ui/keymap.js';
import { joinMouse, parseMouse, WHEEL_ROWS } from '../core/ui/mouse.js';
import {
  reduce,
  reduceMouse,
  type Effect,
  type UiContext,
  type UiState,
} from '../core/ui/state.js';
import type { HitMap } from '../components/hit-map.js';
import type { ActionRunner, RunnerSnapshot } from '../stores/action-runner.js';
import { agentEntries } from './views.js';

/** What the last frame showed, for the handler. */
export interface Latest {
  ui: UiState;
  panes: UiContext['panes'];
  palette: UiContext['palette'];
  actionIds: UiContext['actions'];
  run: RunnerSnapshot;
  preview: UiContext['preview'];
  entries: ActionEntry[];
  logCtx: UiContext['log'];
}

/** What the handler acts on. */
export interface KeyTargets {
  runner: ActionRunner;
  actions: ActionCatalog;
  onExit(): void;
}

interface Loop {
  p: KeyTargets;
  latest: RefObject<Latest>;
  dispatch: (ui: UiState) => void;
  hits: HitMap;
  exit: () => void;
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

/** The action flow holds the keys only where it is drawn: on screen 5, nothing over it. */
export function modalOf(run: RunnerSnapshot, ui: UiState): UiContext['modal'] {
  if (ui.screen !== 'actions' || ui.help || ui.editing) return undefined;
  const step = run.step?.phase;
  if (step === 'confirm') return 'confirm';
  return step === 'done' || step === 'failed' || step === 'blocked' ? 'result' : undefined;
}

/** What the screen shows, for the reducer: one place for keys and the mouse. */
function contextOf(cur: Latest, ui: UiState): UiContext {
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
}

/** A new UI state, seen by the next key at once and drawn by the next frame. */
function show(loop: Loop, ui: UiState): void {
  loop.latest.current = { ...loop.latest.current, ui };
  loop.dispatch(ui);
}

/** The action an id names, if it can run now. */
function actionOf(p: KeyTargets, entries: readonly ActionEntry[], id: string) {
  const agent = /^agent\.(restart|stop|start):(.+)$/.exec(id);
  // An agent action asked for by R names its agent: its rows may not be drawn yet.
  const entry = agent
    ? agentEntries(agent[2], p.actions).find((a) => a.id === id)
    : entries.find((a) => a.id === id);
  const action =
    entry && !entry.unavailable
      ? agent
        ? p.actions.agent?.(agent[1] as LifecycleVerb, agent[2]!)
        : p.actions.make(id)
      : undefined;
  return { entry, action };
}

// Both entry points (a row on screen 5, the palette) land here, on screen 5: the reducer has
// already moved there, so the preview is what the operator sees next.
function start(loop: Loop, id: string): void {
  const { entry, action } = actionOf(loop.p, loop.latest.current.entries, id);
  if (action) {
    void loop.p.runner.start(action);
    return;
  }
  const ui = loop.latest.current.ui;
  const why = entry?.unavailable ?? 'not available right now (is NATS connected?)';
  show(loop, { ...ui, notice: `${entry?.title ?? id}: ${why}` });
}

function carryOut(loop: Loop, effect: Effect | undefined): void {
  if (!effect) return;
  switch (effect.kind) {
    case 'exit':
      loop.p.onExit();
      loop.exit();
      return;
    case 'confirm':
      void loop.p.runner.confirm();
      return;
    case 'deny':
      loop.p.runner.cancel();
      return;
    case 'run':
      start(loop, effect.id.replace(/^action:/, ''));
      return;
    case 'open': {
      const ui = loop.latest.current.ui;
      if (effect.list === 'actions') start(loop, effect.key);
      else if (effect.list === 'errors' && ui.screen === 'fleet')
        // The error opens in full on the Errors screen; Esc closes it there.
        show(loop, {
          ...ui,
          screen: 'errors',
          pane: 0,
          detail: true,
          cursor: { ...ui.cursor, errors: ui.cursor.errors ?? 0 },
        });
      return;
    }
  }
}

// Mouse reports, never keys: they must not be typed into a filter one character at a time,
// even when a slow link splits one over two reads. Returns what is left for the keys.
function onMouse(loop: Loop, held: RefObject<string>, input: string): string {
  if (!held.current && !input.startsWith('[<')) return input;
  const joined = joinMouse(held.current, input);
  held.current = joined.held;
  for (const report of joined.reports) {
    const mouse = parseMouse(report);
    if (!mouse || mouse.kind === 'other') continue;
    const cur = loop.latest.current;
    const next = reduceMouse(
      cur.ui,
      mouse.kind === 'wheel' ? { kind: 'wheel', delta: mouse.delta * WHEEL_ROWS } : mouse,
      loop.hits.at(mouse.x, mouse.y),
      contextOf(cur, cur.ui),
    );
    if (next.state !== cur.ui) show(loop, next.state);
    carryOut(loop, next.effect);
  }
  return joined.keys;
}

function onInput(loop: Loop, held: RefObject<string>, input: string, key: Key): void {
  const rest = onMouse(loop, held, input);
  if (rest === '' && input !== '') return;
  // Keys typed faster than a frame (or pasted) arrive as one chunk: replay them one by one
  // (so is what a mouse report left over).
  const presses =
    rest !== input || (input.length > 1 && !key.ctrl && !key.meta)
      ? [...rest].map(splitKey)
      : [[input, key] as const];
  let ui = loop.latest.current.ui;
  for (const [ch, k] of presses) {
    const next = reduce(ui, keyName(ch, k), ch, contextOf(loop.latest.current, ui));
    if (next.state !== ui) {
      ui = next.state;
      show(loop, ui);
    }
    carryOut(loop, next.effect);
  }
}

/** Registers the handler; `latest` must hold what the frame being drawn shows. */
export function useKeyLoop(
  p: KeyTargets,
  latest: RefObject<Latest>,
  dispatch: (ui: UiState) => void,
  hits: HitMap,
): void {
  const { exit } = useApp();
  const heldMouse = useRef('');
  const loop: Loop = { p, latest, dispatch, hits, exit };
  useInput((input, key) => onInput(loop, heldMouse, input, key));
}
