// The real binary in tmux against `opsdeck sim`: what an operator sees and types.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { findNatsServer } from '../../source/adapters/nats-server.js';
import { startSim, type Sim } from '../../source/sim/sim.js';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const NATS_BIN = findNatsServer();
const skip = !hasTmux
  ? 'tmux not installed (scripts/install-system-deps.sh installs it)'
  : !NATS_BIN
    ? 'nats-server not installed'
    : false;
const HOSTS = { mainpc: '127.0.0.71', pc2: '127.0.0.72' };
const socket = `opsdeck-e2e-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-e2e-'));

const tmux = (...args: string[]) =>
  execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', 'ops');
const keys = (...k: string[]) => tmux('send-keys', '-t', 'ops', ...k);

async function until(
  what: string,
  ok: (text: string) => boolean,
  timeoutMs = 20_000,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < end) {
    text = screen();
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${text}`);
}

describe('console end to end (tmux)', { skip }, () => {
  let sim: Sim;
  before(async () => {
    writeFileSync(
      join(dir, 'mainpc.yaml'),
      'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17501, health_check_port: 18501}\n    Bravo: {script_path: b.py, port: 17503, health_check_port: 18503}\n',
    );
    writeFileSync(
      join(dir, 'pc2.yaml'),
      'pc2_services:\n- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, port: 7150, health_check_port: 8150}\n- {name: Charlie, script_path: c.py, port: 7105, health_check_port: 8105}\n- {name: ResourceManager, script_path: pc2_code/agents/resource_manager.py, port: 7113, health_check_port: 8113}\nerror_bus_port: 7150\n',
    );
    const fleet = loadFleet(
      { mainpc: join(dir, 'mainpc.yaml'), pc2: join(dir, 'pc2.yaml') },
      { MAINPC_IP: HOSTS.mainpc, PC2_IP: HOSTS.pc2 },
    );
    sim = await startSim({
      machines: fleet.machines,
      hosts: HOSTS,
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 0,
      // Every agent an ErrorPublisher on one PUB per machine (the collector wiring), so the
      // error stream has rows to filter.
      overrides: {
        defaults: { error_variant: 'A' },
        agents: {},
        machines: {},
        wiring: 'collector',
      },
    });
    const command = [
      `cd ${JSON.stringify(process.cwd())} &&`,
      `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} console --mainpc ${join(dir, 'mainpc.yaml')} --pc2 ${join(dir, 'pc2.yaml')} --nats ${sim.natsUrl} --interval 300ms;`,
      'echo "EXIT=$?"; sleep 60',
    ].join(' ');
    tmux(
      'new-session',
      '-d',
      '-s',
      'ops',
      '-x',
      '120',
      '-y',
      '36',
      '-e',
      `MAINPC_IP=${HOSTS.mainpc}`,
      '-e',
      `PC2_IP=${HOSTS.pc2}`,
      '-e',
      `OPSDECK_CONFIG_DIR=${dir}`,
      '-e',
      `OPSDECK_AUDIT=${join(dir, 'audit.jsonl')}`,
      '-e',
      'TERM=xterm-256color',
      command,
    );
  });
  after(async () => {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the Fleet screen shows both machines and their agents, healthy', async () => {
    // NATS may connect after the first probes on a loaded machine: wait for all of it.
    const text = await until(
      'both machines healthy, NATS connected',
      (t) =>
        /MAINPC 127\.0\.0\.71 +2 agents 2 ok/.test(t) &&
        /PC2 127\.0\.0\.72 +3 agents 3 ok/.test(t) &&
        /NATS connected/.test(t),
    );
    assert.match(text, /● OK +Alpha/);
    assert.match(text, /● OK +Charlie/);
  });

  test('killing an agent in the sim turns its row unreachable', async () => {
    const r = await sim.control({ fault: 'kill', agent: 'Bravo' });
    assert.ok(r.ok, r.error);
    await until('Bravo down', (t) => /○ DOWN +Bravo/.test(t), 10_000);
    await sim.control({ fault: 'restart', agent: 'Bravo' });
  });

  test('Enter opens the agent detail; Esc goes back', async () => {
    keys('Enter');
    const text = await until('detail', (t) => /Alpha on mainpc \(127\.0\.0\.71\)/.test(t));
    assert.match(text, /defined at .*mainpc\.yaml:3:5/);
    assert.match(text, /health +18501/);
    keys('Escape');
    await until('fleet again', (t) => /MAINPC 127\.0\.0\.71/.test(t));
  });

  test('/ filters the error stream', async () => {
    for (const agent of ['Alpha', 'Charlie', 'Alpha'])
      assert.ok((await sim.control({ fault: 'error', agent, message: `e2e-${agent}` })).ok);
    await until('errors listed', (t) => t.includes('e2e-Alpha') && t.includes('e2e-Charlie'));
    keys('Tab', 'Tab');
    keys('/');
    keys('-l', 'Charlie');
    keys('Enter');
    const text = await until(
      'filtered',
      (t) => /filter "Charlie"/.test(t) && !t.includes('e2e-Alpha'),
    );
    assert.match(text, /e2e-Charlie/);
    keys('Escape');
    await until('filter cleared', (t) => t.includes('e2e-Alpha'));
  });

  test('? shows the help generated from the keymap', async () => {
    keys('?');
    const text = await until('help', (t) => t.includes('opsdeck keys'));
    assert.match(text, /command palette/);
    keys('?');
    await until('help closed', (t) => !t.includes('opsdeck keys'));
  });

  test('an action from the keyboard: preview, confirm on its target, run, verify, audit', async () => {
    keys('5');
    await until('actions', (t) => t.includes('Throttle PC2: level 1 soft'));
    // By name through the palette: the list's order changes as actions are added.
    keys(':');
    keys('-l', 'throttle level 1');
    keys('Enter');
    const preview = await until('preview', (t) =>
      /Run "Set pc2 throttle to level 1 \(soft\) on pc2/.test(t),
    );
    assert.match(preview, /request opsdeck\.pc2\.control \{"action":"set_throttle","level":1/);
    keys('y');
    await until(
      'verified',
      (t) => /done: re-read pc2: ResourceManager thresholds cpu 75 \/ memory 75 \/ gpu 70/.test(t),
      10_000,
    );
    const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { action: string; outcome: string; args: Record<string, unknown> },
      );
    assert.deepEqual(
      [audit.at(-1)!.action, audit.at(-1)!.outcome, audit.at(-1)!.args.level],
      ['throttle.set', 'ok', 1],
    );
    keys('Escape');
    await until('flow closed', (t) => !t.includes('done: re-read'));
    keys('1');
    await until('fleet', (t) => /MAINPC 127\.0\.0\.71/.test(t));
  });

  test('Ctrl+C twice exits with code 0 and restores the terminal', async () => {
    keys('C-c');
    await until('the warning', (t) => t.includes('press Ctrl+C again to quit'));
    keys('C-c');
    const text = await until('exit', (t) => t.includes('EXIT='), 10_000);
    assert.match(text, /EXIT=0/);
    assert.doesNotMatch(text, /MAINPC 127\.0\.0\.71/, 'the alternate screen is gone');
  });
});

describe('no TTY', () => {
  test('one line pointing to status --json, exit 2, no stack trace', () => {
    const r = spawnSync(process.execPath, [bin, '--mainpc', join(dir, 'x.yaml')], {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /the console needs a terminal \(TTY\)\. For scripts and pipes use `opsdeck status --json`/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
