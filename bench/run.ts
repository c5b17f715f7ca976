// opsdeck's benchmark (issue 7): every figure next to a baseline measured in the same run on the
// same machine, as a ratio, so the machine's noise cancels.
//
//   npm run bench                      full run (about 8 minutes on 2 cores)
//   npm run bench -- --quick           smoke run (CI: checks that it runs, not the numbers)
//   npm run bench -- --json FILE       where to write the results (default bench/results/latest.json)
//   npm run bench -- --only a,b        some figures: ingest-zmq, ingest-nats, health, render, idle,
//                                      terminal, keys, startup, bounds, logs, memory
//   npm run bench -- --runs N          opsdeck runs per ingest mode, each bracketed by baseline runs (A B A ...; default 1)
//   npm run bench -- --compare FILE    print an earlier run's figures beside this one's
//   npm run bench -- --note TEXT       a word about the machine, kept in the JSON
//
// The lint benchmark is separate: node --import tsx bench/lint.ts [files] [workers].
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { health } from './health.js';
import { idle } from './idle.js';
import { ingestNats } from './ingest-nats.js';
import { ingestZmq } from './ingest-zmq.js';
import { keys } from './keys.js';
import { ROOT } from './lib/harness.js';
import { notes, table, type Figure, type Row } from './lib/report.js';
import { render } from './render.js';
import { startup } from './startup.js';
import { terminal } from './terminal.js';
import { bounds } from './bounds.js';
import { logs } from './logs.js';
import { memory } from './memory.js';

const FIGURES: Figure[] = [
  ingestZmq,
  ingestNats,
  health,
  render,
  idle,
  terminal,
  keys,
  startup,
  bounds,
  logs,
  memory,
];

interface Args {
  quick: boolean;
  json: string;
  only?: string[];
  runs?: number;
  compare?: string;
  note?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, json: join(ROOT, 'bench/results/latest.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--json') args.json = value();
    else if (a === '--only') args.only = value().split(',');
    else if (a === '--runs') args.runs = Number(value());
    else if (a === '--compare') args.compare = value();
    else if (a === '--note') args.note = value();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        readFileSync(new URL(import.meta.url), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('//'))
          .map((l) => l.slice(3))
          .join('\n') + '\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  const ids = FIGURES.map((f) => f.id);
  for (const id of args.only ?? [])
    if (!ids.includes(id)) throw new Error(`no figure "${id}" (figures: ${ids.join(', ')})`);
  return args;
}

function git(...a: string[]): string {
  try {
    return execFileSync('git', a, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

function machine() {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemGb: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
  };
}

/** The startup and idle figures run the built binary: say so when dist/ is older than source/. */
function distWarning(): string | undefined {
  const cli = join(ROOT, 'dist/cli.js');
  if (!existsSync(cli))
    return 'dist/ is missing: run `npm run build` first (startup and idle run the built binary)';
  const built = statSync(cli).mtimeMs;
  const newest = (dir: string): number => {
    let t = 0;
    for (const entry of execFileSync('find', [dir, '-name', '*.ts*', '-newer', cli], {
      encoding: 'utf8',
    }).split('\n'))
      if (entry) t = Math.max(t, statSync(entry).mtimeMs);
    return t;
  };
  return newest(join(ROOT, 'source')) > built
    ? 'dist/ is older than source/: startup and idle measure the last build (npm run build)'
    : undefined;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'opsdeck-bench-'));
  const runs = args.runs ?? 1;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const warning = distWarning();
  if (warning) log(`warning: ${warning}`);
  log(
    `opsdeck bench${args.quick ? ' --quick' : ''}: ${machine().cores} cores, ${machine().cpuModel}, node ${process.version}`,
  );
  const rows: Row[] = [];
  const failures: string[] = [];
  // Other work on the machine shows in the load average: kept with the results, per figure.
  const load: { figure: string; before: number; after: number; seconds: number }[] = [];
  try {
    for (const figure of FIGURES) {
      if (args.only && !args.only.includes(figure.id)) continue;
      const t0 = Date.now();
      const before = loadavg()[0]!;
      log(`\n== ${figure.title} (load average ${before.toFixed(2)})`);
      try {
        const got = await figure.run({ quick: args.quick, runs, tmp, log });
        rows.push(...got);
        log(`   (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        load.push({
          figure: figure.id,
          before: Math.round(before * 100) / 100,
          after: Math.round(loadavg()[0]! * 100) / 100,
          seconds: Math.round((Date.now() - t0) / 100) / 10,
        });
      } catch (error) {
        failures.push(`${figure.id}: ${(error as Error).message}`);
        log(`${figure.title} FAILED: ${(error as Error).stack ?? String(error)}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const durationS = (Date.now() - started) / 1000;
  const result = {
    schema: 'opsdeck.bench/1',
    at: new Date(started).toISOString(),
    quick: args.quick,
    runsPerSide: runs,
    durationS: Math.round(durationS * 10) / 10,
    machine: { ...machine(), ...(args.note ? { note: args.note } : {}) },
    git: {
      commit: git('rev-parse', 'HEAD'),
      dirty: git('status', '--porcelain', '--', 'source', 'bench') !== '',
    },
    ...(warning ? { warning } : {}),
    failures,
    load,
    figures: rows,
  };
  mkdirSync(dirname(args.json), { recursive: true });
  writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);

  process.stdout.write(`\n${table(rows)}\n\n${notes(rows)}\n`);
  if (args.compare) process.stdout.write(`\n${compare(rows, args.compare)}\n`);
  process.stdout.write(
    `\n${rows.length} figures in ${durationS.toFixed(0)} s; JSON: ${relative(process.cwd(), args.json)}\n`,
  );
  process.stdout.write('lint benchmark (separate, issue 9): node --import tsx bench/lint.ts\n');
  if (failures.length) {
    process.stdout.write(`FAILED: ${failures.join('; ')}\n`);
    process.exitCode = 1;
  }
}

/** This run's figures beside an earlier run's (same ids). */
function compare(rows: readonly Row[], file: string): string {
  const before = JSON.parse(readFileSync(file, 'utf8')) as {
    at: string;
    machine: { cpuModel: string; cores: number };
    figures: Row[];
  };
  const old = new Map(before.figures.map((r) => [r.id, r]));
  const lines = [
    `compared with ${file} (${before.at}, ${before.machine.cores} x ${before.machine.cpuModel}):`,
  ];
  for (const r of rows) {
    const o = old.get(r.id);
    if (!o) continue;
    const change = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined && b !== 0
        ? `${(((a - b) / Math.abs(b)) * 100).toFixed(0)}%`
        : '-';
    lines.push(
      `  ${r.figure}: opsdeck ${o.opsdeck} -> ${r.opsdeck} ${r.unit} (${change(r.opsdeck, o.opsdeck)}); ratio ${o.ratio ?? '-'} -> ${r.ratio ?? '-'} (${change(r.ratio, o.ratio)})`,
    );
  }
  return lines.join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(2);
});
