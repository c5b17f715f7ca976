// Fault injection, the console's side of NATS: the real binary in tmux while its nats-server is
// killed mid-flood and restarted (the screen says reconnecting, then connected, and new errors
// keep arriving over NATS), and while the server is not there at all at start (the console and
// `opsdeck status` start anyway, say so, and connect when it appears).
//
// Covered elsewhere, not repeated here: the store holding every JetStream message exactly once
// across a NATS restart (test/integration/data-plane.test.ts, "NATS killed and restarted").
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect } from 'nats';
import { freePort, startNatsServer, type NatsServer } from '../../source/adapters/nats-server.js';
import { encodePhase, PHASE_BUCKET, PHASE_KEY } from '../../source/core/errorbus/phase.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import type { SimOverrides } from '../../source/sim/overrides.js';
import {
  BIN,
  consoleCommand,
  host,
  NATS_BIN,
  NEEDS_NATS,
  NEEDS_TMUX_NATS,
  re,
  ROOT,
  sleep,
  tempDir,
  Tmux,
  until,
  writeFleet,
} from './helpers.js';

const HOSTS = { mainpc: host(95), pc2: host(96) };
const tmp = tempDir('nats');
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

function consoleIn(tmux: Tmux, files: { mainpc: string; pc2: string }, nats: string): void {
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
    `OPSDECK_CONFIG_DIR=${tmp.dir}`,
    '-e',
    `OPSDECK_AUDIT=${join(tmp.dir, 'audit.jsonl')}`,
    '-e',
    'TERM=xterm-256color',
    consoleCommand(args),
  );
  cleanups.push(() => tmux.kill());
}

const sub = (name: string): string => {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  return dir;
};

/** The "in N (zmq N nats M)" counter line of the error pane. */
const natsReceived = (screen: string): number =>
  Number(/\(zmq \d+ nats (\d+)\)/.exec(screen)?.[1] ?? -1);

describe(
  'nats-server killed mid-flood and restarted (real console in tmux)',
  { skip: NEEDS_TMUX_NATS },
  () => {
    test('the console shows reconnecting, then connected, and keeps receiving over NATS', async () => {
      const store = join(tmp.dir, 'js');
      const port = await freePort(HOSTS.mainpc);
      let server: NatsServer = await startNatsServer({
        bin: NATS_BIN!,
        host: HOSTS.mainpc,
        port,
        storeDir: store,
      });
      cleanups.push(() => server.stop());
      const { files, machines } = writeFleet(sub('restart'), {
        ...HOSTS,
        agents: { Alpha: [17921, 18921] },
        pc2Agents: { Bravo: [7121, 8121] },
      });
      const sim: Sim = await startSim({
        machines,
        hosts: HOSTS,
        overrides,
        nats: { mode: 'url', url: server.url },
        controlPort: 0,
        errorRate: 0,
      });
      cleanups.push(() => sim.stop());
      // Phase 2: errors go to NATS only, so what the console shows after the restart came over NATS.
      const nc = await connect({ servers: server.url });
      await (await nc.jetstream().views.kv(PHASE_BUCKET)).put(PHASE_KEY, encodePhase(2));
      await nc.close();
      await until('sim in phase 2', () => sim.phase.phase === 2);

      const tmux = new Tmux('nats-restart');
      consoleIn(tmux, files, server.url);
      await tmux.until(
        'connected, both machines healthy',
        (t) =>
          /NATS connected/.test(t) &&
          new RegExp(`MAINPC ${re(HOSTS.mainpc)} +1 agents 1 ok`).test(t) &&
          new RegExp(`PC2 ${re(HOSTS.pc2)} +1 agents 1 ok`).test(t),
        15_000,
      );
      assert.ok(
        (await sim.control({ fault: 'error', agent: 'Alpha', message: 'before the restart' })).ok,
      );
      await tmux.until('an error over NATS', (t) => t.includes('before the restart'));

      assert.ok((await sim.control({ fault: 'flood', agent: 'Bravo', rate: 400, seconds: 30 })).ok);
      await tmux.until('the flood arriving', (t) => natsReceived(t) > 200);
      process.kill(server.pid!, 'SIGKILL');
      await server.stop();
      const lost = Date.now();
      await tmux.until('NATS reconnecting on screen', (t) => /NATS reconnecting/.test(t), 12_000);
      const noticed = Date.now() - lost;
      const during = tmux.screen();
      assert.match(during, /● OK +Alpha/, 'health probing goes on without NATS');
      await sleep(1000);
      server = await startNatsServer({ bin: NATS_BIN!, host: HOSTS.mainpc, port, storeDir: store });
      const back = Date.now();
      await tmux.until(
        'NATS connected again',
        (t) => /NATS connected/.test(t) && !/NATS reconnecting/.test(t),
        15_000,
      );
      const reconnected = Date.now() - back;
      const count = natsReceived(tmux.screen());
      await tmux.until('the flood arriving again', (t) => natsReceived(t) > count + 200, 10_000);
      assert.ok((await sim.control({ fault: 'flood', agent: 'Bravo', rate: 0 })).ok);
      assert.ok(
        (await sim.control({ fault: 'error', agent: 'Alpha', message: 'after the restart' })).ok,
      );
      const text = await tmux.until(
        'a new error over NATS after the restart',
        (t) => t.includes('after the restart'),
        10_000,
      );
      assert.doesNotMatch(text, /EXIT=/, 'still running');
      tmux.keys('q');
      assert.match(await tmux.until('exit', (t) => t.includes('EXIT=')), /EXIT=0/);
      assert.ok(
        noticed < 10_000 && reconnected < 10_000,
        `noticed in ${noticed} ms, reconnected in ${reconnected} ms`,
      );
      // Free the addresses for the next test (the after hook would too, but only at the end).
      tmux.kill();
      await sim.stop();
      await server.stop();
    });
  },
);

describe('nats-server unreachable at start', { skip: NEEDS_NATS }, () => {
  test(
    'the console starts anyway, says so, and connects when the server appears (tmux)',
    { skip: NEEDS_TMUX_NATS },
    async (t) => {
      const port = await freePort(HOSTS.pc2);
      const url = `nats://${HOSTS.pc2}:${port}`;
      const { files, machines } = writeFleet(sub('absent'), {
        ...HOSTS,
        agents: { Alpha: [17931, 18931] },
        pc2Agents: { Bravo: [7131, 8131] },
      });
      const sim = await startSim({
        machines,
        hosts: HOSTS,
        overrides,
        nats: { mode: 'off', why: 'the server is not there yet' },
        controlPort: 0,
        errorRate: 0,
      });
      cleanups.push(() => sim.stop());
      const tmux = new Tmux('nats-absent');
      consoleIn(tmux, files, url);
      const started = Date.now();
      const first = await tmux.until(
        'the fleet, without NATS',
        (t) => /NATS connecting/.test(t) && /● OK +Alpha/.test(t) && /● OK +Bravo/.test(t),
        10_000,
      );
      // tmux.until's deadline (10 s) is the bound: nothing waits on the absent server.
      t.diagnostic(`the fleet shown ${Date.now() - started} ms after start`);
      assert.doesNotMatch(first, /EXIT=/);
      // ZMQ goes on meanwhile.
      assert.ok(
        (await sim.control({ fault: 'error', agent: 'Bravo', message: 'zmq while nats is away' }))
          .ok,
      );
      await tmux.until('a ZMQ error', (t) => t.includes('zmq while nats is away'));
      await sleep(1500); // a few failed attempts

      const server = await startNatsServer({ bin: NATS_BIN!, host: HOSTS.pc2, port });
      cleanups.push(() => server.stop());
      await tmux.until(
        'NATS connected once the server is there',
        (t) => /NATS connected/.test(t),
        10_000,
      );
      // And it works: an error published on NATS reaches the screen (no stream yet: a core subscription).
      const nc = await connect({ servers: url });
      cleanups.push(() => nc.close());
      await until(
        'a NATS error on screen',
        async () => {
          nc.publish(
            'errors.agents.Alpha',
            JSON.stringify({
              agent_name: 'Alpha',
              severity: 'error',
              category: 'late',
              message: 'nats arrived late',
            }),
          );
          await nc.flush();
          await sleep(200);
          return tmux.screen().includes('nats arrived late');
        },
        10_000,
      );
      tmux.keys('q');
      assert.match(await tmux.until('exit', (t) => t.includes('EXIT=')), /EXIT=0/);
      tmux.kill();
      await sim.stop();
    },
  );

  test('`opsdeck status` starts anyway, reports the link, and --watch connects when the server appears', async () => {
    const port = await freePort(HOSTS.mainpc);
    const url = `nats://${HOSTS.mainpc}:${port}`;
    const { files } = writeFleet(sub('status'), {
      ...HOSTS,
      agents: { Alpha: [17941, 18941] },
      pc2Agents: { Bravo: [7141, 8141] },
    });
    const env = { ...process.env, MAINPC_IP: HOSTS.mainpc, PC2_IP: HOSTS.pc2 };
    const args = [
      'status',
      '--json',
      '--mainpc',
      files.mainpc,
      '--pc2',
      files.pc2,
      '--nats',
      url,
      '--timeout',
      '200ms',
      // This test is about the NATS link; no agent runs, so every one is down.
      '--fail-on',
      'never',
    ];

    // One snapshot: exits on time with the agents probed and the link said to be down.
    const once = await run([...args, '--collect', '500ms'], env);
    assert.equal(once.code, 0, once.stderr);
    const doc = JSON.parse(once.stdout) as {
      nats: { state: string; error: string | null };
      machines: { agents: { state: string }[] }[];
    };
    assert.equal(doc.nats.state, 'connecting');
    assert.match(doc.nats.error ?? '', /ECONNREFUSED|CONNECTION_REFUSED|connect/i);
    assert.equal(doc.machines.flatMap((m) => m.agents).length, 2);
    // --collect 500ms, not the connect attempts, decides when it ends: generous on a loaded machine.
    assert.ok(once.ms < 30_000, `took ${once.ms} ms`);

    // --watch: one line per interval; connected once the server is up.
    const child = spawn(process.execPath, [BIN, ...args, '--watch', '--interval', '300ms'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    const states: string[] = [];
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        states.push((JSON.parse(buffer.slice(0, nl)) as { nats: { state: string } }).nats.state);
        buffer = buffer.slice(nl + 1);
      }
    });
    await until('a few lines without NATS', () => states.length >= 3, 10_000);
    assert.ok(!states.some((s) => s !== 'connecting'), states.join(','));
    const server = await startNatsServer({ bin: NATS_BIN!, host: HOSTS.mainpc, port });
    cleanups.push(() => server.stop());
    await until(
      '--watch says connected',
      () => states.at(-1) === 'connected',
      10_000,
      () => states.join(','),
    );
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });
});

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

describe('a NATS server that accepts connections but never speaks', { skip: NEEDS_NATS }, () => {
  /**
   * Hung, half-started, or a forwarder with nothing behind it: every attempt times out. Those
   * attempts' sockets once stayed open (nats.js), and held each of these processes alive after
   * it had finished: the console after q, `opsdeck logs` after its error.
   */
  async function silentServer(at: string): Promise<string> {
    const port = await freePort(at);
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, at, resolve));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return `nats://${at}:${port}`;
  }

  test('the console quits on q (tmux)', { skip: NEEDS_TMUX_NATS }, async () => {
    const url = await silentServer(HOSTS.pc2);
    const { files } = writeFleet(sub('silent'), {
      ...HOSTS,
      agents: { Alpha: [17951, 18951] },
      pc2Agents: { Bravo: [7151, 8151] },
    });
    const tmux = new Tmux('nats-silent');
    cleanups.push(() => tmux.kill());
    consoleIn(tmux, files, url);
    await tmux.until('the console, NATS connecting', (t) => /NATS connecting/.test(t));
    await sleep(2500); // past the first attempt's timeout (2 s): one given up, the next under way
    tmux.keys('q');
    assert.match(await tmux.until('exit', (t) => t.includes('EXIT=')), /EXIT=0/);
  });

  test('`opsdeck logs` says it cannot reach NATS and exits', async () => {
    const url = await silentServer(HOSTS.mainpc);
    const child = spawn(process.execPath, [BIN, 'logs', 'mainpc/Alpha', '--nats', url], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await until('`opsdeck logs` to exit', () => child.exitCode !== null, 30_000).catch(
      (error: Error) => assert.fail(`${error.message}; it said: ${stderr}`),
    );
    assert.equal(child.exitCode, 1);
    assert.match(stderr, /cannot reach NATS at .*: TIMEOUT/);
  });
});
