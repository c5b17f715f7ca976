// `opsdeck sim`: run the simulated two-machine fleet until SIGINT / SIGTERM / SIGHUP (or --duration).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNatsServer, NATS_INSTALL_HINT } from '../adapters/nats-server.js';
import { loadFleet } from '../adapters/fleet-files.js';
import { formatDiagnostic } from '../core/fleet/model.js';
import { parseControl, type ControlRequest } from '../sim/control.js';
import { readOverrides, type SimOverrides } from '../sim/overrides.js';
import { SimInputError, startSim, type NatsMode } from '../sim/sim.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { addAuthOptions, loadAuth, type AuthArgs } from './auth-options.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg, intArg, numberArg } from './options.js';
import { registerSimCtl } from './sim-ctl.js';
import { formatDuration } from '../core/duration.js';
import { METRICS_MODES, type MetricsMode } from '../core/health/replies.js';
import type { Machine } from '../core/fleet/model.js';
import { readSampleSigner, type SampleSigner } from '../adapters/sample-sign.js';

/** The repository root (this file is source/commands/sim.ts or dist/commands/sim.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The default fleet: the real configs beside the repo when present, else the shipped examples. */
export function defaultFleetFiles(root = REPO_ROOT): {
  files: Record<string, string>;
  overrides: string;
  label: string;
} {
  const real = resolve(root, '../shared/fixtures/real');
  const overrides = join(root, 'examples/sim-overrides.yaml');
  if (
    existsSync(join(real, 'mainpc.startup_config.yaml')) &&
    existsSync(join(real, 'pc2.startup_config.yaml'))
  ) {
    return {
      files: {
        mainpc: join(real, 'mainpc.startup_config.yaml'),
        pc2: join(real, 'pc2.startup_config.yaml'),
      },
      overrides,
      label: `real configs in ${real}`,
    };
  }
  return {
    files: {
      mainpc: join(root, 'examples/mainpc.agent_groups.yaml'),
      pc2: join(root, 'examples/pc2.pc2_services.yaml'),
    },
    overrides,
    label: `example configs in ${join(root, 'examples')}`,
  };
}

interface SimArgs extends FleetArgs, AuthArgs {
  overrides?: string | false;
  nats?: string | false;
  controlPort: number;
  hosts?: string;
  errorRate?: number;
  seed?: number;
  /** Milliseconds. */
  duration?: number;
  kill: string[];
  slow: string[];
  degraded: string[];
  flood: string[];
  malformed: string[];
  vramSpike?: number;
  busOff: string[];
  /** Milliseconds. */
  readyTtl?: number;
  metrics?: string;
  wiring?: string;
  bridge?: boolean;
  agentHealth?: boolean;
  agentMetrics?: number;
  sampleKeys?: string;
  watchParent?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `--sample-keys DIR`: a signer per machine whose key file is there. */
function signers(io: Io, dir: string, machines: readonly Machine[]): Record<string, SampleSigner> {
  const out: Record<string, SampleSigner> = {};
  for (const m of machines) {
    const file = resolve(io.cwd, dir, `${m.id}.jwk`);
    try {
      out[m.id] = readSampleSigner(file, m.id);
    } catch (error) {
      bad(io, `--sample-keys: ${(error as Error).message}`);
    }
  }
  return out;
}

function bad(io: Io, message: string): never {
  io.err(`opsdeck sim: ${message}`);
  throw new Exit(EXIT.badInput);
}

function number(
  io: Io,
  flag: string,
  text: string | undefined,
  { integer = false, min = 0 } = {},
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    bad(io, `${flag} ${text}: expected ${integer ? 'an integer' : 'a number'} >= ${min}`);
  return n;
}

function pair(io: Io, flag: string, text: string): [string, string] {
  const eq = text.lastIndexOf('=');
  if (eq <= 0 || eq === text.length - 1)
    bad(io, `${flag} ${text}: expected AGENT=VALUE (AGENT may be machine/Name)`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** The fault flags as control requests, checked before anything starts. */
export function faultFlags(args: SimArgs, io: Io): ControlRequest[] {
  const raw: unknown[] = [
    ...args.kill.map((agent) => ({ fault: 'kill', agent })),
    ...args.slow.map((t) => {
      const [agent, ms] = pair(io, '--slow', t);
      return { fault: 'slow', agent, ms: number(io, '--slow', ms) };
    }),
    ...args.degraded.map((agent) => ({ fault: 'degraded', agent })),
    ...args.flood.map((t) => {
      const [agent, rate] = pair(io, '--flood', t);
      return { fault: 'flood', agent, rate: number(io, '--flood', rate) };
    }),
    ...args.malformed.map((t) => {
      const [agent, kind] = pair(io, '--malformed', t);
      return { fault: 'malformed', agent, kind };
    }),
    ...(args.vramSpike !== undefined ? [{ fault: 'vram-spike', mb: args.vramSpike }] : []),
    ...args.busOff.map((bus) => ({ fault: 'bus-off', bus })),
  ];
  return raw.map((r) => {
    const parsed = parseControl(r);
    if (!parsed.ok) bad(io, parsed.error);
    return parsed.request;
  });
}

function parseHosts(io: Io, text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const hosts: Record<string, string> = {};
  for (const part of text.split(',')) {
    const [id, host] = part.split('=');
    if (!id || !host) bad(io, `--hosts ${text}: expected machine=127.x.y.z,...`);
    hosts[id.trim()] = host.trim();
  }
  return hosts;
}

/** Where the fleet and its NATS come from, its pace, its address, how long it runs. */
const addRunOptions = (cmd: Command): Command =>
  cmd
    .option(
      '--overrides <file>',
      'sim overrides YAML (protocol, VRAM, behaviour per agent; default examples/sim-overrides.yaml with the default fleet)',
    )
    .option('--no-overrides', 'use no overrides file')
    .option(
      '--nats <url>',
      'NATS server to use (default: start a private nats-server if one is installed)',
    )
    .option('--no-nats', 'run the ZMQ side only')
    .addOption(
      checkedOption(
        '--control-port <n>',
        'ZMQ REP control socket on 127.0.0.1 (0: a free port)',
        intArg(0, 65535, 'a port'),
        '7999',
      ),
    )
    .option('--hosts <list>', 'loopback address per machine, e.g. mainpc=127.0.0.1,pc2=127.0.0.2')
    .addOption(
      checkedOption(
        '--error-rate <n>',
        'background errors per second per machine (default 0.5)',
        numberArg(0, Number.MAX_SAFE_INTEGER),
      ),
    )
    .addOption(checkedOption('--seed <n>', 'seed for every random choice (default 1)', intArg(0)))
    .addOption(
      checkedOption(
        '--duration <duration>',
        'stop after this long (default: run until Ctrl+C / SIGTERM)',
        durationArg(),
      ),
    );

/** Faults at start (the control socket takes more later) and BaseAgent's upstream quirks. */
const addFaultOptions = (cmd: Command): Command =>
  cmd
    .option(
      '--kill <agent>',
      'start with this agent down (repeatable; agent or machine/agent)',
      collect,
      [],
    )
    .option('--slow <agent=ms>', 'the agent replies after ms (repeatable)', collect, [])
    .option('--degraded <agent>', 'the agent reports degraded (repeatable)', collect, [])
    .option('--flood <agent=rate>', 'the agent publishes rate errors/s (repeatable)', collect, [])
    .option(
      '--malformed <agent=kind>',
      'the agent sends one malformed frame right after start: bad-json|oversize|binary|escape (repeatable)',
      collect,
      [],
    )
    .addOption(
      checkedOption(
        '--vram-spike <mb>',
        'extra VRAM in use on PC2',
        numberArg(0, Number.MAX_SAFE_INTEGER, 'megabytes'),
      ),
    )
    .option('--bus-off <bus>', 'publish nothing on zmq or nats (repeatable)', collect, [])
    .addOption(
      checkedOption(
        '--ready-ttl <duration>',
        "how long BaseAgent's Redis ready key lives before every BaseAgent reports degraded (upstream: 300s, never refreshed; 0: never expires)",
        durationArg(),
      ),
    )
    .option(
      '--metrics <mode>',
      "what BaseAgent's /metrics answers: upstream (200 with an HTTP 500 page, its real bug), off (503, as ENABLE_PROMETHEUS_METRICS=false), fixed (Prometheus text)",
    );

/** What each machine's opsdeck agent also does, and how the sim is wired and watched. */
const addAgentOptions = (cmd: Command): Command =>
  cmd
    .option('--bridge', "each machine's opsdeck agent also runs --bridge, as deployed (needs NATS)")
    .option(
      '--agent-health',
      "each machine's opsdeck agent also probes its own agents and publishes opsdeck.<machine>.health, as `opsdeck agent --health` (for `console --health-from agents`; needs NATS)",
    )
    .addOption(
      checkedOption(
        '--agent-metrics <port>',
        "... and serves /metrics on its machine's address at this port, as `opsdeck agent --metrics` (implies --agent-health)",
        intArg(1, 65535, 'a port'),
      ),
    )
    .option(
      '--watch-parent',
      'stop when stdin closes: the process that started it is gone, however it died (opsdeck demo)',
    )
    .option(
      '--sample-keys <dir>',
      "sign each machine's resources samples with <dir>/<machine>.jwk, as opsdeck agent --sample-key does",
    )
    .option(
      '--wiring <mode>',
      "how ZMQ error frames travel: upstream (each agent's own sockets, the default) or collector (one PUB per machine on the bus port, a fleet upstream does not have)",
    );

export function registerSim(program: Command, io: Io): Command {
  const command = program
    .command('sim')
    .description(
      'run a simulated MainPC + PC2 fleet on loopback that speaks the real health and error-bus protocols ' +
        '(default fleet: ../shared/fixtures/real beside the repo if present, else examples/; faults later over ' +
        'the control socket or NATS opsdeck.sim.control)',
    );
  const sim = addAuthOptions(
    addFleetOptions(addAgentOptions(addFaultOptions(addRunOptions(command)))),
  ).action((args: SimArgs) => runSim(args, io));
  registerSimCtl(sim, io);
  return sim;
}

/** --metrics and --wiring name one of a few modes. */
function checkModes(args: SimArgs, io: Io): void {
  if (args.metrics !== undefined && !(METRICS_MODES as readonly string[]).includes(args.metrics))
    bad(io, `--metrics ${args.metrics}: expected one of ${METRICS_MODES.join(', ')}`);
  if (args.wiring !== undefined && args.wiring !== 'upstream' && args.wiring !== 'collector')
    bad(io, `--wiring ${args.wiring}: expected upstream or collector`);
}

/** The fleet: named files, an upstream checkout, or the default; and its overrides file. */
function simFleet(args: SimArgs, io: Io): { machines: Machine[]; overrides?: SimOverrides } {
  const named = Boolean(args.mainpc || args.pc2 || args.root);
  const fallback = defaultFleetFiles();
  let machines;
  if (named) machines = loadFleetArgs(args, io, { quiet: true }).machines;
  else {
    const fleet = loadFleet(fallback.files, io.env);
    for (const d of fleet.diagnostics) if (d.severity === 'error') io.err(formatDiagnostic(d));
    if (!fleet.ok) bad(io, `the default fleet (${fallback.label}) has errors (above)`);
    machines = fleet.machines;
    io.out(`fleet: ${fallback.label}`);
  }
  const overridesFile =
    args.overrides === false
      ? undefined
      : args.overrides
        ? isAbsolute(args.overrides)
          ? args.overrides
          : resolve(io.cwd, args.overrides)
        : named
          ? undefined
          : fallback.overrides;
  if (!overridesFile) return { machines };
  const read = readOverrides(overridesFile);
  if (!read.ok) {
    for (const p of read.problems) io.err(p);
    bad(io, `the overrides file has problems (above); nothing was started`);
  }
  return { machines, overrides: read.overrides };
}

/** --no-nats, --nats URL (loopback only), or a private nats-server when one is installed. */
function natsModeOf(args: SimArgs, io: Io): NatsMode {
  if (args.nats === false) return { mode: 'off', why: '--no-nats' };
  if (typeof args.nats === 'string') {
    if (
      !/^(nats|tls):\/\/127\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?$|^(nats|tls):\/\/localhost(:\d+)?$/.test(
        args.nats,
      )
    )
      bad(
        io,
        `--nats ${args.nats}: expected nats://127.x.y.z:PORT (the simulator stays on loopback)`,
      );
    return { mode: 'url', url: args.nats };
  }
  const bin = findNatsServer(io.env);
  return bin
    ? { mode: 'own', bin, preferPort: 4222 }
    : { mode: 'off', why: `nats-server not found; the NATS side is off (${NATS_INSTALL_HINT})` };
}

/** startSim's options from the flags (each optional one only when given). */
function simOptions(
  args: SimArgs,
  io: Io,
  fleet: { machines: Machine[]; overrides?: SimOverrides },
  nats: NatsMode,
  auth: ReturnType<typeof loadAuth>,
): Parameters<typeof startSim>[0] {
  const { controlPort, errorRate, seed, agentMetrics } = args;
  const hosts = parseHosts(io, args.hosts);
  return {
    machines: fleet.machines,
    ...(fleet.overrides ? { overrides: fleet.overrides } : {}),
    ...(hosts ? { hosts } : {}),
    nats,
    controlPort,
    ...(errorRate !== undefined ? { errorRate } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(auth ? { tokenVerifier: auth.verify } : {}),
    ...(args.metrics !== undefined
      ? { metrics: args.metrics as MetricsMode }
      : io.env.ENABLE_PROMETHEUS_METRICS?.toLowerCase() === 'false'
        ? { metrics: 'off' as const }
        : {}),
    ...(args.readyTtl !== undefined ? { readyTtlMs: args.readyTtl } : {}),
    ...(args.wiring === 'upstream' || args.wiring === 'collector' ? { wiring: args.wiring } : {}),
    ...(args.bridge ? { bridges: true } : {}),
    ...(args.agentHealth ? { agentHealth: true } : {}),
    ...(agentMetrics !== undefined ? { agentMetricsPort: agentMetrics } : {}),
    ...(args.sampleKeys ? { sampleSigners: signers(io, args.sampleKeys, fleet.machines) } : {}),
    log: (line) => io.out(line),
  };
}

// One shutdown path: SIGINT, SIGTERM, SIGHUP (the terminal or SSH session went away: the
// whole process group gets it, and nats-server takes SIGHUP as "reload" and would outlive
// us) and --duration all end here. The handlers stay until the sim has stopped: a second
// signal (the demo's SIGTERM right after a hang-up) must not kill it halfway.
async function untilStopped(args: SimArgs): Promise<{ reason: string; unhook: () => void }> {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let unhook = () => undefined as void;
  const reason = await new Promise<string>((resolveStop) => {
    const onSignal = (signal: NodeJS.Signals) => resolveStop(signal);
    for (const signal of signals) process.on(signal, onSignal);
    // The parent holds the other end of stdin: the kernel closes it when the parent dies, even
    // by kill -9, which no signal handler of the parent's can see.
    const onParentGone = () => resolveStop('its parent is gone: stdin closed');
    if (args.watchParent) {
      process.stdin.once('end', onParentGone).once('error', onParentGone).resume();
    }
    const timer =
      args.duration !== undefined
        ? setTimeout(
            () => resolveStop(`--duration ${formatDuration(args.duration!)}`),
            args.duration,
          )
        : undefined;
    unhook = () => {
      for (const signal of signals) process.off(signal, onSignal);
      if (timer) clearTimeout(timer);
      if (args.watchParent) process.stdin.off('end', onParentGone).pause();
    };
  });
  return { reason, unhook };
}

async function runSim(args: SimArgs, io: Io): Promise<void> {
  const faults = faultFlags(args, io);
  const auth = loadAuth(args, io, 'opsdeck sim');
  checkModes(args, io);
  const fleet = simFleet(args, io);
  const nats = natsModeOf(args, io);
  if (nats.mode === 'off' && (args.agentHealth || args.agentMetrics !== undefined))
    bad(
      io,
      `--agent-health and --agent-metrics run in the machines' opsdeck agents, which need NATS (${nats.why})`,
    );
  let sim;
  try {
    sim = await startSim(simOptions(args, io, fleet, nats, auth));
  } catch (error) {
    if (error instanceof SimInputError) bad(io, error.message);
    throw error;
  }
  for (const line of sim.summaryLines()) io.out(line);
  for (const f of faults) {
    const reply = await sim.control(f, true);
    const what = `${f.fault}${f.agent ? ` ${f.agent}` : ''}`;
    if (!reply.ok) {
      await sim.stop();
      bad(io, `${what}: ${reply.error}; stopped, every port released`);
    }
    io.out(`fault: ${what} applied`);
  }
  const { reason, unhook } = await untilStopped(args);
  await sim.stop();
  unhook();
  io.out(
    `stopped (${reason}): every socket closed${nats.mode === 'own' ? ', own nats-server stopped, its store removed' : ''}`,
  );
}
