// Figure: memory under a flood of distinct agents (issue 16: RSS under 300 MB after 2M errors
// from 20,000 agents). bench/rss-errors.ts feeds upstream frames into an ErrorStore, run as the
// product runs: bundled by esbuild into one file for plain `node` (under tsx, the loader alone
// adds ~36 MB of RSS that no operator's console carries). Baseline: the same bundle fed nothing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { median, round, ROOT } from './lib/harness.js';
import type { Figure, Row } from './lib/report.js';

interface RssRun {
  count: number;
  seconds: number;
  rssPeakMb: number;
  rssEndMb: number;
  rssAfterGcMb: number;
  heapAfterGcMb: number;
  received: number;
  publishers: number;
}

const AGENTS = 20_000;
const RATE = 10_000;

export const memory: Figure = {
  id: 'memory',
  title: 'Memory under a flood of distinct agents',
  async run(ctx): Promise<Row[]> {
    const bundle = join(ctx.tmp, 'rss-errors.mjs');
    buildSync({
      entryPoints: [join(ROOT, 'bench/rss-errors.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: bundle,
      logLevel: 'warning',
    });
    const feed = (count: number): RssRun => {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', bundle, String(count), String(AGENTS), String(RATE)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 300_000 },
      );
      return JSON.parse(out.trim().split('\n').pop()!) as RssRun;
    };
    const count = ctx.quick ? 100_000 : 2_000_000;
    const idle = feed(0);
    const runs: RssRun[] = [];
    for (let i = 0; i < (ctx.quick ? 1 : 2); i++) {
      const r = feed(count);
      runs.push(r);
      ctx.log(
        `  ${count.toLocaleString('en-US')} errors from ${AGENTS.toLocaleString('en-US')} agents in ${r.seconds} s: RSS peak ${r.rssPeakMb} MB, end ${r.rssEndMb} MB, after a GC ${r.rssAfterGcMb} MB (heap ${r.heapAfterGcMb} MB)`,
      );
    }
    const end = median(runs.map((r) => r.rssEndMb));
    return [
      {
        id: 'memory.rss-errors',
        figure: `RSS after ${count.toLocaleString('en-US')} errors from 20k agents`,
        unit: 'MB',
        opsdeck: end,
        baseline: idle.rssEndMb,
        baselineIs: 'the same bundled process fed no errors',
        ratio: round(end / idle.rssEndMb, 2),
        ratioIs: 'opsdeck / baseline, lower is better',
        target: '< 300 MB',
        met: end < 300,
        notes: [
          `upstream variant A frames (~420 bytes, unique ids) into an ErrorStore at ${RATE.toLocaleString('en-US')}/s of simulated time, ${runs.length} run(s), the median end reported`,
          `peak ${runs.map((r) => r.rssPeakMb).join(' / ')} MB, after a GC ${runs.map((r) => r.rssAfterGcMb).join(' / ')} MB (heap ${runs.map((r) => r.heapAfterGcMb).join(' / ')} MB): the end moves with where the last major GC fell`,
          ...(ctx.quick ? ['quick: 100,000 errors, not the target count'] : []),
        ],
        details: { idle, runs },
      },
    ];
  },
};
