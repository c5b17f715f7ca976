// `config migrate` as an Action (`config.migrate`), for the console's Actions screen and any
// caller of runAction: preview = the unified diff, target = the exact file written, result =
// the backup path. The write is `opsdeck config migrate`'s: lock, backup in backup/ beside the
// file, temp + fsync + rename, refused if the file changed since the preview was confirmed.
import { isAbsolute, resolve } from 'node:path';
import {
  FileError,
  readSnapshot,
  realTarget,
  replaceFile,
  snapshotIfPresent,
  withLock,
  type FileSnapshot,
} from '../adapters/atomic-file.js';
import { findOverrides, mergeDocker } from '../adapters/fleet-files.js';
import { unifiedDiff } from '../core/diff.js';
import { migrateText, type MigrateResult } from '../core/fleet/migrate.js';
import { formatDiagnostic, hasErrors } from '../core/fleet/model.js';
import type { Env } from '../core/fleet/port-expr.js';
import { parseYaml, type ParsedSource } from '../core/fleet/yaml-source.js';
import type { Action, Journal, Outcome, Preview } from './action.js';

export interface MigrateActionOptions {
  file: string;
  /** Write here instead of in place (required for v3 unified files). */
  out?: string;
  /** v3 unified files: the machine whose agents to write. */
  machine?: string;
  env: Env;
  cwd: string;
}

type Migrated = Extract<MigrateResult, { ok: true }>;

export type MigratePlan =
  | { ok: false; problems: string[] }
  | {
      ok: true;
      file: string;
      target: string;
      result: Migrated;
      /** The file as it was read. */
      source: FileSnapshot;
      /** What the target is now (undefined: it does not exist yet). */
      replaced: FileSnapshot | undefined;
      diff: string;
    };

/**
 * The fleet machine the file configures (the audit's `machine`, as every action's): the shape's
 * (pc2_services -> pc2, else mainpc) or the v3 file's chosen machine; `fleet` when it cannot be
 * told.
 */
export function fleetMachineOf(file: string, machine: string | undefined, env: Env): string {
  if (machine) return machine;
  try {
    const r = migrateText(readSnapshot(file).text, file, { env });
    return r.ok ? r.machine : 'fleet';
  } catch {
    return 'fleet';
  }
}

/** v3 files need their machine overrides, found as the loader finds them. */
function overrides(
  file: string,
  text: string,
  env: Env,
): { overrides?: Record<string, ParsedSource>; problems: string[] } {
  const data = parseYaml(text, file).data;
  const profiles =
    data && typeof data === 'object'
      ? (data as Record<string, unknown>).machine_profiles
      : undefined;
  if (!profiles || typeof profiles !== 'object') return { problems: [] };
  const found = findOverrides(file, Object.keys(profiles), env);
  const diagnostics = Object.values(found).flatMap((o) => o.diagnostics);
  if (hasErrors(diagnostics))
    return {
      problems: [
        ...diagnostics.map(formatDiagnostic),
        `an override of ${file} has errors; nothing would change`,
      ],
    };
  return { overrides: mergeDocker(found, env), problems: [] };
}

/** Reads and transforms; no lock, no write. */
export function planMigrate(options: MigrateActionOptions): MigratePlan {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(options.cwd, p));
  const file = abs(options.file);
  const out = options.out ? abs(options.out) : undefined;
  let source: FileSnapshot;
  let target: string;
  try {
    source = readSnapshot(file);
    target = realTarget(out ?? file); // a symbolic link's target is written, the link kept
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  const o = overrides(file, source.text, options.env);
  if (o.problems.length > 0) return { ok: false, problems: o.problems };
  const result = migrateText(source.text, file, {
    env: options.env,
    ...(options.machine ? { machine: options.machine } : {}),
    ...(o.overrides ? { overrides: o.overrides } : {}),
  });
  if (!result.ok)
    return {
      ok: false,
      problems: [...result.diagnostics.map(formatDiagnostic), `${file} cannot be migrated`],
    };
  if (result.shape === 'v3-unified' && (!out || out === file)) {
    return {
      ok: false,
      problems: [
        `${file} is a v3 unified config for several machines: it is not rewritten in place; give an output file for machine ${result.machine}'s config`,
      ],
    };
  }
  let replaced: FileSnapshot | undefined;
  try {
    replaced = out ? snapshotIfPresent(out) : source;
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  const diff = unifiedDiff(replaced?.text ?? '', result.text, {
    fromFile: replaced ? target : '/dev/null',
    toFile: target,
  });
  return { ok: true, file, target, result, source, replaced, diff };
}

type Planned = Extract<MigratePlan, { ok: true }>;

/** The options, and the plan behind the last preview: execute writes only what it showed. */
interface Migration {
  options: MigrateActionOptions;
  planned?: { preview: Preview; plan: Planned };
}

async function previewMigration(m: Migration): Promise<Preview> {
  m.planned = undefined;
  const { options } = m;
  const plan = planMigrate(options);
  if (!plan.ok) {
    return {
      target: resolve(options.cwd, options.out ?? options.file),
      lines: plan.problems,
      checks: [{ name: 'file migrates', ok: false, evidence: plan.problems.join('; ') }],
      runnable: false,
      destructive: false,
    };
  }
  const where = plan.target === plan.file ? plan.file : `${plan.file} -> ${plan.target}`;
  const machine = plan.result.shape === 'v3-unified' ? ` for machine ${plan.result.machine}` : '';
  const checks = [
    {
      name: 'file migrates',
      ok: true,
      evidence: `${where}: ${plan.result.shape} shape -> canonical agent_groups${machine}`,
    },
  ];
  const unchanged = plan.result.status === 'already-canonical' && plan.target === plan.file;
  if (unchanged || plan.diff === '') {
    checks.push({
      name: 'something to change',
      ok: false,
      evidence: `${plan.target} is already canonical (agent_groups schema); nothing to write`,
    });
    return { target: plan.target, lines: [], checks, runnable: false, destructive: false };
  }
  const preview: Preview = {
    target: plan.target,
    lines: [...plan.result.notes.map((n) => `- ${n}`), ...plan.diff.trimEnd().split('\n')],
    checks,
    runnable: true,
    // A backup is kept and `--rollback` restores it.
    destructive: false,
  };
  m.planned = { preview, plan };
  return preview;
}

/** Under the lock: writes the plan's text if the source is still what the preview read. */
function writePlanned(plan: Planned, recovered: string[], journal: Journal | undefined): Outcome {
  // Write exactly what was shown: the source and the target must be as they were at the preview.
  const source = readSnapshot(plan.file);
  if (source.fingerprint.sha256 !== plan.source.fingerprint.sha256) {
    return {
      ok: false,
      refused: true,
      detail: `refused: ${plan.file} changed since the preview; nothing was written; preview again`,
    };
  }
  const where = plan.target === plan.file ? plan.file : `${plan.file} -> ${plan.target}`;
  const written = replaceFile(plan.target, plan.result.text, {
    expected: plan.replaced ? plan.replaced.fingerprint : 'absent',
    ...(plan.replaced ? { backup: plan.replaced.bytes } : {}),
    // As `opsdeck config migrate` does: recorded before the rename, so a console killed right
    // after it still left a trace.
    beforeRename: (backup) =>
      journal?.('started', `migrating ${where}${backup ? `; backup ${backup}` : ''}`),
  });
  const lines = [
    ...recovered,
    ...(written.backup
      ? [`backup: ${written.backup}`, `undo: opsdeck config migrate ${plan.target} --rollback`]
      : []),
  ];
  return {
    ok: true,
    detail: `migrated ${where}${written.backup ? `; backup ${written.backup}` : ''}`,
    lines,
  };
}

async function runMigration(
  m: Migration,
  preview: Preview,
  journal: Journal | undefined,
): Promise<Outcome> {
  if (!m.planned || m.planned.preview !== preview)
    throw new Error('execute() needs the preview this action produced last');
  const { plan } = m.planned;
  const recovered: string[] = [];
  try {
    return await withLock(
      plan.target,
      () => writePlanned(plan, recovered, journal),
      (line) => {
        recovered.push(line);
        // A lock left by a killed run: that run could not say how it ended; this one does.
        if (line.startsWith('recovered the stale lock'))
          journal?.(
            'interrupted',
            `${line}; ${plan.target} is now as that run left it (original or migrated, never half-written)`,
          );
      },
    );
  } catch (error) {
    // Locked by another run, or changed under it: refused; a disk that failed: failed.
    if (error instanceof FileError)
      return {
        ok: false,
        refused: error.kind !== 'write-failed',
        detail: `${error.kind === 'write-failed' ? 'failed' : 'refused'}: ${error.message}`,
      };
    throw error;
  }
}

async function verifyMigration(m: Migration, outcome: Outcome): Promise<Outcome> {
  if (!m.planned) return outcome;
  const { plan } = m.planned;
  const now = readSnapshot(plan.target);
  if (now.text !== plan.result.text)
    return { ok: false, detail: `re-read ${plan.target}: its content is not what was written` };
  const again = migrateText(now.text, plan.target, { env: m.options.env });
  if (!again.ok || again.status !== 'already-canonical')
    return {
      ok: false,
      detail: `re-read ${plan.target}: it does not load as canonical agent_groups`,
    };
  return {
    ...outcome,
    detail: `${outcome.detail}; re-read: canonical, ${now.bytes.length} bytes`,
  };
}

export function configMigrateAction(options: MigrateActionOptions): Action {
  const m: Migration = { options };
  return {
    id: 'config.migrate',
    title: 'Migrate the fleet config to the agent_groups schema',
    machine: fleetMachineOf(resolve(options.cwd, options.file), options.machine, options.env),
    args: {
      file: options.file,
      ...(options.out ? { out: options.out } : {}),
      ...(options.machine ? { machine: options.machine } : {}),
    },
    preview: () => previewMigration(m),
    execute: (preview, journal) => runMigration(m, preview, journal),
    verify: (outcome) => verifyMigration(m, outcome),
  };
}
