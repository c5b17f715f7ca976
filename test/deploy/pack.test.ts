// The one-file install: `npm pack` of this checkout, installed with `npm install -g --prefix` from
// that tarball alone (offline, an empty npm cache: nothing may come from a registry or be built),
// then the installed binary is used as an operator would: --version, --help, `agent --help`, a
// simulated fleet and `status --json` against it, `lint` (tree-sitter's wasm), `certs generate`
// (@peculiar/x509 and zeromq's CURVE keys). One pack and one install per run (~10 s).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNatsServer, NATS_INSTALL_HINT } from '../../source/adapters/nats-server.js';
import { VERSION } from '../../source/version.js';
import { start } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NATS_BIN = findNatsServer();
const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-pack-'));
const prefix = join(scratch, 'prefix');
const installed = join(prefix, 'bin/opsdeck');
const pkg = join(prefix, 'lib/node_modules/opsdeck');
after(() => rmSync(scratch, { recursive: true, force: true }));

const run = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(command, args, {
    cwd: scratch,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const opsdeck = (...args: string[]) => run(installed, args);

let tarball = '';
let files: string[] = [];
before(() => {
  assert.ok(
    existsSync(join(ROOT, 'dist/bundle/cli.cjs')),
    'dist/bundle/cli.cjs is missing: run `npm run build` first (npm test does)',
  );
  // --ignore-scripts: prepack would rebuild dist/ under the other tests that run the binary; the
  // build npm test made is the one packed.
  const packed = spawnSync(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(packed.status, 0, packed.stderr);
  const info = (
    JSON.parse(packed.stdout) as Array<{ filename: string; files: { path: string }[] }>
  )[0]!;
  tarball = join(scratch, info.filename);
  files = info.files.map((f) => f.path);
});

describe('npm pack', () => {
  test('one tarball named after the version, holding the bundle, the launcher and the runtime packages', () => {
    assert.equal(tarball, join(scratch, `opsdeck-${VERSION}.tgz`));
    for (const f of [
      'bin/opsdeck.js',
      'dist/bundle/cli.cjs',
      'dist/bundle/lint-worker.js',
      'dist/bundle/boot.js',
      'examples/mainpc.agent_groups.yaml',
      'package.json',
      'README.md',
      'node_modules/zeromq/build/linux/x64/node/glibc-115-Release/addon.node',
      'node_modules/tree-sitter-python/tree-sitter-python.wasm',
      'node_modules/web-tree-sitter/tree-sitter.wasm',
      'node_modules/@peculiar/x509/package.json',
    ])
      assert.ok(files.includes(f), `${f} is packed`);
    const stray = files.filter(
      (f) =>
        !f.startsWith('node_modules/') &&
        /^(source|test|bench|scripts)\/|^dist\/(?!bundle\/)|\.map$|^tsconfig|^\.ci/.test(f),
    );
    assert.deepEqual(stray, [], 'no sources, tests, source maps or tsc output');
  });
});

describe('npm install -g from the tarball alone', () => {
  let install: ReturnType<typeof run>;
  before(() => {
    // An empty cache and --offline: a dependency fetched from a registry would fail the install.
    install = run('npm', [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--offline',
      '--cache',
      join(scratch, 'empty-cache'),
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
      tarball,
    ]);
  });

  test('installs offline, runs no build step, and puts opsdeck on the prefix bin', () => {
    assert.equal(install.code, 0, install.err + install.out);
    assert.doesNotMatch(install.err, /prepare|tsc -p/, 'no script of ours is run or offered');
    assert.ok(statSync(installed).isFile());
    assert.equal(existsSync(join(pkg, 'dist/cli.js')), false, 'the bundle alone is installed');
  });

  test('--version, --help and agent --help', () => {
    const version = opsdeck('--version');
    assert.equal(version.code, 0, version.err);
    assert.equal(version.out.trim(), VERSION);
    const help = opsdeck('--help');
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^Usage: opsdeck/);
    const agent = opsdeck('agent', '--help');
    assert.equal(agent.code, 0, agent.err);
    assert.match(agent.out, /--machine <id>/);
    assert.match(agent.out, /--config <file>/);
    assert.match(agent.out, /--tls-cert <file>/);
  });

  test(
    'status --json against a simulated fleet, both started from the installed package',
    { skip: NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}` },
    async () => {
      const env = { ...process.env, MAINPC_IP: '127.0.44.1', PC2_IP: '127.0.44.2' };
      const fleet = [
        '--mainpc',
        join(pkg, 'examples/mainpc.agent_groups.yaml'),
        '--pc2',
        join(pkg, 'examples/pc2.pc2_services.yaml'),
      ];
      const sim = start(
        installed,
        ['sim', ...fleet, '--hosts', 'mainpc=127.0.44.1,pc2=127.0.44.2', '--control-port', '0'],
        env,
      );
      const url = (await sim.line(/^nats: (nats:\/\/127\.0\.0\.1:\d+) /))[1]!;
      await sim.line(/^machine control: /);
      const status = run(installed, ['status', '--json', ...fleet, '--nats', url], env);
      // Upstream's exited agents are down: exit 1, the snapshot printed whole.
      assert.equal(status.code, 1, status.err);
      assert.match(status.err, /agents not healthy: /);
      const doc = JSON.parse(status.out) as {
        schema: string;
        nats: { state: string };
        machines: {
          id: string;
          agents: { name: string; state: string }[];
          resources: unknown;
        }[];
      };
      assert.equal(doc.schema, 'opsdeck.status/2');
      assert.equal(doc.nats.state, 'connected');
      assert.deepEqual(
        doc.machines.map((m) => m.id),
        ['mainpc', 'pc2'],
      );
      for (const m of doc.machines) {
        assert.ok(m.agents.length > 5, `${m.id} has its agents`);
        // Upstream's fleet as it behaves: the BaseAgents whose health port a neighbour's HTTP
        // took exited at start, and are down; every other agent answers.
        const down = new Set([
          'UnifiedSystemAgent',
          'AdvancedCommandHandler',
          'AsyncProcessor',
          'AuthenticationAgent',
        ]);
        assert.ok(
          m.agents.every((a) =>
            down.has(a.name) ? a.state === 'unreachable' : a.state === 'healthy',
          ),
          `${m.id}: ${m.agents.map((a) => `${a.name} ${a.state}`).join(', ')}`,
        );
        assert.notEqual(m.resources, null, `${m.id} resources arrived over NATS`);
      }
      assert.equal(await sim.stop(), 0, sim.output());
    },
  );

  test('lint parses Python with the packed tree-sitter wasm; certs generate uses x509 and zeromq', () => {
    const code = join(scratch, 'code');
    rmSync(code, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', code]);
    writeFileSync(
      join(code, 'agent.py'),
      'import zmq\nsock = zmq.Context().socket(zmq.REQ)\nreply = sock.recv_json()\n',
    );
    const lint = opsdeck(
      'lint',
      code,
      '--json',
      '--rule',
      'zmq-recv-timeout',
      '--fail-on',
      'error',
    );
    assert.equal(lint.code, 1, `exit 1: a finding${lint.err}`);
    const findings = (JSON.parse(lint.out) as { findings: { rule: string; file: string }[] })
      .findings;
    assert.ok(
      findings.some((f) => f.rule === 'zmq-recv-timeout' && f.file.endsWith('agent.py')),
      lint.out,
    );
    const secrets = join(scratch, 'secrets');
    const certs = run(installed, ['certs', 'generate', '--dir', secrets, '--yes'], {
      OPSDECK_AUDIT: join(scratch, 'audit.jsonl'),
    });
    assert.equal(certs.code, 0, certs.err + certs.out);
    assert.match(
      readFileSync(join(secrets, 'machines/pc2/certificates/server.key'), 'utf8'),
      /public-key = "/,
    );
    assert.match(readFileSync(join(secrets, 'tls/mainpc.crt'), 'utf8'), /BEGIN CERTIFICATE/);
  });
});
