// `opsdeck` / `opsdeck console`: the full-screen console on the fleet it finds.
// `opsdeck demo`: starts `opsdeck sim` as a child process and the console on it; quitting the
// console stops the sim (and the nats-server the sim started).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadFleet } from '../adapters/fleet-files.js';
import { parseCacheFor } from '../adapters/parse-cache.js';
import { formatDiagnostic } from '../core/fleet/model.js';
import { SCREENS, type Screen } from '../core/ui/keymap.js';
import { natsServers } from '../wiring/data-plane.js';
import { consoleActions } from '../actions/catalog.js';
import { noTtyMessage, runConsole } from '../console.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg } from './options.js';
import { healthFromOption } from './health-from.js';
import { newSampleKey } from '../adapters/sample-sign.js';
import { writePublic, writeSecret } from '../adapters/secret-files.js';

interface ConsoleArgs extends FleetArgs {
  nats?: string;
  healthFrom?: string;
  interval?: number;
  screen?: string;
  /** false with --no-mouse. */
  mouse: boolean;
}

const INTERVAL = durationArg({ minMs: 200 });

const screenOf = (value: string | undefined, io: Io): Screen | undefined => {
  if (value === undefined) return undefined;
  if (!(SCREENS as readonly string[]).includes(value)) {
    io.err(`opsdeck: --screen must be one of ${SCREENS.join(', ')}; got "${value}"`);
    throw new Exit(EXIT.badInput);
  }
  return value as Screen;
};

async function consoleAction(opts: ConsoleArgs, io: Io): Promise<void> {
  // No TTY is a mode, not a crash: say what to use instead, before touching anything.
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    io.err(noTtyMessage());
    throw new Exit(EXIT.badInput);
  }
  // Start-up: the parse of an unchanged config comes from its snapshot (adapters/parse-cache.ts).
  const fleet = loadFleetArgs(opts, io, { quiet: true, cache: parseCacheFor(io.env) });
  const nats = natsServers(opts.nats, io.env);
  const intervalMs = opts.interval;
  const screen = screenOf(opts.screen, io);
  const healthFrom = healthFromOption(opts.healthFrom, nats, io, 'opsdeck');
  const code = await runConsole({
    machines: fleet.machines,
    env: io.env,
    healthFrom,
    ...(nats ? { nats } : {}),
    ...(intervalMs ? { intervalMs } : {}),
    ...(screen ? { screen } : {}),
    mouse: opts.mouse,
    actions: (plane, hooks) =>
      consoleActions({
        machines: fleet.machines,
        env: io.env,
        plane,
        ...hooks,
        ...(nats ? { nats } : {}),
      }),
  });
  if (code !== 0) throw new Exit(code);
}

export function registerConsole(program: Command, io: Io): void {
  const options = (cmd: Command) =>
    addFleetOptions(cmd)
      .option(
        '--nats <servers>',
        'NATS servers (default: $NATS_SERVERS or $NATS_URL; none: the NATS side is off)',
      )
      .addOption(
        checkedOption(
          '--interval <duration>',
          'health probe interval, e.g. 2s (default: the saved preference, else 2s)',
          INTERVAL,
        ),
      )
      .option('--screen <name>', `start on a screen: ${SCREENS.join(', ')}`)
      .option(
        '--no-mouse',
        'leave the mouse to the terminal (text selection without Shift); by default the wheel and clicks move the selection',
      )
      .option(
        '--health-from <source>',
        "direct (default): probe every agent from here; agents: take each machine's results from its opsdeck agent (--health) over NATS",
      );
  options(
    program
      .command('console', { isDefault: true })
      .description('the full-screen console over both machines (the default command)'),
  ).action((opts: ConsoleArgs) => consoleAction(opts, io));

  program
    .command('demo')
    .description(
      'start the simulated two-machine fleet (opsdeck sim) and the console on it; quitting stops both',
    )
    .addOption(checkedOption('--interval <duration>', 'health probe interval', INTERVAL, '2s'))
    .option('--no-mouse', 'leave the mouse to the terminal')
    .option(
      '--hosts <list>',
      'loopback address per machine, for the simulator and the console',
      'mainpc=127.0.0.1,pc2=127.0.0.2',
    )
    .action(async (opts: { interval: number; hosts: string; mouse: boolean }) => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        io.err(noTtyMessage());
        throw new Exit(EXIT.badInput);
      }
      // Imported here: the simulator's modules are not the console's (start-up, issue 7).
      const { defaultFleetFiles } = await import('./sim.js');
      const fleetFiles = defaultFleetFiles();
      const { overrides, label } = fleetFiles;
      // The demo's secrets and audit trail live in its own temp folder, never beside the fixtures.
      const logDir = mkdtempSync(join(tmpdir(), 'opsdeck-demo-'));
      const hosts = demoHosts(opts.hosts, io);
      // The simulated machines sign their samples as real agents do (keys of the demo's own,
      // beside its secrets so that certs generate from the Actions screen finds the folder free).
      const sampleKeys = demoSampleKeys(join(logDir, 'sample-keys'), Object.keys(fleetFiles.files));
      const env = {
        ...io.env,
        MAINPC_IP: hosts.mainpc,
        PC2_IP: hosts.pc2,
        OPSDECK_SECRETS: io.env.OPSDECK_SECRETS ?? join(logDir, 'secrets'),
        // Its audit trail with its log: a demo's actions are not the fleet's history.
        OPSDECK_AUDIT: io.env.OPSDECK_AUDIT ?? join(logDir, 'audit.jsonl'),
        OPSDECK_SAMPLE_KEYS: sampleKeys.file,
      };
      // The demo works on copies: migrating a config from its Actions screen must not rewrite the
      // shipped examples or the shared fixtures.
      const files = Object.fromEntries(
        Object.entries(fleetFiles.files).map(([machine, file]) => {
          const copy = join(logDir, `${machine}.${basename(file)}`);
          copyFileSync(file, copy);
          return [machine, copy];
        }),
      );
      const fleet = loadFleet(files, env);
      if (!fleet.ok) {
        for (const d of fleet.diagnostics) io.err(formatDiagnostic(d));
        throw new Exit(EXIT.badInput);
      }
      const log = join(logDir, 'sim.log');
      io.err(`opsdeck demo: starting the simulated fleet (${label}); its log: ${log}`);
      const sim = await startSimChild(
        [
          '--overrides',
          overrides,
          '--mainpc',
          files.mainpc!,
          '--pc2',
          files.pc2!,
          '--control-port',
          '0',
          '--hosts',
          `mainpc=${hosts.mainpc},pc2=${hosts.pc2}`,
          // opsdeck as deployed: each machine's agent carries its ZMQ error bus into NATS.
          '--bridge',
          '--sample-keys',
          sampleKeys.dir,
          '--watch-parent',
        ],
        log,
      );
      if (!sim.ok) {
        io.err(`opsdeck demo: the simulator did not start: ${sim.reason}`);
        throw new Exit(EXIT.badInput);
      }
      const code = await runConsole({
        machines: fleet.machines,
        env,
        intervalMs: opts.interval,
        mouse: opts.mouse,
        ...(sim.nats ? { nats: sim.nats } : {}),
        actions: (plane, hooks) =>
          consoleActions({
            machines: fleet.machines,
            env,
            plane,
            ...hooks,
            ...(sim.nats ? { nats: sim.nats } : {}),
          }),
        onClosed: () => stopChild(sim.child),
      });
      // Keys the demo generated are not left behind in /tmp; its log and audit trail are.
      if (!io.env.OPSDECK_SECRETS) rmSync(env.OPSDECK_SECRETS, { recursive: true, force: true });
      rmSync(sampleKeys.dir, { recursive: true, force: true });
      io.err(
        `opsdeck demo: stopped the console and the simulator${sim.nats ? '' : ' (it ran without NATS: install nats-server for the NATS side)'}; its log and audit trail stay in ${logDir}, its generated secrets are removed`,
      );
      if (code !== 0) throw new Exit(code);
    });
}

/** A sample key per machine (0600) and their public keys, as `opsdeck certs generate` writes them. */
function demoSampleKeys(dir: string, machines: readonly string[]): { dir: string; file: string } {
  const made = machines.map((m) => ({ m, ...newSampleKey(m) }));
  for (const { m, key } of made) writeSecret(join(dir, `${m}.jwk`), JSON.stringify(key));
  const file = join(dir, 'keys.json');
  writePublic(file, JSON.stringify({ keys: made.map((k) => k.public) }));
  return { dir, file };
}

/** `mainpc=127.0.0.1,pc2=127.0.0.2`: both machines, loopback only (the sim checks the rest). */
function demoHosts(list: string, io: Io): { mainpc: string; pc2: string } {
  const hosts: Record<string, string | undefined> = Object.fromEntries(
    list.split(',').map((part): [string, string] => {
      const [name = '', host = ''] = part.split('=').map((s) => s.trim());
      return [name, host];
    }),
  );
  const loopback = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
  if (!loopback.test(hosts.mainpc ?? '') || !loopback.test(hosts.pc2 ?? '')) {
    io.err(`opsdeck demo: --hosts ${list}: expected mainpc=127.x.y.z,pc2=127.x.y.z`);
    throw new Exit(EXIT.badInput);
  }
  return { mainpc: hosts.mainpc!, pc2: hosts.pc2! };
}

const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));

type SimChild = { ok: true; child: ChildProcess; nats?: string } | { ok: false; reason: string };

/** Starts `opsdeck sim` with its output in a log file; resolves when it reports ready. */
function startSimChild(args: string[], log: string): Promise<SimChild> {
  const fd = openSync(log, 'a');
  // stdin a pipe from us (--watch-parent): it closes when we die, however we die, and the sim
  // then stops itself and its nats-server. A signal handler here could not do it for kill -9.
  const child = spawn(process.execPath, [BIN, 'sim', ...args], { stdio: ['pipe', fd, fd] });
  closeSync(fd);
  return new Promise((resolve) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const text = readFileSync(log, 'utf8');
      const control = /^control: /m.test(text);
      if (control) {
        clearInterval(poll);
        const nats = /^nats: (nats:\/\/\S+)/m.exec(text)?.[1];
        resolve({ ok: true, child, ...(nats ? { nats } : {}) });
      } else if (child.exitCode !== null || Date.now() - started > 20_000) {
        clearInterval(poll);
        child.kill('SIGTERM');
        resolve({
          ok: false,
          reason: text.trim().split('\n').slice(-3).join(' | ') || `exit code ${child.exitCode}`,
        });
      }
    }, 50);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
