// Regenerates the README's screen captures from the real binary: `opsdeck demo` in tmux (the
// simulated fleet, 49 + 23 agents), captured as text at 120x40 (Fleet, an action's preview) and
// 80x24 (Fleet), then written between the README's <!-- screen:NAME:start/end --> markers.
// Run after `npm run build`: node scripts/readme-screens.mjs (needs tmux and nats-server).
// Clock readings and ages vary between runs; everything else is what the console draws.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/opsdeck.js');
const socket = `opsdeck-readme-${process.pid}`;
const config = mkdtempSync(join(tmpdir(), 'opsdeck-readme-'));
const tmux = (...args) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', 'demo').replace(/\s+$/, '');
const keys = (...k) => tmux('send-keys', '-t', 'demo', ...k);

async function until(what, ok, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const text = screen();
    if (ok(text)) return text;
    await sleep(200);
  }
  throw new Error(`readme-screens: timed out waiting for ${what}:\n${screen()}`);
}

const shots = {};
try {
  tmux(
    'new-session',
    '-d',
    '-s',
    'demo',
    '-x',
    '120',
    '-y',
    '40',
    '-e',
    `OPSDECK_CONFIG_DIR=${config}`,
    '-e',
    'NO_COLOR=1',
    `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} demo --no-mouse; sleep 5`,
  );
  // Probed, and a few errors in: what an operator sees after a short while.
  await until(
    'a probed fleet',
    (t) => /MAINPC .*49 agents \d+ ok/.test(t) && !/· \.\.\.\./.test(t),
  );
  await until('some errors', (t) => /ERRORS +in ([5-9]|\d\d)/.test(t));
  shots['fleet-120x40'] = screen();
  keys(':');
  keys('-l', 'throttle level 1');
  keys('Enter');
  shots['action-120x40'] = await until('the preview', (t) =>
    /Run "Set pc2 throttle to level 1/.test(t),
  );
  keys('n');
  await sleep(300);
  keys('Escape');
  keys('1');
  tmux('resize-window', '-t', 'demo', '-x', '80', '-y', '24');
  await sleep(1500);
  shots['fleet-80x24'] = await until('80 columns', (t) => /q quit$/.test(t));
  keys('q');
} finally {
  try {
    tmux('kill-server');
  } catch {
    /* gone */
  }
  rmSync(config, { recursive: true, force: true });
}

const file = join(root, 'README.md');
let text = readFileSync(file, 'utf8');
for (const [name, shot] of Object.entries(shots)) {
  const re = new RegExp(
    `(<!-- screen:${name}:start -->\\n)[\\s\\S]*?(<!-- screen:${name}:end -->)`,
  );
  if (!re.test(text)) throw new Error(`README has no <!-- screen:${name}:start --> marker`);
  text = text.replace(re, (_m, a, b) => `${a}\`\`\`text\n${shot}\n\`\`\`\n${b}`);
}
writeFileSync(file, text);
console.log(`README screens rewritten: ${Object.keys(shots).join(', ')}`);
