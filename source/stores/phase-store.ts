// The error-bus phase as the fleet sees it: NATS KV opsdeck/errorbus.phase, watched live.
import type { NatsConnection } from 'nats';
import { decodePhase, PHASE_BUCKET, PHASE_KEY, type PhaseValue } from '../core/errorbus/phase.js';
import { Emitter } from './emitter.js';

export interface PhaseSnapshot {
  value?: PhaseValue;
  revision?: number;
  /** Why there is no value: no bucket yet (phase 0 by default), unreadable value, no NATS. */
  note?: string;
}

export class PhaseStore {
  private readonly emitter = new Emitter();
  private snapshot: PhaseSnapshot = { note: 'NATS not connected' };
  private stopWatch: (() => void) | undefined;

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): PhaseSnapshot => this.snapshot;

  private set(s: PhaseSnapshot): void {
    this.snapshot = s;
    this.emitter.emit();
  }

  /**
   * Watches the key; until the bucket exists (the console never creates it) it looks again, and a
   * watch that ends or fails is started again: a phase shown must be one still being watched.
   */
  async watch(nc: NatsConnection): Promise<void> {
    while (!this.closed && !nc.isClosed()) {
      try {
        await this.watchOnce(nc);
      } catch (error) {
        // Keep the last value but say it is no longer followed.
        this.set({
          ...(this.snapshot.value ? { value: this.snapshot.value } : {}),
          ...(this.snapshot.revision !== undefined ? { revision: this.snapshot.revision } : {}),
          note: `phase watch failed (${(error as Error).message}); retrying every 3 s${this.snapshot.value ? ', last value shown' : ''}`,
        });
      }
      if (this.closed || nc.isClosed()) return;
      await new Promise((r) => setTimeout(r, 3000).unref());
    }
  }

  private async watchOnce(nc: NatsConnection): Promise<void> {
    let kv;
    try {
      kv = await nc.jetstream().views.kv(PHASE_BUCKET, { bindOnly: true });
    } catch {
      this.set({
        value: { phase: 0, name: 'zmq' },
        note: 'no phase bucket yet: phase 0 (zmq), the fleet as it is',
      });
      return;
    }
    const watcher = await kv.watch({ key: PHASE_KEY });
    this.stopWatch = () => watcher.stop();
    if (this.snapshot.revision === undefined)
      this.set({
        value: { phase: 0, name: 'zmq' },
        note: 'no phase written yet: phase 0 (zmq) is the fleet as it is',
      });
    for await (const e of watcher) {
      if (e.operation !== 'PUT') {
        this.set({
          value: { phase: 0, name: 'zmq' },
          revision: e.revision,
          note: 'phase key deleted: phase 0',
        });
        continue;
      }
      const decoded = decodePhase(e.string());
      this.set(
        decoded.ok
          ? { value: decoded.value, revision: e.revision }
          : { revision: e.revision, note: `unreadable phase value: ${decoded.reason}` },
      );
    }
  }

  private closed = false;

  close(): void {
    this.closed = true;
    this.stopWatch?.();
    this.emitter.close();
  }
}
