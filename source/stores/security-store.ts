// Security on the scorecard: is an unauthenticated control request refused on each machine
// (probed every minute over NATS), and when does the first cert or token expire.
import type { Cancel } from '../core/seams/clock.js';
import type { CertsCheck, EnforcementProbe } from '../core/seams/files.js';
import type { ProbeResult } from '../core/security/probe.js';
import { Store } from './store.js';

export interface SecuritySnapshot {
  /** machine -> enforced? (undefined: no answer / not probed yet) */
  auth: Record<string, boolean | undefined>;
  expiryDays?: number;
  certsNote?: string;
}

export class SecurityStore extends Store<SecuritySnapshot> {
  constructor(
    private readonly machines: readonly string[],
    private readonly secretsDir: string,
    /** The certs and tokens in a secrets folder (adapters/certs.ts). */
    private readonly certs: CertsCheck,
  ) {
    super({ auth: Object.fromEntries(machines.map((m) => [m, undefined])) });
  }

  private set(patch: Partial<SecuritySnapshot>): void {
    this.publish({ ...this.snapshot, ...patch });
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
      const days = this.certs(this.secretsDir)
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
  probe(ask: EnforcementProbe, everyMs = 60_000, audit?: (result: ProbeResult) => void): Cancel {
    const said = new Map<string, string>();
    const once = async () => {
      try {
        const asked = ask(this.machines, 2000);
        if (!asked) return;
        const results = await asked;
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
    return this.every(everyMs, () => void once());
  }

  close(): void {
    this.shutDown();
  }
}
