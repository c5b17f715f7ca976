// Issue 19, done when: against the sim, each machine's `opsdeck agent --metrics` page passes
// `promtool check metrics` and shows every agent of both machines in the same state as
// `status --json` on the same sim; the page is served as Prometheus expects, and a taken port
// is said plainly. The sim runs the real daemon per machine (sim/machine-control.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/run-cli.js';
import { startObserver } from '../../source/agent/observe.js';
import { METRICS_CONTENT_TYPE } from '../../source/agent/metrics-server.js';
import type { Sim } from '../../source/sim/sim.js';
import { startDataPlane } from '../../source/wiring/data-plane.js';
import { exampleOverrides, fleet, NEEDS_NATS, REAL, sim, waitFor } from './sim/helpers.js';

const HOSTS = { mainpc: '127.0.19.1', pc2: '127.0.19.2' };
const ENV = { MAINPC_IP: HOSTS.mainpc, PC2_IP: HOSTS.pc2 };
const PORT = 9470;
const NO_REAL = existsSync(REAL.mainpc) ? false : `real configs not found at ${REAL.mainpc}`;
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-metrics-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

const opsdeck = (args: string[]) => runCli(args, { ...ENV, PATH: process.env.PATH }, dir);

const page = async (host: string) => {
  const res = await fetch(`http://${host}:${PORT}/metrics`);
  assert.equal(res.status, 200);
  return { type: res.headers.get('content-type'), text: await res.text() };
};

/** `machine/agent` -> the one state whose series is 1. */
function statesOf(text: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const m of text.matchAll(
    /^opsdeck_agent_state\{machine="([^"]+)",agent="([^"]+)",group="[^"]*",state="([^"]+)"\} 1$/gm,
  )) {
    const key = `${m[1]}/${m[2]}`;
    assert.equal(states.has(key), false, `${key} has two states`);
    states.set(key, m[3]!);
  }
  return states;
}

describe('opsdeck agent --metrics on the sim', { skip: NEEDS_NATS || NO_REAL }, () => {
  let s: Sim;
  before(async () => {
    s = await sim({
      machines: fleet(REAL),
      hosts: HOSTS,
      overrides: exampleOverrides(),
      agentMetricsPort: PORT,
    });
  });

  test(
    'both pages pass promtool check metrics',
    { skip: PROMTOOL ? false : 'promtool not installed: apt-get install prometheus' },
    async () => {
      for (const host of Object.values(HOSTS)) {
        const { type, text } = await page(host);
        assert.equal(type, METRICS_CONTENT_TYPE);
        const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        assert.equal(r.status, 0, `${host}: ${r.stdout}${r.stderr}`);
      }
    },
  );

  test('every agent of both machines, in the state status --json shows', async () => {
    const expected = fleet(REAL).flatMap((m) => m.agents.map((a) => `${m.id}/${a.name}`));
    let last = '';
    // Two observers probing on their own schedules: compare until they agree (a state that
    // changes between the two reads is a moment, not a disagreement).
    await waitFor(
      async () => {
        const status = await opsdeck([
          'status',
          '--json',
          '--nats',
          s.natsUrl!,
          '--mainpc',
          REAL.mainpc,
          '--pc2',
          REAL.pc2,
          '--collect',
          '0ms',
          '--fail-on',
          'never',
        ]);
        assert.equal(status.code, 0, status.err);
        const doc = JSON.parse(status.out) as {
          machines: Array<{ id: string; agents: Array<{ name: string; state: string }> }>;
        };
        const metrics = new Map([
          ...statesOf((await page(HOSTS.mainpc)).text),
          ...statesOf((await page(HOSTS.pc2)).text),
        ]);
        assert.deepEqual([...metrics.keys()].sort(), [...expected].sort());
        const differ = doc.machines.flatMap((m) =>
          m.agents
            .filter((a) => metrics.get(`${m.id}/${a.name}`) !== a.state)
            .map(
              (a) =>
                `${m.id}/${a.name}: status ${a.state}, metrics ${metrics.get(`${m.id}/${a.name}`)}`,
            ),
        );
        last = differ.join('\n');
        // Not yet probed by the agent is not an answer.
        return differ.length === 0 && ![...metrics.values()].includes('unknown');
      },
      90_000,
      1000,
    ).catch((error: Error) => assert.fail(`${error.message}; still different:\n${last}`));
    // The fleet as it behaves: some agents down, the moved ones found.
    const text = (await page(HOSTS.mainpc)).text;
    assert.match(
      text,
      /opsdeck_agent_state\{machine="mainpc",agent="UnifiedSystemAgent",[^}]*state="unreachable"\} 1/,
    );
    assert.match(
      text,
      /opsdeck_agent_port_drift\{machine="mainpc",agent="ActiveLearningMonitor",[^}]*kind="moved"\} 1/,
    );
  });

  test('each daemon tells the console where it exports, in its resources samples', async () => {
    const plane = startDataPlane({
      machines: fleet(REAL),
      nats: s.natsUrl!,
      live: false,
    });
    stops.push(() => plane.stop());
    const exporters = await waitFor(() => {
      const m = plane.resources.getSnapshot().machines;
      return m.mainpc?.sample.exporter && m.pc2?.sample.exporter
        ? { mainpc: m.mainpc.sample.exporter, pc2: m.pc2.sample.exporter }
        : undefined;
    }, 15_000);
    assert.deepEqual(exporters, {
      mainpc: { address: `${HOSTS.mainpc}:${PORT}`, agents: 49 },
      pc2: { address: `${HOSTS.pc2}:${PORT}`, agents: 23 },
    });
  });

  test('served as Prometheus expects: GET and HEAD on /metrics only', async () => {
    const base = `http://${HOSTS.pc2}:${PORT}`;
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  });
});

describe('the exporter refuses plainly', () => {
  test('a taken port: the start fails with the reason, nothing keeps running', async () => {
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.19.9', r));
    stops.push(() => new Promise((r) => held.close(r)));
    const port = (held.address() as { port: number }).port;
    await assert.rejects(
      startObserver({
        machine: 'mainpc',
        fleet: fleet(REAL),
        health: false,
        metrics: { host: '127.0.19.9', port },
        intervalMs: 1000,
        version: 't',
        startedAt: Date.now(),
        log: () => undefined,
      }),
      new RegExp(`cannot serve /metrics on 127\\.0\\.19\\.9:${port}: the port is in use`),
    );
  });

  test('a bad --metrics value, from a flag or the environment, exits 2 naming it', async () => {
    const flag = await opsdeck([
      'agent',
      '--machine',
      'mainpc',
      '--nats',
      'nats://127.0.0.1:1',
      '--metrics',
      'everywhere',
    ]);
    assert.equal(flag.code, 2);
    assert.match(flag.err, /--metrics everywhere: expected ADDR:PORT/);
    const env = await runCli(
      ['agent', '--machine', 'mainpc', '--nats', 'nats://127.0.0.1:1'],
      { OPSDECK_AGENT_METRICS: '127.0.0.1:99999' },
      dir,
    );
    assert.equal(env.code, 2);
    assert.match(env.err, /OPSDECK_AGENT_METRICS=127\.0\.0\.1:99999: expected ADDR:PORT/);
  });

  test('--health-from: a source it does not know, or agents without NATS, exits 2 naming it', async () => {
    const files = ['--mainpc', REAL.mainpc, '--pc2', REAL.pc2];
    const odd = await runCli(['status', '--health-from', 'sideways', ...files], {}, dir);
    assert.equal(odd.code, 2);
    assert.match(odd.err, /--health-from sideways: expected direct or agents/);
    const offline = await runCli(['status', '--health-from', 'agents', ...files], {}, dir);
    assert.equal(offline.code, 2);
    assert.match(offline.err, /--health-from agents reads each machine's opsdeck agent over NATS/);
    const sim = await runCli(['sim', '--no-nats', '--agent-health', ...files], {}, dir);
    assert.equal(sim.code, 2);
    assert.match(
      sim.err,
      /--agent-health and --agent-metrics run in the machines' opsdeck agents, which need NATS/,
    );
  });
});
