// Fault injection: `opsdeck demo` (the console, its `opsdeck sim` child and the sim's own
// nats-server) under a flood, ended by SIGTERM or SIGINT to the console process, by a real
// hang-up (the terminal goes away: the kernel sends SIGHUP to the whole foreground process
// group, as when an SSH session drops), and by kill -9 of the demo or of its sim, which no
// handler sees. Whatever the signal nothing it started may be left running: the sim watches a
// pipe from the demo (it closes when the demo dies) and its nats-server runs under setpriv
// --pdeathsig (the kernel signals it when the sim dies).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Request } from 'zeromq';
import {
  alive,
  BIN,
  consoleCommand,
  descendants,
  host,
  NEEDS_TMUX_NATS,
  processes,
  re,
  sleep,
  tempDir,
  Tmux,
  until,
} from './helpers.js';

const HOSTS = `mainpc=${host(97)},pc2=${host(98)}`;
const tmp = tempDir('demo');
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});

interface Demo {
  tmux: Tmux;
  shell: number;
  console: number;
  sim: number;
  nats: number;
  log: string;
  /** Everything below the pane's shell when the flood was on. */
  tree: number[];
}

async function control(
  endpoint: string,
  request: object,
): Promise<{ ok: boolean; [k: string]: unknown }> {
  const req = new Request({ linger: 0, receiveTimeout: 3000, sendTimeout: 3000 });
  req.connect(endpoint);
  try {
    await req.send(JSON.stringify(request));
    const [reply] = await req.receive();
    return JSON.parse(reply!.toString()) as { ok: boolean };
  } finally {
    req.close();
  }
}

async function demoUnderFlood(tag: string): Promise<Demo> {
  const tmux = new Tmux(`demo-${tag}`);
  cleanups.push(() => tmux.kill());
  const env = [
    '-e',
    `OPSDECK_CONFIG_DIR=${join(tmp.dir, tag)}`,
    '-e',
    `OPSDECK_AUDIT=${join(tmp.dir, tag, 'audit.jsonl')}`,
    '-e',
    'TERM=xterm-256color',
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
    ...env,
    consoleCommand(['demo', '--hosts', HOSTS, '--interval', '1000ms']),
  );
  await tmux.until(
    'the demo fleet, healthy',
    (t) =>
      /NATS connected/.test(t) &&
      new RegExp(`MAINPC ${re(host(97))} +\\d+ agents`).test(t) &&
      new RegExp(`PC2 ${re(host(98))} +\\d+ agents`).test(t),
    30_000,
  );
  const shell = Number(tmux.display('#{pane_pid}'));
  const table = processes();
  const below = descendants(shell, table);
  const find = (test: (argv: string[]) => boolean) => below.find((p) => test(table.get(p)!.argv));
  const consolePid = find((a) => a.includes(BIN) && a.includes('demo'));
  const sim = find((a) => a.includes('sim') && a.some((x) => x.endsWith('opsdeck.js')));
  const nats = find((a) => a[0]!.endsWith('nats-server'));
  assert.ok(
    consolePid && sim && nats,
    `demo ${consolePid}, sim ${sim}, nats-server ${nats} below the shell`,
  );
  const simArgv = table.get(sim)!.argv;
  const logDir = dirname(simArgv[simArgv.indexOf('--mainpc') + 1]!);
  cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
  const log = join(logDir, 'sim.log');
  const endpoint = /^control: (tcp:\/\/\S+)/m.exec(readFileSync(log, 'utf8'))?.[1];
  assert.ok(endpoint, 'the sim log names its control socket');
  // Flood from agents whose frames reach a bus in upstream's wiring: the services beside PC2's
  // CentralErrorBus, which re-publishes their ipc input on 7150 (the other publishers connect a
  // PUB to a PUB, or to nothing, and are lost as upstream's are).
  const status = (await control(endpoint, { fault: 'status' })) as unknown as {
    machines: { id: string; agents: { name: string; status: string; variant: string }[] }[];
  };
  for (const m of status.machines) {
    for (const a of m.agents.filter((x) => x.status === 'up' && x.variant === 'central')) {
      assert.ok(
        (
          await control(endpoint, {
            fault: 'flood',
            agent: `${m.id}/${a.name}`,
            rate: 400,
            seconds: 30,
          })
        ).ok,
      );
    }
  }
  const tree = descendants(shell);
  // Should a test fail, what it started must not outlive it: these pids, and nothing else.
  cleanups.push(() => {
    for (const pid of tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
    const store = natsStore(log);
    if (store) rmSync(store, { recursive: true, force: true });
  });
  await tmux.until(
    'the flood on screen',
    (t) => Number(/\(zmq (\d+)/.exec(t)?.[1] ?? 0) > 1000,
    15_000,
  );
  return { tmux, shell, console: consolePid, sim, nats, log, tree };
}

/** Waits (15 s at most) until every one of `pids` is gone; says which are left if not. */
const gone = (what: string, pids: readonly number[]) =>
  until(
    what,
    () => pids.every((pid) => !alive(pid)),
    15_000,
    () =>
      pids
        .filter(alive)
        .map((p) => `${p}: ${processes().get(p)?.argv.join(' ')}`)
        .join('; '),
  );

const natsStore = (log: string) => /JetStream store (\S+?)\)/.exec(readFileSync(log, 'utf8'))?.[1];

describe('opsdeck demo ended by a signal mid-flood (tmux)', { skip: NEEDS_TMUX_NATS }, () => {
  test('SIGTERM to the console: exit 0, terminal restored, the sim and its nats-server stopped', async () => {
    const d = await demoUnderFlood('term');
    const store = natsStore(d.log);
    process.kill(d.console, 'SIGTERM');
    const text = await d.tmux.until('exit', (t) => t.includes('TTY='), 20_000);
    assert.match(text, /EXIT=0/);
    assert.match(text, /opsdeck demo: stopped the console and the simulator/);
    assert.match(text, /TTY= icanon echo/);
    assert.equal(d.tmux.display('#{alternate_on}'), '0');
    await gone('every process of the demo gone', d.tree);
    assert.match(
      readFileSync(d.log, 'utf8'),
      /^stopped \(SIGTERM\): every socket closed, own nats-server stopped, its store removed$/m,
    );
    assert.ok(store && !existsSync(store), `nats-server store ${store} removed`);
  });

  test('hang-up (the terminal closes: SIGHUP to the whole process group): nothing left running', async () => {
    const d = await demoUnderFlood('hup');
    const store = natsStore(d.log);
    d.tmux.run('kill-session', '-t', 'ops'); // the pty goes away, as when SSH drops
    await gone('every process of the demo gone', d.tree);
    assert.equal(alive(d.nats), false, 'the sim’s nats-server did not outlive the hang-up');
    await sleep(200);
    assert.match(
      readFileSync(d.log, 'utf8'),
      /^stopped \(SIGHUP\): every socket closed, own nats-server stopped, its store removed$/m,
    );
    assert.ok(store && !existsSync(store), `nats-server store ${store} removed`);
  });

  test('SIGINT to the console: as SIGTERM (exit 0, terminal restored, everything stopped)', async () => {
    const d = await demoUnderFlood('int');
    const store = natsStore(d.log);
    process.kill(d.console, 'SIGINT');
    const text = await d.tmux.until('exit', (t) => t.includes('TTY='), 20_000);
    assert.match(text, /EXIT=0/);
    assert.match(text, /TTY= icanon echo/);
    assert.equal(d.tmux.display('#{alternate_on}'), '0', 'the alternate screen was left');
    await gone('every process of the demo gone', d.tree);
    assert.match(readFileSync(d.log, 'utf8'), /^stopped \(SIGTERM\): every socket closed/m);
    assert.ok(store && !existsSync(store), `nats-server store ${store} removed`);
  });

  test('kill -9 of the demo: the sim (its stdin closed) and its nats-server stop anyway', async () => {
    const d = await demoUnderFlood('kill9');
    const store = natsStore(d.log);
    process.kill(d.console, 'SIGKILL');
    await gone('the sim and its nats-server gone', [d.sim, d.nats]);
    assert.match(
      readFileSync(d.log, 'utf8'),
      /^stopped \(its parent is gone: stdin closed\): every socket closed, own nats-server stopped, its store removed$/m,
    );
    assert.ok(store && !existsSync(store), `nats-server store ${store} removed`);
  });

  test('kill -9 of the sim: its nats-server is stopped by the kernel (parent-death signal)', async () => {
    const d = await demoUnderFlood('simkill9');
    process.kill(d.sim, 'SIGKILL');
    await gone('the sim’s nats-server gone', [d.nats]);
    // The console is still up, and says NATS is gone rather than hanging.
    await d.tmux.until('NATS not connected', (t) => /NATS (reconnecting|closed)/.test(t), 20_000);
    process.kill(d.console, 'SIGTERM');
    await gone('the demo gone', d.tree);
  });
});
