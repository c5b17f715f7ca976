// Both machines' resources as the resource store holds them and the panes draw them. Types only:
// stores/resource-store.ts fills them from the wire.
import type { SampleAuth } from './sample-auth.js';
import type { ResourceSample } from './sample.js';

export interface MachineResources {
  sample: ResourceSample;
  receivedAt: number;
  /** VRAM used (MB) and CPU %, oldest first, for the curves. */
  history: { ts: number; vramMb: number | null; cpuPct: number }[];
  /** Whether the sample shown was signed by its machine's key (and is no replay). */
  auth: SampleAuth;
}

/** Samples refused for one machine (named by the subject they came on). */
export interface Refused {
  count: number;
  reason: string;
  at: number;
}

export interface ResourceSnapshot {
  version: number;
  machines: Readonly<Record<string, MachineResources>>;
  /** Samples refused as malformed, with the last reason. */
  rejected: number;
  lastRejection?: string;
  /** The same, per machine of the subject they came on: what its pane says it refused. */
  refused: Readonly<Record<string, Refused>>;
  /** The public sample keys samples are verified with (undefined: none, nothing is verified). */
  keys?: string;
}
