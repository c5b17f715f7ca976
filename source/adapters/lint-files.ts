// The I/O half of `opsdeck lint`: finds the Python and compose files under a folder, reads and
// parses them one at a time (memory stays flat over thousands of files), hands each to the
// pure rules in source/core/lint, and never lets one bad file stop the run.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Machine } from '../core/fleet/model.js';
import type { Env } from '../core/fleet/port-expr.js';
import { parseCompose } from '../core/lint/compose.js';
import { byLocation, type Finding, type RuleId } from '../core/lint/finding.js';
import { agentsByScript } from '../core/lint/fleet-ports.js';
import type { MachinePlan } from '../core/lint/compose-plan.js';
import {
  lintComposeSet,
  lintFleet,
  lintPython,
  type ComposeInput,
  type PlacedCompose,
} from '../core/lint/run.js';
import { parsePython, pythonParser } from './python-parser.js';

// Folders that hold someone else's code or build output, never the fleet's agents.
const SKIP_DIRS = new Set([
  'node_modules',
  '__pycache__',
  'site-packages',
  'venv',
  '.venv',
  'env',
  '.tox',
  '.mypy_cache',
  '.pytest_cache',
  '.git',
]);
const COMPOSE = /^(docker-)?compose([.-].*)?\.ya?ml$/i;

export interface LintFiles {
  python: string[];
  compose: string[];
  /** Folders or files that could not be listed. */
  unreadable: { path: string; why: string }[];
}

/** Lists `*.py` and compose files under `root` (or `root` itself when it is a file). */
export function findLintFiles(root: string): LintFiles {
  const out: LintFiles = { python: [], compose: [], unreadable: [] };
  const visit = (path: string, top: boolean) => {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (error) {
      out.unreadable.push({ path, why: why(error) });
      return;
    }
    if (isDir) {
      const name = basename(path);
      if (!top && (SKIP_DIRS.has(name) || name.startsWith('.'))) return;
      let entries: string[];
      try {
        entries = readdirSync(path).sort();
      } catch (error) {
        out.unreadable.push({ path, why: why(error) });
        return;
      }
      for (const entry of entries) visit(join(path, entry), false);
    } else if (path.endsWith('.py')) {
      out.python.push(path);
    } else if (COMPOSE.test(basename(path))) {
      out.compose.push(path);
    }
  };
  visit(root, true);
  return out;
}

export interface LintOptions {
  /** Absolute folder (or file) to lint. */
  root: string;
  /** Findings name files relative to this folder. */
  cwd: string;
  rules: ReadonlySet<RuleId>;
  machines: readonly Machine[];
  env: Env;
  /** Compose files only (`lint compose`): the Python scan is skipped. */
  composeOnly?: boolean;
  /** Worker threads for the Python files (default: one per core, for big trees only). */
  workers?: number;
}

export interface LintRun {
  findings: Finding[];
  files: { python: number; compose: number };
  placed: PlacedCompose[];
  plans: MachinePlan[];
}

export async function runLint(opts: LintOptions): Promise<LintRun> {
  const files = findLintFiles(opts.root);
  const show = (path: string) => relative(opts.cwd, path) || path;
  const fromRoot = (path: string) => relative(opts.root, path).split(sep).join('/');
  const findings: Finding[] = files.unreadable.map((u) => unreadable(show(u.path), u.why));
  const baseAgent = new Map<string, boolean>();

  if (files.python.length > 0 && !opts.composeOnly) {
    const batch = {
      files: files.python,
      root: opts.root,
      cwd: opts.cwd,
      rules: [...opts.rules],
      machines: opts.machines,
    };
    for (const result of await lintPythonParallel(batch, opts.workers)) {
      findings.push(...result.findings);
      for (const [script, yes] of result.baseAgent) baseAgent.set(script, yes);
    }
  }

  const inputs: ComposeInput[] = [];
  for (const path of files.compose) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      findings.push(unreadable(show(path), why(error)));
      continue;
    }
    inputs.push({
      compose: parseCompose(text, show(path)),
      relPath: fromRoot(path) || basename(path),
    });
  }
  const composed = lintComposeSet(inputs, {
    rules: opts.rules,
    machines: opts.machines,
    env: opts.env,
    baseAgent,
  });
  // the loader names config files by absolute path; findings name files as the user sees them
  const fleet = lintFleet(opts.machines, opts.rules).map((f) => ({ ...f, file: show(f.file) }));
  findings.push(...composed.findings, ...fleet);
  return {
    findings: findings.sort(byLocation),
    files: { python: opts.composeOnly ? 0 : files.python.length, compose: inputs.length },
    placed: composed.placed,
    plans: composed.plans,
  };
}

/** A share of the Python files, as plain data a worker thread can receive. */
export interface PythonBatch {
  files: string[];
  root: string;
  cwd: string;
  rules: RuleId[];
  machines: readonly Machine[];
}

export interface PythonBatchResult {
  findings: Finding[];
  /** script path (from the linted root) -> defines or imports BaseAgent */
  baseAgent: [string, boolean][];
}

/** Parses and checks Python files one at a time; an unreadable file is a finding. */
export async function lintPythonFiles(batch: PythonBatch): Promise<PythonBatchResult> {
  const parser = await pythonParser();
  const scripts = agentsByScript(batch.machines);
  const rules = new Set(batch.rules);
  const out: PythonBatchResult = { findings: [], baseAgent: [] };
  for (const path of batch.files) {
    const shown = relative(batch.cwd, path) || path;
    const rel = relative(batch.root, path).split(sep).join('/');
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      out.findings.push(unreadable(shown, why(error)));
      continue;
    }
    const result = lintPython(parsePython(parser, shown, text), {
      rules,
      agents: scripts.get(rel) ?? [],
    });
    out.findings.push(...result.findings);
    out.baseAgent.push([rel, result.baseAgent]);
  }
  return out;
}

// Below this many files a worker's start-up (wasm load included) costs more than it saves.
const PER_WORKER = 150;

async function lintPythonParallel(
  batch: PythonBatch,
  asked?: number,
): Promise<PythonBatchResult[]> {
  const workers =
    asked ?? Math.min(availableParallelism(), Math.floor(batch.files.length / PER_WORKER));
  if (workers < 2) return [await lintPythonFiles(batch)];
  // Interleaved shares: neighbouring files are alike in size, so each worker gets a fair mix.
  const shares = Array.from({ length: workers }, (_, w) => ({
    ...batch,
    files: batch.files.filter((_f, i) => i % workers === w),
  }));
  return Promise.all(shares.map((share) => runWorker(share)));
}

function runWorker(share: PythonBatch): Promise<PythonBatchResult> {
  // Under tsx (tests, bench) this module is the .ts source; built, it is dist/adapters/*.js.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new Promise((resolve, reject) => {
    const entry = new URL(`./lint-worker${ext}`, import.meta.url);
    // A worker does not inherit tsx's loader: register it first when running from source.
    const worker =
      ext === '.ts'
        ? new Worker(
            `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`,
            { eval: true, workerData: share },
          )
        : new Worker(entry, { workerData: share });
    let done = false;
    worker.once('message', (result: PythonBatchResult) => {
      done = true;
      resolve(result);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!done) reject(new Error(`lint worker stopped with exit code ${code} before reporting`));
    });
  });
}

function unreadable(file: string, reason: string): Finding {
  return {
    rule: 'syntax',
    severity: 'error',
    file,
    line: 1,
    col: 1,
    message: `cannot read ${file}: ${reason}`,
    hint: 'check the path and its permissions',
  };
}

function why(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file'
    : code === 'EACCES'
      ? 'permission denied'
      : String((error as Error).message ?? error);
}
