// Both machines' resources, whichever machine the console runs on: the host agents (or the sim)
// publish on opsdeck.<machine>.resources; a sample older than two intervals is shown as stale.
import type { NatsConnection, Subscription } from 'nats';
import { feed } from '../adapters/nats-feed.js';
import { checkSample } from '../core/resources/sample-check.js';
import type { ResourceSample } from '../core/resources/sample.js';
import { Emitter } from './emitter.js';

export interface MachineResources {
  sample: ResourceSample;
  receivedAt: number;
  /** VRAM used (MB) and CPU %, oldest first, for the curves. */
  history: { ts: number; vramMb: number | null; cpuPct: number }[];
}

export interface ResourceSnapshot {
  version: number;
  machines: Readonly<Record<string, MachineResources>>;
  /** Samples refused as malformed, with the last reason. */
  rejected: number;
  lastRejection?: string;
}

export const isStale = (
  m: MachineResources | undefined,
  now: number,
  intervalMs: number,
): boolean => !m || now - m.receivedAt > intervalMs * 2;

const HISTORY = 150;

export class ResourceStore {
  private readonly emitter = new Emitter();
  private snapshot: ResourceSnapshot = { version: 0, machines: {}, rejected: 0 };
  private sub: Subscription | undefined;

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): ResourceSnapshot => this.snapshot;

  /**
   * An agent's process as the machine's daemon last reported it, while that report is fresh
   * (three sampling intervals of 2 s): evidence of where the agent really listens.
   */
  process(
    machine: string,
    agent: string,
    now = Date.now(),
  ): { pid: number; ports: readonly number[] } | undefined {
    const m = this.snapshot.machines[machine];
    if (!m || now - m.receivedAt > 6000) return undefined;
    const a = m.sample.agents.find((x) => x.name === agent);
    return a?.pid !== undefined && a.ports ? { pid: a.pid, ports: a.ports } : undefined;
  }

  /** Accepts one message's bytes (from NATS, or a local sampler). */
  accept(data: Uint8Array | ResourceSample, now = Date.now()): void {
    let value: unknown = data;
    if (data instanceof Uint8Array) {
      try {
        value = JSON.parse(new TextDecoder().decode(data));
      } catch {
        value = undefined;
      }
    }
    const checked = checkSample(value);
    if (!checked.ok) {
      this.snapshot = {
        ...this.snapshot,
        version: this.snapshot.version + 1,
        rejected: this.snapshot.rejected + 1,
        lastRejection: checked.reason,
      };
      this.emitter.emit();
      return;
    }
    const s = checked.sample;
    const prev = this.snapshot.machines[s.machine];
    const history = [
      ...(prev?.history ?? []),
      { ts: s.ts, vramMb: s.gpu ? s.gpu.usedMb : null, cpuPct: s.cpuPct },
    ].slice(-HISTORY);
    this.snapshot = {
      ...this.snapshot,
      version: this.snapshot.version + 1,
      machines: { ...this.snapshot.machines, [s.machine]: { sample: s, receivedAt: now, history } },
    };
    this.emitter.emit();
  }

  /** Listens on opsdeck.*.resources; returns the stop. */
  listen(nc: NatsConnection): () => void {
    const sub = (this.sub = feed(nc, 'opsdeck.*.resources', (data) => this.accept(data)));
    return () => sub.unsubscribe();
  }

  close(): void {
    this.sub?.unsubscribe();
    this.emitter.close();
  }
}
