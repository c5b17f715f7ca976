// Runs one action at a time for the console through the shared path: preview, confirmation
// pinned to the previewed target, execute, verify, audit. A store, so the flow pane renders it.
import {
  confirmText,
  type Action,
  type Preview,
  type RunnerSnapshot,
  type Step,
} from '../core/action.js';
import type { AuditLog } from '../core/seams/files.js';
import { Store } from './store.js';

export type { RunnerSnapshot } from '../core/action.js';

export class ActionRunner extends Store<RunnerSnapshot> {
  private current: Action | undefined;

  /** `log`: where each run's one line goes (adapters/audit.ts, auditLog). */
  constructor(private readonly log: Pick<AuditLog, 'append'>) {
    super({});
  }

  get awaitingConfirm(): boolean {
    return this.snapshot.step?.phase === 'confirm';
  }

  private set(step: Step, confirm?: string): void {
    const a = this.current;
    this.publish({
      ...(a ? { action: { id: a.id, title: a.title, machine: a.machine } } : {}),
      step,
      ...(confirm ? { confirm } : {}),
    });
  }

  /**
   * Writes the run's line; false, with the flow failed saying why and what had happened, when it
   * cannot be written (an action whose record is missing is reported as such, not hidden).
   */
  private audit(
    outcome: 'ok' | 'refused' | 'failed' | 'cancelled',
    detail: string,
    preview?: Preview,
  ): boolean {
    const a = this.current;
    if (!a) return true;
    try {
      this.log.append({ machine: a.machine, action: a.id, args: a.args, outcome, detail });
      return true;
    } catch (error) {
      this.set({
        phase: 'failed',
        ...(preview ? { preview } : {}),
        error: `audit log not writable: ${(error as Error).message} (the action's outcome, not recorded: ${outcome}: ${detail})`,
      });
      return false;
    }
  }

  async start(action: Action): Promise<void> {
    if (this.snapshot.step?.phase === 'running') return;
    this.current = action;
    this.set({ phase: 'previewing' });
    try {
      const preview = await action.preview();
      if (this.current !== action) return;
      if (preview.noop) {
        this.set({
          phase: 'done',
          preview,
          outcome: { ok: true, detail: `nothing to do: ${preview.noop}` },
        });
        return;
      }
      if (!preview.runnable) {
        this.set({ phase: 'blocked', preview });
        this.audit('refused', 'preflight failed');
        return;
      }
      this.set({ phase: 'confirm', preview }, confirmText(action, preview));
    } catch (error) {
      this.set({ phase: 'failed', error: (error as Error).message });
    }
  }

  async confirm(): Promise<void> {
    const step = this.snapshot.step;
    const action = this.current;
    if (!action || step?.phase !== 'confirm') return;
    const preview = step.preview;
    this.set({ phase: 'running', preview });
    try {
      // Not this.audit: a `started` line that cannot be written must stop the change.
      let outcome = await action.execute(preview, (outcome, detail) =>
        this.log.append({
          machine: action.machine,
          action: action.id,
          args: action.args,
          outcome,
          detail,
        }),
      );
      if (outcome.ok) outcome = await action.verify(outcome);
      const kind = outcome.ok ? 'ok' : outcome.refused ? 'refused' : 'failed';
      if (this.audit(kind, outcome.detail, preview)) this.set({ phase: 'done', preview, outcome });
    } catch (error) {
      const message = (error as Error).message;
      if (this.audit('failed', message, preview))
        this.set({ phase: 'failed', preview, error: message });
    }
  }

  cancel(): void {
    const step = this.snapshot.step;
    if (!step || step.phase === 'running') return;
    if (step.phase === 'confirm') this.audit('cancelled', 'not confirmed');
    this.current = undefined;
    this.publish({});
  }
}
