// `opsdeck config migrate <file>`: upstream's unify_config_schema.py --target agent_groups, done
// safely. The transform is core/fleet/migrate.ts; the file mechanics are adapters/atomic-file.ts.
import type { Command } from 'commander';
import { basename, isAbsolute, resolve } from 'node:path';
import { appendAudit, auditPath, type AuditEntry } from '../adapters/audit.js';
import {
  FileError,
  readSnapshot,
  realTarget,
  replaceFile,
  snapshotIfPresent,
  rollback,
  withLock,
  newestBackup,
  type FileSnapshot,
} from '../adapters/atomic-file.js';
import { findOverrides, mergeDocker } from '../adapters/fleet-files.js';
import { fleetMachineOf } from '../actions/config-migrate.js';
import { unifiedDiff } from '../core/diff.js';
import { migrateText, MIGRATE_TARGETS, type MigrateResult } from '../core/fleet/migrate.js';
import { formatDiagnostic, hasErrors } from '../core/fleet/model.js';
import type { ParsedSource } from '../core/fleet/yaml-source.js';
import { parseYaml } from '../core/fleet/yaml-source.js';
import { EXIT, Exit, type Io } from './io.js';

interface MigrateArgs {
  target: string;
  dryRun?: boolean;
  machine?: string;
  out?: string;
  rollback?: boolean;
  yes?: boolean;
}

const TITLE = 'Migrate the fleet config to the agent_groups schema';

/** Asks as every action does: the exact words, typed. Anything else declines. */
async function confirmed(io: Io, words: string): Promise<boolean> {
  const answer = io.ask ? await io.ask(`Type "yes" to run: ${words}\n> `) : '';
  return answer.trim() === 'yes';
}

export function registerMigrate(config: Command, io: Io): Command {
  return config
    .command('migrate <file>')
    .description(
      'rewrite a fleet config into the canonical agent_groups schema: backup in backup/ beside the file, then an atomic write (exit 1: --dry-run found changes or the write was declined)',
    )
    .option(
      '--target <schema>',
      `schema to write (only ${MIGRATE_TARGETS.join(', ')}; accepted for unify_config_schema.py compatibility)`,
      'agent_groups',
    )
    .option('--dry-run', 'print the unified diff and change nothing')
    .option('--machine <name>', 'v3 unified files: the machine whose agents to write')
    .option(
      '--out <file>',
      'write the result to this file instead of in place (required for v3 unified files)',
    )
    .option('--rollback', 'restore the newest backup of <file> from backup/ beside it')
    .option('--yes', 'write without asking (scripts); without it the diff is shown and confirmed')
    .action(async (file: string, opts: MigrateArgs) => {
      const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
      const machine = fleetMachineOf(abs(file), opts.machine, io.env);
      // Real runs leave an audit line (config.migrate / config.rollback), as the console's action does.
      const audit: Audit = (outcome, detail) =>
        appendAudit(
          {
            machine,
            action: opts.rollback ? 'config.rollback' : 'config.migrate',
            args: {
              file: abs(file),
              ...(opts.out ? { out: abs(opts.out) } : {}),
              ...(opts.machine ? { machine: opts.machine } : {}),
            },
            outcome,
            detail,
          },
          auditPath(io.env),
        );
      try {
        if (opts.rollback) await runRollback(abs(file), opts, io, audit);
        else await runMigrate(abs(file), opts.out ? abs(opts.out) : undefined, opts, io, audit);
      } catch (error) {
        if (error instanceof FileError) {
          // Refused (another run holds it, it changed) or failed (the disk): exit 1, as every
          // action; a file that cannot be read or has no backup is bad input: exit 2.
          const refusedOrFailed =
            error.kind === 'locked' || error.kind === 'changed' || error.kind === 'write-failed';
          if (!opts.dryRun && refusedOrFailed)
            audit(error.kind === 'write-failed' ? 'failed' : 'refused', error.message);
          io.err(`opsdeck: ${error.message}`);
          throw new Exit(refusedOrFailed ? EXIT.findings : EXIT.badInput);
        }
        throw error;
      }
    });
}

type Audit = (outcome: AuditEntry['outcome'], detail: string) => unknown;

/**
 * What the lock and temp-file recovery found, said on stderr; a lock left by a killed run is
 * also recorded in the audit trail (the run itself could not say how it ended).
 */
const recovery =
  (io: Io, audit: Audit, target: string) =>
  (line: string): void => {
    io.err(`opsdeck: ${line}`);
    if (line.startsWith('recovered the stale lock'))
      audit(
        'interrupted',
        `${line}; ${target} is now as that run left it (original or migrated, never half-written)`,
      );
  };

const badInput = (io: Io, message: string): never => {
  io.err(`opsdeck: ${message}`);
  throw new Exit(EXIT.badInput);
};

/** One migrate run: the file, where it is written (a symbolic link's target), how to say so. */
interface Run {
  file: string;
  out: string | undefined;
  /** The path named on the command line (--out, else the file). */
  named: string;
  target: string;
  /** The target in the operator's words: `file -> target`, and the link it came through. */
  where: string;
  opts: MigrateArgs;
  io: Io;
  audit: Audit;
}

/** The source and replaced file's hashes as the operator saw them in the confirmed preview. */
interface Shown {
  source: string;
  replaced: string;
}

async function runMigrate(
  file: string,
  out: string | undefined,
  opts: MigrateArgs,
  io: Io,
  audit: Audit,
): Promise<void> {
  if (!(MIGRATE_TARGETS as readonly string[]).includes(opts.target)) {
    badInput(
      io,
      `unknown --target "${opts.target}": the only schema is ${MIGRATE_TARGETS.join(', ')}`,
    );
  }
  // A symbolic link: its target is changed, the link kept.
  const named = out ?? file;
  const target = realTarget(named);
  const where = `${out ? `${file} -> ${target}` : target}${target === named ? '' : ` (the target of the symbolic link ${named})`}`;
  const run: Run = { file, out, named, target, where, opts, io, audit };
  if (opts.dryRun) return dryRun(run);

  readSnapshot(file); // an unreadable file is the first thing to report, before any lock
  // Asked before the lock, as the console's action does: an operator who walks away from the
  // question (or presses Ctrl+C) holds nothing; the write below checks that nothing changed.
  let shown: Shown | undefined;
  if (!opts.yes) {
    shown = await confirmPreview(run);
    if (!shown) return;
  }
  await withLock(target, () => writeMigrated(run, shown), recovery(io, audit, target));
}

/**
 * Reads, transforms and reports; returns what to write, if anything. Under the lock for a real
 * run; `again` (the run already showed its preview) says the diagnostics only once.
 */
function prepare(
  run: Run,
  again = false,
): { result: Extract<MigrateResult, { ok: true }>; source: FileSnapshot } | undefined {
  const { file, out, opts, io } = run;
  const source = readSnapshot(file);
  const result = migrateText(source.text, file, {
    env: io.env,
    ...(opts.machine ? { machine: opts.machine } : {}),
    ...overridesFor(file, source.text, again ? { ...io, err: () => {} } : io),
  });
  if (!again) for (const d of result.diagnostics) io.err(formatDiagnostic(d));
  if (!result.ok)
    return badInput(io, `${file} was not migrated (errors above); nothing was changed`);
  if (result.shape === 'v3-unified' && (!out || out === file)) {
    badInput(
      io,
      `${file} is a v3 unified config for several machines: refusing to rewrite it in place; pass --out FILE for machine ${result.machine}'s config`,
    );
  }
  if (result.status === 'already-canonical') {
    io.out(`${file}: already canonical (${opts.target} schema); nothing written`);
    return undefined;
  }
  return { result, source };
}

/** --dry-run: the diff on stdout, what would change on stderr; exit 1 when there is a change. */
function dryRun(run: Run): void {
  const prepared = prepare(run);
  if (!prepared) return;
  const current = run.out ? currentText(run.out) : prepared.source.text;
  run.io.out(
    unifiedDiff(current ?? '', prepared.result.text, {
      fromFile: current === undefined ? '/dev/null' : run.target,
      toFile: run.target,
    }).trimEnd(),
  );
  run.io.err(describe(run.where, prepared.result, 'would migrate'));
  throw new Exit(EXIT.findings);
}

/** The preview and the question; what was shown when confirmed, undefined when nothing to do. */
async function confirmPreview(run: Run): Promise<Shown | undefined> {
  const { out, target, where, io } = run;
  const before = out ? snapshotIfPresent(out) : undefined;
  const prepared = prepare(run);
  if (!prepared) return undefined;
  const { result, source } = prepared;
  const replaced = out ? before : source;
  io.out(`${TITLE} — target: ${where}`);
  io.out(describe(where, result, 'will migrate'));
  io.out(
    unifiedDiff(replaced?.text ?? '', result.text, {
      fromFile: replaced ? target : '/dev/null',
      toFile: target,
    }).trimEnd(),
  );
  if (!(await confirmed(io, `${TITLE} on ${target}`))) {
    io.err(
      `opsdeck: not confirmed; nothing was changed (--yes writes without asking, --dry-run only shows)`,
    );
    run.audit('cancelled', 'not confirmed');
    throw new Exit(EXIT.findings);
  }
  return { source: source.fingerprint.sha256, replaced: replaced?.fingerprint.sha256 ?? '' };
}

/** Under the lock: migrated again, refused when a file moved since the preview, then written. */
function writeMigrated(run: Run, shown: Shown | undefined): void {
  const { file, out, target, where, io, audit } = run;
  // For --out the file to replace is `out`: what it is now is what must still be there at the
  // rename.
  const before = out ? snapshotIfPresent(out) : undefined;
  const prepared = prepare(run, shown !== undefined);
  if (!prepared) return;
  const { result, source } = prepared;
  const replaced = out ? before : source;
  // Write exactly what was confirmed: the source and the file replaced as they were shown.
  const moved =
    shown && source.fingerprint.sha256 !== shown.source
      ? file
      : shown && (replaced?.fingerprint.sha256 ?? '') !== shown.replaced
        ? target
        : undefined;
  if (moved) {
    const why = `${moved} changed after the preview was confirmed; nothing was written; run it again to see the new diff`;
    audit('refused', why);
    io.err(`opsdeck: ${why}`);
    throw new Exit(EXIT.findings);
  }
  const written = replaceFile(target, result.text, {
    expected: replaced ? replaced.fingerprint : 'absent',
    ...(replaced ? { backup: replaced.bytes } : {}),
    // Recorded before the rename: a run killed right after it still left a trace.
    beforeRename: (backup) =>
      audit('started', `migrating ${where}${backup ? `; backup ${backup}` : ''}`),
  });
  // The audit line is durable before success is reported.
  audit('ok', `migrated ${where}${written.backup ? `; backup ${written.backup}` : ''}`);
  io.out(describe(where, result, 'migrated'));
  if (written.backup)
    io.out(`  backup: ${written.backup} (undo: opsdeck config migrate ${run.named} --rollback)`);
}

async function runRollback(file: string, opts: MigrateArgs, io: Io, audit: Audit): Promise<void> {
  if (opts.machine || opts.out)
    badInput(io, '--rollback restores <file> from its own backups; it takes no --machine or --out');
  // A symbolic link: its target was migrated, its backups are beside the target.
  const target = realTarget(file);
  if (opts.dryRun) {
    const newest = newestBackup(target);
    if (!newest)
      return badInput(
        io,
        `no backup of ${file} in ${basename(file)}'s backup/ folder; nothing to roll back to`,
      );
    const diff = unifiedDiff(currentText(file) ?? '', readSnapshot(newest).text, {
      fromFile: file,
      toFile: file,
    });
    if (diff === '') {
      io.out(`${file}: already the same as ${newest}; nothing to roll back`);
      return;
    }
    io.out(diff.trimEnd());
    io.err(`would restore ${file} from ${newest}`);
    throw new Exit(EXIT.findings);
  }
  // Asked before the lock (see runMigrate); the restore checks that what was shown still holds.
  let shown: { newest: string; current: string } | undefined;
  if (!opts.yes) {
    const newest = newestBackup(target);
    if (newest) {
      const now = currentText(file) ?? '';
      const diff = unifiedDiff(now, readSnapshot(newest).text, { fromFile: file, toFile: file });
      if (diff === '') {
        io.out(`${file}: already the same as ${newest}; nothing written`);
        return;
      }
      io.out(`Restore ${file} from its newest backup — target: ${target}`);
      io.out(diff.trimEnd());
      if (!(await confirmed(io, `Restore ${target} from ${newest}`))) {
        io.err(
          'opsdeck: not confirmed; nothing was changed (--yes restores without asking, --dry-run only shows)',
        );
        audit('cancelled', 'not confirmed');
        throw new Exit(EXIT.findings);
      }
      shown = { newest, current: now };
    }
  }
  await withLock(
    target,
    () => {
      if (
        shown &&
        (newestBackup(target) !== shown.newest || (currentText(file) ?? '') !== shown.current)
      ) {
        const why = `${target} or its backups changed after the preview was confirmed; nothing was restored; run it again to see the new diff`;
        audit('refused', why);
        io.err(`opsdeck: ${why}`);
        throw new Exit(EXIT.findings);
      }
      const result = rollback(target, new Date(), (restored) =>
        audit('started', `restoring ${target} from ${restored}`),
      );
      if (result.status === 'already-current') {
        io.out(`${file}: already the same as ${result.restored}; nothing written`);
        return;
      }
      audit(
        'ok',
        `restored ${target} from ${result.restored}${result.kept ? `; replaced content kept in ${result.kept}` : ''}`,
      );
      io.out(`restored ${file} from ${result.restored}`);
      if (result.kept) io.out(`  the replaced content is kept in ${result.kept}`);
    },
    recovery(io, audit, target),
  );
}

function describe(
  where: string,
  result: Extract<MigrateResult, { ok: true }>,
  verb: string,
): string {
  const machine = result.shape === 'v3-unified' ? ` for machine ${result.machine}` : '';
  return [
    `${verb} ${where} (${result.shape} shape -> canonical agent_groups${machine}):`,
    ...result.notes.map((n) => `  - ${n}`),
  ].join('\n');
}

/** v3 files need their machine overrides, found as the loader finds them. */
function overridesFor(
  file: string,
  text: string,
  io: Io,
): { overrides?: Record<string, ParsedSource> } {
  const data = parseYaml(text, file).data;
  const profiles =
    data && typeof data === 'object'
      ? (data as Record<string, unknown>).machine_profiles
      : undefined;
  if (!profiles || typeof profiles !== 'object') return {};
  const found = findOverrides(file, Object.keys(profiles), io.env);
  const diagnostics = Object.values(found).flatMap((o) => o.diagnostics);
  for (const d of diagnostics) io.err(formatDiagnostic(d));
  // An override that does not parse would silently change the machine: refuse instead.
  if (hasErrors(diagnostics))
    badInput(io, `an override of ${file} has errors (above); nothing was changed`);
  return { overrides: mergeDocker(found, io.env) };
}

const currentText = (file: string): string | undefined => snapshotIfPresent(file)?.text;
