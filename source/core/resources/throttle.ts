// PC2 throttle levels (P3.2): the one table every part reads. A level is two messages to PC2's
// ResourceManager: upstream's real `set_thresholds` with the level's thresholds (allocations
// are refused above them: check_resources / allocate_resources), then the `set_throttle
// {level}` design.md adds, which caps how much VRAM the machine's agents hold, as a factor of
// what they hold unthrottled (models evicted, batches shrunk). The simulator's VRAM follows the
// factor; `opsdeck throttle --help` prints this table.

export interface ThrottleDef {
  level: number;
  name: string;
  /** Sent with set_thresholds: cpu_threshold, memory_threshold, gpu_threshold (percent). */
  thresholds: { cpu: number; memory: number; gpu: number };
  /** set_throttle: share of its unthrottled VRAM each agent may keep. */
  vramFactor: number;
  /** What the level means for the operator, one line. */
  effect: string;
}

export const THROTTLE_LEVELS = [
  {
    level: 0,
    name: 'normal',
    thresholds: { cpu: 80, memory: 80, gpu: 80 },
    vramFactor: 1.0,
    effect: "upstream's defaults; nothing held back",
  },
  {
    level: 1,
    name: 'soft',
    thresholds: { cpu: 75, memory: 75, gpu: 70 },
    vramFactor: 0.85,
    effect: 'new allocations refused above 70% GPU (the PC2 profile evict line); batches shrink',
  },
  {
    level: 2,
    name: 'hard',
    thresholds: { cpu: 70, memory: 70, gpu: 55 },
    vramFactor: 0.65,
    effect: 'idle models evicted; allocations refused above 55% GPU',
  },
  {
    level: 3,
    name: 'shed',
    thresholds: { cpu: 60, memory: 65, gpu: 40 },
    vramFactor: 0.45,
    effect: 'agents shed models down to 45% of their VRAM; allocations refused above 40% GPU',
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

/** The two ResourceManager requests a level is made of (without the token). */
export function throttleRequests(
  level: ThrottleLevel,
): [Record<string, unknown>, Record<string, unknown>] {
  const t = throttleInfo(level).thresholds;
  return [
    {
      action: 'set_thresholds',
      cpu_threshold: t.cpu,
      memory_threshold: t.memory,
      gpu_threshold: t.gpu,
    },
    { action: 'set_throttle', level },
  ];
}

/** The table as text, for `--help` and the README. */
export function throttleTable(): string[] {
  const rows = THROTTLE_LEVELS.map((t) => [
    String(t.level),
    t.name,
    `cpu ${t.thresholds.cpu} / memory ${t.thresholds.memory} / gpu ${t.thresholds.gpu}`,
    `${Math.round(t.vramFactor * 100)}%`,
    t.effect,
  ]);
  const head = ['level', 'name', 'set_thresholds (%)', 'set_throttle: VRAM kept', 'effect'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
}
