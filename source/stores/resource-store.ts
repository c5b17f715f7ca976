// Both machines' resources, whichever machine the console runs on: the host agents (or the sim)
// publish on opsdeck.<machine>.resources; a sample older than two intervals is shown as stale.
import { judgeSample, SAMPLE_SIG_HEADER, type SampleKeys } from '../core/resources/sample-auth.js';
import type { Bus, BusHeaders } from '../core/seams/bus.js';
import type { Cancel } from '../core/seams/clock.js';
import { checkSample } from '../core/resources/sample-check.js';
import type { MachineResources, ResourceSnapshot } from '../core/resources/machine.js';
import type { ResourceSample } from '../core/resources/sample.js';
import { Store } from './store.js';

export type { MachineResources, Refused, ResourceSnapshot } from '../core/resources/machine.js';

export const isStale = (
  m: MachineResources | undefined,
  now: number,
  intervalMs: number,
): boolean => !m || now - m.receivedAt > intervalMs * 2;

const HISTORY = 150;

/** `opsdeck.<machine>.resources` -> the machine, when it is a short name (the subject is from the wire too). */
const machineOfSubject = (subject: string): string => {
  const name = subject.split('.')[1] ?? '';
  return /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : '?';
};

export class ResourceStore extends Store<ResourceSnapshot> {
  /** The newest verified sample time per machine: an older one signed is a replay. */
  private readonly verifiedTs = new Map<string, number>();

  constructor(private readonly keys?: SampleKeys) {
    super({
      version: 0,
      machines: {},
      rejected: 0,
      refused: {},
      ...(keys ? { keys: keys.file } : {}),
    });
  }

  /**
   * An agent's process as the machine's daemon last reported it, while that report is fresh
   * (three sampling intervals of 2 s): evidence of where the agent really listens.
   */
  process(
    machine: string,
    agent: string,
    now = this.clock.now(),
  ): { pid: number; ports: readonly number[] } | undefined {
    const m = this.snapshot.machines[machine];
    if (!m || now - m.receivedAt > 6000) return undefined;
    const a = m.sample.agents.find((x) => x.name === agent);
    return a?.pid !== undefined && a.ports ? { pid: a.pid, ports: a.ports } : undefined;
  }

  /** Accepts one message's bytes (from NATS, or a local sampler), the subject and headers it came with. */
  accept(
    data: Uint8Array | ResourceSample,
    subject?: string,
    headers?: BusHeaders,
    now = this.clock.now(),
  ): void {
    let value: unknown = data;
    if (data instanceof Uint8Array) {
      try {
        value = JSON.parse(new TextDecoder().decode(data));
      } catch {
        value = undefined;
      }
    }
    const from = subject === undefined ? undefined : machineOfSubject(subject);
    const checked = checkSample(value);
    if (!checked.ok) return this.refuse(from, checked.reason, now);
    const s = checked.sample;
    if (from !== undefined && s.machine !== from)
      return this.refuse(from, `a sample for ${s.machine} came on ${from}'s subject`, now);
    const auth = judgeSample(
      !this.keys
        ? { ok: false, reason: 'no sample keys to verify with' }
        : data instanceof Uint8Array && from !== undefined
          ? this.keys.check(from, data, headers?.get(SAMPLE_SIG_HEADER) || undefined)
          : { ok: false, reason: 'not from the wire' },
      s.ts,
      this.verifiedTs.get(s.machine),
      now,
    );
    if (auth.verified) this.verifiedTs.set(s.machine, s.ts);
    const prev = this.snapshot.machines[s.machine];
    const history = [
      ...(prev?.history ?? []),
      { ts: s.ts, vramMb: s.gpu ? s.gpu.usedMb : null, cpuPct: s.cpuPct },
    ].slice(-HISTORY);
    this.publish({
      ...this.snapshot,
      version: this.snapshot.version + 1,
      machines: {
        ...this.snapshot.machines,
        [s.machine]: { sample: s, receivedAt: now, history, auth },
      },
    });
  }

  private refuse(from: string | undefined, reason: string, now: number): void {
    const key = from ?? '?';
    const prev = this.snapshot.refused[key];
    this.publish({
      ...this.snapshot,
      version: this.snapshot.version + 1,
      rejected: this.snapshot.rejected + 1,
      lastRejection: reason,
      refused: {
        ...this.snapshot.refused,
        [key]: { count: (prev?.count ?? 0) + 1, reason, at: now },
      },
    });
  }

  /** Listens on opsdeck.*.resources; returns the stop. */
  listen(bus: Bus): Cancel {
    return this.own(
      bus.subscribe('opsdeck.*.resources', (data, subject, headers) =>
        this.accept(data, subject, headers),
      ),
    );
  }

  close(): void {
    this.shutDown();
  }
}
