// Colours are semantic tokens; NO_COLOR turns every one of them off (state still reads from
// its symbol and word, never from colour alone).
import { createContext, useContext } from 'react';
import type { AgentHealth, AgentState } from '../core/health/state.js';
import type { Severity } from '../core/errors/event.js';

export interface Theme {
  ok?: string;
  warn?: string;
  bad?: string;
  muted?: string;
  accent?: string;
  focus?: string;
  title?: string;
}

export const COLOR_THEME: Theme = {
  ok: 'green',
  warn: 'yellow',
  bad: 'red',
  muted: 'gray',
  accent: 'cyan',
  focus: 'cyan',
  title: 'white',
};
export const NO_COLOR_THEME: Theme = {};

export const themeFor = (env: Readonly<Record<string, string | undefined>>): Theme =>
  env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? NO_COLOR_THEME : COLOR_THEME;

export const ThemeContext = createContext<Theme>(COLOR_THEME);
export const useTheme = (): Theme => useContext(ThemeContext);

export const STATE_LOOK: Record<AgentState, { symbol: string; word: string; tone: keyof Theme }> = {
  healthy: { symbol: '●', word: 'OK', tone: 'ok' },
  degraded: { symbol: '▲', word: 'DEGR', tone: 'warn' },
  unhealthy: { symbol: '✖', word: 'FAIL', tone: 'bad' },
  unreachable: { symbol: '○', word: 'DOWN', tone: 'bad' },
  unknown: { symbol: '·', word: '....', tone: 'muted' },
  stale: { symbol: '◌', word: 'STALE', tone: 'muted' },
};

type Look = { symbol: string; word: string; tone: keyof Theme };

/**
 * What an agent's row says at a glance: its state, except that an unreachable agent says whether
 * nothing listens (DOWN) or nothing answered (TIMEOUT), and an agent found away from its
 * configured port says MOVED (with its state's symbol; the detail tells the rest).
 */
export function rowLook(state: AgentState, h: AgentHealth | undefined): Look {
  const base = STATE_LOOK[state];
  if (state === 'unreachable' && h?.cause === 'timeout')
    return { symbol: '◌', word: 'TIMEOUT', tone: 'bad' };
  if (h?.moved && state !== 'unreachable' && state !== 'unknown')
    return { symbol: base.symbol, word: 'MOVED', tone: state === 'healthy' ? 'warn' : base.tone };
  return base;
}

export const SEVERITY_TONE: Record<Severity, keyof Theme> = {
  critical: 'bad',
  error: 'bad',
  warning: 'warn',
  info: 'accent',
  debug: 'muted',
};
