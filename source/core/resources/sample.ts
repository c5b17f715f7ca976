// One machine's resources at one moment, as published on `opsdeck.<machine>.resources`
// (docs/architecture.md, "NATS subjects") by the host agent on a real machine or by `opsdeck sim`.
// JSON, camelCase, one message per machine per interval.
import type { ThrottleReading } from './throttle.js';

export interface ResourceSample {
  machine: string;
  /** ms since the epoch. */
  ts: number;
  source: 'agent' | 'sim';
  gpu: { name: string; totalMb: number; usedMb: number; utilPct: number } | null;
  cpuPct: number;
  ramTotalMb: number;
  ramUsedMb: number;
  /** The throttle level the machine shows when read back (0 when it shows none). */
  throttleLevel: number;
  /** What that level was read from: ResourceManager's thresholds and the agents' nice values. */
  throttle?: ThrottleReading;
  agents: SampleAgent[];
  /** `opsdeck agent` only: its version and seconds since it started (the console flags an old or restarted agent). */
  version?: string;
  uptimeS?: number;
  /** `opsdeck agent --metrics`: where it serves /metrics and how many agents it exports. */
  exporter?: SampleExporter;
}

export interface SampleExporter {
  /** HOST:PORT it listens on. */
  address: string;
  /** Agents of this machine with series of their own (0: no fleet config, nothing probed). */
  agents: number;
}

export interface SampleAgent {
  name: string;
  status: 'up' | 'down';
  /**
   * VRAM its process and its descendants hold (nvidia-smi lists the pid holding the memory,
   * often a child); absent when not known (no GPU reading).
   */
  vramMb?: number;
  rssMb: number;
  /** Its process, when the agent daemon found one by script path. */
  pid?: number;
  /** TCP ports that process listens on: where the agent really is. */
  ports?: number[];
  nice?: number;
}

export const resourcesSubject = (machine: string): string => `opsdeck.${machine}.resources`;
