// The log view and agent lifecycle in the real binary under tmux, against `opsdeck sim` writing
// upstream's JSON logs (rotated at 4 KB) and serving them through each machine's opsdeck agent.
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
const HOSTS = { mainpc: '127.0.0.91', pc2: '127.0.0.92' };
const socket = `opsdeck-e2e-logs-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-e2e-logs-'));

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

const audit = () =>
  readFileSync(join(dir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { action: string; outcome: string; detail: string });

const lastRequest = (t: string) => {
  const all = [...t.matchAll(/Processed request (\d+)/g)].map((m) => Number(m[1]));
  return all.length ? Math.max(...all) : 0;
};

describe('log view and lifecycle end to end (tmux)', { skip }, () => {
  let sim: Sim;
  before(async () => {
    writeFileSync(
      join(dir, 'mainpc.yaml'),
      'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17601, health_check_port: 18601}\n    Bravo: {script_path: b.py, port: 17603, health_check_port: 18603}\n',
    );
    writeFileSync(
      join(dir, 'pc2.yaml'),
      'pc2_services:\n- {name: Charlie, script_path: c.py, port: 7105, health_check_port: 8105}\n',
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
      logMaxBytes: 4096,
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
      `OPSDECK_SECRETS=${join(dir, 'no-secrets')}`,
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

  test('l on a Fleet row shows the same log `opsdeck logs` reads, following live across rotation', async () => {
    await until(
      'both machines healthy, NATS connected',
      (t) =>
        /MAINPC 127\.0\.0\.91 +2 agents 2 ok/.test(t) &&
        /PC2 127\.0\.0\.92 +1 agents 1 ok/.test(t) &&
        /NATS connected/.test(t),
    );
    keys('l');
    let text = await until(
      'the log view with its last lines',
      (t) => /LOG mainpc\/Alpha/.test(t) && /FOLLOWING/.test(t) && /initialized on port/.test(t),
    );
    assert.match(text, /file \S+\/mainpc\/logs\/alpha\.log/);
    assert.match(
      text,
      /\d\d:\d\d:\d\d ● INFO {2}Alpha initialized on port 17601 \(health check: 18601\)/,
    );
    assert.ok((await sim.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 20 })).ok);
    text = await until('lines arriving', (t) => lastRequest(t) >= 20);
    // A 4 KB file at 20 lines/s rotates every few seconds: the view keeps following.
    text = await until('past a rotation', (t) => /rotated: following the new file/.test(t), 20_000);
    const seen = lastRequest(text);
    await until('still live after it', (t) => lastRequest(t) > seen + 10);
    keys('p');
    text = await until('paused', (t) => /PAUSED/.test(t));
    const held = lastRequest(text);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(lastRequest(screen()), held, 'a paused view holds still');
    assert.match(screen(), /\d+ newer/);
    keys('End');
    await until('following again', (t) => /FOLLOWING/.test(t) && lastRequest(t) > held);
    assert.ok((await sim.control({ fault: 'log-flood', agent: 'mainpc/Alpha', rate: 0 })).ok);
    // Scrolling pauses it; / filters by level.
    keys('k');
    await until('scrolled', (t) => /PAUSED 1 rows up/.test(t));
    assert.ok(
      (
        await sim.control({
          fault: 'error',
          agent: 'Alpha',
          message: 'e2e-boom',
          severity: 'error',
        })
      ).ok,
    );
    keys('G');
    await until('the error line, in red words too', (t) => /✖ ERROR e2e-boom component=/.test(t));
    keys('/');
    keys('-l', 'level:error');
    keys('Enter');
    text = await until('filtered', (t) => /filter "level:error" 1 match/.test(t));
    assert.doesNotMatch(text, /Processed request/);
    keys('Escape'); // clears the filter
    await until('unfiltered', (t) => /Processed request/.test(t));
    keys('w');
    await until('wrap on', (t) => /wrap on/.test(t));
    keys('Escape');
    await until('back on Fleet', (t) => /MAINPC 127\.0\.0\.91/.test(t));
    // Closing the view ended the watch: the daemon reads and sends nothing.
    await until('no watch left', () => sim.logWatches() === 0, 20_000);
  });

  test('the other machine too, from the agent detail', async () => {
    keys('Tab');
    keys('Enter');
    await until('detail', (t) => /Charlie on pc2/.test(t));
    keys('l');
    await until(
      'pc2 log',
      (t) => /LOG pc2\/Charlie/.test(t) && /Charlie initialized on port 7105/.test(t),
    );
    keys('Escape');
    await until('detail again', (t) => /Charlie on pc2/.test(t));
    keys('Escape');
    await until('fleet', (t) => /MAINPC 127\.0\.0\.91/.test(t));
    keys('Tab', 'Tab'); // back to the first machine's pane
  });

  test('R in the log view: restart preview names the process, y, DOWN then OK, audit ok', async () => {
    await until('fleet', (t) => /MAINPC 127\.0\.0\.91/.test(t));
    keys('l');
    await until('the log view', (t) => /LOG mainpc\/Alpha/.test(t));
    const pid = sim.machine('mainpc')!.byName.get('Alpha')!.pid;
    keys('R');
    const preview = await until('the preview on screen 5', (t) =>
      new RegExp(`Restart mainpc/Alpha on mainpc/Alpha: process ${pid}: python3 a\\.py`).test(t),
    );
    assert.match(preview, /SIGTERM to pid \d+/);
    keys('y');
    await until('verified', (t) => /done: DOWN, then OK/.test(t), 30_000);
    assert.notEqual(sim.machine('mainpc')!.byName.get('Alpha')!.pid, pid);
    const last = audit().at(-1)!;
    assert.deepEqual([last.action, last.outcome], ['agent.restart', 'ok']);
    // Waited for: an Escape followed at once by the next key reaches the app as Alt+key.
    keys('Escape');
    await until('the result closed', (t) => !/done: DOWN, then OK/.test(t));
  });

  test('restart from screen 5: the agent opened last heads the list', async () => {
    keys('1');
    await until('fleet', (t) => /MAINPC 127\.0\.0\.91/.test(t));
    keys('j', 'Enter');
    await until('Bravo detail', (t) => /Bravo on mainpc/.test(t));
    keys('5');
    await until('its rows', (t) => /Restart mainpc\/Bravo/.test(t) && /Stop mainpc\/Bravo/.test(t));
    keys('g', 'Enter');
    await until('preview', (t) =>
      /Run "Restart mainpc\/Bravo on mainpc\/Bravo: process \d+/.test(t),
    );
    keys('y');
    await until('verified', (t) => /done: DOWN, then OK/.test(t), 30_000);
    const last = audit().at(-1)!;
    assert.deepEqual([last.action, last.outcome], ['agent.restart', 'ok']);
    keys('Escape');
    // Esc and q in one read would be Alt+q: wait for the flow to close first.
    await until('flow closed', (t) => !t.includes('done: DOWN'));
    keys('q');
    await until('exit', (t) => /EXIT=0/.test(t));
  });
});
