// What each machine's `opsdeck agent --bridge` last said about itself (opsdeck.<machine>.bridge,
// every 2 s): the doctor and the scorecard use it to know where a bridge runs and what it carried.
import type { BridgeObs } from '../core/errorbus/doctor.js';
import { sanitise } from '../core/errors/sanitise.js';
import type { Bus } from '../core/seams/bus.js';
import type { Cancel } from '../core/seams/clock.js';
import { Store } from './store.js';

export interface BridgeSnapshot {
  version: number;
  /** By machine, with when it arrived. */
  machines: Readonly<Record<string, { status: Omit<BridgeObs, 'ageMs'>; receivedAt: number }>>;
}

/** A status older than this means the bridge is gone (it reports every 2 s). */
export const BRIDGE_STALE_MS = 7000;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const text = (v: unknown, max = 80): string =>
  typeof v === 'string' ? sanitise(v).slice(0, max) : '';

/** Checks a status message from the wire; undefined when it is not one. */
export function readBridgeStatus(data: Uint8Array): Omit<BridgeObs, 'ageMs'> | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (
    typeof v !== 'object' ||
    v === null ||
    v.schema !== 'opsdeck.bridge/1' ||
    typeof v.machine !== 'string'
  )
    return undefined;
  const endpoints = Array.isArray(v.endpoints) ? v.endpoints.slice(0, 16) : [];
  return {
    machine: text(v.machine, 64),
    state: text(v.state),
    received: num(v.received),
    published: num(v.published),
    duplicates: num(v.duplicates),
    dropped: num(v.dropped),
    queued: num(v.queued),
    nats: text(v.nats, 20),
    ...(num(v.since) > 0 ? { since: num(v.since) } : {}),
    endpoints: endpoints.map((e: Record<string, unknown>) => ({
      endpoint: text(e?.endpoint),
      mode: text(e?.mode, 10),
      state: text(e?.state),
    })),
  };
}

export class BridgeStore extends Store<BridgeSnapshot> {
  constructor() {
    super({ version: 0, machines: {} });
  }

  /** Told when a bridge comes back after silence or a restart: [from, to] had no bridge. */
  onGap: ((machine: string, from: number, to: number, restarted: boolean) => void) | undefined;

  accept(data: Uint8Array, now = this.clock.now()): void {
    const status = readBridgeStatus(data);
    if (!status) return;
    const prev = this.snapshot.machines[status.machine];
    if (prev) {
      // A bridge that said `stopped` and one that started anew both leave a stretch uncovered.
      const restarted =
        prev.status.state === 'stopped' ||
        (status.since !== undefined &&
          prev.status.since !== undefined &&
          status.since !== prev.status.since);
      const silent = now - prev.receivedAt > BRIDGE_STALE_MS;
      // From the last word of the old bridge to the first moment of the new one (or now).
      if (restarted || silent)
        this.onGap?.(
          status.machine,
          prev.receivedAt,
          restarted && status.since! > prev.receivedAt ? status.since! : now,
          restarted,
        );
    }
    this.publish({
      version: this.snapshot.version + 1,
      machines: { ...this.snapshot.machines, [status.machine]: { status, receivedAt: now } },
    });
  }

  /** Fresh statuses only (a stopped bridge says `stopped` and is kept out too). */
  running(now = this.clock.now()): Record<string, BridgeObs> {
    const out: Record<string, BridgeObs> = {};
    for (const [id, m] of Object.entries(this.snapshot.machines)) {
      if (now - m.receivedAt <= BRIDGE_STALE_MS && m.status.state !== 'stopped')
        out[id] = { ...m.status, ageMs: now - m.receivedAt };
    }
    return out;
  }

  /** Follows opsdeck.*.bridge; returns the stop. */
  listen(bus: Bus): Cancel {
    return this.own(bus.subscribe('opsdeck.*.bridge', (data) => this.accept(data)));
  }

  close(): void {
    this.shutDown();
  }
}
