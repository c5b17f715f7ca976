// `opsdeck sim` as a command: summary lines, bad input refused with exit 2 and nothing left
// bound, and the shutdown path on SIGTERM / SIGINT in a child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../source/cli.js';
import { defaultFleetFiles } from '../../../source/commands/sim.js';
import type { Io } from '../../../source/commands/io.js';
import { EXAMPLES, NEEDS_NATS, ROOT, tcpOpen, waitFor } from './helpers.js';

const HOSTS = 'mainpc=127.0.15.1,pc2=127.0.15.2';
const FLEET = [
  '--mainpc',
  EXAMPLES.mainpc,
  '--pc2',
  EXAMPLES.pc2,
  '--hosts',
  HOSTS,
  '--control-port',
  '0',
];

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { PATH: process.env.PATH },
    cwd: ROOT,
  };
  const code = await main(['sim', ...args], io);
  return { code, out, err };
}

describe('opsdeck sim', () => {
  test('runs, prints one summary line per machine, stops after --duration with every port released', async () => {
    const r = await run([
      ...FLEET,
      '--no-nats',
      '--duration',
      '300ms',
      '--slow',
      'NLUAgent=100',
      '--kill',
      'pc2/TaskScheduler',
    ]);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(
      r.out.find((l) => l.startsWith('mainpc '))!,
      // Upstream wiring: MainPC has no CentralErrorBus, so nothing binds its 7150; two
      // BaseAgents lost their health port and exited, as BaseAgent._init_sockets does.
      /^mainpc 127\.0\.15\.1: 9\/11 agents up \(3 with port clashes\), \d+ ports bound, 3 clashes; error bus tcp:\/\/127\.0\.15\.1:7150 closed; nats off; ready in \d+ ms$/,
    );
    assert.match(
      r.out.find((l) => l.startsWith('pc2 '))!,
      /^pc2 127\.0\.15\.2: 10\/12 agents up \(3 with port clashes\)/,
    );
    assert.ok(
      r.out.includes('  clash pc2 AuthenticationAgent health 8116: held by TaskScheduler http'),
    );
    assert.ok(
      r.out.includes(
        '  down pc2 AuthenticationAgent: exited at start: its health port 8116 is held by TaskScheduler http (BaseAgent._init_sockets gives up after 5 tries)',
      ),
    );
    assert.ok(r.out.includes('nats: off: --no-nats'));
    assert.ok(r.out.includes('fault: kill pc2/TaskScheduler applied'));
    assert.match(r.out.at(-1)!, /^stopped \(--duration 300ms\): every socket closed$/);
    assert.equal(await tcpOpen('127.0.15.1', 5709), false);
  });

  test('without nats-server it runs the ZMQ side and says how to install it', async () => {
    const out: string[] = [];
    const io: Io = {
      out: (t) => out.push(t),
      err: (t) => out.push(t),
      env: { PATH: '', NATS_SERVER_BIN: '/nonexistent/nats-server' },
      cwd: ROOT,
    };
    assert.equal(await main(['sim', ...FLEET, '--duration', '200ms'], io), 0);
    assert.ok(
      out.includes(
        'nats: off: nats-server not found; the NATS side is off (install it with `apt-get install -y nats-server` (Debian/Ubuntu) or pass --nats URL)',
      ),
      out.join('\n'),
    );
    assert.match(
      out.find((l) => l.startsWith('pc2 '))!,
      /error bus tcp:\/\/127\.0\.15\.2:7150 open; nats off;/,
    );
  });

  test('bad input: exit 2, a clear message, nothing left bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsdeck-sim-test-'));
    try {
      const badOverrides = join(dir, 'o.yaml');
      writeFileSync(badOverrides, 'agents:\n  NLUAgent: {protocol: grpc, vram: 5}\n');
      const cases: [string[], RegExp][] = [
        [
          [...FLEET, '--hosts', 'mainpc=10.0.0.1'],
          /host for mainpc is 10\.0\.0\.1: the simulator binds loopback addresses only/,
        ],
        [
          [...FLEET, '--hosts', 'mainpc=127.0.15.1,pc2=127.0.15.1'],
          /mainpc and pc2 both on 127\.0\.15\.1: two machines on one address clash/,
        ],
        [
          [...FLEET, '--hosts', 'pc3=127.0.15.3'],
          /host given for pc3, which is not in the fleet \(machines: mainpc, pc2\)/,
        ],
        [
          [...FLEET, '--overrides', badOverrides],
          /agents\.NLUAgent\.protocol: must be one of base-agent, unified, json-rm, http, pub/,
        ],
        [[...FLEET, '--slow', 'NLUAgent'], /--slow NLUAgent: expected AGENT=VALUE/],
        [
          [...FLEET, '--malformed', 'NLUAgent=weird'],
          /kind must be bad-json \| oversize \| binary \| escape/,
        ],
        [
          [...FLEET, '--nats', 'nats://10.1.1.1:4222'],
          /--nats nats:\/\/10\.1\.1\.1:4222: expected nats:\/\/127/,
        ],
        [
          [...FLEET, '--control-port', 'x'],
          /option '--control-port <n>' argument 'x' is invalid\. expected a port 0-65535, got "x"/,
        ],
        [
          [...FLEET, '--no-nats', '--kill', 'Nobody'],
          /kill Nobody: no agent "Nobody"; stopped, every port released/,
        ],
        [[...FLEET, '--no-nats', '--kill', 'MemoryFusionHub'], /runs on mainpc and pc2: say which/],
        [
          ['--mainpc', join(dir, 'missing.yaml'), '--hosts', HOSTS],
          /cannot read .*missing\.yaml: no such file/,
        ],
      ];
      for (const [args, message] of cases) {
        const r = await run(args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.out.join('\n')}`);
        assert.match(r.err.join('\n'), message);
      }
      assert.equal(await tcpOpen('127.0.15.1', 7200), false, 'nothing left bound');
      assert.equal(await tcpOpen('127.0.15.2', 7150), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the default fleet: the real configs beside the repo, else the shipped examples', () => {
    // A checkout one level down in its own folder: its ../shared is that folder's, never the
    // /tmp/shared a checkout cloned straight into /tmp would have beside it.
    const dir = mkdtempSync(join(tmpdir(), 'opsdeck-root-'));
    const repo = join(dir, 'repo');
    try {
      const fallback = defaultFleetFiles(repo);
      assert.deepEqual(fallback.files, {
        mainpc: join(repo, 'examples/mainpc.agent_groups.yaml'),
        pc2: join(repo, 'examples/pc2.pc2_services.yaml'),
      });
      const here = defaultFleetFiles(ROOT);
      const real = existsSync(join(ROOT, '../shared/fixtures/real/mainpc.startup_config.yaml'));
      assert.equal(here.label.startsWith(real ? 'real configs' : 'example configs'), true);
      for (const f of Object.values(here.files)) assert.ok(existsSync(f), f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const withNats = signal === 'SIGTERM';
    test(
      `${signal} closes every socket${withNats ? ', stops its own nats-server and removes its store' : ''}`,
      { skip: withNats ? NEEDS_NATS : false },
      async () => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(ROOT, 'test/integration/sim/cli-child.ts'),
            'sim',
            ...FLEET,
            ...(withNats ? [] : ['--no-nats']),
          ],
          {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<number | null>((resolve) =>
          child.once('exit', (code) => resolve(code)),
        );
        try {
          await waitFor(() => out.includes('\ncontrol: '), 20_000);
          assert.equal(await tcpOpen('127.0.15.1', 7200), true);
          const store = /JetStream store (\S+)\)/.exec(out)?.[1];
          const natsPort = Number(/nats:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
          if (withNats) assert.ok(store && existsSync(store) && natsPort > 0, out);
          child.kill(signal);
          assert.equal(await exited, 0, out);
          assert.match(
            out,
            new RegExp(
              `stopped \\(${signal}\\): every socket closed${withNats ? ', own nats-server stopped, its store removed' : ''}\\n$`,
            ),
          );
          assert.equal(await tcpOpen('127.0.15.1', 7200), false);
          assert.equal(await tcpOpen('127.0.15.2', 7150), false);
          if (withNats) {
            assert.equal(existsSync(store!), false, 'store removed');
            assert.equal(await tcpOpen('127.0.0.1', natsPort), false, 'nats-server stopped');
          }
        } finally {
          if (child.exitCode === null) child.kill('SIGKILL');
        }
      },
    );
  }
});
