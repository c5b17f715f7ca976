// PC2 throttle levels (P3.2): the one table every part reads. Upstream has no throttle API
// (ResourceManager answers `set_throttle` with "Unknown action"), so a level is what opsdeck can
// really do on the machine, and each part is read back from the machine, never assumed:
//  1. upstream's own `set_thresholds` on ResourceManager: above these thresholds it answers
//     check_resources / allocate_resources "no" (agents that ask it hold back). get_status
//     confirms them, and a restarted ResourceManager is back at 80/80/80, which shows.
//  2. `opsdeck agent` renices the machine's agent processes (found by script path in /proc):
//     under CPU contention they yield to everything else. /proc/<pid>/stat confirms it.
// Nothing here frees VRAM: no upstream mechanism does, and the level does not claim to.

export interface ThrottleDef {
  level: number;
  name: string;
  /** Sent with set_thresholds: cpu_threshold, memory_threshold, gpu_threshold (percent). */
  thresholds: { cpu: number; memory: number; gpu: number };
  /** The nice value opsdeck agent gives the machine's agent processes. */
  nice: number;
  /** What the level means for the operator, one line. */
  effect: string;
}

export const THROTTLE_LEVELS = [
  {
    level: 0,
    name: 'normal',
    thresholds: { cpu: 80, memory: 80, gpu: 80 },
    nice: 0,
    effect: "upstream's defaults; nothing held back",
  },
  {
    level: 1,
    name: 'soft',
    thresholds: { cpu: 75, memory: 75, gpu: 70 },
    nice: 5,
    effect:
      'ResourceManager refuses allocations above 70% GPU (the PC2 evict line); agents at nice 5',
  },
  {
    level: 2,
    name: 'hard',
    thresholds: { cpu: 70, memory: 70, gpu: 55 },
    nice: 10,
    effect: 'ResourceManager refuses allocations above 55% GPU / 70% CPU; agents at nice 10',
  },
  {
    level: 3,
    name: 'shed',
    thresholds: { cpu: 60, memory: 65, gpu: 40 },
    nice: 15,
    effect: 'ResourceManager refuses allocations above 40% GPU / 60% CPU; agents at nice 15',
  },
] as const satisfies readonly ThrottleDef[];

export type ThrottleLevel = (typeof THROTTLE_LEVELS)[number]['level'];

export const MAX_THROTTLE_LEVEL = (THROTTLE_LEVELS.length - 1) as ThrottleLevel;

export const isThrottleLevel = (value: unknown): value is ThrottleLevel =>
  typeof value === 'number' &&
  Number.isInteger(value) &&
  value >= 0 &&
  value < THROTTLE_LEVELS.length;

export const throttleInfo = (level: ThrottleLevel): (typeof THROTTLE_LEVELS)[number] =>
  THROTTLE_LEVELS[level];

export const THROTTLE_HELP = `level must be an integer 0-3 (${THROTTLE_LEVELS.map((t) => `${t.level} ${t.name}`).join(', ')})`;

/** Upstream's request that carries a level's thresholds to ResourceManager. */
export function thresholdsRequest(level: ThrottleLevel): Record<string, unknown> {
  const t = throttleInfo(level).thresholds;
  return {
    action: 'set_thresholds',
    cpu_threshold: t.cpu,
    memory_threshold: t.memory,
    gpu_threshold: t.gpu,
  };
}

export interface Thresholds {
  cpu: number;
  memory: number;
  gpu: number;
}

/** The level whose thresholds these are, if any (thresholds set by hand match none). */
export function levelOfThresholds(t: Thresholds): ThrottleLevel | undefined {
  return THROTTLE_LEVELS.find(
    (l) =>
      l.thresholds.cpu === t.cpu && l.thresholds.memory === t.memory && l.thresholds.gpu === t.gpu,
  )?.level;
}

/**
 * What the machine shows of its throttle, read back: ResourceManager's thresholds and the nice
 * values of the agent processes. Published in every resources sample.
 */
export interface ThrottleReading {
  /** The level both parts agree on; null when they match no level or could not be read. */
  level: ThrottleLevel | null;
  /** ResourceManager's thresholds (get_status), or why they could not be read. */
  thresholds: Thresholds | { error: string };
  /** Agent processes found and how many are at the level's nice value. */
  nice: { want: number; at: number; of: number } | { error: string };
  /** What the reading means, one line. */
  summary: string;
  at: number;
}

export function readThrottle(
  thresholds: ThrottleReading['thresholds'],
  nices: readonly number[] | { error: string },
  at: number,
): ThrottleReading {
  const byThresholds = 'error' in thresholds ? undefined : levelOfThresholds(thresholds);
  const t =
    'error' in thresholds
      ? thresholds.error
      : `thresholds ${thresholds.cpu}/${thresholds.memory}/${thresholds.gpu}`;
  if ('error' in nices)
    return {
      level: null,
      thresholds,
      nice: nices,
      summary: `${t}; agent processes: ${nices.error}`,
      at,
    };
  const want = byThresholds !== undefined ? throttleInfo(byThresholds).nice : 0;
  const atWant = nices.filter((n) => n === want).length;
  const nice = { want, at: atWant, of: nices.length };
  // No agent process found (none running, or not readable) leaves the thresholds to decide.
  const agrees = byThresholds !== undefined && (nices.length === 0 || atWant === nices.length);
  return {
    level: agrees ? byThresholds : null,
    thresholds,
    nice,
    summary:
      byThresholds === undefined
        ? `${t}: no level's thresholds`
        : `${t} = level ${byThresholds}; ${atWant}/${nices.length} agent processes at nice ${want}`,
    at,
  };
}

/** The table as text, for `--help` and the README. */
export function throttleTable(): string[] {
  const rows = THROTTLE_LEVELS.map((t) => [
    String(t.level),
    t.name,
    `cpu ${t.thresholds.cpu} / memory ${t.thresholds.memory} / gpu ${t.thresholds.gpu}`,
    String(t.nice),
    t.effect,
  ]);
  const head = ['level', 'name', 'ResourceManager set_thresholds (%)', 'agents nice', 'effect'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
}
