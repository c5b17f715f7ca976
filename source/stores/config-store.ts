// The fleet's config files as they are now, for a console that runs while they change: a
// migration done from screen 5 or a shell, an edit by hand. Each file is looked at (stat, then
// read only when it changed) every few seconds; the scorecard's P1.1 and the Actions screen's
// migration rows follow, and an edit that changes the agents is said (the console keeps probing
// the agents it loaded: swapping them under a running prober is a restart's job).
import { agentChanges, changesLine, unchanged } from '../core/fleet/compare.js';
import { migrateText } from '../core/fleet/migrate.js';
import { formatDiagnostic, type Machine } from '../core/fleet/model.js';
import type { Env } from '../core/fleet/port-expr.js';
import type { Cancel } from '../core/seams/clock.js';
import type { ConfigFiles } from '../core/seams/files.js';
import { Store } from './store.js';

export interface ConfigSnapshot {
  /** Per machine: is its file in the canonical agent_groups form (undefined: not known yet)? */
  canonical: Readonly<Record<string, boolean | undefined>>;
  /** Lines for the top of the screen: a file whose agents changed, or that no longer loads. */
  changes: readonly string[];
  /**
   * A machine as its file says now, when the agents are the same as those probed (a migration
   * moves only lines): where each agent is defined, for the agent detail.
   */
  reloaded: Readonly<Record<string, Machine>>;
}

/** Is the machine's file already canonical? v3 unified files hold several machines: never. */
export function canonicalOf(m: Machine, text: string, env: Env): boolean | undefined {
  if (m.source.shape === 'v3-unified') return false;
  const r = migrateText(text, m.source.file, { env });
  return r.ok ? r.status === 'already-canonical' : undefined;
}

export class ConfigStore extends Store<ConfigSnapshot> {
  private readonly stamps = new Map<string, string>();
  private readonly lines = new Map<string, string>();

  constructor(
    private readonly machines: readonly Machine[],
    private readonly env: Env,
    private readonly files: ConfigFiles,
  ) {
    super({
      canonical: Object.fromEntries(machines.map((m) => [m.id, undefined])),
      changes: [],
      reloaded: {},
    });
  }

  /** Looks at every file; reads and re-evaluates only those whose stat changed. */
  check(): void {
    const canonical = { ...this.snapshot.canonical };
    const reloaded = { ...this.snapshot.reloaded };
    let changed = false;
    for (const m of this.machines) {
      const stamp = this.files.stamp(m.source.file);
      if (this.stamps.get(m.id) === stamp) continue;
      const first = !this.stamps.has(m.id);
      this.stamps.set(m.id, stamp);
      changed = true;
      let text: string;
      try {
        text = this.files.read(m.source.file);
      } catch (error) {
        canonical[m.id] = undefined;
        delete reloaded[m.id];
        this.lines.delete(m.id);
        this.lines.set(
          m.id,
          `${m.id}: ${m.source.file} cannot be read now (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): still probing the agents loaded at start`,
        );
        continue;
      }
      canonical[m.id] = canonicalOf(m, text, this.env);
      // The file the console started from is what it probes: only later edits are compared.
      if (first) continue;
      this.lines.delete(m.id);
      delete reloaded[m.id];
      const now = this.files.load(m.source.file, { env: this.env, machine: m.id });
      const loaded = now.machines.find((x) => x.id === m.id);
      if (!now.ok || !loaded) {
        const first = now.diagnostics.find((d) => d.severity === 'error');
        this.lines.set(
          m.id,
          `${m.id}: ${m.source.file} no longer loads${first ? ` (${formatDiagnostic(first)})` : ''}: still probing the agents loaded at start`,
        );
        continue;
      }
      const c = agentChanges(m, loaded);
      if (unchanged(c)) reloaded[m.id] = { ...loaded, host: m.host };
      else {
        delete reloaded[m.id];
        this.lines.set(m.id, changesLine(m.id, m.source.file, c));
      }
    }
    if (!changed) return;
    // The file that changed last first: the top line is one line, the newest news.
    this.publish({ canonical, changes: [...this.lines.values()].reverse(), reloaded });
  }

  start(everyMs = 2000): Cancel {
    this.check();
    return this.every(everyMs, () => this.check());
  }

  close(): void {
    this.shutDown();
  }
}
