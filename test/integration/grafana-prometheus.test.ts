// The dashboard's queries on a real Prometheus (Debian's, started by the test on loopback) that
// scrapes the sim's two `opsdeck agent --metrics` with the config `deploy grafana` writes: every
// query is valid PromQL and finds series. What a dashboard can only show once it runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grafanaDashboard, scrapeConfig } from '../../source/core/deploy/grafana.js';
import { expressions } from '../deploy/grafana-schema.js';
import { exampleOverrides, fleet, NEEDS_NATS, REAL, sim, waitFor } from './sim/helpers.js';

const HOSTS = { mainpc: '127.0.21.1', pc2: '127.0.21.2' };
const PROM = '127.0.21.9:9090';
const NO_PROMETHEUS =
  spawnSync('prometheus', ['--version']).status === 0
    ? false
    : 'prometheus not installed: apt-get install prometheus (scripts/install-system-deps.sh)';
const NO_REAL = existsSync(REAL.mainpc) ? false : `real configs not found at ${REAL.mainpc}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-prom-'));
let prometheus: ChildProcess | undefined;
after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

type Answer = { status: string; error?: string; data?: { result: unknown[] } };
const query = async (q: string): Promise<Answer> =>
  (await (
    await fetch(`http://${PROM}/api/v1/query?query=${encodeURIComponent(q)}`)
  ).json()) as Answer;

describe(
  "the dashboard's queries on Prometheus scraping the sim",
  { skip: NEEDS_NATS || NO_REAL || NO_PROMETHEUS },
  () => {
    before(async () => {
      await sim({
        machines: fleet(REAL),
        hosts: HOSTS,
        overrides: exampleOverrides(),
        agentMetricsPort: 9470,
        bridges: true,
        errorRate: 5,
      });
      const config = scrapeConfig(
        Object.entries(HOSTS).map(([id, host]) => ({ id, host })),
        9470,
        'test',
      )
        .replace(/scrape_interval: \d+s/g, 'scrape_interval: 1s')
        .replace(/scrape_timeout: \d+s/, 'scrape_timeout: 1s');
      writeFileSync(join(dir, 'prometheus.yml'), config);
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=${PROM}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let said = '';
      prometheus.stderr!.on(
        'data',
        (b: Buffer) => void (said = `${said}${b.toString()}`.slice(-4000)),
      );
      await waitFor(
        async () => {
          const up = await query('sum(up{job="opsdeck"})').catch(() => undefined);
          const r = up?.data?.result as Array<{ value: [number, string] }> | undefined;
          return r?.[0]?.value[1] === '2';
        },
        60_000,
        500,
      ).catch((error: Error) => assert.fail(`${error.message}: prometheus said:\n${said}`));
      // rate() needs a few scrapes in its window.
      await new Promise((r) => setTimeout(r, 6000));
    });

    test('every query is valid PromQL and finds series', async () => {
      const empty: string[] = [];
      for (const expr of expressions(grafanaDashboard('t'))) {
        const q = expr
          .replaceAll('$machine', '.*')
          .replaceAll('$agent', '.*')
          .replaceAll('$__rate_interval', '10s');
        const a = await query(q);
        assert.equal(a.status, 'success', `${q}: ${a.error}`);
        if ((a.data?.result.length ?? 0) === 0) empty.push(q);
      }
      assert.deepEqual(empty, []);
    });
  },
);
