// Agent logs and lifecycle end to end: a real nats-server, the real sim writing upstream's JSON
// log files (rotated at a few KB), each machine's real opsdeck agent serving opsdeck.<m>.logs and
// the agent_* control actions, `opsdeck logs` / `opsdeck restart` as commands in-process.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createInbox, type NatsConnection } from 'nats';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { findNatsServer, NATS_INSTALL_HINT } from '../../source/adapters/nats-server.js';
import {
  generateSigningKey,
  mintToken,
  parseJwks,
  publicOf,
  tokenVerifier,
  type PrivateJwk,
} from '../../source/adapters/jwt.js';
import { readAudit } from '../../source/adapters/audit.js';
import { watchLogs } from '../../source/adapters/log-client.js';
import type { LogItem, LogLine } from '../../source/core/logs/line.js';
import { logsSubject } from '../../source/core/logs/stream.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { startSim, type Sim } from '../../source/sim/sim.js';

const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const HOSTS = [
  { mainpc: '127.0.0.81', pc2: '127.0.0.82' },
  { mainpc: '127.0.0.83', pc2: '127.0.0.84' },
  { mainpc: '127.0.0.85', pc2: '127.0.0.86' },
  { mainpc: '127.0.0.87', pc2: '127.0.0.88' },
];
let sims = 0;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-logs-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

const MAINPC = `agent_groups:
  core:
    ServiceRegistry: {script_path: main_pc_code/agents/service_registry_agent.py, port: 27501, health_check_port: 28501}
    Alpha: {script_path: a.py, port: 27301, health_check_port: 28301}
`;
const PC2 = `pc2_services:
- {name: VisionA, script_path: v.py, host: 0.0.0.0, port: 27101, health_check_port: 28101}
`;
function machines(): Machine[] {
  writeFileSync(join(dir, 'mainpc.yaml'), MAINPC);
  writeFileSync(join(dir, 'pc2.yaml'), PC2);
  const f = loadFleet({ mainpc: join(dir, 'mainpc.yaml'), pc2: join(dir, 'pc2.yaml') }, {});
  assert.ok(f.ok, f.diagnostics.map((d) => d.message).join('; '));
  return f.machines;
}
const overrides = {
  defaults: { error_variant: 'none' as const, nats_library: 'none' as const },
  agents: {},
  machines: {},
};

async function sim(extra: Partial<Parameters<typeof startSim>[0]> = {}): Promise<Sim> {
  const logRoot = join(dir, `logs-${sims}`);
  const hosts = HOSTS[sims++]!;
  const s = await startSim({
    machines: machines(),
    hosts,
    overrides,
    nats: { mode: 'own', bin: NATS_BIN! },
    controlPort: 0,
    errorRate: 0,
    logRoot,
    logMaxBytes: 4096,
    logTtlMs: 1500,
    ...extra,
  });
  stops.push(() => s.stop());
  return s;
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
    env: { OPSDECK_AUDIT: audit, USER: 'tester', ...env },
    cwd: dir,
  };
  return { code: await main(args, io), out, err };
}

async function client(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, timeout: 3000 });
  stops.push(() => nc.close());
  return nc;
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('agent logs over NATS', { skip }, () => {
  test('the sim writes upstream JSON lines; `opsdeck logs --lines 5` prints 5 of them, parsed', async () => {
    const s = await sim();
    const file = join(s.machineRoot('mainpc')!, 'logs', 'serviceregistry.log');
    await until('the log file', () => existsSync(file));
    const first = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as Record<string, unknown>;
    // JsonFormatter's keys and its timestamp (whole seconds, Z).
    assert.deepEqual(Object.keys(first).slice(0, 4), ['timestamp', 'level', 'agent', 'message']);
    assert.match(String(first.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await s.control({ fault: 'log-flood', agent: 'mainpc/ServiceRegistry', rate: 100, seconds: 1 });
    await until('10 records', () => readFileSync(file, 'utf8').split('\n').length > 10);
    const r = await opsdeck(['logs', 'mainpc/ServiceRegistry', '--lines', '5'], {
      NATS_URL: s.natsUrl!,
    });
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 5, r.out);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z INFO \S/);
    const j = await opsdeck(['logs', 'mainpc/ServiceRegistry', '--lines', '3', '--json'], {
      NATS_URL: s.natsUrl!,
    });
    const items = j.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine);
    assert.equal(items.length, 3);
    assert.equal(items[0]!.format, 'json');
    assert.equal(items[0]!.level, 'INFO');
    assert.equal(items[0]!.extra?.agent, 'ServiceRegistry');
    // An agent the machine does not have: refused with the reason, exit 1; bad input exit 2.
    const none = await opsdeck(['logs', 'mainpc/Nobody'], { NATS_URL: s.natsUrl! });
    assert.equal(none.code, 1);
    assert.match(none.err, /no agent Nobody/);
    assert.equal((await opsdeck(['logs', 'ServiceRegistry'], { NATS_URL: s.natsUrl! })).code, 2);
    assert.equal(
      (await opsdeck(['logs', 'mainpc/Alpha', '--lines', 'x'], { NATS_URL: s.natsUrl! })).code,
      2,
    );
  });

  test('--follow keeps every line across rotations, in order; nothing flows once no one renews', async () => {
    const s = await sim();
    const nc = await client(s.natsUrl!);
    const got: LogItem[] = [];
    let ended = '';
    const w = watchLogs(
      nc,
      { machine: 'mainpc', agent: 'Alpha', lines: 0, follow: true },
      { items: (i) => void got.push(...i), end: (r) => void (ended = r) },
    );
    await until('the watch', () => s.logWatches() === 1);
    // 60 lines/s of ~150 bytes into a 4 KB file: a rotation every half second or so.
    await s.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 60 });
    const numbers = () =>
      got.flatMap((i) =>
        i.kind === 'line' && /^Processed request \d+$/.test(i.message)
          ? [Number(i.message.split(' ')[2])]
          : [],
      );
    const rotated = () => got.filter((i) => i.kind === 'note' && /rotated/.test(i.text)).length;
    await until('3 rotations followed', () => rotated() >= 3 && numbers().length >= 100, 30_000);
    await s.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 0 });
    const n = numbers();
    // Every request number once, in order, none lost at a rotation.
    for (let i = 1; i < n.length; i++) assert.equal(n[i], n[i - 1]! + 1, `gap at ${n[i - 1]}`);
    assert.equal(got.filter((i) => i.kind === 'skipped').length, 0);
    w.stop();
    assert.equal(ended, 'stopped');
    await until('the daemon dropped the watch', () => s.logWatches() === 0);

    // A watcher that vanishes without a word: its watch ends at the TTL and nothing more is sent.
    const inbox = createInbox();
    let after = 0;
    let expired = false;
    const sub = nc.subscribe(inbox, {
      callback: (_e, m) => {
        if (expired) after += m.data.length;
      },
    });
    const opened = await nc.request(
      logsSubject('mainpc'),
      new TextEncoder().encode(JSON.stringify({ agent: 'Alpha', lines: 1, follow: true, inbox })),
      { timeout: 3000 },
    );
    assert.equal((JSON.parse(new TextDecoder().decode(opened.data)) as { ok: boolean }).ok, true);
    assert.equal(s.logWatches(), 1);
    await s.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 50 });
    await until('the TTL to end the watch', () => s.logWatches() === 0, 10_000);
    expired = true;
    await new Promise((r) => setTimeout(r, 1000)); // lines are still being written meanwhile
    await s.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 0 });
    sub.unsubscribe();
    assert.equal(after, 0, 'bytes sent to a watcher that stopped renewing');
    // And a renewal of the gone watch is refused, saying so.
    const renew = await nc.request(
      logsSubject('mainpc'),
      new TextEncoder().encode(JSON.stringify({ renew: 'no-such-id' })),
      { timeout: 3000 },
    );
    assert.match(new TextDecoder().decode(renew.data), /no such watch/);
  });

  test('over its rate a watcher gets the newest lines and a skipped count, never silence', async () => {
    const s = await sim({ logRate: 50, logMaxBytes: 1024 * 1024 });
    const nc = await client(s.natsUrl!);
    const got: LogItem[] = [];
    const w = watchLogs(
      nc,
      { machine: 'mainpc', agent: 'Alpha', lines: 0, follow: true },
      { items: (i) => void got.push(...i), end: () => undefined },
    );
    await until('the watch', () => s.logWatches() === 1);
    await s.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 2000, seconds: 2 });
    const skipped = () => got.reduce((n, i) => n + (i.kind === 'skipped' ? i.count : 0), 0);
    const lines = () => got.filter((i) => i.kind === 'line').length;
    await until('most lines skipped', () => skipped() > 2000);
    await new Promise((r) => setTimeout(r, 500));
    w.stop();
    // Everything written is accounted for: shown + skipped (the sim wrote ~4000 + status lines).
    assert.ok(lines() < skipped() / 5, `${lines()} shown vs ${skipped()} skipped`);
    assert.match(JSON.stringify(got.find((i) => i.kind === 'skipped')), /over 50 lines\/s/);
  });
});

describe('agent lifecycle through the daemon', { skip }, () => {
  test('restart from the CLI: preview names the process, DOWN then OK, audit ok; forged or missing tokens refused', async () => {
    const key: PrivateJwk = generateSigningKey();
    const forger: PrivateJwk = generateSigningKey();
    const s = await sim({
      tokenVerifier: tokenVerifier({ keys: parseJwks(JSON.stringify({ keys: [publicOf(key)] })) }),
    });
    const nc = await client(s.natsUrl!);
    const ask = async (body: Record<string, unknown>) =>
      JSON.parse(
        new TextDecoder().decode(
          (
            await nc.request(
              'opsdeck.mainpc.control',
              new TextEncoder().encode(JSON.stringify(body)),
              {
                timeout: 5000,
              },
            )
          ).data,
        ),
      ) as Record<string, unknown>;
    const alpha = () => s.machine('mainpc')!.byName.get('Alpha')!;
    const pid = alpha().pid;
    // The preview's question needs no token and names the exact process.
    const how = await ask({ action: 'agent_how', agent: 'Alpha' });
    assert.equal(how.status, 'success');
    assert.match(String(how.line), new RegExp(`process ${pid}: python3 a.py --port 27301`));
    // No token, a forged one, one for the other machine: refused, nothing changed.
    for (const token of [
      undefined,
      mintToken(forger, { audience: 'mainpc', subject: 'mallory', ttlS: 60 }),
      mintToken(key, { audience: 'pc2', subject: 'op', ttlS: 60 }),
      'not.a.jwt',
    ]) {
      const r = await ask({ action: 'agent_restart', agent: 'Alpha', ...(token ? { token } : {}) });
      assert.equal(r.refused, true, JSON.stringify(r));
      assert.match(String(r.message), /^refused: /);
    }
    assert.equal(alpha().pid, pid, 'a refused request changed nothing');
    // Unmanageable: an agent the machine does not have is refused with the reason.
    const nobody = await ask({
      action: 'agent_restart',
      agent: 'Nobody',
      token: mintToken(key, { audience: 'mainpc', subject: 'op', ttlS: 60 }),
    });
    assert.equal(nobody.status, 'error');
    assert.match(String(nobody.message), /cannot be managed here: no agent Nobody/);

    const secrets = join(dir, 'secrets-restart');
    mkdirSync(join(secrets, 'jwt'), { recursive: true, mode: 0o700 });
    writeFileSync(join(secrets, 'jwt/signing.jwk'), JSON.stringify(key), { mode: 0o600 });
    const env = {
      NATS_URL: s.natsUrl!,
      MAINPC_IP: HOSTS[sims - 1]!.mainpc,
      PC2_IP: HOSTS[sims - 1]!.pc2,
    };
    const fleet = ['--mainpc', join(dir, 'mainpc.yaml'), '--pc2', join(dir, 'pc2.yaml')];
    const dry = await opsdeck(
      ['restart', 'mainpc/Alpha', '--dry-run', '--secrets', secrets, ...fleet],
      env,
    );
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, new RegExp(`target: mainpc/Alpha: process ${pid}: python3 a.py`));
    assert.match(dry.out, /SIGTERM to pid \d+/);
    assert.equal(alpha().pid, pid);
    const r = await opsdeck(
      ['restart', 'mainpc/Alpha', '--yes', '--secrets', secrets, ...fleet],
      env,
    );
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    assert.match(r.out, /probe: Alpha DOWN \d+ ms after the stop/);
    assert.match(r.out, /done: DOWN, then OK/);
    assert.notEqual(alpha().pid, pid, 'a new process');
    assert.equal(alpha().status, 'up');
    const last = readAudit(audit).entries.at(-1)!;
    assert.equal(last.action, 'agent.restart');
    assert.equal(last.outcome, 'ok');
    // Its log says so, in upstream's words.
    const log = readFileSync(join(s.machineRoot('mainpc')!, 'logs', 'alpha.log'), 'utf8');
    assert.match(log, /Alpha shutting down: stopped by opsdeck/);
    // Stop, then start: DOWN, then OK.
    const stop = await opsdeck(
      ['stop', 'mainpc/Alpha', '--yes', '--secrets', secrets, ...fleet],
      env,
    );
    assert.equal(stop.code, 0, stop.err);
    assert.equal(alpha().status, 'down');
    const start = await opsdeck(
      ['start', 'mainpc/Alpha', '--yes', '--secrets', secrets, ...fleet],
      env,
    );
    assert.equal(start.code, 0, start.err);
    assert.equal(alpha().status, 'up');
    // Without a secrets folder there is no token: the daemon refuses, the action fails, audited.
    const none = await opsdeck(
      ['restart', 'mainpc/Alpha', '--yes', '--secrets', join(dir, 'empty'), ...fleet],
      env,
    );
    assert.equal(none.code, 1);
    assert.match(none.err + none.out, /refused/);
    assert.equal(readAudit(audit).entries.at(-1)!.outcome, 'failed');
  });
});
