// The action plan's blind spots for the scorecard: `opsdeck lint --json` over the fleet's
// checkout, run once after start-up by a LintRunner (adapters/lint-run.ts: a nice'd child).
import { checkoutOf } from '../core/fleet/checkout.js';
import type { Machine } from '../core/fleet/model.js';
import type { LintSummary } from '../core/lint/finding.js';
import type { LintRunner } from '../core/seams/files.js';
import { Store } from './store.js';

export interface LintSnapshot {
  state: 'pending' | 'running' | 'done' | 'failed';
  root?: string;
  summary?: LintSummary;
  error?: string;
}

/** The checkout a config lives in: the folder above main_pc_code/ or pc2_code/, else its own. */
export { checkoutOf };

export class LintStore extends Store<LintSnapshot> {
  private kill: (() => void) | undefined;

  constructor(private readonly lint: LintRunner) {
    super({ state: 'pending' });
  }

  private set(s: LintSnapshot): void {
    this.publish(s);
  }

  run(machines: readonly Machine[]): void {
    const first = machines[0];
    if (!first) return;
    const root = checkoutOf(first.source.file);
    const files = machines.flatMap((m) =>
      m.id === 'mainpc' || m.id === 'pc2' ? [`--${m.id}`, m.source.file] : [],
    );
    this.set({ state: 'running', root });
    this.kill = this.lint(root, files, {
      error: (message) => this.set({ state: 'failed', root, error: message }),
      exit: (code, out) => {
        this.kill = undefined;
        try {
          const parsed = JSON.parse(out) as { summary?: LintSummary };
          if (!parsed.summary) throw new Error('no summary in the output');
          this.set({ state: 'done', root, summary: parsed.summary });
        } catch (error) {
          this.set({
            state: 'failed',
            root,
            error: code === 2 ? 'lint refused its input (exit 2)' : (error as Error).message,
          });
        }
      },
    });
  }

  close(): void {
    this.kill?.();
    this.shutDown();
  }
}
