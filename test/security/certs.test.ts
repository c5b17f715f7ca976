// `opsdeck certs generate|show|rotate` in-process on temp folders, and the generated nats-server
// include file on a real nats-server: the opsdeck user connects over TLS with its client
// certificate; clients without a certificate or without credentials are refused.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, Events } from 'nats';
import { textOf } from '../../source/core/text.js';
import * as zmq from 'zeromq';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
} from '../../source/adapters/nats-server.js';
import { readJwks, tokenVerifier } from '../../source/adapters/jwt.js';
import type { inspectArtefacts } from '../../source/adapters/certs.js';
import bcrypt from 'bcryptjs';
import {
  artefactPlan,
  BCRYPT,
  natsUsers,
  parseZplCertificate,
  Z85_KEY,
} from '../../source/core/security/artefacts.js';
import { readAudit } from '../../source/adapters/audit.js';

const NATS_BIN = findNatsServer();
const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-certs-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(scratch, { recursive: true, force: true });
});

const MAINPC = `agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17401, health_check_port: 18401}\n`;
const PC2 = `pc2_services:\n- {name: ResourceManager, script_path: pc2_code/agents/resource_manager.py, host: 0.0.0.0, port: 7113, health_check_port: 8113}\n`;

interface Ran {
  code: number;
  out: string;
  err: string;
}
let n = 0;
function workspace(): { cwd: string; audit: string } {
  const cwd = join(scratch, `ws-${n++}`);
  rmSync(cwd, { recursive: true, force: true });
  for (const [file, text] of [
    ['mainpc.yaml', MAINPC],
    ['pc2.yaml', PC2],
  ]) {
    writeFileSync(join(scratch, file!), text!);
  }
  return { cwd: scratch, audit: join(cwd, 'audit.jsonl') };
}
async function opsdeck(
  args: string[],
  ws: { cwd: string; audit: string },
  env: Record<string, string> = {},
  answer?: string,
): Promise<Ran> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void (err += t.endsWith('\n') ? t : `${t}\n`),
    env: { OPSDECK_AUDIT: ws.audit, ...env },
    cwd: ws.cwd,
    ...(answer !== undefined ? { ask: async () => answer } : {}),
  };
  const code = await main(args, io);
  return { code, out, err };
}

const fleetArgs = ['--mainpc', 'mainpc.yaml', '--pc2', 'pc2.yaml'];
const ENV = { MAINPC_IP: '192.168.100.16', PC2_IP: 'pc2.lan' };

/** Every secret value in the folder, as the strings that must never be printed. */
function secretsIn(dir: string): string[] {
  const out: string[] = [];
  for (const spec of artefactPlan([
    { id: 'mainpc', host: '' },
    { id: 'pc2', host: '' },
  ])) {
    if (!spec.secret || !existsSync(join(dir, spec.path))) continue;
    const text = readFileSync(join(dir, spec.path), 'utf8');
    if (spec.path.endsWith('NATS_USERNAME')) continue; // a user name, not a secret
    if (spec.kind === 'key' || spec.kind === 'ca-key') out.push(text.split('\n')[1]!.slice(0, 40));
    else if (spec.kind === 'jwk-private') out.push((JSON.parse(text) as { d: string }).d);
    else if (spec.kind === 'curve-secret') out.push(parseZplCertificate(text).secretKey!);
    else if (spec.kind === 'nats-conf')
      for (const m of text.matchAll(/password: "([^"]+)"/g)) out.push(m[1]!);
    else if (spec.kind === 'token') out.push(text.trim().split('.')[2]!);
    else out.push(text.trim());
  }
  return out;
}

describe('opsdeck certs', () => {
  const ws = workspace();
  const dir = join(ws.cwd, 'secrets');
  let generated: Ran;

  test('generate: every artefact, private files 0600 in 0700 folders, nothing secret printed or audited', async () => {
    generated = await opsdeck(['certs', 'generate', ...fleetArgs, '--yes'], ws, ENV);
    assert.equal(generated.code, 0, generated.err + generated.out);
    const plan = artefactPlan([
      { id: 'mainpc', host: '' },
      { id: 'pc2', host: '' },
    ]);
    for (const spec of plan) {
      const mode = statSync(join(dir, spec.path)).mode & 0o777;
      assert.equal(mode, spec.secret ? 0o600 : 0o644, `${spec.path} mode ${mode.toString(8)}`);
    }
    const dirs = (d: string): string[] => [
      d,
      ...readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => dirs(join(d, e.name))),
    ];
    for (const d of dirs(dir)) assert.equal(statSync(d).mode & 0o777, 0o700, d);
    assert.deepEqual(
      readdirSync(dir, { recursive: true }).filter((f) => String(f).includes('.tmp')),
      [],
    );
    const secrets = secretsIn(dir);
    assert.ok(secrets.length >= 19, `found ${secrets.length} secrets`);
    const audit = readFileSync(ws.audit, 'utf8');
    for (const s of secrets) {
      assert.ok(s.length >= 20, `short secret ${s.length}`);
      for (const [where, text] of [
        ['stdout', generated.out],
        ['stderr', generated.err],
        ['audit', audit],
      ] as const) {
        assert.ok(!text.includes(s), `a secret appears in ${where}`);
      }
    }
    const entries = readAudit(ws.audit).entries;
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.action, 'certs.generate');
    assert.equal(entries[0]!.outcome, 'ok');
  });

  test('certificates: signed by the CA, SANs from the fleet, serverAuth + clientAuth', () => {
    const ca = new X509Certificate(readFileSync(join(dir, 'ca/ca.crt')));
    assert.equal(ca.ca, true);
    const mainpc = new X509Certificate(readFileSync(join(dir, 'tls/mainpc.crt')));
    const pc2 = new X509Certificate(readFileSync(join(dir, 'tls/pc2.crt')));
    const op = new X509Certificate(readFileSync(join(dir, 'tls/opsdeck.crt')));
    for (const c of [mainpc, pc2, op]) {
      assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey), c.subject);
      assert.equal(c.publicKey.asymmetricKeyType, 'ec');
    }
    assert.equal(mainpc.checkIP('192.168.100.16'), '192.168.100.16');
    assert.equal(mainpc.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(mainpc.checkHost('mainpc-service'), 'mainpc-service');
    assert.equal(mainpc.checkHost('nats'), 'nats');
    assert.equal(pc2.checkHost('pc2.lan'), 'pc2.lan');
    assert.equal(pc2.checkHost('pc2-service'), 'pc2-service');
    assert.equal(pc2.checkHost('nats'), undefined);
    assert.deepEqual(mainpc.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.deepEqual(op.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  });

  test('tokens: one per machine, verified by the JWKS for that machine only', () => {
    const verify = tokenVerifier({ keys: readJwks(join(dir, 'jwt/jwks.json')) });
    const t = readFileSync(join(dir, 'tokens/pc2.jwt'), 'utf8');
    assert.ok(verify(t, 'pc2').ok);
    assert.match((verify(t, 'mainpc') as { reason: string }).reason, /wrong audience/);
  });

  test('upstream files: JWT_SECRET shared, NATS users per machine, CURVE certificates in pyzmq format that really pair', async () => {
    const s = (m: string, f: string) =>
      readFileSync(join(dir, `machines/${m}/secrets/${f}`), 'utf8');
    assert.equal(s('mainpc', 'JWT_SECRET'), s('pc2', 'JWT_SECRET'));
    assert.match(s('mainpc', 'JWT_SECRET'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(s('pc2', 'NATS_USERNAME'), 'pc2');
    assert.notEqual(s('mainpc', 'NATS_PASSWORD'), s('pc2', 'NATS_PASSWORD'));
    const cert = (f: string) => readFileSync(join(dir, `machines/pc2/certificates/${f}`), 'utf8');
    const pyzmq =
      /^# {3}\*{4} {2}Generated on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} by pyzmq {2}\*{4}\n# {3}ZeroMQ CURVE (Public|\*\*Secret\*\*) Certificate\n(#.*\n)+\nmetadata\ncurve\n {4}public-key = "(.{40})"\n( {4}secret-key = "(.{40})"\n)?$/;
    for (const f of ['server.key', 'server.key_secret', 'client.key', 'client.key_secret'])
      assert.match(cert(f), pyzmq, f);
    const server = parseZplCertificate(cert('server.key_secret'));
    const client = parseZplCertificate(cert('client.key_secret'));
    assert.equal(parseZplCertificate(cert('server.key')).publicKey, server.publicKey);
    assert.equal(parseZplCertificate(cert('server.key')).secretKey, undefined);
    assert.ok(Z85_KEY.test(server.secretKey!) && Z85_KEY.test(client.secretKey!));
    // A real CURVE handshake with the keys as upstream's secure_zmq.py would load them.
    const rep = new zmq.Reply({ curveServer: true, curveSecretKey: server.secretKey!, linger: 0 });
    const req = new zmq.Request({
      curveServerKey: server.publicKey!,
      curvePublicKey: client.publicKey!,
      curveSecretKey: client.secretKey!,
      linger: 0,
      receiveTimeout: 3000,
    });
    try {
      await rep.bind('tcp://127.0.0.48:*');
      req.connect(rep.lastEndpoint!);
      await req.send('ping');
      const [got] = await rep.receive();
      await rep.send(`pong ${String(got)}`);
      assert.equal(String((await req.receive())[0]), 'pong ping');
    } finally {
      rep.close();
      req.close();
    }
  });

  test('generate again refuses to overwrite (exit 1), changes nothing', async () => {
    const before = readFileSync(join(dir, 'ca/ca.key'));
    const again = await opsdeck(['certs', 'generate', ...fleetArgs, '--yes'], ws, ENV);
    assert.equal(again.code, 1);
    assert.match(again.out, /FAIL {2}nothing to overwrite: 32 artefact\(s\) already there/);
    assert.match(again.err, /refused/);
    assert.deepEqual(readFileSync(join(dir, 'ca/ca.key')), before);
  });

  test('show: fingerprints and days left; --json for the scorecard; a loosened mode is a problem (exit 1)', async () => {
    const shown = await opsdeck(['certs', 'show', '--dir', 'secrets'], ws);
    assert.equal(shown.code, 0, shown.out);
    assert.match(shown.out, /tls\/mainpc\.crt\s+644\s+sha256:[0-9a-f]{64}\s+39[67] days left/);
    assert.match(shown.out, /all 32 artefacts present/);
    const json = await opsdeck(['certs', 'show', '--dir', 'secrets', '--json'], ws);
    const doc = JSON.parse(json.out) as ReturnType<typeof inspectArtefacts>;
    assert.equal(doc.schema, 'opsdeck.certs.show/1');
    assert.equal(doc.artefacts.length, 32);
    assert.equal(doc.problems, 0);
    const token = doc.artefacts.find((a) => a.path === 'tokens/pc2.jwt')!;
    assert.ok(token.daysLeft! >= 29 && token.expires);
    for (const s of secretsIn(dir))
      assert.ok(!json.out.includes(s) && !shown.out.includes(s), 'show printed a secret');
    chmodSync(join(dir, 'nats/auth.conf'), 0o644);
    try {
      const loose = await opsdeck(['certs', 'show', '--dir', 'secrets'], ws);
      assert.equal(loose.code, 1);
      assert.match(
        loose.out,
        /nats\/auth\.conf\s+644 .*PROBLEM: mode 644: a private file must be 600/,
      );
    } finally {
      chmodSync(join(dir, 'nats/auth.conf'), 0o600);
    }
  });

  test('rotate: asks naming the folder; old generation kept and trusted until --finish', async () => {
    const oldToken = readFileSync(join(dir, 'tokens/pc2.jwt'), 'utf8');
    const oldCa = readFileSync(join(dir, 'ca/ca.crt'), 'utf8');
    const declined = await opsdeck(['certs', 'rotate', '--dir', 'secrets'], ws, {}, 'no');
    assert.equal(declined.code, 1);
    assert.equal(readFileSync(join(dir, 'ca/ca.crt'), 'utf8'), oldCa);
    let asked = '';
    const io: Io = {
      out: () => undefined,
      err: () => undefined,
      env: { OPSDECK_AUDIT: ws.audit },
      cwd: ws.cwd,
      ask: async (q) => ((asked = q), 'yes'),
    };
    assert.equal(await main(['certs', 'rotate', '--dir', 'secrets'], io), 0);
    assert.match(
      asked,
      new RegExp(`Rotate fleet certificates, keys and secrets on ${dir.replace(/[/.]/g, '\\$&')}`),
    );
    assert.notEqual(readFileSync(join(dir, 'ca/ca.crt'), 'utf8'), oldCa);
    const retired = readdirSync(join(dir, 'retired'));
    assert.equal(retired.length, 1);
    assert.equal(readFileSync(join(dir, 'retired', retired[0]!, 'ca/ca.crt'), 'utf8'), oldCa);
    assert.equal(statSync(join(dir, 'retired', retired[0]!, 'ca/ca.key')).mode & 0o777, 0o600);
    assert.equal(
      (readFileSync(join(dir, 'ca/trust.pem'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length,
      2,
    );
    // During the rotation an old token still works, and a new one does.
    const during = tokenVerifier({ keys: readJwks(join(dir, 'jwt/jwks.json')) });
    assert.ok(during(oldToken, 'pc2').ok);
    assert.ok(during(readFileSync(join(dir, 'tokens/pc2.jwt'), 'utf8'), 'pc2').ok);

    const finished = await opsdeck(
      ['certs', 'rotate', '--dir', 'secrets', '--finish', '--yes'],
      ws,
    );
    assert.equal(finished.code, 0, finished.err + finished.out);
    assert.equal(existsSync(join(dir, 'retired')), false);
    const afterFinish = tokenVerifier({ keys: readJwks(join(dir, 'jwt/jwks.json')) });
    assert.match((afterFinish(oldToken, 'pc2') as { reason: string }).reason, /unknown kid/);
    assert.equal(
      (readFileSync(join(dir, 'ca/trust.pem'), 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length,
      1,
    );
    const actions = readAudit(ws.audit).entries.map((e) => `${e.action}:${e.outcome}`);
    assert.deepEqual(actions, [
      'certs.generate:ok',
      'certs.generate:refused',
      'certs.rotate:cancelled',
      'certs.rotate:ok',
      'certs.rotate.finish:ok',
    ]);
  });

  test(
    'nats-server with the generated include: opsdeck connects over TLS with its certificate; no certificate or no credentials is refused',
    { skip: NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}` },
    async () => {
      const conf = join(dir, 'nats/server.conf');
      writeFileSync(conf, 'include "auth.conf"\n');
      const server = await startNatsServer({
        bin: NATS_BIN!,
        host: '127.0.0.48',
        configFile: conf,
        scheme: 'tls',
      });
      stops.push(() => server.stop());
      const tls = {
        caFile: join(dir, 'ca/ca.crt'),
        certFile: join(dir, 'tls/opsdeck.crt'),
        keyFile: join(dir, 'tls/opsdeck.key'),
      };
      const pass = readFileSync(join(dir, 'nats/opsdeck.password'), 'utf8');
      // The include file holds bcrypt hashes only: the server checks logins against them.
      const included = readFileSync(join(dir, 'nats/auth.conf'), 'utf8');
      const stored = [...included.matchAll(/password: "([^"]+)"/g)].map((m) => m[1]!);
      assert.equal(stored.length, 3);
      for (const h of stored) assert.match(h, BCRYPT);
      assert.ok(
        !included.includes(pass) &&
          !included.includes(readFileSync(join(dir, 'machines/pc2/secrets/NATS_PASSWORD'), 'utf8')),
        'a plain password in auth.conf',
      );
      const nc = await connect({
        servers: server.url,
        user: 'opsdeck',
        pass,
        tls,
        timeout: 3000,
        reconnect: false,
      });
      assert.equal(nc.info?.tls_verify, true);
      const sub = nc.subscribe('opsdeck.pc2.control', { max: 1 });
      nc.publish('opsdeck.pc2.control', new TextEncoder().encode('{"action":"get_status"}'));
      for await (const m of sub)
        assert.equal(new TextDecoder().decode(m.data), '{"action":"get_status"}');
      await nc.close();

      const refused = async (opts: Parameters<typeof connect>[0]) => {
        try {
          const c = await connect({
            servers: server.url,
            timeout: 1500,
            reconnect: false,
            ...opts,
          });
          await c.close();
          return 'connected';
        } catch (error) {
          return (error as { code?: string }).code ?? (error as Error).message;
        }
      };
      // No client certificate: the TLS handshake never completes (verify: true).
      assert.notEqual(
        await refused({ tls: { caFile: tls.caFile }, user: 'opsdeck', pass }),
        'connected',
      );
      // A certificate but no (or wrong) credentials: authorization violation.
      assert.equal(await refused({ tls }), 'AUTHORIZATION_VIOLATION');
      assert.equal(
        await refused({ tls, user: 'opsdeck', pass: 'wrong' }),
        'AUTHORIZATION_VIOLATION',
      );
      // Plain text to a TLS-only server.
      assert.notEqual(
        await refused({ servers: server.url.replace('tls://', 'nats://') }),
        'connected',
      );
      // A machine user cannot send control requests (per-subject permissions).
      const pc2pass = readFileSync(join(dir, 'machines/pc2/secrets/NATS_PASSWORD'), 'utf8');
      const pc2 = await connect({
        servers: server.url,
        user: 'pc2',
        pass: pc2pass,
        tls,
        timeout: 3000,
        reconnect: false,
      });
      const errors: string[] = [];
      void (async () => {
        for await (const st of pc2.status())
          if (st.type === Events.Error) errors.push(textOf(st.data));
      })();
      pc2.publish('opsdeck.pc2.resources', new TextEncoder().encode('{}'));
      pc2.publish('opsdeck.pc2.bridge', new TextEncoder().encode('{}'));
      pc2.publish('opsdeck.pc2.health', new TextEncoder().encode('{}'));
      await pc2.flush();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(errors, [], 'its own resources, bridge and health subjects are allowed');
      pc2.publish('opsdeck.mainpc.control', new TextEncoder().encode('{}'));
      await pc2.flush().catch(() => undefined);
      const until = Date.now() + 3000;
      while (errors.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(errors, ['PERMISSIONS_VIOLATION']);
      await pc2.close().catch(() => undefined);
    },
  );
});

describe('nats-server users', () => {
  test('a plain password is refused: the include file takes bcrypt hashes only', () => {
    const hash = bcrypt.hashSync('s3cret-enough', 4);
    assert.throws(
      () => natsUsers(['pc2'], { pc2: 'plain-password', opsdeck: hash }),
      /the NATS password of pc2 is not a bcrypt hash/,
    );
    assert.throws(() => natsUsers(['pc2'], { pc2: hash }), /no NATS password hash for opsdeck/);
    const users = natsUsers(['pc2'], { pc2: hash, opsdeck: hash });
    assert.deepEqual(
      users.map((u) => [u.user, u.passwordHash === hash]),
      [
        ['pc2', true],
        ['opsdeck', true],
      ],
    );
    assert.ok(bcrypt.compareSync('s3cret-enough', users[0]!.passwordHash));
  });
});
