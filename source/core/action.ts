// One path for every operator action, from the keyboard or a subcommand:
// preview (exactly what will change or be sent) -> confirmation naming the exact target ->
// execute -> re-read and verify -> one audit line. The console's action flow and the CLI
// runner both drive this interface; neither knows what an action does.

export interface Preview {
  /** What the action acts on, exactly (a machine, a file path, a KV key at a revision). */
  target: string;
  /** One line per change or message it will send. */
  lines: string[];
  /** Checks run before (preflight), each with evidence. */
  checks?: Array<{ name: string; ok: boolean; evidence: string }>;
  /** False when a check failed: the action must not run. */
  runnable: boolean;
  /** Destructive or hard to undo: the console always asks; scripts must pass --yes. */
  destructive: boolean;
  /** The machine is already as the action would leave it: why (nothing runs, nothing to audit). */
  noop?: string;
}

export interface Outcome {
  ok: boolean;
  /** What happened, one line; the verification's evidence when it ran. */
  detail: string;
  /** Extra lines for the result view (a backup path, a new revision). */
  lines?: string[];
  /** Not done, and nothing changed: another run or an edit got there first (audited `refused`). */
  refused?: boolean;
}

/**
 * Writes an audit line while the action runs, before its one outcome line: `started` right before
 * a file's rename (a run killed after it still left a trace), `interrupted` for a run found
 * killed. Throws when the line cannot be written, so the change it announces does not happen.
 */
export type Journal = (outcome: 'started' | 'interrupted', detail: string) => void;

export interface Action {
  /** Stable id for the audit and the command palette, e.g. `errorbus.advance`. */
  id: string;
  title: string;
  machine: string;
  /** Arguments as the operator gave them (redacted before audit). */
  args: Record<string, unknown>;
  preview(): Promise<Preview>;
  /** Runs it; must throw or return ok:false rather than half-succeed silently. */
  execute(preview: Preview, journal?: Journal): Promise<Outcome>;
  /** Re-reads the world and says whether the change is really there. */
  verify(outcome: Outcome): Promise<Outcome>;
}

export type Step =
  | { phase: 'previewing' }
  | { phase: 'confirm'; preview: Preview }
  | { phase: 'blocked'; preview: Preview }
  | { phase: 'running'; preview: Preview }
  | { phase: 'done'; preview: Preview; outcome: Outcome }
  | { phase: 'cancelled'; preview?: Preview }
  | { phase: 'failed'; preview?: Preview; error: string };

/** The exact words the operator must confirm: the action and its target, nothing vaguer. */
export const confirmText = (action: Action, preview: Preview): string =>
  `${action.title} on ${preview.target}`;

/** The action flow as the console shows it (stores/action-runner.ts holds it). */
export interface RunnerSnapshot {
  action?: { id: string; title: string; machine: string };
  step?: Step;
  /** Exact words the confirmation names (action + target). */
  confirm?: string;
}
