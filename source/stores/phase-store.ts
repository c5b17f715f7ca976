// The error-bus phase as the fleet sees it: NATS KV opsdeck/errorbus.phase, watched live.
import { decodePhase, PHASE_BUCKET, PHASE_KEY, type PhaseValue } from '../core/errorbus/phase.js';
import type { Bus } from '../core/seams/bus.js';
import { Store } from './store.js';

export interface PhaseSnapshot {
  value?: PhaseValue;
  revision?: number;
  /** Why there is no value: no bucket yet (phase 0 by default), unreadable value, no NATS. */
  note?: string;
}

export class PhaseStore extends Store<PhaseSnapshot> {
  private stopWatch: (() => void) | undefined;

  constructor() {
    super({ note: 'NATS not connected' });
  }

  private set(s: PhaseSnapshot): void {
    this.publish(s);
  }

  /**
   * Watches the key; until the bucket exists (the console never creates it) it looks again, and a
   * watch that ends or fails is started again: a phase shown must be one still being watched.
   */
  async watch(bus: Bus): Promise<void> {
    while (!this.isDown && !bus.isClosed()) {
      try {
        await this.watchOnce(bus);
      } catch (error) {
        // Keep the last value but say it is no longer followed.
        this.set({
          ...(this.snapshot.value ? { value: this.snapshot.value } : {}),
          ...(this.snapshot.revision !== undefined ? { revision: this.snapshot.revision } : {}),
          note: `phase watch failed (${(error as Error).message}); retrying every 3 s${this.snapshot.value ? ', last value shown' : ''}`,
        });
      }
      if (this.isDown || bus.isClosed()) return;
      await new Promise<void>((r) => this.clock.after(3000, r));
    }
  }

  private async watchOnce(bus: Bus): Promise<void> {
    const watcher = await bus.watchKey(PHASE_BUCKET, PHASE_KEY);
    if (!watcher) {
      this.set({
        value: { phase: 0, name: 'zmq' },
        note: 'no phase bucket yet: phase 0 (zmq), the fleet as it is',
      });
      return;
    }
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
      const decoded = decodePhase(e.text());
      this.set(
        decoded.ok
          ? { value: decoded.value, revision: e.revision }
          : { revision: e.revision, note: `unreadable phase value: ${decoded.reason}` },
      );
    }
  }

  close(): void {
    this.stopWatch?.();
    this.shutDown();
  }
}
