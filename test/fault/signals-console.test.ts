// Fault injection: SIGTERM and SIGHUP to the real console (in tmux) during a flood on both
// buses, and SIGTERM while its nats-server is gone. Each time: exit code 0 (the one shutdown
// path, as for q), the alternate screen left, the cursor shown, the terminal back in cooked
// mode, the process gone, and nothing it started left running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { encodePhase, PHASE_BUCKET, PHASE_KEY } from '../../source/core/errorbus/phase.js';
import type { SimOverrides } from '../../source/sim/overrides.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import { freePort, startNatsServer } from '../../source/adapters/nats-server.js';
import {
  alive,
  BIN,
  consoleCommand,
  descendants,
  host,
  NATS_BIN,
  NEEDS_TMUX_NATS,
  processes,
  re,
  tempDir,
  Tmux,
  until,
  writeFleet,
} from './helpers.js';

const HOSTS = { mainpc: host(87), pc2: host(88) };
const tmp = tempDir('sig');
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});
const overrides: SimOverrides = {
  defaults: { error_variant: 'A', nats_library: 'errors' },
  agents: { Bravo: { error_variant: 'B', nats_library: 'error-stream' } },
  machines: {},
  // One PUB per machine on 7150 that every publisher hands its frames to (not upstream's
  // wiring): this file reads every ZMQ variant from the machines' buses.
  wiring: 'collector',
};
const received = (screen: string): number => {
  const m = /in \d+ \(zmq (\d+) nats (\d+)\)/.exec(screen);
  return m ? Number(m[1]) + Number(m[2]) : -1;
};

async function consoleUnderFlood(
  tag: string,
  nats: string,
  files: { mainpc: string; pc2: string },
): Promise<{ tmux: Tmux; pid: number; shell: number }> {
  const dir = join(tmp.dir, tag);
  mkdirSync(dir);
  const tmux = new Tmux(`sig-${tag}`);
  cleanups.push(() => tmux.kill());
  const args = [
    'console',
    '--mainpc',
    files.mainpc,
    '--pc2',
    files.pc2,
    '--nats',
    nats,
    '--interval',
    '500ms',
  ];
  tmux.run(
    'new-session',
    '-d',
    '-s',
    'ops',
    '-x',
    '160',
    '-y',
    '40',
    '-e',
    `MAINPC_IP=${HOSTS.mainpc}`,
    '-e',
    `PC2_IP=${HOSTS.pc2}`,
    '-e',
    `OPSDECK_CONFIG_DIR=${dir}`,
    '-e',
    `OPSDECK_AUDIT=${join(dir, 'audit.jsonl')}`,
    '-e',
    'TERM=xterm-256color',
    consoleCommand(args),
  );
  await tmux.until(
    'the console, connected',
    (t) =>
      /NATS connected/.test(t) && new RegExp(`MAINPC ${re(HOSTS.mainpc)} +2 agents 2 ok`).test(t),
    15_000,
  );
  const shell = Number(tmux.display('#{pane_pid}'));
  const table = processes();
  const pid = descendants(shell, table).find(
    (p) => table.get(p)!.argv.includes(BIN) && table.get(p)!.argv.includes('console'),
  );
  assert.ok(pid, 'the console process under the pane shell');
  cleanups.push(() => alive(pid) && process.kill(pid, 'SIGKILL')); // only if a test failed
  return { tmux, pid, shell };
}

/** After the signal: exit 0, the terminal as it was, nothing left below the shell but `sleep`. */
async function assertCleanExit(
  tmux: Tmux,
  pid: number,
  shell: number,
  sent: number,
): Promise<number> {
  const text = await tmux.until('exit', (t) => t.includes('TTY='), 15_000);
  const took = Date.now() - sent;
  assert.match(text, /EXIT=0/);
  assert.match(text, /TTY= icanon echo/, 'the terminal is back in cooked mode with echo');
  assert.doesNotMatch(text, new RegExp(`MAINPC ${re(HOSTS.mainpc)}`), 'the console screen is gone');
  assert.equal(tmux.display('#{alternate_on}'), '0', 'the alternate screen was left');
  assert.equal(tmux.display('#{cursor_flag}'), '1', 'the cursor is shown');
  assert.equal(alive(pid), false, 'the console process is gone');
  const table = processes();
  const left = descendants(shell, table).map((p) => table.get(p)!.argv.join(' '));
  assert.deepEqual(
    left.filter((a) => !/^sleep /.test(a)),
    [],
    'nothing the console started is left',
  );
  return took;
}

describe('signals to the console during a flood (tmux)', { skip: NEEDS_TMUX_NATS }, () => {
  let sim: Sim;
  let files: { mainpc: string; pc2: string };
  after(() => sim?.stop()); // frees the addresses for the next describe
  before(async () => {
    const fleet = writeFleet(tmp.dir, {
      ...HOSTS,
      agents: { Alpha: [17951, 18951], Charlie: [17953, 18953] },
      pc2Agents: { Bravo: [7151, 8151] },
      busPort: 7150,
    });
    files = fleet.files;
    sim = await startSim({
      machines: fleet.machines,
      hosts: HOSTS,
      overrides,
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 0,
    });
    cleanups.push(() => sim.stop());
    const nc = await connect({ servers: sim.natsUrl! });
    await (await nc.jetstream().views.kv(PHASE_BUCKET)).put(PHASE_KEY, encodePhase(1)); // dual-publish: both buses
    await nc.close();
    await until('sim in phase 1', () => sim.phase.phase === 1);
  });

  // SIGINT (kill -INT; Ctrl+C in raw mode is a key) once left the alternate screen on, exit 130.
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    test(`${signal} mid-flood: exit 0, terminal restored, nothing left`, async (t) => {
      const { tmux, pid, shell } = await consoleUnderFlood(signal, sim.natsUrl!, files);
      for (const agent of ['Alpha', 'Charlie', 'Bravo'])
        assert.ok((await sim.control({ fault: 'flood', agent, rate: 1500, seconds: 20 })).ok);
      await tmux.until('the flood on screen', (t) => received(t) > 3000, 10_000);
      const sent = Date.now();
      process.kill(pid, signal);
      // assertCleanExit waits up to 15 s: a generous deadline, not a timing.
      const took = await assertCleanExit(tmux, pid, shell, sent);
      t.diagnostic(`shut down in ${took} ms`);
      await sim.control({ fault: 'clear' });
      tmux.kill();
    });
  }
});

describe(
  'SIGTERM while the console has lost its nats-server (tmux)',
  { skip: NEEDS_TMUX_NATS },
  () => {
    test('exit 0 within seconds: draining a dead link does not hold the shutdown', async (t) => {
      const port = await freePort(HOSTS.mainpc);
      const server = await startNatsServer({ bin: NATS_BIN!, host: HOSTS.mainpc, port });
      cleanups.push(() => server.stop());
      const dir = join(tmp.dir, 'dead-link-fleet');
      mkdirSync(dir);
      const fleet = writeFleet(dir, {
        ...HOSTS,
        agents: { Alpha: [17961, 18961], Charlie: [17963, 18963] },
        pc2Agents: { Bravo: [7161, 8161] },
        busPort: 7160,
      });
      const sim = await startSim({
        machines: fleet.machines,
        hosts: HOSTS,
        overrides,
        nats: { mode: 'url', url: server.url },
        controlPort: 0,
        errorRate: 0,
      });
      cleanups.push(() => sim.stop());
      const { tmux, pid, shell } = await consoleUnderFlood('dead-link', server.url, fleet.files);
      await server.stop();
      await tmux.until('NATS reconnecting', (t) => /NATS reconnecting/.test(t), 12_000);
      const sent = Date.now();
      process.kill(pid, 'SIGTERM');
      // Within assertCleanExit's 15 s: a drain held by the dead link would not end at all.
      const took = await assertCleanExit(tmux, pid, shell, sent);
      t.diagnostic(`shut down in ${took} ms`);
    });
  },
);
