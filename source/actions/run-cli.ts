// The action path for subcommands: print the preview, ask (or take --yes), run, verify, audit.
import { appendAudit } from '../adapters/audit.js';
import type { AuditEntry } from '../core/audit.js';
import { EXIT, Exit, type Io } from '../core/io.js';
import { confirmText, type Action, type Outcome } from './action.js';

export interface RunOptions {
  dryRun?: boolean;
  yes?: boolean;
  auditPath?: string;
}

export async function runAction(
  action: Action,
  io: Io,
  options: RunOptions = {},
): Promise<Outcome | undefined> {
  const audit = (outcome: AuditEntry['outcome'], detail: string) =>
    appendAudit(
      { machine: action.machine, action: action.id, args: action.args, outcome, detail },
      options.auditPath,
    );
  const preview = await action.preview();
  io.out(`${action.title} — target: ${preview.target}`);
  for (const c of preview.checks ?? [])
    io.out(`  ${c.ok ? 'pass' : 'FAIL'}  ${c.name}: ${c.evidence}`);
  for (const line of preview.lines) io.out(`  ${line}`);
  if (preview.noop) {
    io.out(`nothing to do: ${preview.noop}`);
    return { ok: true, detail: `nothing to do: ${preview.noop}` };
  }
  if (!preview.runnable) {
    io.err(
      `opsdeck: ${action.title} refused: a preflight check failed (above); nothing was changed`,
    );
    if (!options.dryRun) audit('refused', 'preflight failed');
    throw new Exit(EXIT.findings);
  }
  if (options.dryRun) {
    io.out('(dry run: nothing was changed)');
    return undefined;
  }
  if (!options.yes) {
    const want = confirmText(action, preview);
    const answer = io.ask ? (await io.ask(`Type "yes" to run: ${want}\n> `)).trim() : '';
    if (answer !== 'yes') {
      io.err('opsdeck: not confirmed; nothing was changed');
      audit('cancelled', 'not confirmed');
      throw new Exit(EXIT.findings);
    }
  }
  let outcome: Outcome;
  try {
    outcome = await action.execute(preview, audit);
    if (outcome.ok) outcome = await action.verify(outcome);
  } catch (error) {
    const detail = (error as Error).message;
    audit('failed', detail);
    io.err(`opsdeck: ${action.title} failed: ${detail}`);
    throw new Exit(EXIT.findings);
  }
  audit(outcome.ok ? 'ok' : outcome.refused ? 'refused' : 'failed', outcome.detail);
  io.out(`${outcome.ok ? 'done' : 'FAILED'}: ${outcome.detail}`);
  for (const line of outcome.lines ?? []) io.out(`  ${line}`);
  if (!outcome.ok) throw new Exit(EXIT.findings);
  return outcome;
}
