// One way to write a length of time on every command line and in every settings file: a number
// with its unit (`500ms`, `2s`, `10m`, `1h`). A bare number is refused: `--interval 2000` meant
// milliseconds to one command and seconds to another, and printed nothing for an operator who
// guessed wrong.

export type DurationParse = { ok: true; ms: number } | { ok: false; reason: string };

const UNIT = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * The longest duration anything takes (576h, 24 days). Node's timers hold at most 2^31-1 ms
 * (~24.8 days); a longer one fires after 1 ms with only a warning: `sim ctl --timeout 999999h`
 * said "cannot reach NATS: TIMEOUT" of a server that was up, and `status --collect` listened
 * 1 ms where it was told years.
 */
export const MAX_DURATION_MS = 576 * 3_600_000;

export function parseDuration(
  text: string,
  bounds: { minMs?: number; maxMs?: number } = {},
): DurationParse {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(t);
  if (!m) {
    const bare = /^\d+(\.\d+)?$/.test(t);
    return {
      ok: false,
      reason: bare
        ? `"${t}" has no unit: write ${t}ms or ${t}s`
        : `expected a duration like 500ms, 2s or 10m, got "${t}"`,
    };
  }
  const ms = Math.round(Number(m[1]) * UNIT[m[2] as keyof typeof UNIT]);
  if (bounds.minMs !== undefined && ms < bounds.minMs)
    return {
      ok: false,
      reason: `${t} is below the least allowed, ${formatDuration(bounds.minMs)}`,
    };
  const maxMs = Math.min(bounds.maxMs ?? MAX_DURATION_MS, MAX_DURATION_MS);
  if (ms > maxMs)
    return { ok: false, reason: `${t} is above the most allowed, ${formatDuration(maxMs)}` };
  return { ok: true, ms };
}

/** The shortest way to write `ms` back: 2s, 500ms, 10m. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
