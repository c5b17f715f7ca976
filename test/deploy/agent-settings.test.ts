// `opsdeck agent` settings: flags over OPSDECK_AGENT_* over the --config file over systemd
// credentials; bad input named by file:line:col (or the variable, or the flag) with exit 2; the
// journal's `<N>` priority lines when stderr is the journal stream; version and uptime published.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  openSync,
  closeSync,
  fstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import {
  envSettings,
  mergeSettings,
  readSettingsFile,
  type SettingSpec,
} from '../../source/core/deploy/agent-settings.js';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
} from '../../source/adapters/nats-server.js';
import { daemonLog } from '../../source/adapters/journal.js';
import { VERSION } from '../../source/version.js';

const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const NATS_BIN = findNatsServer();
const NEEDS_NATS = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-agent-settings-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

const SPECS: SettingSpec[] = [
  { key: 'machine', kind: 'string' },
  { key: 'interval', kind: 'string' },
  { key: 'nats', kind: 'string' },
  { key: 'nats-user', kind: 'string' },
  { key: 'bridge', kind: 'boolean' },
];

describe('the settings file', () => {
  test('a mapping of known keys; numbers read as text, YAML booleans for switches; empty is fine', () => {
    const r = readSettingsFile(
      '# pc2\nmachine: pc2\ninterval: 2s\nbridge: true\n',
      '/etc/opsdeck/agent.yaml',
      SPECS,
    );
    assert.ok(r.ok);
    assert.deepEqual(
      r.settings.map((s) => [s.key, s.value, s.origin.kind === 'file' && s.origin.loc.line]),
      [
        ['machine', 'pc2', 2],
        ['interval', '2s', 3],
        ['bridge', true, 4],
      ],
    );
    assert.deepEqual(readSettingsFile('# nothing yet\n', 'a.yaml', SPECS), {
      ok: true,
      settings: [],
    });
  });

  test('every problem named by file:line:col: unknown key, list, wrong switch, duplicate, not a mapping, syntax', () => {
    const bad = (text: string) => {
      const r = readSettingsFile(text, 'agent.yaml', SPECS);
      assert.equal(r.ok, false, text);
      return r.ok ? [] : r.problems;
    };
    assert.deepEqual(bad('machine: pc2\nintervall: 5\n'), [
      'agent.yaml:2:1: unknown setting "intervall"; known: machine, interval, nats, nats-user, bridge',
    ]);
    assert.deepEqual(bad('machine:\n  - pc2\n'), [
      'agent.yaml:1:1: machine: expected a single value, got a list',
    ]);
    assert.deepEqual(bad('bridge: maybe\n'), [
      'agent.yaml:1:1: bridge: expected true or false, got "maybe"',
    ]);
    assert.match(
      bad('machine: a\nmachine: b\n')[0]!,
      /^agent\.yaml:2:1: duplicate key "machine".*say each setting once$/,
    );
    assert.deepEqual(bad('- machine\n'), [
      'agent.yaml:1:1: expected a mapping of settings (key: value), one per line',
    ]);
    assert.match(bad('machine: [pc2\n')[0]!, /^agent\.yaml:\d+:\d+: YAML syntax error: /);
  });
});

describe('precedence', () => {
  test('OPSDECK_AGENT_<NAME> before upstream names; flags over environment over file over credentials', () => {
    const env = envSettings(
      {
        NATS_URL: 'nats://b:4222',
        OPSDECK_AGENT_NATS: 'nats://a:4222',
        NATS_USERNAME: 'pc2',
        OPSDECK_AGENT_BRIDGE: 'no',
      },
      SPECS,
    );
    assert.ok(env.ok);
    assert.deepEqual(
      env.settings.map((s) => [s.key, s.value, s.origin.kind === 'env' && s.origin.name]),
      [
        ['nats', 'nats://a:4222', 'OPSDECK_AGENT_NATS'],
        ['nats-user', 'pc2', 'NATS_USERNAME'],
        ['bridge', false, 'OPSDECK_AGENT_BRIDGE'],
      ],
    );
    const bad = envSettings({ OPSDECK_AGENT_BRIDGE: 'sometimes' }, SPECS);
    assert.deepEqual(bad, {
      ok: false,
      problems: ['OPSDECK_AGENT_BRIDGE="sometimes": expected true or false (1/0, yes/no)'],
    });
    const flag = { key: 'interval', value: '500', origin: { kind: 'flag' as const } };
    const fromEnv = { key: 'interval', value: '700', origin: { kind: 'env' as const, name: 'X' } };
    const file = {
      key: 'interval',
      value: '900',
      origin: { kind: 'file' as const, loc: { file: 'f', line: 1, col: 1 } },
    };
    const cred = {
      key: 'tls-key',
      value: '/run/credentials/x/tls-key',
      origin: { kind: 'credential' as const, name: 'tls-key' },
    };
    const fileKey = { key: 'tls-key', value: '/etc/k', origin: file.origin };
    const merged = mergeSettings([flag], [fromEnv], [file, fileKey], [cred]);
    assert.equal(merged.get('interval')!.value, '500');
    assert.equal(merged.get('tls-key')!.value, '/etc/k');
    assert.equal(mergeSettings([], [fromEnv], [file]).get('interval')!.value, '700');
    assert.equal(
      mergeSettings([], [], [], [cred]).get('tls-key')!.value,
      '/run/credentials/x/tls-key',
    );
  });
});

async function agent(args: string[], env: Record<string, string> = {}) {
  let err = '';
  const io: Io = {
    out: () => {},
    err: (t) => void (err += t.endsWith('\n') ? t : `${t}\n`),
    env,
    cwd: dir,
  };
  return { code: await main(['agent', ...args], io), err };
}

describe('opsdeck agent: bad settings change nothing and exit 2', () => {
  test('file, environment and flag each named in the message', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'machine: pc2\ninterval: 50\n');
    const r = await agent(['--config', file, '--nats', 'nats://127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `opsdeck agent: ${file}:2:1: interval 50: expected a duration with its unit, at least 200ms (e.g. 2s)\n`,
    );
    const e = await agent(['--config', file, '--nats', 'nats://127.0.0.1:1'], {
      OPSDECK_AGENT_INTERVAL: 'soon',
    });
    assert.equal(
      e.err,
      'opsdeck agent: OPSDECK_AGENT_INTERVAL=soon: expected a duration with its unit, at least 200ms (e.g. 2s)\n',
    );
    const f = await agent(['--config', file, '--interval', '1000ms', '--machine', 'a b'], {
      NATS_SERVERS: 'nats://127.0.0.1:1',
    });
    assert.equal(
      f.err,
      'opsdeck agent: --machine a b: expected a short name (letters, digits, - and _)\n',
    );
    const missing = await agent(['--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.equal(
      missing.err,
      `opsdeck agent: settings file ${join(dir, 'nope.yaml')}: no such file\n`,
    );
    const viaEnv = await agent([], {
      OPSDECK_AGENT_CONFIG: 'bad.yaml',
      OPSDECK_AGENT_INTERVAL: '1000ms',
      NATS_URL: 'nats://127.0.0.1:1',
      OPSDECK_AGENT_NATS_PASSWORD_FILE: 'pw',
    });
    assert.equal(
      viaEnv.err,
      'opsdeck agent: a NATS password file needs a user: set nats-user too\n',
    );
  });

  test('login files: missing password file, a certificate without its key; nothing secret printed', async () => {
    const pw = join(dir, 'pw');
    writeFileSync(pw, 's3cret-password\n');
    const base = ['--machine', 'pc2', '--nats', 'tls://127.0.0.1:1', '--nats-user', 'pc2'];
    const r = await agent([...base, '--nats-password-file', join(dir, 'missing')]);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `opsdeck agent: nats-password-file ${join(dir, 'missing')}: no such file\n`,
    );
    const t = await agent([...base, '--nats-password-file', pw, '--tls-cert', pw]);
    assert.equal(t.err, 'opsdeck agent: tls-cert and tls-key go together: set both or neither\n');
    assert.doesNotMatch(r.err + t.err, /s3cret/);
  });
});

describe('journal lines', () => {
  test('<N> priority prefixes for the journal, the daemon name elsewhere; one entry per line', () => {
    const lines: string[] = [];
    daemonLog(
      (l) => lines.push(l),
      'opsdeck agent pc2: ',
      true,
    )('NATS reconnecting\nsecond line\n', 'warning');
    daemonLog((l) => lines.push(l), 'opsdeck agent pc2: ', false)('NATS connected');
    assert.deepEqual(lines, [
      '<4>NATS reconnecting',
      '<4>second line',
      'opsdeck agent pc2: NATS connected',
    ]);
  });
});

describe('opsdeck agent as a child process', { skip: NEEDS_NATS }, () => {
  /** Runs the agent with stderr into a file; returns the file's text once `done` says so. */
  async function run(args: string[], env: NodeJS.ProcessEnv, journalOf?: 'own' | 'other') {
    const log = join(dir, `agent-${Math.random().toString(36).slice(2)}.log`);
    const fd = openSync(log, 'w');
    const st = fstatSync(fd, { bigint: true });
    const journal =
      journalOf === 'own'
        ? { JOURNAL_STREAM: `${st.dev}:${st.ino}` }
        : journalOf === 'other'
          ? { JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }
          : {};
    const child = spawn(process.execPath, [BIN, 'agent', ...args], {
      stdio: ['ignore', 'ignore', fd],
      env: { PATH: process.env.PATH, ...env, ...journal },
    });
    closeSync(fd);
    stops.push(() => child.kill('SIGKILL'));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    return { child, exited, text: () => readFileSync(log, 'utf8') };
  }

  test('file + environment + flag together, version and uptime published, journal lines when stderr is the journal', async () => {
    const server = await startNatsServer({ bin: NATS_BIN! });
    stops.push(() => server.stop());
    const nc = await connect({ servers: server.url });
    stops.push(() => nc.close());
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, `machine: from-file\ninterval: 60s\nnats: nats://127.0.0.1:1\n`);
    const samples = nc.subscribe('opsdeck.from-file.resources', { max: 1, timeout: 30_000 });
    await nc.flush();
    const a = await run(
      ['--config', file, '--nats', server.url],
      { OPSDECK_AGENT_INTERVAL: '300ms' },
      'own',
    );
    const got: Array<{ version?: string; uptimeS?: number }> = [];
    for await (const m of samples) got.push(JSON.parse(new TextDecoder().decode(m.data)));
    assert.equal(got[0]!.version, VERSION);
    assert.equal(typeof got[0]!.uptimeS, 'number');
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    const lines = a.text().trim().split('\n');
    assert.equal(
      lines[0],
      `<5>opsdeck ${VERSION}; settings: nats from --nats, interval from OPSDECK_AGENT_INTERVAL, machine from ${file}:1:1`,
    );
    assert.ok(
      lines.includes(
        '<4>control refusing state changes: this agent was started without --jwks, so it cannot verify who sent a request and changes nothing (start it with --jwks FILE)',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        '<4>resources samples unsigned (no --sample-key): consoles show them as unverified and auto-throttle ignores them',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /^<6>NATS connected/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.every((l) => /^<[3-7]>/.test(l)),
      lines.join('\n'),
    );

    // JOURNAL_STREAM inherited from elsewhere (stderr is not that stream): plain lines.
    const b = await run(['--machine', 'plain', '--nats', server.url], {}, 'other');
    const started = Date.now();
    while (!/NATS connected/.test(b.text()) && Date.now() - started < 30_000)
      await new Promise((r) => setTimeout(r, 50));
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0);
    assert.match(
      b.text(),
      /^opsdeck agent plain: opsdeck \d+\.\d+\.\d+; settings: machine from --machine, nats from --nats\n/,
    );
    assert.doesNotMatch(b.text(), /^</m);

    // Bad input under the journal is stored at priority err.
    const c = await run(['--config', join(dir, 'nope.yaml')], {}, 'own');
    assert.equal(await c.exited, 2);
    assert.equal(
      c.text(),
      `<3>opsdeck agent: settings file ${join(dir, 'nope.yaml')}: no such file\n`,
    );
  });
});
