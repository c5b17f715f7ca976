// The operator's console (issue 14), the real binary in tmux on `opsdeck demo` (the real fleet's
// 49 + 23 agents): the layout at 200x60, 120x40 and 80x24 and across resizes, one action path
// from the palette, the keys that used to misbehave, a migration picked up while it runs, the
// mouse, and `config migrate` asking on a terminal like every action.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNatsServer } from '../../source/adapters/nats-server.js';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/real/', import.meta.url));
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = !hasTmux
  ? 'tmux not installed (scripts/install-system-deps.sh installs it)'
  : !findNatsServer()
    ? 'nats-server not installed'
    : false;
const socket = `opsdeck-op-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-op-'));

// `on`: another server, for a describe that starts after one that killed its own: tmux's
// new-session on a socket whose server is still going away fails "server exited unexpectedly".
const tmux = (...args: string[]) => tmuxOn(socket, ...args);
const tmuxOn = (on: string, ...args: string[]) =>
  execFileSync('tmux', ['-L', on, ...args], { encoding: 'utf8' });
const screen = (target = 'ops', on = socket) => tmuxOn(on, 'capture-pane', '-p', '-t', target);
const keys = (...k: string[]) => tmux('send-keys', '-t', 'ops', ...k);
const type = (text: string) => tmux('send-keys', '-t', 'ops', '-l', text);
const resize = (x: number, y: number) =>
  tmux('resize-window', '-t', 'ops', '-x', String(x), '-y', String(y));

async function until(
  what: string,
  ok: (text: string) => boolean,
  timeoutMs = 20_000,
  target = 'ops',
  on = socket,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < end) {
    text = screen(target, on);
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${text}`);
}

/**
 * What is wrong with the frame at this size, or '' when nothing: the tab bar on row 1, the
 * footer (with quit) on the last row, nothing taller than the terminal, and no blank row inside
 * a machine pane while it hides agents (found by its position line "a-b of n").
 */
/** The frame of any screen: the tab bar on row 1, the footer last, nothing too wide. */
function frameProblems(text: string, width: number, height: number): string {
  const lines = text.split('\n');
  while (lines.length > height && lines.at(-1) === '') lines.pop();
  if (lines.length !== height) return `${lines.length} lines for ${height} rows`;
  if (!lines[0]!.startsWith('opsdeck ')) return `row 1 is not the tab bar: ${lines[0]}`;
  if (!/(q quit|Esc\S* (back|close))\s*$/.test(lines.at(-1)!))
    return `the last row is not the footer: ${lines.at(-1)}`;
  if (lines.some((l) => [...l].length > width)) return 'a line wider than the terminal';
  return '';
}

export function layoutProblems(text: string, width: number, height: number): string {
  const frame = frameProblems(text, width, height);
  if (frame) return frame;
  const lines = text.split('\n');
  if (!/q quit\s*$/.test(lines[height - 1]!)) return `the Fleet footer is not last`;
  for (const name of ['MAINPC', 'PC2']) {
    const y = lines.findIndex((l) => l.includes(`│${name} `));
    if (y < 0) return `no ${name} pane`;
    const row = [...lines[y]!];
    const left = row.lastIndexOf('│', row.indexOf(name[0]!, row.indexOf(`│${name}`)));
    const right = row.indexOf('│', left + 1);
    const inner: string[] = [];
    for (let i = y + 1; i < lines.length; i++) {
      const cells = [...lines[i]!];
      if (cells[left] !== '│') break; // its bottom border, or the next pane's top
      inner.push(cells.slice(left + 1, right).join(''));
    }
    const hiding = inner.some((l) => /^\s+\d+-\d+ of \d+\s*$/.test(l));
    const blank = inner.filter((l) => l.trim() === '').length;
    if (hiding && blank > 0) return `${name}: ${blank} blank rows while agents are hidden`;
  }
  return '';
}

describe('the operator console in tmux (opsdeck demo)', { skip }, () => {
  before(() => {
    const command = [
      `cd ${JSON.stringify(process.cwd())} &&`,
      `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} demo --hosts mainpc=127.0.0.81,pc2=127.0.0.82;`,
      'echo "EXIT=$?"; sleep 60',
    ].join(' ');
    tmux(
      'new-session',
      '-d',
      '-s',
      'ops',
      '-x',
      '200',
      '-y',
      '60',
      '-e',
      `OPSDECK_CONFIG_DIR=${dir}`,
      '-e',
      'TERM=xterm-256color',
      command,
    );
  });
  after(() => {
    try {
      keys('q');
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('layout: 200x60, 120x40, 80x24 and resizes both ways', async () => {
    await until('the demo fleet', (t) => /MAINPC 127\.0\.0\.81 +49 agents/.test(t), 30_000);
    for (const [w, h] of [
      [200, 60],
      [120, 40],
      [80, 24],
      [200, 60],
      [80, 24],
      [120, 40],
    ] as const) {
      resize(w, h);
      let problem = '';
      await until(
        `a clean ${w}x${h} frame`,
        (t) => (problem = layoutProblems(t, w, h)) === '',
        10_000,
      ).catch((error: Error) => assert.fail(`${w}x${h}: ${problem}\n${error.message}`));
      // The other screens and the agent detail fit the same terminal.
      for (const [key, what, back] of [
        ['5', /ACTION +WHAT IT DOES/, '1'],
        ['Enter', / on mainpc \(127\.0\.0\.81\)/, 'Escape'],
      ] as const) {
        keys(key);
        await until(
          `${key} at ${w}x${h}`,
          (t) => what.test(t) && frameProblems(t, w, h) === '',
          10_000,
        ).catch((error: Error) =>
          assert.fail(`${w}x${h} after ${key}: ${frameProblems(screen(), w, h)}\n${error.message}`),
        );
        keys(back);
        await until('Fleet again', (t) => /│MAINPC /.test(t), 10_000);
      }
    }
    resize(200, 60);
    await until('200x60 again', (t) => layoutProblems(t, 200, 60) === '');
  });

  test('the palette opens the action on screen 5 with its preview; y elsewhere does nothing', async () => {
    keys('1');
    await until('fleet', (t) => /│MAINPC /.test(t));
    keys(':');
    type('soft');
    keys('Enter');
    await until('the preview on screen 5', (t) =>
      /Run "Set pc2 throttle to level 1 \(soft\) on pc2/.test(t),
    );
    // The confirmation owns the keys: a screen key does not hide it.
    keys('1');
    await new Promise((r) => setTimeout(r, 500));
    assert.match(screen(), /Run "Set pc2 throttle to level 1/);
    keys('n');
    await until('cancelled', (t) => !/Run "Set pc2 throttle/.test(t));
    // Each Escape is waited for: followed at once by another key it reaches the app as Alt+key.
    keys('Escape');
    await until('the flow closed', (t) => !/target: pc2/.test(t));
    // y on every other screen: nothing runs, nothing is audited.
    for (const k of ['1', '2', '3', '4']) {
      keys(k);
      keys('y');
    }
    keys('5');
    const history = await until('the history', (t) => /throttle\.set +cancelled/.test(t));
    assert.doesNotMatch(history, /throttle\.set +ok/);
    // Ranking: "level 2" is the level 2 action, not the first one that mentions a 2.
    keys(':');
    type('level 2');
    keys('Enter');
    await until('level 2 preview', (t) => /Run "Set pc2 throttle to level 2/.test(t));
    keys('n');
    await until('closed', (t) => !/Run "Set pc2 throttle/.test(t));
    keys('Escape');
    await until('the list alone', (t) => !/target: pc2/.test(t));
  });

  test('Esc closes an error detail first; / filters Ports', async () => {
    keys('3');
    await until('errors with rows', (t) => /ERROR STREAM +in [1-9]/.test(t));
    keys('Enter');
    await until('an error in full', (t) => /Esc closes · ↑↓ the previous \/ next event/.test(t));
    keys('Escape');
    const closed = await until('the list again', (t) => /ERROR STREAM/.test(t));
    assert.doesNotMatch(closed, /│MAINPC /, 'still on the Errors screen');
    // The next / filters the errors, not the agents.
    keys('/');
    type('Timeout');
    keys('Enter');
    await until('errors filtered', (t) => /ERROR STREAM.* filter "Timeout"/.test(t));
    keys('Escape');
    await until('the filter cleared', (t) => !/filter "Timeout"/.test(t));
    keys('2');
    await until('ports', (t) => /conflict|PORT/i.test(t));
    keys('/');
    type('MemoryFusionHub');
    keys('Enter');
    const filtered = await until('filtered ports', (t) => /filter .*MemoryFusionHub/i.test(t));
    assert.match(filtered, /MemoryFusionHub/);
    keys('Escape');
    await until('the filter cleared', (t) => !/filter .*MemoryFusionHub/i.test(t));
  });

  test('a migration done here: G reaches the end of its diff, then the row and P1.1 follow', async () => {
    keys('5');
    keys(':');
    type('migrate pc2');
    keys('Enter');
    const preview = await until('the migration preview', (t) => /║ +--- \/\S+pc2\S*\.yaml/.test(t));
    const target = /target: (\/\S+pc2\S*\.yaml)/.exec(preview)![1]!;
    const dry = spawnSync(process.execPath, [bin, 'config', 'migrate', target, '--dry-run'], {
      encoding: 'utf8',
    });
    const lastLine = dry.stdout.trimEnd().split('\n').at(-1)!.trim();
    keys('G');
    const end = await until('the last line of the diff', (t) => t.includes(lastLine));
    assert.doesNotMatch(end, /║ +--- \//, 'scrolled past its first lines');
    keys('g');
    await until('the first again', (t) => /║ +--- \/\S+pc2/.test(t));
    keys('y');
    await until('migrated', (t) => /done: migrated/.test(t), 15_000);
    keys('Escape');
    await until('nothing to migrate for pc2', (t) =>
      /Migrate pc2's config to agent_groups +unavailable: already canonical/.test(t),
    );
    keys('4');
    await until('P1.1 yes for pc2', (t) => /pc2 config canonical \(agent_groups\) +yes/.test(t));
  });

  test('the mouse: a click selects the row under it', async () => {
    keys('1');
    const fleet = await until('fleet', (t) => /│MAINPC /.test(t));
    const lines = fleet.split('\n');
    const y = lines.findIndex((l) => l.includes('CacheManager'));
    const x = lines[y]!.indexOf('CacheManager');
    type(`\x1b[<0;${x + 1};${y + 1}M\x1b[<0;${x + 1};${y + 1}m`);
    await until('CacheManager selected', (t) => /›. +\S+ +CacheManager/.test(t));
  });
});

describe('config migrate on a terminal asks like every action (tmux)', { skip }, () => {
  const mig = `${socket}-mig`;
  after(() => {
    try {
      tmuxOn(mig, 'kill-server'); // its prompt must not outlive the test
    } catch {
      /* already gone */
    }
  });
  test('the preview and the exact words; "yes" writes', async () => {
    const own = mkdtempSync(join(tmpdir(), 'opsdeck-op-mig-'));
    after(() => rmSync(own, { recursive: true, force: true }));
    const file = join(own, 'pc2.yaml');
    copyFileSync(join(FIXTURES, 'pc2.startup_config.yaml'), file);
    const before = readFileSync(file, 'utf8');
    tmuxOn(
      mig,
      'new-session',
      '-d',
      '-s',
      'mig',
      '-x',
      '160',
      '-y',
      '50',
      `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} config migrate ${file}; echo "EXIT=$?"; sleep 30`,
    );
    const asked = await until(
      'the question',
      (t) => /Type "yes" to run: /.test(t),
      15_000,
      'mig',
      mig,
    );
    assert.match(asked, /^\+ {4}\w+:$/m, 'the diff shown: agents as keys');
    assert.equal(readFileSync(file, 'utf8'), before, 'nothing written before the answer');
    tmuxOn(mig, 'send-keys', '-t', 'mig', '-l', 'yes');
    tmuxOn(mig, 'send-keys', '-t', 'mig', 'Enter');
    const done = await until('written', (t) => /EXIT=0/.test(t), 15_000, 'mig', mig);
    assert.match(done, /^migrated /m);
    assert.match(readFileSync(file, 'utf8'), /^agent_groups:/m);
  });
});
