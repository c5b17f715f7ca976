// Where the console's health results come from: its own prober (`direct`, HealthStore: it probes
// every agent of every machine from where it runs) or each machine's opsdeck agent (`agents`,
// AgentHealthFeed: the agent probes its own machine and publishes on opsdeck.<machine>.health).
// The screens, `status --json` and the scorecard read either through this one shape.
import type { ScanResult } from '../core/seams/prober.js';
import type { AgentHealth } from '../core/health/state.js';

export type HealthFrom = 'direct' | 'agents';
export const HEALTH_FROM: readonly HealthFrom[] = ['direct', 'agents'];

export interface HealthSnapshot {
  version: number;
  agents: ReadonlyMap<string, AgentHealth>;
  /** Duration of the last few probe rounds (ms), newest last. */
  rounds: number[];
  /** The last free-port scan per host, if any ran. */
  scans: ReadonlyMap<string, ScanResult>;
}

export interface HealthSource {
  readonly from: HealthFrom;
  subscribe(listener: () => void): () => void;
  getSnapshot(): HealthSnapshot;
  /** Starts probing (direct) or the staleness clock (agents); returns its inverse. */
  start(): () => void;
  stop(): void;
  /**
   * direct: probes every agent once, now. agents: waits until every machine's agent has sent a
   * full round (or a deadline passes). Resolves with the time it took (ms).
   */
  probeAll(): Promise<number>;
  /** The snapshot rebuilt now (one-shot readers: `status --json`). */
  flush(): HealthSnapshot;
}
