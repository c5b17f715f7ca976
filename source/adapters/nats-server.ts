// Starts a private nats-server (JetStream on, store in a temp dir, loopback only) and stops it.
// Used by `opsdeck sim` when no --nats URL is given, and by the integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { processAlive } from './instance-slot.js';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Finds nats-server on PATH, then where Debian puts it (/usr/sbin is not on every PATH). */
export function findNatsServer(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const explicit = env.NATS_SERVER_BIN;
  const dirs = [
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/sbin',
    '/usr/local/sbin',
    '/usr/local/bin',
  ];
  return firstExecutable(explicit ? [explicit] : dirs.map((d) => join(d, 'nats-server')));
}

function firstExecutable(candidates: readonly string[]): string | undefined {
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Own stores are `opsdeck-nats-<pid of their owner>-XXXXXX` in the temp folder. */
const STORE = 'opsdeck-nats-';

/** Removes the stores of owners that are gone: killed too hard to remove their own (kill -9). */
function removeDeadStores(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(new RegExp(`^${STORE}(\\d+)-`).exec(name)?.[1]);
    if (pid && pid !== process.pid && !processAlive(pid))
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** setpriv from util-linux, if this machine has it (it execs the program: same pid). */
const findSetpriv = (): string | undefined => firstExecutable(['/usr/bin/setpriv', '/bin/setpriv']);

export const NATS_INSTALL_HINT =
  'install it with `apt-get install -y nats-server` (Debian/Ubuntu) or pass --nats URL';

/** A free TCP port on `host`, from the kernel (port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True if nothing listens on host:port (checked by binding it briefly). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s) and removes its store. Idempotent. */
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  bin?: string;
  host?: string;
  /** Port to use; 0 or absent: a free one. */
  port?: number;
  /** Give up if the server is not ready in this time. */
  readyTimeoutMs?: number;
  /** Use (and keep) this JetStream store: a restart on the same dir keeps the streams. */
  storeDir?: string;
  /** A config file (`-c`), e.g. one that includes `opsdeck certs`' auth.conf; flags still set host and port. */
  configFile?: string;
  /** Scheme of the URL returned (tls:// when the config turns TLS on). */
  scheme?: 'nats' | 'tls';
}

/**
 * nats-server with JetStream, its store in `storeDir`. Under setpriv --pdeathsig (util-linux, on
 * every Debian/Ubuntu): the kernel sends it SIGTERM when its parent dies, however it dies; a Go
 * binary cannot be taught to watch a pipe for that.
 */
function spawnNats(
  bin: string,
  options: StartNatsOptions,
  at: { host: string; port: number; storeDir: string },
): ChildProcess {
  const args = [
    ...(options.configFile ? ['-c', options.configFile] : []),
    '-a',
    at.host,
    '-p',
    String(at.port),
    '-js',
    '-sd',
    at.storeDir,
  ];
  const setpriv = findSetpriv();
  return setpriv
    ? spawn(setpriv, ['--pdeathsig', 'TERM', '--', bin, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    : spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Resolves when the server says it is ready; rejects with its last lines if it exits first,
 * cannot be started, or takes longer than `timeoutMs`.
 */
function readyOf(child: ChildProcess, exit: Promise<void>, timeoutMs: number): Promise<void> {
  let log = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`nats-server did not become ready in ${timeoutMs} ms: ${tail(log)}`)),
      timeoutMs,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (error) => (clearTimeout(timer), reject(error)));
    void exit.then(
      () => (
        clearTimeout(timer),
        reject(new Error(`nats-server exited during start: ${tail(log)}`))
      ),
    );
  });
}

export async function startNatsServer(options: StartNatsOptions = {}): Promise<NatsServer> {
  const bin = options.bin ?? findNatsServer();
  if (!bin) throw new Error(`nats-server not found on PATH; ${NATS_INSTALL_HINT}`);
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const ownStore = options.storeDir === undefined;
  if (ownStore) removeDeadStores();
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), `${STORE}${process.pid}-`));
  const child = spawnNats(bin, options, { host, port, storeDir });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => ((exited = true), resolve())),
  );
  const ready = readyOf(child, exit, options.readyTimeoutMs ?? 5000);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exit;
        clearTimeout(timer);
      }
      child.stderr?.destroy();
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    })());
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `${options.scheme ?? 'nats'}://${host}:${port}`,
    port,
    storeDir,
    pid: child.pid,
    stop,
  };
}

const tail = (text: string): string =>
  text.trim().split('\n').slice(-3).join(' | ') || '(no output)';
