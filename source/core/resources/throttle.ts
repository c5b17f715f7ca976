// PC2 throttle levels: the `set_throttle {level}` contract design.md adds to upstream's
// ResourceManager (P3.2). A level caps how much VRAM the machine's agents may hold, as a factor
// of what they would hold unthrottled (models evicted, batches shrunk).

export const THROTTLE_LEVELS = [
  { level: 0, name: 'off', vramFactor: 1.0 },
  { level: 1, name: 'light', vramFactor: 0.85 },
  { level: 2, name: 'medium', vramFactor: 0.65 },
  { level: 3, name: 'heavy', vramFactor: 0.45 },
] as const;

export type ThrottleLevel = (typeof THROTTLE_LEVELS)[number]['level'];

export const isThrottleLevel = (value: unknown): value is ThrottleLevel =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < THROTTLE_LEVELS.length;

export const throttleInfo = (level: ThrottleLevel) => THROTTLE_LEVELS[level];

export const THROTTLE_HELP = `level must be an integer 0-3 (${THROTTLE_LEVELS.map((t) => `${t.level} ${t.name}`).join(', ')})`;
