// Automatic PC2 throttling: a pure policy. One level up when VRAM stays above `raiseAbovePct`
// for `samples` samples in a row, one level down when it stays below `lowerBelowPct` as long;
// between the two lines nothing moves (hysteresis), and after every change the count starts
// again, so a level has `samples` samples to show its effect before the next step.
import { MAX_THROTTLE_LEVEL, type ThrottleLevel } from './throttle.js';

export interface AutoPolicy {
  raiseAbovePct: number;
  lowerBelowPct: number;
  /** Consecutive samples beyond a line before a step. */
  samples: number;
  minLevel: ThrottleLevel;
  maxLevel: ThrottleLevel;
}

export const DEFAULT_AUTO_POLICY: AutoPolicy = {
  raiseAbovePct: 85,
  lowerBelowPct: 60,
  samples: 3,
  minLevel: 0,
  maxLevel: MAX_THROTTLE_LEVEL,
};

export interface AutoState {
  level: ThrottleLevel;
  above: number;
  below: number;
}

export interface AutoInput {
  /** VRAM used / total, percent; null when the sample has no GPU or is stale. */
  vramPct: number | null;
  /** The level the machine reports; a different one (set by hand) is adopted, not fought. */
  reportedLevel?: ThrottleLevel;
}

export interface AutoStep {
  state: AutoState;
  change?: { from: ThrottleLevel; to: ThrottleLevel; reason: string };
  /** Why nothing changed when something might have (at the top, no GPU...). */
  note?: string;
}

export function checkAutoPolicy(p: AutoPolicy): string | undefined {
  const pct = (v: number) => Number.isFinite(v) && v >= 0 && v <= 100;
  if (!pct(p.raiseAbovePct) || !pct(p.lowerBelowPct)) return 'thresholds must be percentages 0-100';
  if (p.lowerBelowPct >= p.raiseAbovePct)
    return `the lower line (${p.lowerBelowPct}%) must be below the raise line (${p.raiseAbovePct}%): without a gap the level would flap`;
  if (!Number.isInteger(p.samples) || p.samples < 1 || p.samples > 1000)
    return 'samples must be an integer 1-1000';
  if (p.minLevel > p.maxLevel) return 'the lowest level must not be above the highest';
  return undefined;
}

export const initialAutoState = (level: ThrottleLevel): AutoState => ({
  level,
  above: 0,
  below: 0,
});

const fmt = (n: number) => `${Math.round(n * 10) / 10}%`;

/** A level change: the counters start again at the new level. */
const moveTo = (state: AutoState, to: ThrottleLevel, reason: string): AutoStep => ({
  state: { level: to, above: 0, below: 0 },
  change: { from: state.level, to, reason },
});

export function autoStep(state: AutoState, input: AutoInput, p: AutoPolicy): AutoStep {
  if (input.reportedLevel !== undefined && input.reportedLevel !== state.level) {
    return {
      state: { level: input.reportedLevel, above: 0, below: 0 },
      note: `machine reports level ${input.reportedLevel} (set elsewhere): following it`,
    };
  }
  if (input.vramPct === null || !Number.isFinite(input.vramPct))
    return {
      state: { ...state, above: 0, below: 0 },
      note: 'no VRAM reading: counting starts again',
    };
  const v = input.vramPct;
  if (v > p.raiseAbovePct) {
    const above = state.above + 1;
    if (above < p.samples) return { state: { ...state, above, below: 0 } };
    if (state.level >= p.maxLevel)
      return {
        state: { ...state, above, below: 0 },
        note: `VRAM ${fmt(v)} above ${fmt(p.raiseAbovePct)} but already at level ${state.level}, the highest allowed`,
      };
    return moveTo(
      state,
      (state.level + 1) as ThrottleLevel,
      `VRAM ${fmt(v)} above ${fmt(p.raiseAbovePct)} for ${above} samples`,
    );
  }
  if (v < p.lowerBelowPct) {
    const below = state.below + 1;
    if (below < p.samples) return { state: { ...state, above: 0, below } };
    if (state.level <= p.minLevel) return { state: { ...state, above: 0, below } };
    return moveTo(
      state,
      (state.level - 1) as ThrottleLevel,
      `VRAM ${fmt(v)} below ${fmt(p.lowerBelowPct)} for ${below} samples`,
    );
  }
  return { state: { ...state, above: 0, below: 0 } };
}

/** VRAM percent of a resources sample, or null without a GPU. */
export const vramPercent = (gpu: { totalMb: number; usedMb: number } | null): number | null =>
  gpu && gpu.totalMb > 0 ? (gpu.usedMb / gpu.totalMb) * 100 : null;
