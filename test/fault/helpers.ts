// The fault-injection suite (issue 7 part 2): each case injects a fault into real processes
// and sockets (nats-server, ZeroMQ, HTTP, the real binary in tmux) and asserts nothing was lost
// or corrupted. Cases already covered elsewhere are not repeated:
//   NATS killed and restarted mid-stream, every JetStream message in the store exactly once
//                               test/integration/data-plane.test.ts
//   fd flat over 10,000 ZMQ timeouts; one wedged / one garbage probe
//                               test/integration/health-probe.test.ts
//   alias bomb, duplicate keys, wrong types in the loader   test/core/fleet-bad-input.test.ts
//   unreadable config (EACCES), disk full during migrate, two migrates at once
//                               test/cli/config.test.ts, test/cli/migrate.test.ts,
//                               test/adapters/atomic-file.test.ts
//   token skew / expiry         test/security/token.test.ts
// Here: hostile-frames (11,000 malformed / 1 MiB / binary / escape frames, screen and tmux),
// stuck-agents (wedged, garbage, late; ZMQ and HTTP; fds), zmq-gap (publisher restarted or
// frozen: the gap is a row), nats-console (the console through a NATS kill and an absent
// server; status too), signals-console and signals-demo (SIGTERM, SIGHUP, a real hang-up:
// clean exit, nothing orphaned), config-faults (the binary's side of bad config files).
//
// This file: small fleets on loopback addresses of our own, waiting, tmux on a private socket,
// process trees.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { findNatsServer, NATS_INSTALL_HINT } from '../../source/adapters/nats-server.js';
import type { Machine } from '../../source/core/fleet/model.js';

export const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NATS_BIN = findNatsServer();
export const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;
export const NEEDS_NATS: string | false = NATS_BIN
  ? false
  : `nats-server not installed: ${NATS_INSTALL_HINT}`;
export const NEEDS_TMUX_NATS: string | false = !HAS_TMUX
  ? 'tmux not installed (scripts/install-system-deps.sh installs it)'
  : NEEDS_NATS;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Loopback addresses of this test file's own: 127.N.0.x with N from the pid (each test file runs
 * in its own process). Fixed ports on them clash neither with another run of the suite at the
 * same time (another engineer's `npm test`) nor with the other tests' fixed 127.0.0.x.
 */
export const NET = `127.${100 + (process.pid % 150)}.0`;
export const host = (n: number): string => `${NET}.${n}`;
/** A string as a RegExp source. */
export const re = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  detail?: () => string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await sleep(25);
  }
}

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `opsdeck-fault-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A two-machine fleet in `dir`: MainPC agents (BaseAgent ports) and PC2's bus on `busPort`. */
export function writeFleet(
  dir: string,
  o: {
    mainpc: string;
    pc2: string;
    agents?: Record<string, [number, number]>;
    pc2Agents?: Record<string, [number, number]>;
    busPort?: number;
  },
): { files: { mainpc: string; pc2: string }; env: Record<string, string>; machines: Machine[] } {
  const agents = o.agents ?? { Alpha: [17901, 18901] };
  const pc2Agents = o.pc2Agents ?? { Bravo: [7101, 8101] };
  const mainpc = `agent_groups:\n  core:\n${Object.entries(agents)
    .map(
      ([name, [port, health]]) =>
        `    ${name}: {script_path: ${name.toLowerCase()}.py, port: ${port}, health_check_port: ${health}}\n`,
    )
    .join('')}`;
  // ResourceManager is known by its upstream script (the sim speaks its JSON-only protocol).
  const script = (name: string) =>
    name === 'ResourceManager' ? 'pc2_code/agents/resource_manager.py' : `${name.toLowerCase()}.py`;
  const pc2 = `pc2_services:\n${Object.entries(pc2Agents)
    .map(
      ([name, [port, health]]) =>
        `- {name: ${name}, script_path: ${script(name)}, host: 0.0.0.0, port: ${port}, health_check_port: ${health}}\n`,
    )
    .join('')}error_bus_port: ${o.busPort ?? 7150}\n`;
  const files = { mainpc: join(dir, 'mainpc.yaml'), pc2: join(dir, 'pc2.yaml') };
  writeFileSync(files.mainpc, mainpc);
  writeFileSync(files.pc2, pc2);
  const env = { MAINPC_IP: o.mainpc, PC2_IP: o.pc2 };
  const fleet = loadFleet(files, env);
  if (!fleet.ok) throw new Error(fleet.diagnostics.map((d) => d.message).join('; '));
  return { files, env, machines: fleet.machines };
}

export const fdCount = () => readdirSync('/proc/self/fd').length;

/** A tmux server of our own (`-L`), torn down by `kill()`. */
export class Tmux {
  readonly socket: string;
  constructor(
    tag: string,
    private readonly conf?: string,
  ) {
    this.socket = `opsdeck-fault-${tag}-${process.pid}`;
  }
  run(...args: string[]): string {
    return execFileSync(
      'tmux',
      ['-L', this.socket, ...(this.conf ? ['-f', this.conf] : []), ...args],
      { encoding: 'utf8' },
    );
  }
  screen(target = 'ops'): string {
    return this.run('capture-pane', '-p', '-t', target);
  }
  display(format: string, target = 'ops'): string {
    return this.run('display-message', '-p', '-t', target, format).trim();
  }
  keys(...k: string[]): void {
    this.run('send-keys', '-t', 'ops', ...k);
  }
  async until(
    what: string,
    ok: (text: string) => boolean,
    timeoutMs = 10_000,
    target = 'ops',
  ): Promise<string> {
    const end = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < end) {
      text = this.screen(target);
      if (ok(text)) return text;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}; the screen was:\n${text}`);
  }
  kill(): void {
    try {
      this.run('kill-server');
    } catch {
      /* already gone */
    }
  }
}

/**
 * A shell command for tmux that runs the real binary, then prints its exit code and whether
 * the terminal is back in cooked mode (`TTY= icanon echo`; raw mode shows `-icanon -echo`).
 */
export function consoleCommand(args: string[], tag = 'EXIT'): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `cd ${q(ROOT)} && ${q(process.execPath)} ${q(BIN)} ${args.map(q).join(' ')}; echo "${tag}=$?"; echo "TTY= $(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')"; sleep 120`;
}

/** Every live process: pid -> {ppid, argv}. */
export function processes(): Map<number, { ppid: number; argv: string[] }> {
  const out = new Map<number, { ppid: number; argv: string[] }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.length > 0) out.set(Number(entry), { ppid, argv });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** The pids below `root` (children, grandchildren...). */
export function descendants(root: number, table = processes()): number[] {
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, p] of table) {
      if (p.ppid === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

/** Live processes whose command line contains every one of `needles`. */
export function findProcesses(...needles: string[]): number[] {
  return [...processes()]
    .filter(([, p]) => needles.every((n) => p.argv.some((a) => a.includes(n))))
    .map(([pid]) => pid);
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
