// PC2 throttling and control-request authentication end to end: a real nats-server, the real
// sim (open, then enforcing with a JWKS), `opsdeck agent` in-process (without and with a JWKS,
// forwarding to the sim's ResourceManager over ZMQ), `opsdeck throttle` and `opsdeck security
// probe` as commands. Own loopback addresses (127.0.0.41-47) and a small fleet of our own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { textOf } from '../../source/core/text.js';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { startNatsServer } from '../../source/adapters/nats-server.js';
import {
  generateSigningKey,
  mintToken,
  parseJwks,
  publicOf,
  tokenVerifier,
  type PrivateJwk,
} from '../../source/adapters/jwt.js';
import { GpuSampler } from '../../source/adapters/system-sampler.js';
import { readAudit } from '../../source/adapters/audit.js';
import { realMachine, runAgent } from '../../source/agent/agent.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import { newSampleKey, signerFor } from '../../source/adapters/sample-sign.js';
import { NATS_BIN, natsSkip as skip, sleep, until } from '../support/nats.js';

// Each sim of this file gets its own pair: they all live until the file ends.
const HOSTS = [
  { mainpc: '127.0.0.41', pc2: '127.0.0.42' },
  { mainpc: '127.0.0.43', pc2: '127.0.0.44' },
  { mainpc: '127.0.0.45', pc2: '127.0.0.46' },
  { mainpc: '127.0.0.53', pc2: '127.0.0.54' },
];
let sims = 0;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-throttle-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

const MAINPC = `agent_groups:
  core:
    Alpha: {script_path: a.py, port: 27301, health_check_port: 28301}
`;
const PC2 = `pc2_services:
- {name: ResourceManager, script_path: pc2_code/agents/resource_manager.py, host: 0.0.0.0, port: 7113, health_check_port: 8113}
- {name: VisionA, script_path: v.py, host: 0.0.0.0, port: 27101, health_check_port: 28101}
- {name: VisionB, script_path: w.py, host: 0.0.0.0, port: 27201, health_check_port: 28201}
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
  agents: { VisionA: { vram_mb: 4000 }, VisionB: { vram_mb: 4000 } },
  machines: {},
};

// Each sim's machines sign their samples: auto-throttle acts on nothing else.
const sampleKeys = { mainpc: newSampleKey('mainpc'), pc2: newSampleKey('pc2') };
const SAMPLE_KEYS = join(dir, 'sample-keys.json');
writeFileSync(
  SAMPLE_KEYS,
  JSON.stringify({ keys: [sampleKeys.mainpc.public, sampleKeys.pc2.public] }),
);

async function sim(enforce?: PrivateJwk): Promise<Sim> {
  const s = await startSim({
    sampleSigners: {
      mainpc: signerFor('mainpc', sampleKeys.mainpc.key),
      pc2: signerFor('pc2', sampleKeys.pc2.key),
    },
    machines: machines(),
    hosts: HOSTS[sims++]!,
    overrides,
    nats: { mode: 'own', bin: NATS_BIN! },
    controlPort: 0,
    errorRate: 0,
    ...(enforce
      ? {
          tokenVerifier: tokenVerifier({
            keys: parseJwks(JSON.stringify({ keys: [publicOf(enforce)] })),
          }),
        }
      : {}),
  });
  stops.push(() => s.stop());
  return s;
}

/** A secrets folder with a signing key (as opsdeck certs writes it) and optional token files. */
function secrets(name: string, key?: PrivateJwk, tokens: Record<string, string> = {}): string {
  const d = join(dir, name);
  mkdirSync(join(d, 'jwt'), { recursive: true, mode: 0o700 });
  mkdirSync(join(d, 'tokens'), { recursive: true, mode: 0o700 });
  if (key) writeFileSync(join(d, 'jwt/signing.jwk'), JSON.stringify(key), { mode: 0o600 });
  for (const [m, t] of Object.entries(tokens))
    writeFileSync(join(d, `tokens/${m}.jwt`), t, { mode: 0o600 });
  return d;
}

interface Ran {
  code: number;
  out: string;
  err: string;
}
const audit = join(dir, 'audit.jsonl');
/**
 * Runs a command in-process. Replies get 15 s, not the default 2-3 s: on a loaded machine (CI:
 * 2 cores) this one process runs the sim, its daemons and the command, and a reply can take
 * seconds. A case that sets its own --timeout keeps it.
 */
async function opsdeck(args: string[]): Promise<Ran> {
  const slow = (args[0] === 'throttle' || args[0] === 'security') && !args.includes('--timeout');
  if (slow) args = [...args, '--timeout', '15s'];
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env: { OPSDECK_AUDIT: audit, USER: 'tester' },
    cwd: dir,
  };
  return { code: await main(args, io), out, err };
}

async function client(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, timeout: 3000 });
  stops.push(() => nc.close());
  return nc;
}
async function request(
  nc: NatsConnection,
  subject: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const m = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), {
    timeout: 15_000,
  });
  return JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>;
}
/** The next resources sample of a machine that passes `pred`. */
async function sample(
  nc: NatsConnection,
  machine: string,
  pred: (s: { throttleLevel: number; gpu: { usedMb: number } | null }) => boolean,
  ms = 30_000,
) {
  const sub = nc.subscribe(`opsdeck.${machine}.resources`);
  const timer = setTimeout(() => sub.unsubscribe(), ms);
  try {
    for await (const m of sub) {
      const s = JSON.parse(new TextDecoder().decode(m.data)) as {
        throttleLevel: number;
        gpu: { usedMb: number } | null;
      };
      if (pred(s)) return s;
    }
    throw new Error(`no matching ${machine} sample within ${ms} ms`);
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
}

const fleetKey = generateSigningKey();
const strangerKey = generateSigningKey();

describe('opsdeck throttle against the open sim (no JWKS: the demo)', { skip }, () => {
  let s: Sim;
  let nc: NatsConnection;
  before(async () => {
    s = await sim();
    nc = await client(s.natsUrl!);
  });

  test('--level 3: the exact request previewed, applied by the agent daemon, verified against ResourceManager and the processes', async () => {
    const r = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '3',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--yes',
    ]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(
      r.out,
      /Set pc2 throttle to level 3 \(shed\) — target: pc2 \(opsdeck\.pc2\.control on nats:\/\/127\.0\.0\.1:\d+\)/,
    );
    assert.match(
      r.out,
      /request opsdeck\.pc2\.control \{"action":"set_throttle","level":3,"token":"\(no token\)"\}/,
    );
    assert.match(r.out, /1\. set_thresholds cpu 60 \/ memory 65 \/ gpu 40 on ResourceManager/);
    assert.match(r.out, /nothing frees VRAM: no upstream mechanism does/);
    assert.match(
      r.out,
      /done: ResourceManager tcp:\/\/127\.0\.0\.42:7113: set_thresholds cpu 60 \/ memory 65 \/ gpu 40 answered success/,
    );
    assert.match(r.out, /done: reniced 3 of 3 agent processes to nice 15/);
    assert.match(
      r.out,
      /read back from pc2: thresholds 60\/65\/40 = level 3; 3\/3 agent processes at nice 15 \(unverified: no sample keys to check its signature\)/,
    );
    // The machine's own state: upstream's ResourceManager and the process table.
    assert.deepEqual(s.machine('pc2')!.rm.thresholds, { cpu: 60, memory: 65, gpu: 40 });
    assert.deepEqual(
      s.machine('pc2')!.agents.map((a) => a.nice),
      [15, 15, 15],
    );
    const status = await request(nc, 'opsdeck.pc2.control', { action: 'get_status' });
    assert.deepEqual(status.thresholds, { cpu: 60, memory: 65, gpu: 40 });
    assert.equal(status.via, 'ResourceManager tcp://127.0.0.42:7113');
    const read = await sample(nc, 'pc2', (x) => x.throttleLevel === 3);
    assert.equal(read.throttleLevel, 3);
    const last = readAudit(audit).entries.at(-1)!;
    assert.equal(last.action, 'throttle.set');
    assert.equal(last.outcome, 'ok');
    assert.equal(last.machine, 'pc2');
    assert.equal(last.args.level, 3);
  });

  test("with sample keys the read-back counts only a sample signed by pc2's key", async () => {
    const signed = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '2',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--sample-keys',
      SAMPLE_KEYS,
      '--yes',
    ]);
    assert.equal(signed.code, 0, signed.out + signed.err);
    const kid = sampleKeys.pc2.public.kid.slice(0, 8);
    assert.match(
      signed.out,
      new RegExp(`read back from pc2: .*level 2.* \\(signed \\(key ${kid}\\)\\)`),
    );
    assert.match(readAudit(audit).entries.at(-1)!.detail!, new RegExp(`signed \\(key ${kid}\\)`));
    // Keys that are not pc2's: its samples read level 1 back but none is counted, so the
    // throttle is not called verified (the thresholds did change: the machine says so).
    const other = join(dir, 'other-sample-keys.json');
    writeFileSync(other, JSON.stringify({ keys: [newSampleKey('pc2').public] }));
    const forged = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '1',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--sample-keys',
      other,
      '--yes',
    ]);
    assert.equal(forged.code, 1, forged.out + forged.err);
    assert.match(
      forged.out,
      /no opsdeck\.pc2\.resources signed sample read level 1 back within 5 s; one read it back but was not counted: /,
    );
    assert.equal(readAudit(audit).entries.at(-1)!.outcome, 'failed');
    const missing = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '1',
      '--nats',
      s.natsUrl!,
      '--sample-keys',
      join(dir, 'no-such-keys.json'),
      '--yes',
    ]);
    assert.equal(missing.code, 2, 'an unreadable --sample-keys is bad input');
    assert.match(missing.err, /--sample-keys: .*nothing was sent/);
    // Back to level 3: the tests below start from the first test's state.
    const back = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '3',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--yes',
    ]);
    assert.equal(back.code, 0, back.out + back.err);
  });

  test('a bad level is bad input (exit 2), nothing sent; nobody answering is a refused preflight', async () => {
    assert.equal(
      (await opsdeck(['throttle', 'pc2', '--level', '4', '--nats', s.natsUrl!, '--yes'])).code,
      2,
    );
    assert.equal(
      (await opsdeck(['throttle', 'pc2', '--level', '1', '--auto', 'on', '--nats', s.natsUrl!]))
        .code,
      2,
    );
    const nobody = await opsdeck([
      'throttle',
      'pc9',
      '--level',
      '1',
      '--nats',
      s.natsUrl!,
      '--yes',
      '--timeout',
      '500ms',
    ]);
    assert.equal(nobody.code, 1);
    assert.match(
      nobody.out,
      /FAIL {2}pc9 answers opsdeck\.pc9\.control with ResourceManager's status: nobody answers opsdeck\.pc9\.control/,
    );
  });

  test('without --yes the confirmation names the exact target; "no" sends nothing', async () => {
    let asked = '';
    const io: Io = {
      out: () => undefined,
      err: () => undefined,
      env: { OPSDECK_AUDIT: audit },
      cwd: dir,
      ask: async (q) => ((asked = q), 'no'),
    };
    assert.equal(await main(['throttle', 'pc2', '--level', '0', '--nats', s.natsUrl!], io), 1);
    assert.match(
      asked,
      /Set pc2 throttle to level 0 \(normal\) on pc2 \(opsdeck\.pc2\.control on nats:\/\/127\.0\.0\.1:\d+\)/,
    );
    assert.deepEqual(s.machine('pc2')!.rm.thresholds, { cpu: 60, memory: 65, gpu: 40 });
  });

  test('security probe: the open sim is NOT enforced (exit 1)', async () => {
    const r = await opsdeck(['security', 'probe', '--nats', s.natsUrl!, '--json']);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.out) as { results: Array<{ machine: string; verdict: string }> };
    assert.deepEqual(
      doc.results.map((x) => `${x.machine}:${x.verdict}`),
      ['mainpc:NOT enforced', 'pc2:NOT enforced'],
    );
    // It sent control requests to both machines: both are in the audit, with what was sent.
    const probes = readAudit(audit).entries.slice(-2);
    assert.deepEqual(
      probes.map((e) => `${e.action} ${e.machine} ${e.outcome}`),
      ['security.probe mainpc ok', 'security.probe pc2 ok'],
    );
    assert.deepEqual(probes[1]!.args.sent, [
      'set_thresholds without a token',
      'set_thresholds with an unsigned token (alg none)',
    ]);
    assert.match(probes[1]!.detail!, /^NOT enforced: /);
    // The probe changed nothing even though it was accepted.
    assert.deepEqual(
      (await request(nc, 'opsdeck.pc2.control', { action: 'get_status' })).thresholds,
      { cpu: 60, memory: 65, gpu: 40 },
    );
  });

  test('auto on: VRAM above the line raises the level (each change audited); auto off stops it', async () => {
    await opsdeck(['throttle', 'pc2', '--level', '0', '--nats', s.natsUrl!, '--yes']);
    const running = opsdeck([
      'throttle',
      'pc2',
      '--auto',
      'on',
      '--nats',
      s.natsUrl!,
      '--raise-above',
      '50',
      '--lower-below',
      '10',
      '--samples',
      '2',
      '--max-level',
      '2',
      '--duration',
      '300s',
      '--sample-keys',
      SAMPLE_KEYS,
    ]);
    const autoDone = () =>
      readAudit(audit).entries.filter((e) => e.action === 'throttle.auto').length;
    await until('two levels raised', () => autoDone() >= 2, 60_000).catch(() => undefined);
    assert.deepEqual(s.machine('pc2')!.rm.thresholds, { cpu: 70, memory: 70, gpu: 55 });
    const off = await opsdeck(['throttle', 'pc2', '--auto', 'off', '--nats', s.natsUrl!, '--yes']);
    assert.equal(off.code, 0, off.out + off.err);
    assert.match(
      off.out,
      /done: runner stopped at level 2; nobody answers opsdeck\.pc2\.throttle\.auto now/,
    );
    const ran = await running;
    assert.equal(ran.code, 0, ran.err);
    assert.match(
      ran.out,
      /auto-throttle pc2: level 0 -> 1: VRAM \d+(\.\d)?% above 50% for 2 samples/,
    );
    assert.match(ran.out, /auto-throttle pc2 stopped \(an "off" request arrived/);
    // The closing line reads the level back from the machine, not from the runner.
    assert.match(
      ran.out,
      /pc2 shows: thresholds 70\/70\/55 = level 2; 3\/3 agent processes at nice 10/,
    );
    const autos = readAudit(audit).entries.filter((e) => e.action === 'throttle.auto');
    assert.deepEqual(
      autos.map((e) => `${textOf(e.args.level)}:${e.outcome}`),
      ['1:ok', '2:ok'],
    );
    assert.match(String(autos[0]!.args.reason), /above 50% for 2 samples/);
    assert.equal(readAudit(audit).entries.at(-1)!.action, 'throttle.auto.off');
  });
});

describe('the sim with a JWKS enforces tokens on machine control and faults', { skip }, () => {
  let s: Sim;
  let nc: NatsConnection;
  before(async () => {
    s = await sim(fleetKey);
    nc = await client(s.natsUrl!);
  });

  test("refused with a readable reason: no token, another fleet's key, wrong audience, expired; nothing changes", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['no secrets', secrets('empty'), /pc2 refused level 2: refused: no token/],
      ['stranger', secrets('stranger', strangerKey), /refused: unknown kid/],
      [
        'wrong audience',
        secrets('wrongaud', undefined, {
          pc2: mintToken(fleetKey, { audience: 'mainpc', subject: 'x', ttlS: 600 }),
        }),
        /refused: wrong audience: token is for "mainpc", this is "pc2"/,
      ],
      [
        'expired',
        secrets('expired', undefined, {
          pc2: mintToken(fleetKey, {
            audience: 'pc2',
            subject: 'x',
            ttlS: 60,
            now: Date.now() - 3_600_000,
          }),
        }),
        /refused: token expired 354\d s ago \(allowed clock skew 30 s\)/,
      ],
    ];
    for (const [name, d, reason] of cases) {
      const r = await opsdeck([
        'throttle',
        'pc2',
        '--level',
        '2',
        '--nats',
        s.natsUrl!,
        '--secrets',
        d,
        '--yes',
      ]);
      assert.equal(r.code, 1, name);
      assert.match(r.err + r.out, reason, name);
      assert.ok(
        s.machine('pc2')!.agents.every((a) => a.nice === 0),
        `${name}: processes unchanged`,
      );
      assert.deepEqual(
        s.machine('pc2')!.rm.thresholds,
        { cpu: 80, memory: 80, gpu: 80 },
        `${name}: thresholds unchanged`,
      );
    }
    const refusedAudit = readAudit(audit).entries.filter(
      (e) => e.action === 'throttle.set' && e.outcome === 'failed',
    );
    assert.ok(refusedAudit.length >= 4);
  });

  test('accepted with a token minted from the fleet key; neither the token nor the key reaches output or audit', async () => {
    const d = secrets('fleet', fleetKey);
    const r = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '2',
      '--nats',
      s.natsUrl!,
      '--secrets',
      d,
      '--yes',
    ]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(
      r.out,
      /"token":"<JWT EdDSA kid=\S+ aud=pc2 sub=opsdeck-operator:tester exp=\S+>"/,
    );
    assert.match(r.out, /token: minted per request from .*signing\.jwk \(valid 120 s\)/);
    assert.deepEqual(s.machine('pc2')!.rm.thresholds, { cpu: 70, memory: 70, gpu: 55 });
    const text = r.out + r.err + readFileSync(audit, 'utf8');
    assert.ok(!text.includes(fleetKey.d), 'private key printed');
    assert.ok(!/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(text), 'a compact JWT was printed or audited');
  });

  test('security probe: enforced on every machine (exit 0)', async () => {
    const r = await opsdeck(['security', 'probe', '--nats', s.natsUrl!]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /^mainpc: enforced \(opsdeck\.mainpc\.control\)$/m);
    assert.match(r.out, /^pc2: enforced \(opsdeck\.pc2\.control\)$/m);
    assert.match(r.out, /no token: .*refused: no token/);
    assert.match(r.out, /unsigned token \(alg none\): .*algorithm \\"none\\" refused/);
  });

  test('auto-throttle with secrets: an "off" without a valid token is refused and it keeps running; --auto off with the key stops it', async () => {
    const d = secrets('fleet-auto', fleetKey);
    writeFileSync(join(d, 'jwt/jwks.json'), JSON.stringify({ keys: [publicOf(fleetKey)] }));
    const running = opsdeck([
      'throttle',
      'pc2',
      '--auto',
      'on',
      '--nats',
      s.natsUrl!,
      '--secrets',
      d,
      '--duration',
      '300s',
      '--sample-keys',
      SAMPLE_KEYS,
    ]);
    const end = Date.now() + 60_000;
    let status: Record<string, unknown> = {};
    while (Date.now() < end) {
      status = await request(nc, 'opsdeck.pc2.throttle.auto', { auto: 'status' }).catch(() => ({}));
      if (status.running === true) break;
      await sleep(100);
    }
    assert.equal(status.auth, 'JWT required (EdDSA, JWKS)');
    const bare = await request(nc, 'opsdeck.pc2.throttle.auto', { auto: 'off' });
    assert.deepEqual(bare, {
      ok: false,
      refused: true,
      error: 'refused: no token: control requests need a JWT in the "token" field',
    });
    const stranger = await request(nc, 'opsdeck.pc2.throttle.auto', {
      auto: 'off',
      token: mintToken(strangerKey, { audience: 'pc2', subject: 'x', ttlS: 60 }),
    });
    assert.match(String(stranger.error), /refused: unknown kid/);
    assert.equal(
      (await request(nc, 'opsdeck.pc2.throttle.auto', { auto: 'status' })).running,
      true,
      'still running after the refusals',
    );
    const nokey = await opsdeck([
      'throttle',
      'pc2',
      '--auto',
      'off',
      '--nats',
      s.natsUrl!,
      '--secrets',
      secrets('auto-empty'),
      '--yes',
    ]);
    assert.equal(nokey.code, 1, nokey.out + nokey.err);
    assert.equal(
      (await request(nc, 'opsdeck.pc2.throttle.auto', { auto: 'status' })).running,
      true,
      'an operator without a key cannot stop it',
    );
    const off = await opsdeck([
      'throttle',
      'pc2',
      '--auto',
      'off',
      '--nats',
      s.natsUrl!,
      '--secrets',
      d,
      '--yes',
    ]);
    assert.equal(off.code, 0, off.out + off.err);
    assert.match(
      off.out,
      /"token":"<JWT EdDSA kid=\S+ aud=pc2 sub=opsdeck-operator:tester exp=\S+>"/,
    );
    const ran = await running;
    assert.equal(ran.code, 0, ran.err);
    assert.match(ran.out, /remote "off" requests: JWT required/);
    assert.match(ran.out, /refused an "off" request: no token/);
    assert.match(ran.out, /auto-throttle pc2 stopped \(an "off" request arrived/);
    assert.ok(
      !/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(ran.out + off.out + readFileSync(audit, 'utf8')),
      'a compact JWT was printed or audited',
    );
  });

  test('faults on opsdeck.sim.control need a token for audience "sim"; status does not', async () => {
    assert.deepEqual(
      await request(nc, 'opsdeck.sim.control', { fault: 'kill', agent: 'VisionA' }),
      { ok: false, error: 'refused: no token: control requests need a JWT in the "token" field' },
    );
    const pc2Token = mintToken(fleetKey, { audience: 'pc2', subject: 'x', ttlS: 60 });
    assert.match(
      String(
        (
          await request(nc, 'opsdeck.sim.control', {
            fault: 'kill',
            agent: 'VisionA',
            token: pc2Token,
          })
        ).error,
      ),
      /wrong audience/,
    );
    assert.equal(s.machine('pc2')!.byName.get('VisionA')!.status, 'up');
    const simToken = mintToken(fleetKey, { audience: 'sim', subject: 'x', ttlS: 60 });
    assert.deepEqual(
      await request(nc, 'opsdeck.sim.control', {
        fault: 'slow',
        agent: 'VisionA',
        ms: 0,
        token: simToken,
      }),
      { ok: true, agent: 'pc2/VisionA' },
    );
    assert.equal((await request(nc, 'opsdeck.sim.control', { fault: 'status' })).ok, true);
  });
});

describe(
  'opsdeck agent: refuses without a JWKS, enforces with one, forwards to the ResourceManager',
  { skip },
  () => {
    test('without --jwks every state change is refused, saying why; the probe calls that enforced', async () => {
      const server = await startNatsServer({ bin: NATS_BIN!, host: '127.0.0.41' });
      stops.push(() => server.stop());
      const nc = await client(server.url);
      const agent = runAgent(nc, {
        machine: 'pc2',
        intervalMs: 300,
        source: realMachine('pc2', new GpuSampler(join(dir, 'no-nvidia-smi'))),
        log: () => undefined,
      });
      stops.push(() => agent.stop());
      const r = await request(nc, 'opsdeck.pc2.control', {
        action: 'set_throttle',
        level: 1,
        token: mintToken(fleetKey, { audience: 'pc2', subject: 'x', ttlS: 60 }),
      });
      assert.equal(r.refused, true);
      assert.match(
        String(r.message),
        /started without --jwks, so it cannot verify who sent a request and changes nothing/,
      );
      // No ResourceManager known here: its read-only actions say so instead of inventing a status.
      assert.match(
        String((await request(nc, 'opsdeck.pc2.control', { action: 'get_status' })).message),
        /^no ResourceManager on pc2/,
      );
      const probe = await opsdeck(['security', 'probe', '--nats', server.url, '--machines', 'pc2']);
      assert.equal(probe.code, 0, probe.out);
      assert.match(probe.out, /^pc2: enforced/m);
    });

    test('with a JWKS: a valid token applies the level, the next sample shows it, upstream ResourceManager gets set_thresholds', async () => {
      const s = await sim();
      const server = await startNatsServer({ bin: NATS_BIN!, host: '127.0.0.47' });
      stops.push(() => server.stop());
      const nc = await client(server.url);
      const agent = runAgent(nc, {
        machine: 'pc2',
        intervalMs: 300,
        source: realMachine('pc2', new GpuSampler(join(dir, 'no-nvidia-smi'))),
        log: () => undefined,
        auth: {
          mode: 'verify',
          verify: tokenVerifier({
            keys: parseJwks(JSON.stringify({ keys: [publicOf(fleetKey)] })),
          }),
        },
        resourceManager: `tcp://${s.machine('pc2')!.plan.host}:7113`,
      });
      stops.push(() => agent.stop());
      const d = secrets('fleet-agent', fleetKey);
      const r = await opsdeck([
        'throttle',
        'pc2',
        '--level',
        '1',
        '--nats',
        server.url,
        '--secrets',
        d,
        '--yes',
      ]);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(
        r.out,
        /ResourceManager replied: \{"status":"success","thresholds":\{"cpu":75,"memory":75,"gpu":70\}\}/,
      );
      assert.match(r.out, /read back from pc2: thresholds 75\/75\/70 = level 1/);
      // The sim's ResourceManager (upstream's ZMQ API on 7113) got set_thresholds, and only that.
      assert.deepEqual(s.machine('pc2')!.rm.thresholds, { cpu: 75, memory: 75, gpu: 70 });
      const bad = await request(nc, 'opsdeck.pc2.control', {
        action: 'set_throttle',
        level: 3,
        token: mintToken(strangerKey, { audience: 'pc2', subject: 'x', ttlS: 60 }),
      });
      assert.match(String(bad.message), /refused: unknown kid/);
      assert.deepEqual(
        (await request(nc, 'opsdeck.pc2.control', { action: 'get_status' })).thresholds,
        { cpu: 75, memory: 75, gpu: 70 },
      );
    });
  },
);

const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const noDist = existsSync(fileURLToPath(new URL('../../dist/cli.js', import.meta.url)))
  ? false
  : 'dist/ is not built (npm test builds it)';

describe('the real binary: --jwks wiring', { skip: skip || noDist }, () => {
  test('agent --jwks FILE enforces; a missing or private JWKS is bad input (exit 2)', async () => {
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [publicOf(fleetKey)] }));
    writeFileSync(join(dir, 'private-jwks.json'), JSON.stringify({ keys: [fleetKey] }));
    for (const [cmd, file, reason] of [
      ['agent', 'nope.json', /--jwks .*nope\.json: no such file/],
      ['agent', 'private-jwks.json', /holds a private key/],
      ['sim', 'nope.json', /--jwks .*nope\.json: no such file/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        [
          BIN,
          cmd,
          ...(cmd === 'agent'
            ? ['--machine', 'pc2', '--nats', 'nats://127.0.0.1:1']
            : ['--no-nats']),
          '--jwks',
          file,
        ],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(r.status, 2, `${cmd} ${file}: ${r.stderr}`);
      assert.match(r.stderr, reason);
    }
    const server = await startNatsServer({ bin: NATS_BIN!, host: '127.0.0.49' });
    stops.push(() => server.stop());
    // A simulated PC2 without NATS: only its ResourceManager, which the agent acts through.
    const rmHost = HOSTS[3]!.pc2;
    const machineSim = await startSim({
      machines: machines(),
      hosts: HOSTS[3]!,
      overrides,
      nats: { mode: 'off', why: 'the agent under test brings its own' },
      controlPort: 0,
      errorRate: 0,
    });
    stops.push(() => machineSim.stop());
    const child = spawn(
      process.execPath,
      [
        BIN,
        'agent',
        '--machine',
        'pc2',
        '--nats',
        server.url,
        '--jwks',
        jwks,
        '--interval',
        '300ms',
        '--resource-manager',
        `tcp://${rmHost}:7113`,
      ],
      { cwd: dir, env: { ...process.env, PATH: '/nonexistent' } },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    stops.push(() => child.kill('SIGKILL'));
    // Connected is not subscribed yet; "ready" comes once the server has the subscriptions.
    await until(
      'the agent ready',
      () => /ready: answering opsdeck\.pc2\.control/.test(stderr),
      60_000,
    ).catch(() => undefined);
    assert.match(stderr, /control JWT required \(EdDSA, JWKS\) \(1 key\(s\) from .*jwks\.json\)/);
    // Connected is not yet subscribed: a request a moment early would find nobody answering.
    const probe = await client(server.url);
    await until(
      'the agent answering',
      () =>
        request(probe, 'opsdeck.pc2.control', { action: 'status' }).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    const refused = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '1',
      '--nats',
      server.url,
      '--secrets',
      secrets('bin-none'),
      '--yes',
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /refused: no token/);
    const ok = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '1',
      '--nats',
      server.url,
      '--secrets',
      secrets('bin-fleet', fleetKey),
      '--yes',
    ]);
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.match(ok.out, /read back from pc2: thresholds 75\/75\/70 = level 1/);
    assert.deepEqual(machineSim.machine('pc2')!.rm.thresholds, { cpu: 75, memory: 75, gpu: 70 });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /control set_throttle: applied for opsdeck-operator:tester/);
    assert.match(stderr, /control set_throttle: not applied: no token/);
    assert.doesNotMatch(stderr, /eyJ[\w-]+\.eyJ/);
  });
});
