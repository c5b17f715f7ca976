// Start-up (issue 16): the real binary in tmux draws its first frame before its data plane does
// any I/O, and that frame claims nothing it has not seen: every agent not probed yet, no agent
// counted ok, the error bus connecting. Then the plane starts by itself and the screen fills in
// from the probes (a sim fleet: two agents up). A preload records, in order, the first frame's
// bytes and every TCP connection the process opens (first-frame-preload.mjs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startSim, type Sim } from '../../source/sim/sim.js';
import {
  consoleCommand,
  HAS_TMUX,
  host,
  tempDir,
  Tmux,
  until,
  writeFleet,
} from '../fault/helpers.js';
import { feed, text as screenText, vt } from '../support/vt.js';

const HOSTS = { mainpc: host(61), pc2: host(62) };
const PRELOAD = fileURLToPath(new URL('./first-frame-preload.mjs', import.meta.url));
const tmp = tempDir('first-frame');
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});

type Event =
  | { event: 'frame'; bytes: string; builtins: string[]; zeromq: boolean }
  | { event: 'connect'; to: string };
const events = (file: string): Event[] => {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Event);
};

describe('the first frame (tmux)', { skip: HAS_TMUX ? false : 'tmux not installed' }, () => {
  let sim: Sim;
  let files: { mainpc: string; pc2: string };
  before(async () => {
    const fleet = writeFleet(tmp.dir, {
      ...HOSTS,
      agents: { Alpha: [17961, 18961] },
      pc2Agents: { Bravo: [7161, 8161] },
      busPort: 7160,
    });
    files = fleet.files;
    sim = await startSim({
      machines: fleet.machines,
      hosts: HOSTS,
      nats: { mode: 'off', why: 'this test needs no NATS' },
      controlPort: 0,
      errorRate: 0,
    });
    cleanups.push(() => sim.stop());
  });

  for (const [cols, rows] of [
    [80, 24],
    [120, 40],
  ] as const) {
    test(`${cols}x${rows}: drawn before any probe, claiming no health; then the probes fill it in`, async () => {
      const log = join(tmp.dir, `events-${cols}.jsonl`);
      const tmux = new Tmux(`first-frame-${cols}`);
      cleanups.push(() => tmux.kill());
      // consoleCommand runs the binary; node's own flag goes in NODE_OPTIONS (--import is allowed there).
      const command = consoleCommand(['console', '--mainpc', files.mainpc, '--pc2', files.pc2]);
      tmux.run(
        'new-session',
        '-d',
        '-s',
        'ops',
        '-x',
        String(cols),
        '-y',
        String(rows),
        '-e',
        `MAINPC_IP=${HOSTS.mainpc}`,
        '-e',
        `PC2_IP=${HOSTS.pc2}`,
        '-e',
        `OPSDECK_CONFIG_DIR=${tmp.dir}/config-${cols}`,
        '-e',
        `OPSDECK_CACHE_DIR=${tmp.dir}/cache-${cols}`,
        '-e',
        `OPSDECK_AUDIT=${join(tmp.dir, 'audit.jsonl')}`,
        '-e',
        `OPSDECK_TEST_EVENTS=${log}`,
        '-e',
        `NODE_OPTIONS=--import ${JSON.stringify(pathToFileURL(PRELOAD).href)}`,
        '-e',
        'TERM=xterm-256color',
        command,
      );
      // The probes fill the screen in: the data plane started by itself after the first frame.
      await tmux.until(
        'both agents probed ok',
        (t) => /● OK +Alpha/.test(t) && /● OK +Bravo/.test(t),
        15_000,
      );
      const seen = await until('a probe connection in the log', () => {
        const e = events(log);
        return e.some((x) => x.event === 'connect') ? e : undefined;
      });
      const first = seen.findIndex((e) => e.event === 'frame');
      const connects = seen.filter((e) => e.event === 'connect');
      assert.equal(
        first,
        0,
        `the first frame before any connection: ${JSON.stringify(seen.slice(0, 3))}`,
      );
      assert.ok(
        connects.some((e) => e.to === `${HOSTS.mainpc}:18961`) ||
          connects.some((e) => e.to === `${HOSTS.mainpc}:17961`),
        `Alpha was probed: ${JSON.stringify(connects)}`,
      );

      // What the process had not loaded by then (the bundle loads them on first use:
      // scripts/bundle.mjs; a launch of dist/cli.js, without a fresh bundle, loads them all).
      const frame = seen[0] as Extract<Event, { event: 'frame' }>;
      const early = ['http', 'child_process', 'readline', 'dns/promises'].filter((m) =>
        frame.builtins.includes(m),
      );
      assert.deepEqual(early, [], 'not loaded before the first frame (npm run build first)');
      assert.equal(frame.zeromq, false, "zeromq's addon not loaded before the first frame");

      // What that first frame showed, as a terminal would show it.
      const term = vt(cols, rows);
      await feed(term, frame.bytes);
      const screen = screenText(term).map((row) => row.trimEnd());
      const text = screen.join('\n');
      const agentRow = (name: string) => screen.find((line) => line.includes(name)) ?? '';
      for (const name of ['Alpha', 'Bravo'])
        assert.match(agentRow(name), /\.\.\.\./, `${name} is not probed yet:\n${text}`);
      assert.doesNotMatch(
        text,
        /\b(OK|DOWN|DEGR|FAIL|STALE|TIMEOUT|MOVED)\b/,
        `no state claimed:\n${text}`,
      );
      assert.doesNotMatch(text, /\b[1-9]\d* ok\b|\b1\/1 ok\b/, `no agent counted ok:\n${text}`);
      assert.match(text, /ZMQ connecting/, `the error bus not yet tried:\n${text}`);
      assert.doesNotMatch(text, /no PUB/, `no claim about the error bus's PUB:\n${text}`);
      tmux.keys('q');
      await tmux.until('exit', (t) => t.includes('EXIT=0'), 10_000);
    });
  }
});
