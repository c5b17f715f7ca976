// Stopping and starting this machine's agents for `opsdeck agent` (core/fleet/lifecycle.ts):
// a process found by script_path in /proc is stopped with SIGTERM (SIGKILL after 10 s) and started
// again with the argv, working folder and environment it ran with (read from /proc before it
// stopped), its output appended to the file its stdout went to; one never seen running is
// started as upstream's launcher starts it (main_pc_code/system_launcher.py: `python
// <root>/<script_path> --port N --k v`, cwd the launcher's folder main_pc_code whatever the
// script's folder, PYTHONPATH [common_utils:]root:main_pc_code, the config's env_vars, output
// appended to main_pc_code/logs/<Name>.log; pc2_code for PC2). An agent in a container is
// stopped and started with docker.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Agent } from '../core/fleet/model.js';
import { matchProcesses, type AgentProcess, type ProcessRow } from '../core/fleet/processes.js';
import type { LifeResult, Lifecycle, Managed } from '../core/fleet/lifecycle.js';
import { sanitise } from '../core/errors/sanitise.js';
import { findContainer } from './log-tail.js';

interface Remembered {
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** Where its stdout went (a file), if anywhere. */
  output?: string;
  /** The user, group and supplementary groups it ran as, from /proc/<pid>/status. */
  uid?: number;
  gid?: number;
  groups?: number[];
}

const STOP_WAIT_MS = 10_000;

/**
 * Still running? A zombie is not: it exited and waits for its parent to reap it, which
 * upstream's launcher never does (its main loop only sleeps), so kill(pid, 0) alone would call
 * every stopped agent "still there" and SIGKILL it after 10 s.
 */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // Gone since kill(pid, 0); or no /proc here, and kill(pid, 0) is all there is.
    return !existsSync('/proc/self/stat');
  }
};

function readEnviron(pid: number): Record<string, string> | undefined {
  try {
    const out: Record<string, string> = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return out;
  } catch {
    return undefined;
  }
}

function run(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => void (out += c.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, out: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out: out.trim().slice(0, 300) });
    });
  });
}

/**
 * The folder upstream's launcher runs an agent from: its own (main_pc_code, or pc2_code for
 * PC2) whatever folder the script is in; the script's top folder when the checkout has neither.
 */
export function codeFolder(root: string, agent: Pick<Agent, 'machine' | 'scriptPath'>): string {
  const own = join(root, agent.machine === 'pc2' ? 'pc2_code' : 'main_pc_code');
  if (existsSync(own)) return own;
  const top = agent.scriptPath.replace(/^\.\//, '').split('/')[0];
  return top && top !== agent.scriptPath ? join(root, top) : root;
}

/** The file a process's stdout goes to (the launcher's capture), if it is a file. */
function stdoutFile(pid: number): string | undefined {
  try {
    const target = readlinkSync(`/proc/${pid}/fd/1`);
    return target.startsWith('/') && !target.endsWith(' (deleted)') && statSync(target).isFile()
      ? target
      : undefined;
  } catch {
    return undefined;
  }
}

interface Owner {
  uid: number;
  gid: number;
  groups: number[];
}

/** The real uid and gid a process runs as, and its supplementary groups. */
function owner(pid: number): Owner | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const gid = /^Gid:\s+(\d+)/m.exec(status)?.[1];
    const groups = (/^Groups:[ \t]*([\d \t]*)$/m.exec(status)?.[1] ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return uid && gid ? { uid: Number(uid), gid: Number(gid), groups } : undefined;
  } catch {
    return undefined;
  }
}

// Agents start through util-linux's setpriv, which execs the command (the pid is the agent's):
// - as another user, it sets uid, gid and the supplementary groups; Node's uid/gid option drops
//   the groups (libuv calls setgroups(0)), and an agent in `video` for its GPU lost them;
// - it drops the inheritable and ambient capabilities: the deployed daemon holds CAP_SYS_NICE
//   (ambient, for renicing) and every agent it started inherited it.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const SETPRIV_REAL = SETPRIV ? realpathSync(SETPRIV) : undefined;
const NO_CAPS = ['--inh-caps=-all', '--ambient-caps=-all'];

/** `, as uid U gid G groups …` when the agent runs as another user than this daemon. */
function asWords(user: Partial<Owner> | undefined): string {
  if (user?.uid === undefined || user.uid === process.getuid?.()) return '';
  const kept = SETPRIV ? '' : ' (these are lost on restart: no setpriv here)';
  const groups = user.groups?.length
    ? ` groups ${user.groups.join(',')}${kept}`
    : ' no other groups';
  return `, as uid ${user.uid} gid ${user.gid ?? user.uid}${groups}`;
}

/** The command line and spawn options that start `spec` as the user it ran as, capless. */
function asUser(spec: Remembered): { argv: string[]; ids: { uid?: number; gid?: number } } {
  const other = spec.uid !== undefined && spec.uid !== process.getuid?.();
  const gid = spec.gid ?? spec.uid;
  if (!SETPRIV) return { argv: spec.command, ids: other ? { uid: spec.uid!, gid: gid! } : {} };
  const groups = spec.groups?.length ? `--groups=${spec.groups.join(',')}` : '--clear-groups';
  const user = other ? [`--reuid=${spec.uid}`, `--regid=${gid}`, groups] : [];
  return { argv: [SETPRIV, ...user, ...NO_CAPS, '--', ...spec.command], ids: {} };
}

/** The last line a process wrote to its output file, for a start that failed at once. */
function lastLine(output: string | undefined): string {
  if (!output) return '';
  try {
    const tail = readFileSync(output, 'utf8').slice(-400).trimEnd().split('\n').at(-1) ?? '';
    return tail ? `: ${sanitise(tail).slice(0, 200)}` : '';
  } catch {
    return '';
  }
}

/**
 * Resolves once `pid` runs the agent's program rather than setpriv; rejects when it exits first
 * (setpriv could not set the user, or the program is not there: exit 126/127). A spawn alone
 * only proves setpriv started, and a start that died at once was reported as started.
 */
async function execed(child: ChildProcess, pid: number, output: string | undefined): Promise<void> {
  if (!SETPRIV_REAL) return;
  let exited: number | null | undefined;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : null)));
  for (const until = Date.now() + 2000; Date.now() < until;) {
    if (exited !== undefined)
      throw new Error(`it exited at once (code ${exited ?? 'unknown'})${lastLine(output)}`);
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      exe = SETPRIV_REAL; // gone or not readable yet: look again
    }
    if (exe !== SETPRIV_REAL) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Does the process live in another mount namespace than this one (a container)? */
function otherMountNamespace(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`) !== readlinkSync('/proc/self/ns/mnt');
  } catch {
    return false; // unreadable: the environ check below says why
  }
}

export interface RealLifecycleOptions {
  agents: readonly Agent[];
  /** The upstream checkout (`--root`): the launcher's command line and the log folder. */
  root?: string;
  processes(): Promise<ProcessRow[]>;
  python?: string;
  docker?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

export function realLifecycle(o: RealLifecycleOptions): Lifecycle {
  const l = new RealLifecycle(o);
  return {
    how: (name) => l.how(name),
    stop: (name) => l.stop(name),
    start: (name) => l.start(name),
  };
}

type Found = Awaited<ReturnType<typeof findContainer>>;

/** Spawns a command line detached, its output appended to `output`; the pid once it runs. */
async function spawnDetached(spec: Remembered, output: string | undefined): Promise<number> {
  let out: number | undefined;
  try {
    if (output) {
      mkdirSync(dirname(output), { recursive: true });
      out = openSync(output, 'a');
    }
    const { argv, ids } = asUser(spec);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: spec.cwd,
      env: spec.env,
      ...ids,
      detached: true,
      stdio: ['ignore', out ?? 'ignore', out ?? 'ignore'],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    });
    await execed(child, pid, output);
    child.unref();
    return pid;
  } finally {
    if (out !== undefined) closeSync(out);
  }
}

/**
 * Stops and starts this machine's agents: a process from its own command line and environment
 * (remembered once seen, so a stopped agent starts as it ran), a container with docker, and an
 * agent never seen from the launcher's command line in the upstream checkout.
 */
class RealLifecycle {
  private readonly remembered = new Map<string, Remembered>();
  private readonly docker: string;

  constructor(private readonly o: RealLifecycleOptions) {
    this.docker = o.docker ?? 'docker';
  }

  private async processOf(agent: Agent) {
    const { found } = matchProcesses([agent], await this.o.processes());
    return found[0];
  }

  private launcher(agent: Agent): Remembered | undefined {
    const o = this.o;
    if (!o.root) return undefined;
    const script = join(o.root, agent.scriptPath);
    const base = codeFolder(o.root, agent);
    const commonUtils = join(o.root, 'common_utils');
    const params = Object.entries(agent.params).flatMap(([k, v]) => [`--${k}`, String(v)]);
    const inherited = Object.fromEntries(
      Object.entries(o.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return {
      command: [o.python ?? 'python3', script, '--port', String(agent.port.value), ...params],
      cwd: base,
      env: {
        ...inherited,
        PYTHONPATH: [existsSync(commonUtils) ? commonUtils : '', o.root, base, inherited.PYTHONPATH]
          .filter(Boolean)
          .join(':'),
        ...agent.env,
      },
      output: join(base, 'logs', `${agent.name}.log`),
    };
  }

  async how(name: string): Promise<Managed | { error: string }> {
    const agent = this.o.agents.find((a) => a.name === name);
    if (!agent) return { error: `no agent ${name} in this machine's fleet config` };
    const p = await this.processOf(agent);
    // A container's process shows in this machine's /proc too, but its argv, folder and
    // environment are the container's: it is stopped and started with docker, never from here.
    const contained = p && otherMountNamespace(p.pid) ? p : undefined;
    if (p && !contained) return this.running(agent, p);
    const c = await findContainer(agent, this.docker, 3000, true);
    if ('name' in c)
      return {
        kind: 'container',
        agent: name,
        running: c.running ?? true,
        container: c.name,
        ...(c.service ? { service: c.service } : {}),
      };
    if (contained)
      return {
        error: `process ${contained.pid} runs ${agent.scriptPath} in another mount namespace (a container), and docker does not say which container: ${c.error}`,
      };
    return this.stopped(agent, c);
  }

  /** A running process: how it runs, remembered so it starts the same way after a stop. */
  private running(agent: Agent, p: AgentProcess): Managed | { error: string } {
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${p.pid}/cwd`);
    } catch {
      cwd = undefined;
    }
    const env = readEnviron(p.pid);
    if (!cwd || !env)
      return {
        error: `process ${p.pid} runs ${agent.scriptPath} but its working folder and environment are not readable here (another user's process: run opsdeck agent as that user)`,
      };
    const output = stdoutFile(p.pid) ?? this.launcher(agent)?.output;
    const user = owner(p.pid);
    this.remembered.set(agent.name, {
      command: [...p.argv],
      cwd,
      env,
      ...(output ? { output } : {}),
      ...user,
    });
    // Started again as the user it ran as: a daemon running as root must not turn an agent
    // of another user into a root process.
    const as = asWords(user);
    return {
      kind: 'process',
      agent: agent.name,
      running: true,
      pid: p.pid,
      command: [...p.argv],
      cwd,
      from: `its own command line and environment (${Object.keys(env).length} variables) from /proc/${p.pid}${as}`,
      ...(output ? { output } : {}),
    };
  }

  /** Neither running nor in a container: as it last ran, else from the launcher's line. */
  private stopped(agent: Agent, c: Found & { error: string }): Managed | { error: string } {
    const name = agent.name;
    const r = this.remembered.get(name);
    if (r)
      return {
        kind: 'process',
        agent: name,
        running: false,
        command: r.command,
        cwd: r.cwd,
        from: `the command line and environment it last ran with${asWords(r)}`,
        ...(r.output ? { output: r.output } : {}),
      };
    const l = this.launcher(agent);
    if (!l)
      return {
        error: `${name} is not running, is in no container (${c.error}), and without --root opsdeck agent does not know upstream's checkout to start it from`,
      };
    if (!existsSync(join(this.o.root!, agent.scriptPath)))
      return {
        error: `${name} is not running, is in no container (${c.error}), and its script ${join(this.o.root!, agent.scriptPath)} is not in this checkout`,
      };
    return {
      kind: 'process',
      agent: name,
      running: false,
      command: l.command,
      cwd: l.cwd,
      from: "the launcher's command line (system_launcher.py) and the config's env_vars",
      ...(l.output ? { output: l.output } : {}),
    };
  }

  private async dockerDo(verb: 'stop' | 'start', container: string): Promise<LifeResult> {
    const r = await run(this.docker, [verb, container]);
    return r.code === 0
      ? { ok: true, did: [`docker ${verb} ${container}`] }
      : { ok: false, error: `docker ${verb} ${container}: ${r.out}` };
  }

  async stop(name: string): Promise<LifeResult> {
    const m = await this.how(name);
    if ('error' in m) return { ok: false, error: m.error };
    if (m.kind === 'container') return this.dockerDo('stop', m.container);
    if (!m.running || m.pid === undefined) return { ok: true, did: [`${name} was not running`] };
    try {
      process.kill(m.pid, 'SIGTERM');
    } catch (error) {
      return { ok: false, error: `SIGTERM to ${m.pid}: ${(error as Error).message}` };
    }
    const until = Date.now() + STOP_WAIT_MS;
    while (Date.now() < until && alive(m.pid)) await new Promise((r) => setTimeout(r, 100));
    if (!alive(m.pid)) return { ok: true, did: [`SIGTERM to pid ${m.pid}: it exited`] };
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
    return { ok: true, did: [`SIGTERM to pid ${m.pid}, still there after 10 s: SIGKILL`] };
  }

  async start(name: string): Promise<LifeResult> {
    const m = await this.how(name);
    if ('error' in m) return { ok: false, error: m.error };
    if (m.kind === 'container') return this.dockerDo('start', m.container);
    if (m.running) return { ok: true, did: [`${name} already runs (pid ${m.pid})`], pid: m.pid! };
    const spec =
      this.remembered.get(name) ?? this.launcher(this.o.agents.find((a) => a.name === name)!);
    if (!spec) return { ok: false, error: `no command line known for ${name}` };
    try {
      const pid = await spawnDetached(spec, m.output);
      return {
        ok: true,
        did: [`started ${spec.command.join(' ')} in ${spec.cwd}: pid ${pid}`],
        pid,
      };
    } catch (error) {
      return { ok: false, error: `starting ${name}: ${(error as Error).message}` };
    }
  }
}
