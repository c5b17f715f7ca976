// One machine's resources at one moment, as published on `opsdeck.<machine>.resources`
// (design.md, NATS subjects) by the host agent on a real machine or by `opsdeck sim`.
// JSON, camelCase, one message per machine per interval.

export interface ResourceSample {
  machine: string;
  /** ms since the epoch. */
  ts: number;
  source: 'agent' | 'sim';
  gpu: { name: string; totalMb: number; usedMb: number; utilPct: number } | null;
  cpuPct: number;
  ramTotalMb: number;
  ramUsedMb: number;
  /** PC2 throttle level now in force (0 when the machine has none). */
  throttleLevel: number;
  agents: { name: string; status: 'up' | 'down'; vramMb: number; rssMb: number }[];
  /** `opsdeck agent` only: its version and seconds since it started (the console flags an old or restarted agent). */
  version?: string;
  uptimeS?: number;
}

export const resourcesSubject = (machine: string): string => `opsdeck.${machine}.resources`;
