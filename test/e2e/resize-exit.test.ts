// The real console in tmux, resized while it runs, then quit with q: the shell's screen comes
// back as it was, without console rows on it. tmux (from 3.2, issue #3510) re-wraps the
// alternate screen to the size it was entered at when leaving it after a resize: rows wider
// than that spilled onto the main screen until the console blanked the alternate screen before
// leaving it (terminal/diff-terminal.ts). No agent needs to answer: every frame draws its pane
// borders across the whole width, which is what spilled.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { consoleCommand, HAS_TMUX, host, tempDir, Tmux, writeFleet } from '../fault/helpers.js';

const tmp = tempDir('resize-exit');
const tmuxes: Tmux[] = [];
after(() => {
  for (const t of tmuxes) t.kill();
  tmp.remove();
});
const HOSTS = { mainpc: host(91), pc2: host(92) };
const MARK = 'SHELL-BEFORE-THE-CONSOLE';

/** A frame drawn at w x h: the tab bar on row 1, a pane border across the whole width. */
const frameAt = (text: string, w: number, h: number): boolean => {
  const lines = text.split('\n');
  while (lines.length > h && lines.at(-1) === '') lines.pop();
  return (
    lines.length === h &&
    lines[0]!.startsWith('opsdeck ') &&
    lines.some((l) => [...l].length === w && /^[╭╰│]/.test(l) && /[╮╯│]$/.test(l))
  );
};

async function resizedThenQuit(tag: string, sizes: Array<[number, number]>): Promise<string> {
  const dir = join(tmp.dir, tag);
  mkdirSync(dir);
  const { files } = writeFleet(dir, { ...HOSTS, agents: { Alpha: [17931, 18931] } });
  const tmux = new Tmux(`resize-${tag}`);
  tmuxes.push(tmux);
  const command = consoleCommand([
    'console',
    '--mainpc',
    files.mainpc,
    '--pc2',
    files.pc2,
    '--interval',
    '500ms',
  ]);
  tmux.run(
    'new-session',
    '-d',
    '-s',
    'ops',
    '-x',
    '120',
    '-y',
    '40',
    '-e',
    `OPSDECK_CONFIG_DIR=${dir}`,
    '-e',
    `OPSDECK_AUDIT=${join(dir, 'audit.jsonl')}`,
    '-e',
    'TERM=xterm-256color',
    `clear; echo ${MARK}; ${command}`,
  );
  await tmux.until('the console at 120x40', (t) => frameAt(t, 120, 40), 30_000);
  for (const [w, h] of sizes) {
    tmux.run('resize-window', '-t', 'ops', '-x', String(w), '-y', String(h));
    await tmux.until(`the console redrawn at ${w}x${h}`, (t) => frameAt(t, w, h), 20_000);
  }
  tmux.keys('q');
  const text = await tmux.until('the shell again', (t) => t.includes('TTY='), 20_000);
  assert.equal(tmux.display('#{alternate_on}'), '0', 'the alternate screen was left');
  return text;
}

/** The shell's screen: the mark first, then the exit lines, and nothing of the console. */
function assertShellOnly(text: string): void {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines[0], MARK, `the shell's first line first; the screen was:\n${text}`);
  assert.match(text, /EXIT=0/);
  const consoleRows = lines.filter((l) => /[│╭╮╰╯─]|MAINPC|opsdeck +1 Fleet/.test(l));
  assert.deepEqual(consoleRows, [], `console rows on the main screen:\n${text}`);
}

describe(
  'resized while it runs, then q: the main screen without console rows (tmux)',
  {
    skip: HAS_TMUX ? false : 'tmux not installed (scripts/install-system-deps.sh installs it)',
  },
  () => {
    test('120x40 to 200x60', async () => {
      assertShellOnly(await resizedThenQuit('grow', [[200, 60]]));
    });

    // Ending smaller than it started left no rows even before the fix: checked all the same.
    test('120x40 to 200x60, then smaller: 80x24', async () => {
      assertShellOnly(
        await resizedThenQuit('shrink', [
          [200, 60],
          [80, 24],
        ]),
      );
    });

    test('several resizes in a row, both ways', async () => {
      assertShellOnly(
        await resizedThenQuit('several', [
          [150, 50],
          [200, 60],
          [90, 30],
          [200, 60],
          [160, 45],
        ]),
      );
    });
  },
);
