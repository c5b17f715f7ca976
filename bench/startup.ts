// Figure 6: start-up. The real binary (`node bin/opsdeck.js console`, 2 x 50 agents) in a PTY,
// timed from spawn to the first frame on the terminal (the alternate screen, then the Fleet
// screen's first pane). Baseline: `node -e ''` spawned the same way, from spawn to exit.
// The launcher runs the esbuild bundle that `npm run build` writes (dist/bundle/) when it is
// fresh, else dist/cli.js: the row says which one it measured. Beside the wall time, the
// console's own CPU time to that frame (a preload, lib/first-frame-cpu.mjs): on this shared
// machine the wall time moves with the load, the CPU time much less. The environment is passed
// on as it is: a NODE_EXTRA_CA_CERTS there makes every Node process (the baseline too) parse
// those certificates as it starts, and the notes say whether it was set.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { median, round, ROOT, sleep } from './lib/harness.js';
import { writeFleet } from './lib/fleet.js';
import { BIN, consoleFlags, inPty, noPty, terminalEnv } from './lib/pty.js';

const CPU_PRELOAD = pathToFileURL(`${ROOT}bench/lib/first-frame-cpu.mjs`).href;

/** The console's CPU time to its first frame, as the preload wrote it (NaN when it did not). */
function cpuToFirstFrame(file: string): number {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { cpuMs: number }).cpuMs;
  } catch {
    return NaN;
  }
}
import type { Figure, Row } from './lib/report.js';

export const startup: Figure = {
  id: 'startup',
  title: 'Start-up',
  async run(ctx): Promise<Row[]> {
    const why = noPty();
    if (why)
      return [
        {
          id: 'startup.first-frame',
          figure: 'Start-up to first frame',
          unit: 'ms',
          opsdeck: NaN,
          notes: [`skipped: ${why}`],
        },
      ];
    const runs = ctx.quick ? 1 : 3;
    // Nothing listens there: the first frame must not wait for the fleet.
    const fleet = writeFleet(ctx.tmp, 50, { mainpc: '127.0.81.7', pc2: '127.0.81.8' }, 23000);
    const env = terminalEnv({
      ...fleet.env,
      OPSDECK_CONFIG_DIR: ctx.tmp,
      OPSDECK_AUDIT: `${ctx.tmp}/audit.jsonl`,
      // The cache (snapshots of parsed configs, source/adapters/parse-cache.ts, and V8's code for
      // the bundle, source/adapters/code-cache.ts) starts empty: the first launch parses the
      // configs and compiles, the later ones read what it kept, as an operator's would.
      OPSDECK_CACHE_DIR: ctx.tmp,
      OPSDECK_BENCH_CPU_FILE: `${ctx.tmp}/first-frame-cpu.json`,
    });
    const ops: number[] = [];
    const cpu: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < runs; i++) {
      const node = inPty([process.execPath, '-e', ''], env);
      await node.exited;
      base.push(performance.now() - node.spawnedAt);

      rmSync(env.OPSDECK_BENCH_CPU_FILE!, { force: true });
      const c = inPty(
        [
          process.execPath,
          '--import',
          CPU_PRELOAD,
          ...consoleFlags(),
          BIN,
          'console',
          '--mainpc',
          fleet.files.mainpc,
          '--pc2',
          fleet.files.pc2,
          '--interval',
          '2000ms',
        ],
        env,
      );
      try {
        // eslint-disable-next-line no-control-regex
        ops.push(await c.until(/\x1b\[\?1049h[\s\S]*MAINPC/, 20_000));
        c.write('q');
        await Promise.race([c.exited, sleep(3000)]);
      } finally {
        await c.kill();
      }
      cpu.push(cpuToFirstFrame(env.OPSDECK_BENCH_CPU_FILE!));
      ctx.log(
        `  run ${i + 1}: first frame ${ops[i]!.toFixed(0)} ms (CPU ${cpu[i]!.toFixed(0)} ms); node -e '' ${base[i]!.toFixed(0)} ms`,
      );
    }
    const later = cpu.slice(1).filter((x) => !Number.isNaN(x));
    const ca = env.NODE_EXTRA_CA_CERTS
      ? `NODE_EXTRA_CA_CERTS was set (${env.NODE_EXTRA_CA_CERTS}): every Node process here, the baseline too, parsed those certificates as it started`
      : 'NODE_EXTRA_CA_CERTS was not set';
    const o = median(ops);
    const mtime = (path: string) => statSync(`${ROOT}${path}`, { throwIfNoEntry: false })?.mtimeMs;
    const bundle = mtime('dist/bundle/cli.cjs');
    const production = (env.NODE_ENV ?? 'production') === 'production' && env.DEV !== 'true';
    const fresh = production && bundle !== undefined && bundle >= (mtime('dist/cli.js') ?? 0);
    const entry = fresh
      ? 'the launcher ran the esbuild bundle (dist/bundle/)'
      : `the launcher ran dist/cli.js: ${production ? 'no bundle newer than the tsc output (npm run build writes it)' : 'development mode (NODE_ENV / DEV)'}`;
    const b = median(base);
    return [
      {
        id: 'startup.first-frame',
        figure: 'Start-up to first frame',
        unit: 'ms',
        opsdeck: round(o, 0),
        baseline: round(b, 0),
        baselineIs: "`node -e ''` started the same way (script PTY, stty), spawn to exit",
        ratio: round(o / b, 2),
        ratioIs: 'opsdeck / baseline; lower is better',
        target: '< 300 ms',
        met: o < 300,
        notes: [
          `median of ${runs} launches of node bin/opsdeck.js console (2 x 50 agents, NATS off), spawn to the alternate screen plus the first Fleet pane (fastest ${round(Math.min(...ops), 0)} ms)`,
          entry,
          `the first launch parses the fleet's configs and compiles the bundle (${round(ops[0]!, 0)} ms), the others read the snapshots and V8's code it kept (source/adapters/parse-cache.ts, code-cache.ts)`,
          `the console's CPU time to its first frame (user + system, all threads; bench/lib/first-frame-cpu.mjs): ${later.length ? `median ${round(median(later), 0)} ms over the launches after the first (fastest ${round(Math.min(...later), 0)} ms)` : 'not measured'}; the first launch ${round(cpu[0]!, 0)} ms`,
          ca,
        ],
        details: {
          cpuToFirstFrameMs: cpu.map((x) => round(x, 1)),
          extraCaCerts: Boolean(env.NODE_EXTRA_CA_CERTS),
          opsdeckMs: ops.map((x) => round(x, 1)),
          baselineMs: base.map((x) => round(x, 1)),
          bundle: fresh,
        },
      },
    ];
  },
};
