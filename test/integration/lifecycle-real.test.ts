// The real-machine paths of agent logs and lifecycle (adapters/agent-lifecycle.ts, the docker
// fallback of adapters/log-tail.ts), with real processes: python agents started the way
// upstream's main_pc_code/system_launcher.py starts them (test/fixtures/real-agents), a real
// nats-server, the built `opsdeck agent` as its own process (--root, the fleet config, --jwks
// from `opsdeck certs generate`), and `opsdeck restart|stop|start|logs` as commands. What the
// daemon did is read back from /proc, never from its own words. Containers: a stand-in `docker`
// first on the daemon's PATH records its argv; the real docker CLI (no daemon here) must refuse.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import { startNatsServer, type NatsServer } from '../../source/adapters/nats-server.js';
import { readAudit } from '../../source/adapters/audit.js';
import { findContainer } from '../../source/adapters/log-tail.js';
import { NATS_BIN, natsSkip as skip, until } from '../support/nats.js';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures/real-agents/', import.meta.url));
const PYTHON = 'python3';
const HOST = '127.0.0.121';
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-life-'));
const root = join(dir, 'upstream');
const config = join(root, 'main_pc_code/config/startup_config.yaml');
const stops: Array<() => unknown> = [];
// The agents' scripts carry this run's token: the daemon finds an agent's process by the
// script path on its command line, and a second checkout running this file at the same time
// (another clone's npm test) runs processes of the same relative paths; without the token each
// daemon could stop, restart or report the other run's agents.
const RUN = dir.slice(dir.lastIndexOf('-') + 1);
const script = (name: string) => `main_pc_code/agents/${name}_agent_${RUN}.py`;
const ECHO = script('echo');
const STUBBORN = script('stubborn');
const IDLE = script('idle');
const OTHER = script('other');
const FOREIGN = script('foreign');
const BOX = `services/box_${RUN}/app.py`;

/** pids whose command line names a file under this test's folder: ours, whoever started them. */
function ours(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}
after(async () => {
  for (const s of stops.reverse()) await s();
  for (const pid of ours())
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  rmSync(dir, { recursive: true, force: true });
});

const MAINPC = `agent_groups:
  core:
    EchoAgent:
      script_path: ${ECHO}
      port: 37001
      health_check_port: 37002
      env_vars: {AGENT_NAME: EchoAgent, AGENT_HOST: ${HOST}, ECHO_MARK: "from config"}
      params: {mode: calm}
    StubbornAgent:
      script_path: ${STUBBORN}
      port: 37011
      health_check_port: 37012
      env_vars: {AGENT_NAME: StubbornAgent, AGENT_HOST: ${HOST}}
      params: {mode: stubborn}
    IdleAgent:
      script_path: ${IDLE}
      port: 37021
      health_check_port: 37022
      env_vars: {AGENT_NAME: IdleAgent, AGENT_HOST: ${HOST}, IDLE_MARK: "42"}
    OtherAgent:
      script_path: ${OTHER}
      port: 37041
      health_check_port: 37042
      env_vars: {AGENT_NAME: OtherAgent, AGENT_HOST: ${HOST}}
    ForeignAgent:
      script_path: ${FOREIGN}
      port: 37051
      health_check_port: 37052
      env_vars: {AGENT_NAME: ForeignAgent, AGENT_HOST: ${HOST}}
  boxes:
    BoxAgent: {script_path: ${BOX}, port: 37031, health_check_port: 37032}
`;

/** The agents the launcher starts (IdleAgent never ran; BoxAgent lives in a container). */
const LAUNCHED = [
  {
    name: 'EchoAgent',
    script_path: ECHO,
    port: 37001,
    env_vars: { AGENT_NAME: 'EchoAgent', AGENT_HOST: HOST, ECHO_MARK: 'from config' },
    params: { mode: 'calm' },
  },
  {
    name: 'StubbornAgent',
    script_path: STUBBORN,
    port: 37011,
    env_vars: { AGENT_NAME: 'StubbornAgent', AGENT_HOST: HOST },
    params: { mode: 'stubborn' },
  },
];

function checkout(): void {
  mkdirSync(join(root, 'main_pc_code/agents'), { recursive: true });
  mkdirSync(join(root, 'main_pc_code/config'), { recursive: true });
  for (const a of [ECHO, STUBBORN, IDLE, OTHER, FOREIGN])
    copyFileSync(join(fixtures, 'agent.py'), join(root, a));
  writeFileSync(config, MAINPC);
  writeFileSync(join(dir, 'launched.json'), JSON.stringify(LAUNCHED));
}

interface Proc {
  pid: number;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  state: string;
}
/** What /proc says about a pid, or undefined when it is gone. */
function proc(pid: number): Proc | undefined {
  try {
    const env: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return {
      pid,
      argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean),
      cwd: readlinkSync(`/proc/${pid}/cwd`),
      env,
      state: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!,
    };
  } catch {
    return undefined;
  }
}
/** Gone, or a zombie its parent has not reaped (upstream's launcher never reaps). */
const dead = (pid: number) => {
  const p = proc(pid);
  return !p || p.state === 'Z' || p.state === 'X';
};
/** The live process running this script (by its absolute path in argv). */
function running(script: string): Proc | undefined {
  const path = join(root, script);
  for (const pid of ours()) {
    const p = proc(pid);
    if (p && !dead(pid) && p.argv.includes(path)) return p;
  }
  return undefined;
}

const audit = join(dir, 'audit.jsonl');
async function opsdeck(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env: { OPSDECK_AUDIT: audit, USER: 'tester', MAINPC_IP: HOST, ...env },
    cwd: dir,
  };
  return { code: await main(args, io), out, err };
}

/**
 * A nats-server on HOST for one describe block, stopped with the file's processes, after the
 * daemons connected to it (test/support/nats.ts's natsOnLoopback stops it at the block's end:
 * a uid-1000 `opsdeck agent` told to stop while its server was gone did not exit, and held the
 * file's end for good).
 */
function natsFor(): { server: NatsServer } {
  const live = {} as { server: NatsServer };
  before(async () => {
    live.server = await startNatsServer({ bin: NATS_BIN!, host: HOST });
    stops.push(() => live.server.stop());
  });
  return live;
}

/** A process of ours, its output kept (for the failure message), killed at the end. */
function child(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): ChildProcess & { log(): string } {
  const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  c.stdout.on('data', (d: Buffer) => void (log += d.toString()));
  c.stderr.on('data', (d: Buffer) => void (log += d.toString()));
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        try {
          process.kill(-c.pid!, 'SIGTERM');
        } catch {
          resolve();
        }
      }),
  );
  return Object.assign(c, { log: () => log });
}

/** `opsdeck agent` for mainpc, the built binary, as its own process. */
async function daemon(nats: NatsServer, jwks: string, path: string, as: string[] = []) {
  const d = child(
    as[0] ?? process.execPath,
    [
      ...(as.length ? [...as.slice(1), process.execPath] : []),
      bin,
      'agent',
      '--machine',
      'mainpc',
      '--nats',
      nats.url,
      '--root',
      root,
      '--mainpc',
      config,
      '--jwks',
      jwks,
      '--interval',
      '500ms',
    ],
    { ...process.env, PATH: path, MAINPC_IP: HOST },
  );
  await until(`the daemon connected:\n${d.log()}`, () => /NATS connected/.test(d.log()));
  // Connected is not yet subscribed: a request a moment early would find no responder.
  const nc = await connect({ servers: nats.url });
  try {
    for (let answered = false; !answered;)
      answered = await nc
        .request('opsdeck.mainpc.control', new TextEncoder().encode('{"action":"status"}'), {
          timeout: 1000,
        })
        .then(() => true)
        .catch(() => new Promise<boolean>((r) => setTimeout(() => r(false), 100)));
  } finally {
    await nc.close();
  }
  return d;
}

describe('agent lifecycle and logs on this machine, real processes', { skip }, () => {
  const nats = natsFor();
  let launcher: ChildProcess & { log(): string };
  let agentd: ChildProcess & { log(): string };
  let launched: Record<string, number>;
  const secrets = join(dir, 'secrets');
  const forged = join(dir, 'forged');
  const env = () => ({ NATS_URL: nats.server.url });
  const fleet = ['--mainpc', config];

  before(async () => {
    checkout();
    for (const [d, what] of [
      [secrets, 'ours'],
      [forged, 'a forger'],
    ] as const) {
      const g = await opsdeck(['certs', 'generate', '--dir', d, ...fleet, '--yes']);
      assert.equal(g.code, 0, `certs generate (${what}): ${g.out}${g.err}`);
    }
    // The launcher's environment carries a mark of its own: a restart must keep it.
    launcher = child(PYTHON, [join(fixtures, 'launcher.py'), root, join(dir, 'launched.json')], {
      ...process.env,
      LAUNCHER_MARK: 'inherited',
    });
    launched = JSON.parse(
      await until('the launcher started its agents', () => launcher.log().split('\n')[0]),
    ) as Record<string, number>;
    await until(
      'EchoAgent logging ticks',
      () =>
        existsSync(join(root, 'logs/echoagent.log')) &&
        readFileSync(join(root, 'logs/echoagent.log'), 'utf8').split('tick').length > 4,
    );
    agentd = await daemon(nats.server, join(secrets, 'jwt/jwks.json'), process.env.PATH!);
  });

  test('the preview names the real pid and command line; logs come from its BaseAgent file', async () => {
    const pid = launched.EchoAgent!;
    const before = proc(pid)!;
    assert.equal(before.argv[1], join(root, ECHO));
    const dry = await opsdeck(
      ['restart', 'mainpc/EchoAgent', '--dry-run', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(dry.code, 0, dry.err);
    assert.ok(
      dry.out.includes(`process ${pid}: ${before.argv.join(' ')} in ${join(root, 'main_pc_code')}`),
      dry.out,
    );
    assert.match(dry.out, new RegExp(`SIGTERM to pid ${pid}`));
    assert.equal(proc(pid)?.state !== 'Z', true, 'a dry run changed nothing');

    const logs = await opsdeck(['logs', 'mainpc/EchoAgent', '--lines', '3'], env());
    assert.equal(logs.code, 0, logs.err);
    const lines = logs.out.trimEnd().split('\n');
    assert.equal(lines.length, 3, logs.out);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z INFO tick \d+$/);
  });

  test('stop kills it, start brings back the same command line, folder and environment, restart a new pid', async () => {
    const pid = launched.EchoAgent!;
    const was = proc(pid)!;
    assert.equal(was.env.LAUNCHER_MARK, 'inherited');
    assert.equal(was.env.ECHO_MARK, 'from config');
    const stop = await opsdeck(
      ['stop', 'mainpc/EchoAgent', '--yes', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(stop.code, 0, `${stop.out}\n${stop.err}`);
    assert.ok(dead(pid), `pid ${pid} still runs: ${JSON.stringify(proc(pid))}`);
    assert.match(stop.out, new RegExp(`SIGTERM to pid ${pid}: it exited`));
    assert.equal(running(ECHO), undefined);
    assert.equal(readAudit(audit).entries.at(-1)!.outcome, 'ok');

    const start = await opsdeck(
      ['start', 'mainpc/EchoAgent', '--yes', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(start.code, 0, `${start.out}\n${start.err}`);
    const now = await until('EchoAgent again', () => running(ECHO));
    assert.notEqual(now.pid, pid);
    assert.deepEqual(now.argv, was.argv);
    assert.equal(now.cwd, was.cwd);
    assert.deepEqual(now.env, was.env);

    const restart = await opsdeck(
      ['restart', 'mainpc/EchoAgent', '--yes', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(restart.code, 0, `${restart.out}\n${restart.err}`);
    assert.match(restart.out, /done: DOWN, then OK/);
    assert.ok(dead(now.pid));
    const again = await until('EchoAgent restarted', () => running(ECHO));
    assert.notEqual(again.pid, now.pid);
    assert.deepEqual(again.argv, was.argv);
    assert.equal(again.cwd, was.cwd);
    assert.deepEqual(again.env, was.env);
    assert.equal(readAudit(audit).entries.at(-1)!.action, 'agent.restart');
    assert.equal(readAudit(audit).entries.at(-1)!.outcome, 'ok');
  });

  test('an agent deaf to SIGTERM gets SIGKILL', async () => {
    const pid = launched.StubbornAgent!;
    assert.ok(!dead(pid));
    const stop = await opsdeck(
      ['stop', 'mainpc/StubbornAgent', '--yes', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(stop.code, 0, `${stop.out}\n${stop.err}`);
    assert.match(stop.out, new RegExp(`SIGTERM to pid ${pid}, still there after 10 s: SIGKILL`));
    await until('StubbornAgent gone', () => dead(pid));
  });

  test("an agent never seen running starts with the launcher's command line and the config's env_vars", async () => {
    assert.equal(running(IDLE), undefined);
    const dry = await opsdeck(
      ['start', 'mainpc/IdleAgent', '--dry-run', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(dry.code, 0, dry.err);
    assert.match(
      dry.out,
      new RegExp(`no process now: \\S*python\\S* \\S+/idle_agent_${RUN}\\.py --port 37021`),
    );
    const start = await opsdeck(
      ['start', 'mainpc/IdleAgent', '--yes', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.equal(start.code, 0, `${start.out}\n${start.err}`);
    const p = await until('IdleAgent', () => running(IDLE));
    assert.deepEqual(p.argv.slice(1), [join(root, IDLE), '--port', '37021']);
    // As system_launcher.py: cwd main_pc_code, PYTHONPATH root:main_pc_code, env_vars on top.
    assert.equal(p.cwd, join(root, 'main_pc_code'));
    assert.equal(
      p.env.PYTHONPATH?.split(':').slice(0, 2).join(':'),
      `${root}:${join(root, 'main_pc_code')}`,
    );
    assert.equal(p.env.IDLE_MARK, '42');
    assert.equal(p.env.AGENT_NAME, 'IdleAgent');
    // Its output goes where the launcher puts it.
    await until(
      'its output captured',
      () =>
        existsSync(join(root, 'main_pc_code/logs/IdleAgent.log')) &&
        /IdleAgent started/.test(
          readFileSync(join(root, 'main_pc_code/logs/IdleAgent.log'), 'utf8'),
        ),
    );
  });

  test('an agent not in the config, or a forged or missing token, is refused and nothing changes', async () => {
    const p = await until('EchoAgent', () => running(ECHO));
    const nobody = await opsdeck(
      ['restart', 'mainpc/Nobody', '--yes', '--secrets', secrets, ...fleet],
      env(),
    );
    assert.notEqual(nobody.code, 0);
    assert.match(nobody.out + nobody.err, /no agent Nobody in this machine's fleet config/);
    for (const s of [forged, join(dir, 'no-secrets')]) {
      const r = await opsdeck(
        ['restart', 'mainpc/EchoAgent', '--yes', '--secrets', s, ...fleet],
        env(),
      );
      assert.equal(r.code, 1, `${r.out}\n${r.err}`);
      assert.match(r.out + r.err, /refused/);
    }
    assert.equal(running(ECHO)?.pid, p.pid);
    assert.ok(!agentd.killed);
  });
});

/**
 * A stand-in `docker` for one compose service, box-agent (container opsdeck-box-agent-1), whose
 * "container" is agent.py run in its own mount namespace (`unshare -m`), as a container's process
 * shows in the host's /proc. Every call's argv is appended to `argv`, one bracketed arg each.
 */
function fakeDocker(folder: string): string {
  const app = join(folder, BOX);
  mkdirSync(dirname(app), { recursive: true });
  copyFileSync(join(fixtures, 'agent.py'), app);
  const script = `#!/bin/sh
d='${folder}'
for a in "$@"; do printf '[%s]' "$a" >> "$d/argv"; done; echo >> "$d/argv"
state=exited
if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then state=running; fi
case "$1" in
  ps)
    printf '%s\\t%s\\t%s\\t%s\\n' opsdeck-proxy-1 proxy '"nginx -g daemon off;"' running
    printf '%s\\t%s\\t%s\\t%s\\n' opsdeck-box-agent-1 box-agent '"python /app/${BOX}"' "$state";;
  start)
    AGENT_NAME=BoxAgent AGENT_HOST=${HOST} unshare -m ${PYTHON} '${app}' --port 37031 >/dev/null 2>&1 &
    echo $! > "$d/pid"; echo "$2";;
  stop)
    kill "$(cat "$d/pid")"; while kill -0 "$(cat "$d/pid")" 2>/dev/null; do sleep 0.1; done; echo "$2";;
  logs)
    for n in 1 2 3; do
      echo "{\\"timestamp\\": \\"2025-07-01T10:00:0$n\\", \\"level\\": \\"INFO\\", \\"agent\\": \\"BoxAgent\\", \\"message\\": \\"box line $n\\"}"
    done
    echo "Traceback (most recent call last): on stderr" >&2
    case " $* " in *" --follow "*)
      n=4; while :; do echo "box line $n"; n=$((n+1)); sleep 0.2; done;;
    esac;;
  *) echo "fake docker: no $1" >&2; exit 1;;
esac
`;
  writeFileSync(join(folder, 'docker'), script);
  chmodSync(join(folder, 'docker'), 0o755);
  return folder;
}

const calls = (folder: string): string[][] =>
  existsSync(join(folder, 'argv'))
    ? readFileSync(join(folder, 'argv'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => [...l.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!))
    : [];

const isRoot = process.getuid?.() === 0;
describe(
  'agents in containers, through docker',
  {
    skip: skip || (isRoot ? false : 'a container stand-in needs unshare -m (root)'),
  },
  () => {
    const nats = natsFor();
    const box = join(dir, 'box');
    const secrets = join(dir, 'secrets-box');
    const env = () => ({ NATS_URL: nats.server.url });
    const fleet = ['--mainpc', config];

    before(async () => {
      if (!existsSync(config)) checkout();
      const g = await opsdeck(['certs', 'generate', '--dir', secrets, ...fleet, '--yes']);
      assert.equal(g.code, 0, g.out + g.err);
      fakeDocker(box);
      // The container runs, as compose left it.
      const up = spawn(join(box, 'docker'), ['start', 'opsdeck-box-agent-1'], { stdio: 'ignore' });
      await new Promise((r) => up.once('exit', r));
      await daemon(nats.server, join(secrets, 'jwt/jwks.json'), `${box}:${process.env.PATH}`);
    });

    test('its process in /proc is left to docker: the preview names the container, stop and start call docker with it', async () => {
      const pid = Number(readFileSync(join(box, 'pid'), 'utf8'));
      assert.ok(!dead(pid), 'the container process runs');
      const dry = await opsdeck(
        ['restart', 'mainpc/BoxAgent', '--dry-run', '--secrets', secrets, ...fleet],
        env(),
      );
      assert.equal(dry.code, 0, dry.err);
      assert.match(
        dry.out,
        /target: mainpc\/BoxAgent: container opsdeck-box-agent-1 \(compose service box-agent\), running/,
      );
      assert.match(dry.out, /1\. docker restart opsdeck-box-agent-1/);
      const ps = calls(box).find((c) => c[0] === 'ps')!;
      assert.deepEqual(ps, [
        'ps',
        '-a',
        '--no-trunc',
        '--format',
        '{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.Command}}\t{{.State}}',
      ]);

      const before = calls(box).length;
      const stop = await opsdeck(
        ['stop', 'mainpc/BoxAgent', '--yes', '--secrets', secrets, ...fleet],
        env(),
      );
      assert.equal(stop.code, 0, `${stop.out}\n${stop.err}`);
      assert.ok(dead(pid));
      assert.deepEqual(
        calls(box)
          .slice(before)
          .filter((c) => c[0] !== 'ps'),
        [['stop', 'opsdeck-box-agent-1']],
      );
      const start = await opsdeck(
        ['start', 'mainpc/BoxAgent', '--yes', '--secrets', secrets, ...fleet],
        env(),
      );
      assert.equal(start.code, 0, `${start.out}\n${start.err}`);
      assert.match(start.out, /docker start opsdeck-box-agent-1/);
      assert.deepEqual(calls(box).at(-1), ['start', 'opsdeck-box-agent-1']);
      assert.ok(!dead(Number(readFileSync(join(box, 'pid'), 'utf8'))));
    });

    test('its log comes from `docker logs --tail N [--follow] CONTAINER`, parsed, stderr too', async () => {
      const r = await opsdeck(['logs', 'mainpc/BoxAgent', '--lines', '3'], env());
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(calls(box).at(-1), ['logs', '--tail', '3', 'opsdeck-box-agent-1']);
      assert.match(r.out, /2025-07-01T10:00:01 INFO box line 1/);
      assert.match(r.out, /box line 3/);
      assert.match(r.out, /Traceback \(most recent call last\): on stderr/);

      const f = spawn(
        process.execPath,
        [bin, 'logs', 'mainpc/BoxAgent', '--lines', '2', '--follow', '--nats', nats.server.url],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAINPC_IP: HOST } },
      );
      let out = '';
      f.stdout.on('data', (d: Buffer) => void (out += d.toString()));
      f.stderr.on('data', (d: Buffer) => void (out += d.toString()));
      stops.push(() => f.kill('SIGKILL'));
      await until(`followed lines:\n${out}`, () => /box line 6/.test(out));
      assert.deepEqual(
        calls(box).find((c) => c.includes('--follow')),
        ['logs', '--tail', '2', '--follow', 'opsdeck-box-agent-1'],
      );
      f.kill('SIGINT');
      await new Promise((r) => f.once('exit', r));
      // The watch ended with its watcher: the daemon stops `docker logs --follow`.
      await until('docker logs --follow stopped', () =>
        !ours().some((pid) => proc(pid)?.argv.includes('--follow')) ? true : undefined,
      );
    });
  },
);

describe('the real docker CLI with no daemon', { skip }, () => {
  const live = natsFor();
  test('a log or a start it cannot serve is refused saying why, at once', async () => {
    const nats = live.server;
    if (!existsSync(config)) checkout();
    const secrets = join(dir, 'secrets-nodocker');
    const g = await opsdeck(['certs', 'generate', '--dir', secrets, '--mainpc', config, '--yes']);
    assert.equal(g.code, 0, g.out + g.err);
    // Whatever docker is on PATH (the real CLI here, /usr/local/bin/docker): no dockerd runs.
    await daemon(nats, join(secrets, 'jwt/jwks.json'), process.env.PATH!);
    const env = { NATS_URL: nats.url };
    const logs = await opsdeck(['logs', 'mainpc/BoxAgent', '--lines', '3'], env);
    assert.equal(logs.code, 1, logs.out + logs.err);
    assert.match(logs.err, /no log found for BoxAgent: no file of .*; docker/);
    // The daemon's own wiring looks in the launcher's folder too (main_pc_code/logs/<Name>.log).
    assert.match(logs.err, /no file of .*\/main_pc_code\/logs\/BoxAgent\.log/);
    const start = () =>
      opsdeck(['start', 'mainpc/BoxAgent', '--yes', '--secrets', secrets, '--mainpc', config], env);
    const noDaemon = /docker ps exited with 1: Cannot connect to the Docker daemon/;
    // The container of the test above still runs: its process is seen, and left alone.
    const boxPid = join(dir, 'box/pid');
    const contained = existsSync(boxPid) ? Number(readFileSync(boxPid, 'utf8')) : 0;
    if (contained && !dead(contained)) {
      const r = await start();
      assert.notEqual(r.code, 0);
      assert.match(
        r.out,
        new RegExp(
          `process ${contained} runs ${BOX} in another mount namespace \\(a container\\), and docker does not say which container: docker`,
        ),
      );
      if (existsSync('/usr/local/bin/docker')) assert.match(r.out, noDaemon);
      assert.ok(!dead(contained), 'left alone');
      process.kill(contained, 'SIGKILL');
      await until('the container process gone', () => dead(contained));
    }
    const r = await start();
    assert.notEqual(r.code, 0);
    assert.match(
      r.out,
      new RegExp(
        `BoxAgent is not running, is in no container \\(docker.*\\), and its script \\S+/services/box_${RUN}/app\\.py is not in this checkout`,
      ),
    );
    if (existsSync('/usr/local/bin/docker')) assert.match(r.out, noDaemon);
  });
});

describe('a docker that hangs', () => {
  test('docker ps is given up on after its timeout, saying so', async () => {
    const hang = join(dir, 'hang');
    mkdirSync(hang, { recursive: true });
    writeFileSync(join(hang, 'docker'), '#!/bin/sh\nexec sleep 30\n');
    chmodSync(join(hang, 'docker'), 0o755);
    const r = await findContainer(
      { name: 'BoxAgent', scriptPath: 'services/box/app.py' },
      join(hang, 'docker'),
      300,
    );
    assert.deepEqual(r, { error: 'docker ps did not answer in 300 ms (is dockerd hung?)' });
  });
});

/** Runs as uid:gid (root only): setpriv, groups cleared. */
const asUser = (id: number) => ['setpriv', `--reuid=${id}`, `--regid=${id}`, '--clear-groups'];
const uidOf = (pid: number) =>
  Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const groupsOf = (pid: number) =>
  /^Groups:[ \t]*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim();

describe(
  "another user's agents",
  {
    skip: skip || (isRoot ? false : 'running processes as other users needs root'),
  },
  () => {
    const secrets = join(dir, 'secrets-users');
    const jwks = join(dir, 'jwks-users.json');
    const fleet = ['--mainpc', config];
    const nats = natsFor();
    // An interpreter every user may run (pyenv's lives under /root).
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : PYTHON;
    /** An agent started by hand as that user. */
    const startAs = async (id: number, agent: string, script: string, groups?: string) => {
      const c = child(
        'setpriv',
        [
          ...asUser(id)
            .slice(1)
            .map((a) => (groups && a === '--clear-groups' ? `--groups=${groups}` : a)),
          python,
          join(root, script),
          '--port',
          agent === 'OtherAgent' ? '37041' : '37051',
        ],
        { ...process.env, AGENT_NAME: agent, AGENT_HOST: HOST },
      );
      // setpriv's own argv names the script too, until it execs python as that user.
      return await until(`${agent} as uid ${id}:\n${c.log()}`, () => {
        const p = running(script);
        return p && p.argv[0] === python && uidOf(p.pid) === id ? p : undefined;
      });
    };

    before(async () => {
      if (!existsSync(config)) checkout();
      // Readable by the users the agents and one daemon run as; logs writable by them.
      chmodSync(dir, 0o755);
      for (const d of [join(root, 'logs'), join(root, 'main_pc_code/logs')]) {
        mkdirSync(d, { recursive: true });
        chmodSync(d, 0o777);
      }
      const g = await opsdeck(['certs', 'generate', '--dir', secrets, ...fleet, '--yes']);
      assert.equal(g.code, 0, g.out + g.err);
      copyFileSync(join(secrets, 'jwt/jwks.json'), jwks);
      chmodSync(jwks, 0o644);
    });

    test('a daemon run as root restarts an agent of uid 1000 as uid 1000 with its groups, never as root', async () => {
      // Its supplementary groups (44 is Debian's video: GPU access) come back too; Node's
      // uid/gid spawn option alone would drop them.
      const was = await startAs(1000, 'OtherAgent', OTHER, '44,1000');
      assert.equal(uidOf(was.pid), 1000);
      assert.equal(groupsOf(was.pid), '44 1000');
      const d = await daemon(nats.server, jwks, process.env.PATH!);
      try {
        const dry = await opsdeck(
          ['restart', 'mainpc/OtherAgent', '--dry-run', '--secrets', secrets, ...fleet],
          { NATS_URL: nats.server.url },
        );
        assert.match(
          dry.out,
          new RegExp(
            `process ${was.pid}: .* from /proc/${was.pid}, as uid 1000 gid 1000 groups 44,1000\\)`,
          ),
        );
        const r = await opsdeck(
          ['restart', 'mainpc/OtherAgent', '--yes', '--secrets', secrets, ...fleet],
          { NATS_URL: nats.server.url },
        );
        assert.equal(r.code, 0, `${r.out}\n${r.err}`);
        const now = await until('OtherAgent again', () => running(OTHER));
        assert.notEqual(now.pid, was.pid);
        assert.equal(uidOf(now.pid), 1000);
        assert.equal(groupsOf(now.pid), '44 1000');
        assert.deepEqual(now.argv, was.argv);
        assert.deepEqual(now.env, was.env);
      } finally {
        // The next test's daemon (as uid 1000) must be the only one answering.
        process.kill(-d.pid!, 'SIGTERM');
        await new Promise((r) => d.once('exit', r));
      }
    });

    // A checkout inside a 0700 folder (a mktemp -d clone) is closed to uid 1000: it cannot run opsdeck.
    const reachable =
      isRoot &&
      spawnSync(asUser(1000)[0]!, [...asUser(1000).slice(1), 'test', '-r', bin]).status === 0;
    test(
      'a daemon run as uid 1000 refuses an agent of another user, saying why, and still manages its own',
      { skip: reachable ? false : `uid 1000 cannot read ${bin} (a parent folder is closed to it)` },
      async () => {
        const foreign = await startAs(65534, 'ForeignAgent', FOREIGN);
        await daemon(nats.server, jwks, process.env.PATH!, asUser(1000));
        const env = { NATS_URL: nats.server.url };
        const r = await opsdeck(
          ['restart', 'mainpc/ForeignAgent', '--yes', '--secrets', secrets, ...fleet],
          env,
        );
        assert.equal(r.code, 1, `${r.out}\n${r.err}`);
        assert.match(
          r.out,
          new RegExp(
            `cannot manage ForeignAgent: process ${foreign.pid} runs ${FOREIGN} but its working folder and environment are not readable here \\(another user's process: run opsdeck agent as that user\\)`,
          ),
        );
        assert.ok(!dead(foreign.pid), 'left alone');
        const own = running(OTHER)!;
        const dry = await opsdeck(
          ['restart', 'mainpc/OtherAgent', '--dry-run', '--secrets', secrets, ...fleet],
          env,
        );
        assert.equal(dry.code, 0, dry.err);
        assert.match(dry.out, new RegExp(`process ${own.pid}: .* from /proc/${own.pid}\\)`));
      },
    );
  },
);
