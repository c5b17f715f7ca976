// The action plan's blind spots for the scorecard: `opsdeck lint --json` over the fleet's
// checkout, run once as a child process after start-up (nice'd, so the console stays light).
import { checkoutOf } from '../core/fleet/checkout.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Machine } from '../core/fleet/model.js';
import type { LintSummary } from '../core/lint/finding.js';
import { Emitter } from './emitter.js';

export interface LintSnapshot {
  state: 'pending' | 'running' | 'done' | 'failed';
  root?: string;
  summary?: LintSummary;
  error?: string;
}

const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));

/** The checkout a config lives in: the folder above main_pc_code/ or pc2_code/, else its own. */
export { checkoutOf };

export class LintStore {
  private readonly emitter = new Emitter();
  private snapshot: LintSnapshot = { state: 'pending' };
  private kill: (() => void) | undefined;

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): LintSnapshot => this.snapshot;

  private set(s: LintSnapshot): void {
    this.snapshot = s;
    this.emitter.emit();
  }

  run(machines: readonly Machine[]): void {
    const first = machines[0];
    if (!first) return;
    const root = checkoutOf(first.source.file);
    const files = machines.flatMap((m) =>
      m.id === 'mainpc' || m.id === 'pc2' ? [`--${m.id}`, m.source.file] : [],
    );
    this.set({ state: 'running', root });
    const child = spawn(
      'nice',
      ['-n', '10', process.execPath, BIN, 'lint', root, '--json', '--fail-on', 'error', ...files],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.kill = () => child.kill('SIGTERM');
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', (error) => this.set({ state: 'failed', root, error: error.message }));
    child.on('exit', (code) => {
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
    });
  }

  close(): void {
    this.kill?.();
    this.emitter.close();
  }
}
