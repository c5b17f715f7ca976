// Runs one action at a time for the console through the shared path: preview, confirmation
// pinned to the previewed target, execute, verify, audit. A store, so the flow pane renders it.
import { confirmText, type Action, type RunnerSnapshot, type Step } from '../core/action.js';
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

  private audit(outcome: 'ok' | 'refused' | 'failed' | 'cancelled', detail: string): void {
    const a = this.current;
    if (!a) return;
    try {
      this.log.append({ machine: a.machine, action: a.id, args: a.args, outcome, detail });
    } catch (error) {
      // An action whose record cannot be written is reported as such, not hidden.
      this.set({ phase: 'failed', error: `audit log not writable: ${(error as Error).message}` });
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
      this.audit(outcome.ok ? 'ok' : outcome.refused ? 'refused' : 'failed', outcome.detail);
      this.set({ phase: 'done', preview, outcome });
    } catch (error) {
      const message = (error as Error).message;
      this.audit('failed', message);
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
