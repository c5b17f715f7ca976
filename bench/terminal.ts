// Figure: terminal bytes. What `opsdeck demo` (the simulator's default fleet, 49 + 23 agents,
// 2 s probes, its background errors, the console on it) writes to a 200x60 terminal per second,
// beside what htop (2 s refresh) writes to another 200x60 terminal over the same window. Over SSH
// these bytes are the link's load: the target is opsdeck <= htop.
import { spawnSync } from 'node:child_process';
import { procCpuMs, ROOT, round, sleep } from './lib/harness.js';
import { BIN, inPty, noPty, terminalEnv, type Pty } from './lib/pty.js';
import type { Figure, Row } from './lib/report.js';

const HOSTS = 'mainpc=127.0.81.13,pc2=127.0.81.14';
const SIZE = { cols: 200, rows: 60 };

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** htop, installed from Debian by scripts/install-system-deps.sh when it is missing. */
function htop(log: (line: string) => void): string | undefined {
  if (has('htop')) return undefined;
  log('  htop is missing: scripts/install-system-deps.sh');
  spawnSync('bash', [`${ROOT}scripts/install-system-deps.sh`], { stdio: 'inherit' });
  return has('htop')
    ? undefined
    : 'htop is not installed and could not be (apt-get install -y htop)';
}

async function quit(pty: Pty, key: string): Promise<void> {
  pty.write(key);
  await Promise.race([pty.exited, sleep(5000)]);
  await pty.kill();
}

export const terminal: Figure = {
  id: 'terminal',
  title: 'Terminal bytes',
  async run(ctx): Promise<Row[]> {
    const missing = noPty() ?? htop(ctx.log);
    const row = (notes: string[]): Row => ({
      id: 'terminal.bytes',
      figure: 'Terminal bytes/s (demo, 200x60)',
      unit: 'B/s',
      opsdeck: NaN,
      notes,
    });
    if (missing) return [row([`skipped: ${missing}`])];
    const windowMs = ctx.quick ? 6_000 : 60_000;
    const env = terminalEnv({
      OPSDECK_CONFIG_DIR: ctx.tmp,
      OPSDECK_AUDIT: `${ctx.tmp}/terminal-audit.jsonl`,
    });
    const demo = inPty([process.execPath, BIN, 'demo', '--hosts', HOSTS], env, SIZE);
    const top = inPty(['htop', '-d', '20'], env, SIZE);
    try {
      const pid = await demo.commandPid();
      await demo.until(/MAINPC/, 30_000);
      await demo.until(/PC2/, 10_000);
      // Every agent probed at least once, then a few refreshes to settle.
      await sleep(ctx.quick ? 3000 : 6000);
      const d0 = demo.bytes();
      const h0 = top.bytes();
      const c0 = procCpuMs(pid);
      const t0 = performance.now();
      await sleep(windowMs);
      const seconds = (performance.now() - t0) / 1000;
      const ours = (demo.bytes() - d0) / seconds;
      const theirs = (top.bytes() - h0) / seconds;
      const cpu = ((procCpuMs(pid) - c0) / (seconds * 1000)) * 100;
      ctx.log(
        `  opsdeck demo ${Math.round(ours).toLocaleString('en-US')} B/s, htop ${Math.round(theirs).toLocaleString('en-US')} B/s over ${seconds.toFixed(0)} s (console CPU ${cpu.toFixed(2)}% of a core)`,
      );
      return [
        {
          ...row([
            `\`opsdeck demo\` (the simulator's default fleet with the console on it) and \`htop -d 20\`, each in its own ${SIZE.cols}x${SIZE.rows} PTY (util-linux script), over the same ${seconds.toFixed(0)} s; bytes read from each PTY`,
            `the console's process used ${cpu.toFixed(2)}% of a core in the window (probing, both error buses, NATS and drawing)`,
          ]),
          opsdeck: round(ours, 0),
          baseline: round(theirs, 0),
          baselineIs: 'htop with a 2 s refresh (`htop -d 20`) at the same size, same window',
          ratio: round(ours / theirs, 2),
          ratioIs: 'opsdeck / htop; lower is better',
          target: '<= htop',
          met: ours <= theirs,
          details: { windowS: round(seconds, 1), consoleCpuPct: round(cpu, 2) },
        },
      ];
    } finally {
      await Promise.all([quit(demo, 'q'), quit(top, 'q')]);
    }
  },
};
