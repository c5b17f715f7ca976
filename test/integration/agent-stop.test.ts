// `opsdeck agent` as a real process, stopped by SIGTERM while its NATS server is away: refusing
// connections, accepting them but never speaking (hung, half-started, a forwarder with nothing
// behind it), or killed under it. It must keep trying until signalled, then say so and exit 0,
// leaving no process behind. It once ended at once (code 13) when NATS refused at start, and
// did not exit at all on SIGTERM after attempts on a silent server (their sockets stayed open).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNatsServer } from '../../source/adapters/nats-server.js';
import { NATS_BIN, natsSkip, sleep, until } from '../support/nats.js';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-agent-stop-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A TCP server that never writes a byte; it counts what was accepted and what is still open. */
async function silentServer(host: string, port: number) {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const stop = () => {
    for (const s of open) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  stops.push(stop);
  return { accepted: () => accepted, open: () => open.size, stop };
}

/** The daemon, in an empty folder (no fleet config). */
function startAgent(url: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, 'agent', '--machine', 'stopbox', '--nats', url, '--interval', '300ms'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  stops.push(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { child, exit, stderr: () => stderr };
}

/** The pids of `pid`'s children (Linux: /proc/<pid>/task/<tid>/children). */
const childrenOf = (pid: number): number[] =>
  existsSync(`/proc/${pid}/task/${pid}/children`)
    ? readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
    : [];

/** SIGTERM, then: exit code 0, the stop said in the log, no child process left. */
async function stopsCleanly(agent: ReturnType<typeof startAgent>): Promise<void> {
  assert.equal(agent.child.exitCode, null, `the daemon ended by itself:\n${agent.stderr()}`);
  const children = childrenOf(agent.child.pid!);
  agent.child.kill('SIGTERM');
  await until(
    'the daemon to exit after SIGTERM',
    () => agent.child.exitCode !== null || agent.child.signalCode !== null,
  ).catch((error: Error) => assert.fail(`${error.message}:\n${agent.stderr()}`));
  assert.equal(await agent.exit, 0, `after SIGTERM:\n${agent.stderr()}`);
  assert.match(agent.stderr(), /: stopping \(SIGTERM\)\n/);
  assert.match(agent.stderr(), /: stopped\n$/);
  for (const pid of children)
    await until(`child ${pid} of the daemon to end`, () => !existsSync(`/proc/${pid}`));
}

describe('opsdeck agent stopped while NATS is away', { skip: natsSkip }, () => {
  test('NATS refusing at start: keeps trying, connects once it is there, stops on SIGTERM', async () => {
    const host = '127.0.42.1';
    const port = await freePort(host);
    const agent = startAgent(`nats://${host}:${port}`);
    await until('the refused first attempt', () => /CONNECTION_REFUSED/.test(agent.stderr()));
    // A minimum, not a deadline: the daemon used to end within a tenth of a second of this.
    await sleep(1000);
    assert.equal(agent.child.exitCode, null, `the daemon ended by itself:\n${agent.stderr()}`);
    const nats = await startNatsServer({ bin: NATS_BIN!, host, port });
    stops.push(() => nats.stop());
    await until('the daemon to connect', () => /ready: answering/.test(agent.stderr()));
    await stopsCleanly(agent);
  });

  test('a server that never speaks, at the first connect: stops on SIGTERM, its sockets closed', async () => {
    const host = '127.0.42.2';
    const port = await freePort(host);
    const silent = await silentServer(host, port);
    const agent = startAgent(`nats://${host}:${port}`);
    // The second attempt: the first timed out and was given up.
    await until('two connection attempts', () => silent.accepted() >= 2);
    await stopsCleanly(agent);
    await until("the daemon's sockets to close", () => silent.open() === 0);
  });

  test('the server killed, and its port taken by one that never speaks: stops on SIGTERM', async () => {
    const host = '127.0.42.3';
    const nats = await startNatsServer({ bin: NATS_BIN!, host });
    stops.push(() => nats.stop());
    const agent = startAgent(nats.url);
    await until('the daemon to connect', () => /ready: answering/.test(agent.stderr()));
    process.kill(nats.pid!, 'SIGKILL');
    await nats.stop();
    const silent = await until('the port to be free for the silent server', () =>
      silentServer(host, nats.port).catch(() => undefined),
    );
    await until('two reconnect attempts', () => silent.accepted() >= 2);
    await stopsCleanly(agent);
    await until("the daemon's sockets to close", () => silent.open() === 0);
  });

  test('the server stopped (SIGTERM) and nothing in its place: stops on SIGTERM while reconnecting', async () => {
    const nats = await startNatsServer({ bin: NATS_BIN!, host: '127.0.42.4' });
    stops.push(() => nats.stop());
    const agent = startAgent(nats.url);
    await until('the daemon to connect', () => /ready: answering/.test(agent.stderr()));
    await nats.stop();
    await until('the daemon to reconnect', () => /NATS reconnecting/.test(agent.stderr()));
    await stopsCleanly(agent);
  });
});
