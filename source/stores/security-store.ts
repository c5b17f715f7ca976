// Security on the scorecard: is an unauthenticated control request refused on each machine
// (probed every minute over NATS), and when does the first cert or token expire.
import type { NatsConnection } from 'nats';
import { inspectArtefacts } from '../adapters/certs.js';
import { probeEnforcement } from '../adapters/security-probe.js';
import type { ProbeResult } from '../core/security/probe.js';
import { Emitter } from './emitter.js';

export interface SecuritySnapshot {
  /** machine -> enforced? (undefined: no answer / not probed yet) */
  auth: Record<string, boolean | undefined>;
  expiryDays?: number;
  certsNote?: string;
}

export class SecurityStore {
  private readonly emitter = new Emitter();
  private snapshot: SecuritySnapshot;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly machines: readonly string[],
    private readonly secretsDir: string,
  ) {
    this.snapshot = { auth: Object.fromEntries(machines.map((m) => [m, undefined])) };
  }

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): SecuritySnapshot => this.snapshot;

  private set(patch: Partial<SecuritySnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    this.emitter.emit();
  }

  /** A probe run elsewhere (the console's action): its verdict is what the scorecard shows. */
  record(r: ProbeResult): void {
    this.set({
      auth: {
        ...this.snapshot.auth,
        [r.machine]: r.verdict === 'no answer' ? undefined : r.verdict === 'enforced',
      },
    });
  }

  /** Reads the secrets folder once (cheap: a few files). */
  readCerts(): void {
    try {
      const report = inspectArtefacts(this.secretsDir);
      const days = report.artefacts
        .map((a) => a.daysLeft)
        .filter((d): d is number => typeof d === 'number');
      if (days.length === 0) this.set({ certsNote: `no certs in ${this.secretsDir}` });
      else this.set({ expiryDays: Math.min(...days) });
    } catch (error) {
      this.set({ certsNote: (error as Error).message });
    }
  }

  /**
   * Probes now and every `everyMs`; returns the stop. `audit` is told of each machine's result
   * when it differs from the last one (the probe sends control requests: they are audited, but
   * a console left open must not write a line a minute).
   */
  probe(nc: NatsConnection, everyMs = 60_000, audit?: (result: ProbeResult) => void): () => void {
    const said = new Map<string, string>();
    const once = async () => {
      if (nc.isClosed()) return;
      try {
        const results = await probeEnforcement(nc, this.machines, 2000);
        for (const r of results)
          if (said.get(r.machine) !== r.verdict) {
            said.set(r.machine, r.verdict);
            audit?.(r);
          }
        this.set({
          auth: Object.fromEntries(
            results.map((r) => [
              r.machine,
              r.verdict === 'no answer' ? undefined : r.verdict === 'enforced',
            ]),
          ),
        });
      } catch {
        /* the link store shows NATS trouble */
      }
    };
    void once();
    this.timer = setInterval(() => void once(), everyMs);
    this.timer.unref();
    return () => clearInterval(this.timer);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.emitter.close();
  }
}
