// `opsdeck deploy plan` for both machines from a real `certs generate`, then what it wrote, used:
// the units through `systemd-analyze verify`, and both nats-server configs started on loopback
// (MainPC 127.0.61.1 with JetStream, PC2 127.0.61.2 as its TLS leaf node), with the files each
// unit hands over by LoadCredential= put where systemd would put them. Then: a stream reachable
// from both with the generated users, unauthenticated clients refused, the leaf held to PC2's
// permissions, and `opsdeck agent` run as its unit says, reporting through the leaf.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import { findNatsServer, freePort, NATS_INSTALL_HINT } from '../../source/adapters/nats-server.js';
import { ON_HOST } from '../../source/core/deploy/plan.js';
import { VERSION } from '../../source/version.js';
import { start, type Running } from './helpers.js';

const NATS_BIN = findNatsServer();
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) =>
  existsSync(p),
);
const MAINPC = '127.0.61.1';
const PC2 = '127.0.61.2';
const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-deploy-'));
const secrets = join(scratch, 'secrets');
const out = { mainpc: join(scratch, 'plan-mainpc'), pc2: join(scratch, 'plan-pc2') };
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

async function opsdeck(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let o = '';
  let e = '';
  const io: Io = {
    out: (t) => void (o += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void (e += t.endsWith('\n') ? t : `${t}\n`),
    env: { MAINPC_IP: MAINPC, PC2_IP: PC2, OPSDECK_AUDIT: join(scratch, 'audit.jsonl') },
    cwd: scratch,
  };
  return { code: await main(args, io), out: o, err: e };
}

const ports = { client: 0, leaf: 0, pc2: 0 };
const planArgs = (machine: 'mainpc' | 'pc2') => [
  'deploy',
  'plan',
  '--machine',
  machine,
  '--secrets',
  secrets,
  '--nats-listen',
  machine === 'mainpc' ? `${MAINPC}:${ports.client}` : `${PC2}:${ports.pc2}`,
  '--leaf-listen',
  `${MAINPC}:${ports.leaf}`,
];

before(async () => {
  const certs = await opsdeck(['certs', 'generate', '--dir', secrets, '--yes']);
  assert.equal(certs.code, 0, certs.err + certs.out);
  ports.client = await freePort(MAINPC);
  ports.leaf = await freePort(MAINPC);
  ports.pc2 = await freePort(PC2);
});

describe('opsdeck deploy plan', () => {
  test('prints the topology, the copy commands and every file; password hashes are never printed', async () => {
    const r = await opsdeck(planArgs('pc2'));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.match(
      r.out,
      new RegExp(`pc2's nats-server is a leaf node of mainpc \\(tls://${MAINPC}:${ports.leaf}\\)`),
    );
    assert.match(r.out, /why not a cluster: two JetStream servers need each other for a quorum/);
    assert.ok(
      r.out.includes(
        `tar -C ${secrets} -cf - manifest.json nats/auth.conf ca/trust.pem tls/pc2.crt tls/pc2.key jwt/jwks.json machines/pc2 | ssh root@${PC2} 'umask 077 && mkdir -p /etc/opsdeck/secrets && tar -C /etc/opsdeck/secrets --no-same-owner -xf -'`,
      ),
      r.out,
    );
    for (const line of [
      'LoadCredential=tls-key:/etc/opsdeck/secrets/tls/pc2.key',
      'LoadCredential=nats-password:/etc/opsdeck/secrets/machines/pc2/secrets/NATS_PASSWORD',
      'After=network-online.target nats-server.service',
      'Wants=network-online.target',
      'Restart=on-failure',
      'User=opsdeck',
      // Renicing the fleet's processes (another user's) needs it; nothing else is kept.
      'AmbientCapabilities=CAP_SYS_NICE',
      'CapabilityBoundingSet=CAP_SYS_NICE',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/opsdeck',
      'LogExtraFields=OPSDECK_MACHINE=pc2',
      'Environment=OPSDECK_TLS_KEY=%d/tls-key',
      'nats-user: pc2',
      '  verify: true',
    ])
      assert.ok(r.out.includes(line), line);
    assert.doesNotMatch(r.out, /\$2[aby]\$/, 'no bcrypt hash printed');
    assert.match(r.out, /password: "<bcrypt hash from nats\/auth\.conf>"/);
    assert.equal(existsSync(out.pc2), false, 'nothing written without --write');
  });

  test('bad input exits 2, says what is wrong and writes nothing', async () => {
    const w = join(scratch, 'never');
    const cases: Array<[string[], RegExp]> = [
      [['--machine', 'pc3'], /no machine "pc3" in the secrets \(machines: mainpc, pc2\)/],
      [
        ['--secrets', join(scratch, 'nowhere')],
        /no manifest\.json in .*nowhere: run opsdeck certs generate first/,
      ],
      [['--nats-listen', '4222'], /--nats-listen 4222: expected HOST:PORT/],
      [
        ['--hub-url', `nats://${MAINPC}:7422`],
        /--hub-url nats:\/\/127\.0\.61\.1:7422: expected tls:\/\/HOST:PORT/,
      ],
    ];
    for (const [extra, message] of cases) {
      const r = await opsdeck([...planArgs('pc2'), '--write', w, ...extra]);
      assert.equal(r.code, 2, extra.join(' '));
      assert.match(r.err, message);
      assert.equal(existsSync(w), false);
    }
    const share = join(scratch, 'share');
    mkdirSync(share);
    for (const f of ['manifest.json', 'nats/auth.conf']) {
      mkdirSync(join(share, f, '..'), { recursive: true });
      copyFileSync(join(secrets, f), join(share, f));
    }
    const partial = await opsdeck([...planArgs('pc2'), '--secrets', share, '--write', w]);
    assert.equal(partial.code, 2);
    assert.match(
      partial.err,
      /lacks ca\/trust\.pem, tls\/pc2\.crt, tls\/pc2\.key, jwt\/jwks\.json, machines\/pc2 \(what pc2 needs\)/,
    );
  });

  test('--write: the four files, the config with its hashes 0600', async () => {
    for (const m of ['mainpc', 'pc2'] as const) {
      const r = await opsdeck([...planArgs(m), '--write', out[m]]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`DIR=${out[m]}`));
      const mode = (f: string) => (statSync(join(out[m], f)).mode & 0o777).toString(8);
      assert.equal(mode('nats-server.conf'), '600');
      assert.equal(mode('opsdeck-agent.service'), '644');
      assert.equal(mode('agent.yaml'), '644');
      assert.equal(mode('nats-server.service.d/opsdeck.conf'), '644');
      assert.match(
        readFileSync(join(out[m], 'nats-server.conf'), 'utf8'),
        /password: "\$2[aby]\$11\$/,
      );
    }
    const hub = readFileSync(join(out.mainpc, 'nats-server.conf'), 'utf8');
    assert.match(hub, /jetstream \{\n {2}store_dir: \$STATE_DIRECTORY\n {2}domain: "mainpc"\n\}/);
    assert.match(
      hub,
      /user: "CN=pc2, O=opsdeck fleet"\n {6}allowed_connection_types: \["LEAFNODE"\]/,
    );
    assert.match(hub, /verify_and_map: true/);
    const leaf = readFileSync(join(out.pc2, 'nats-server.conf'), 'utf8');
    assert.doesNotMatch(leaf, /jetstream/);
    assert.match(leaf, new RegExp(`url: "tls://${MAINPC}:${ports.leaf}"`));
  });
});

describe(
  'systemd-analyze verify',
  {
    skip: SYSTEMD_ANALYZE
      ? false
      : 'systemd-analyze not installed (Debian package systemd; scripts/install-system-deps.sh installs it)',
  },
  () => {
    const verify = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const r = spawnSync(SYSTEMD_ANALYZE!, ['verify', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      return { code: r.status, text: (r.stdout + r.stderr).trim() };
    };

    test('the agent units and the nats-server drop-ins load without a warning', (t) => {
      for (const m of ['mainpc', 'pc2'] as const) {
        const unit = verify([join(out[m], 'opsdeck-agent.service')]);
        assert.deepEqual(unit, { code: 0, text: '' }, m);
        if (!existsSync('/lib/systemd/system/nats-server.service')) {
          t.diagnostic(
            "Debian's nats-server.service is not installed: the drop-in is not verified",
          );
          continue;
        }
        // The drop-in over Debian's own unit, found through a unit path that starts with ours.
        const units = join(scratch, `units-${m}`);
        mkdirSync(join(units, 'nats-server.service.d'), { recursive: true });
        copyFileSync(
          join(out[m], 'nats-server.service.d/opsdeck.conf'),
          join(units, 'nats-server.service.d/opsdeck.conf'),
        );
        assert.deepEqual(
          verify(['nats-server.service'], { SYSTEMD_UNIT_PATH: `${units}:` }),
          { code: 0, text: '' },
          `${m} drop-in`,
        );
      }
    });

    test('it would catch a broken unit (the check above can fail)', () => {
      const broken = join(scratch, 'broken.service');
      writeFileSync(
        broken,
        readFileSync(join(out.pc2, 'opsdeck-agent.service'), 'utf8').replace(
          'Restart=on-failure',
          'Restart=on-failur\nProtectSystm=strict',
        ),
      );
      const r = verify([broken]);
      assert.match(r.text, /Unknown key name 'ProtectSystm'|Unknown key 'ProtectSystm'/);
      assert.match(r.text, /Failed to parse service restart specifier|Restart/);
    });
  },
);

/** Runs a unit's credentials the way systemd would: each LoadCredential= file copied into one folder. */
function credentials(unitText: string, name: string): string {
  const dir = join(scratch, `credentials-${name}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const m of unitText.matchAll(/^LoadCredential=([^:]+):(.+)$/gm)) {
    const source = m[2]!.replace(`${ON_HOST.secrets}/`, `${secrets}/`);
    copyFileSync(source, join(dir, m[1]!));
  }
  return dir;
}

/** The unit's Environment= lines, with %d as the credentials folder. */
const environment = (unitText: string, creds: string): Record<string, string> =>
  Object.fromEntries(
    [...unitText.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [
      m[1]!,
      m[2]!.replace('%d', creds),
    ]),
  );

describe(
  'the written nats-server configs, both machines on loopback',
  { skip: NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}` },
  () => {
    const servers: Record<'mainpc' | 'pc2', Running | undefined> = {
      mainpc: undefined,
      pc2: undefined,
    };
    const tls = (who: string): ConnectionOptions['tls'] => ({
      caFile: join(secrets, 'ca/trust.pem'),
      certFile: join(secrets, `tls/${who}.crt`),
      keyFile: join(secrets, `tls/${who}.key`),
    });
    const password = (who: string) =>
      readFileSync(
        join(
          secrets,
          who === 'opsdeck' ? 'nats/opsdeck.password' : `machines/${who}/secrets/NATS_PASSWORD`,
        ),
        'utf8',
      ).trim();
    const client = async (where: 'mainpc' | 'pc2', who: string): Promise<NatsConnection> => {
      const nc = await connect({
        servers:
          where === 'mainpc' ? `tls://${MAINPC}:${ports.client}` : `tls://${PC2}:${ports.pc2}`,
        user: who,
        pass: password(who),
        tls: tls(who),
        reconnect: false,
      });
      closers.push(() => nc.close());
      return nc;
    };
    const refusal = async (options: ConnectionOptions): Promise<string> => {
      try {
        const nc = await connect({ reconnect: false, timeout: 3000, ...options });
        await nc.close();
        return 'connected';
      } catch (error) {
        return (error as { code?: string }).code ?? (error as Error).message;
      }
    };
    let hub: NatsConnection;
    let pc2: NatsConnection;

    before(async () => {
      for (const m of ['mainpc', 'pc2'] as const) {
        const dropIn = readFileSync(join(out[m], 'nats-server.service.d/opsdeck.conf'), 'utf8');
        const creds = credentials(dropIn, `nats-${m}`);
        const store = join(scratch, `store-${m}`);
        const s = start(NATS_BIN!, ['-c', join(out[m], 'nats-server.conf')], {
          PATH: process.env.PATH,
          ...environment(dropIn, creds),
          ...(dropIn.includes('StateDirectory=') ? { STATE_DIRECTORY: store } : {}),
        });
        servers[m] = s;
        await s.line(/Server is ready/, 20_000);
      }
      hub = await client('mainpc', 'opsdeck');
      pc2 = await client('pc2', 'pc2');
    });

    test("the leaf link comes up with PC2's certificate, and a stream on MainPC is reachable from both", async () => {
      await servers.mainpc!.line(/Leafnode connection created/, 30_000);
      const jsm = await hub.jetstreamManager();
      await jsm.streams.add({ name: 'ERRORS', subjects: ['errors.>'] });
      // Publishing from PC2 needs no domain: the message crosses the leaf, the stream acks it.
      let seq = 0;
      const deadline = Date.now() + 30_000;
      while (seq === 0) {
        try {
          seq = (
            await pc2
              .jetstream()
              .publish('errors.pc2.Gamma', new TextEncoder().encode('from pc2'), { timeout: 2000 })
          ).seq;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const mainpc = await client('mainpc', 'mainpc');
      await mainpc
        .jetstream()
        .publish('errors.mainpc.Alpha', new TextEncoder().encode('from mainpc'));
      assert.equal(
        new TextDecoder().decode((await jsm.streams.getMessage('ERRORS', { seq })).data),
        'from pc2',
      );
      // The API from PC2 goes through MainPC's domain; without it nothing answers there.
      const remote = await pc2.jetstreamManager({ domain: 'mainpc' });
      assert.equal((await remote.streams.info('ERRORS')).state.messages, 2);
      const last = await remote.streams.getMessage('ERRORS', {
        last_by_subj: 'errors.mainpc.Alpha',
      });
      assert.equal(new TextDecoder().decode(last.data), 'from mainpc');
      await assert.rejects(async () =>
        (await pc2.jetstreamManager({ timeout: 1500 })).streams.info('ERRORS'),
      );
      // PC2's user may not delete the stream, through the domain either.
      await assert.rejects(remote.streams.delete('ERRORS'), /Permissions Violation/);
    });

    test('refused: no user, a wrong password, no client certificate, plain text; on both servers', async () => {
      for (const url of [`tls://${MAINPC}:${ports.client}`, `tls://${PC2}:${ports.pc2}`]) {
        assert.equal(
          await refusal({ servers: url, tls: tls('opsdeck') }),
          'AUTHORIZATION_VIOLATION',
          url,
        );
        assert.equal(
          await refusal({ servers: url, tls: tls('pc2'), user: 'pc2', pass: 'guess' }),
          'AUTHORIZATION_VIOLATION',
          url,
        );
        assert.notEqual(
          await refusal({
            servers: url,
            user: 'pc2',
            pass: password('pc2'),
            tls: { caFile: join(secrets, 'ca/trust.pem') },
          }),
          'connected',
          url,
        );
        assert.notEqual(
          await refusal({
            servers: url.replace('tls://', 'nats://'),
            user: 'pc2',
            pass: password('pc2'),
          }),
          'connected',
          url,
        );
      }
      // The leaf's user is for leaf links only: a client cannot log in as it.
      assert.equal(
        await refusal({
          servers: `tls://${MAINPC}:${ports.client}`,
          tls: tls('pc2'),
          user: 'CN=pc2, O=opsdeck fleet',
          pass: '',
        }),
        'AUTHORIZATION_VIOLATION',
      );
    });

    test('the leaf carries only what PC2 may send: control aimed at MainPC stays on PC2', async () => {
      const seen: string[] = [];
      const sub = hub.subscribe('opsdeck.>');
      void (async () => {
        for await (const m of sub) seen.push(m.subject);
      })();
      await hub.flush();
      const operatorOnPc2 = await client('pc2', 'opsdeck');
      // Repeat until the marker arrives (interest crosses the leaf shortly after subscribing).
      const deadline = Date.now() + 30_000;
      while (!seen.includes('opsdeck.pc2.bridge')) {
        operatorOnPc2.publish(
          'opsdeck.mainpc.control',
          new TextEncoder().encode('{"action":"set_throttle"}'),
        );
        operatorOnPc2.publish('opsdeck.pc2.bridge', new TextEncoder().encode('{}'));
        await operatorOnPc2.flush();
        assert.ok(Date.now() < deadline, `nothing crossed the leaf: ${seen.join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(seen.includes('opsdeck.mainpc.control'), false, seen.join(', '));
      sub.unsubscribe();
    });

    test('opsdeck agent run as its unit says (settings file, credentials) reports through the leaf and answers control', async () => {
      const unit = readFileSync(join(out.pc2, 'opsdeck-agent.service'), 'utf8');
      const exec = /^ExecStart=(.+)$/m.exec(unit)![1]!.split(' ');
      assert.equal(exec[0], process.execPath);
      const args = exec
        .slice(1)
        .map((a) => (a === ON_HOST.settings ? join(out.pc2, 'agent.yaml') : a));
      const samples = hub.subscribe('opsdeck.pc2.resources', { max: 1, timeout: 30_000 });
      await hub.flush();
      const agent = start(exec[0], args, {
        PATH: process.env.PATH,
        CREDENTIALS_DIRECTORY: credentials(unit, 'agent-pc2'),
      });
      await agent.line(/NATS connected/, 30_000);
      assert.match(
        agent.output(),
        /settings: machine from .*agent\.yaml:\d+:1, nats from .*agent\.yaml.*tls-cert from credential tls-cert.*nats-password-file from credential nats-password.*jwks from credential jwks/,
      );
      assert.match(agent.output(), /control JWT required/);
      for await (const m of samples) {
        const s = JSON.parse(new TextDecoder().decode(m.data)) as {
          machine: string;
          version: string;
          uptimeS: number;
        };
        assert.equal(s.machine, 'pc2');
        assert.equal(s.version, VERSION);
        assert.ok(s.uptimeS >= 0);
      }
      const ask = async (body: object) =>
        JSON.parse(
          new TextDecoder().decode(
            (
              await hub.request(
                'opsdeck.pc2.control',
                new TextEncoder().encode(JSON.stringify(body)),
                { timeout: 5000 },
              )
            ).data,
          ),
        ) as { machine?: string; refused?: boolean; message?: string };
      assert.equal((await ask({ action: 'status' })).machine, 'pc2');
      const refused = await ask({ action: 'set_throttle', level: 2 });
      assert.equal(refused.refused, true);
      assert.match(refused.message ?? '', /^refused: no token/);
      // The operator's status over the TLS hub: the opsdeck user's certificate and password from
      // OPSDECK_SECRETS, PC2's resources with the agent's version.
      writeFileSync(
        join(scratch, 'mainpc.yaml'),
        'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17401}\n',
      );
      writeFileSync(
        join(scratch, 'pc2.yaml'),
        'pc2_services:\n- {name: Gamma, script_path: g.py, port: 17110}\n',
      );
      const status = spawnSync(
        process.execPath,
        [
          exec[1]!,
          'status',
          '--json',
          '--mainpc',
          join(scratch, 'mainpc.yaml'),
          '--pc2',
          join(scratch, 'pc2.yaml'),
          '--collect',
          '3s',
          '--timeout',
          '300ms',
          // About the TLS login and the leaf: the plan's fleet has no agents running.
          '--fail-on',
          'never',
        ],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            MAINPC_IP: MAINPC,
            PC2_IP: PC2,
            OPSDECK_SECRETS: secrets,
            NATS_SERVERS: `tls://${MAINPC}:${ports.client}`,
          },
        },
      );
      assert.equal(status.status, 0, status.stderr);
      const doc = JSON.parse(status.stdout) as {
        nats: { state: string };
        machines: { id: string; resources: { version?: string } | null }[];
      };
      assert.equal(doc.nats.state, 'connected');
      assert.equal(doc.machines.find((m) => m.id === 'pc2')!.resources?.version, VERSION);
      // The error-bus commands log in the same way (README: fix-streams against MainPC).
      const phase = spawnSync(
        process.execPath,
        [
          exec[1]!,
          'errorbus',
          'phase',
          'show',
          '--json',
          '--nats',
          `tls://${MAINPC}:${ports.client}`,
        ],
        { encoding: 'utf8', env: { PATH: process.env.PATH, OPSDECK_SECRETS: secrets } },
      );
      assert.equal(phase.status, 0, phase.stderr + phase.stdout);
      assert.equal(await agent.stop(), 0, agent.output());
    });
  },
);
