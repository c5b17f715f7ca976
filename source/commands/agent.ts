// `opsdeck agent --machine NAME`: the per-machine daemon (resources out, control in). Settings come
// from flags, OPSDECK_AGENT_* variables, a settings file and systemd credentials
// (agent-settings.ts); under systemd its lines go to the journal with their priority.
import type { Command } from 'commander';
import { daemonLog, isJournalStream } from '../adapters/journal.js';
import type { NatsConnection } from 'nats';
import { NatsLink, redact } from '../adapters/nats-link.js';
import { NO_JWKS, runAgent } from '../agent/agent.js';
import { authLabel, type ControlAuth } from '../core/resources/machine-control.js';
import { addAuthOptions, loadAuth, type AuthArgs } from './auth-options.js';
import { addBridgeOptions, prepareBridge, type BridgeArgs } from './agent-bridge.js';
import { natsServers } from '../wiring/data-plane.js';
import { VERSION } from '../version.js';
import {
  addSettingsOptions,
  applySettings,
  natsLogin,
  settingsOrigins,
  type LoginArgs,
} from './agent-settings.js';
import { EXIT, Exit, type Io } from './io.js';
import { parseDuration } from '../core/duration.js';
import { loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { discoverFleet } from '../adapters/fleet-files.js';
import { codeFacts } from '../core/fleet/upstream-code.js';
import type { Machine } from '../core/fleet/model.js';
import { startObserver, type Observer } from '../agent/observe.js';
import { parseListen } from '../agent/metrics-server.js';

/**
 * This machine's agents from the fleet config (named, or found in the current folder): their
 * processes are found by script path, and its ResourceManager is the agent whose code is
 * ResourceManager's. Without a config the daemon still samples resources, and says what it lacks.
 */
function localFleet(
  opts: FleetArgs,
  io: Io,
  machine: string,
): {
  agents: Array<{ name: string; scriptPath: string; machine: string }>;
  resourceManager?: string;
  note: string;
  fleet?: Machine[];
} {
  const named = Boolean(opts.mainpc || opts.pc2 || opts.root);
  if (!named && Object.keys(discoverFleet(io.cwd).files).length === 0)
    return {
      agents: [],
      note: 'no fleet config (--root, --mainpc, --pc2): agent processes and ResourceManager unknown',
    };
  const fleet = loadFleetArgs(opts, io, { quiet: true });
  const m = fleet.machines.find((x) => x.id === machine);
  if (!m)
    return {
      agents: [],
      fleet: fleet.machines,
      note: `the fleet config has no machine ${machine}: agent processes and ResourceManager unknown`,
    };
  const rm = m.agents.find((a) => codeFacts(a).jsonOnly);
  return {
    // The machine too: the log finder looks in its launcher's folder (main_pc_code/, pc2_code/).
    agents: m.agents.map((a) => ({ name: a.name, scriptPath: a.scriptPath, machine: m.id })),
    fleet: fleet.machines,
    ...(rm ? { resourceManager: `tcp://127.0.0.1:${rm.port.value}` } : {}),
    note: `${m.agents.length} agents in ${m.source.file}${rm ? `; ResourceManager tcp://127.0.0.1:${rm.port.value}` : '; no ResourceManager in it'}`,
  };
}
import { resolve } from 'node:path';
import { readSampleSigner, type SampleSigner } from '../adapters/sample-sign.js';
import { fileOrDockerFinder } from '../agent/logs.js';
import { realLifecycle } from '../adapters/agent-lifecycle.js';
import { readProcessTable } from '../adapters/proc-table.js';
import { DEFAULT_RATE } from '../core/logs/stream.js';
import { checkoutOf } from '../core/fleet/checkout.js';

export function registerAgent(program: Command, io: Io): void {
  const agentCommand = program
    .command('agent')
    .description(
      'run on each machine: publish its CPU/RAM/VRAM on opsdeck.<machine>.resources and answer opsdeck.<machine>.control',
    )
    .option('--machine <id>', 'this machine: mainpc, pc2, ... (required)')
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .option('--interval <duration>', 'sampling interval, e.g. 2s (at least 200ms)', '2s')
    .option(
      '--sample-key <file>',
      "this machine's sample key (samples/<machine>.jwk from opsdeck certs generate): signs every resources sample",
    )
    .option(
      '--resource-manager <endpoint>',
      "upstream's ResourceManager on this machine (default: the fleet config's ResourceManager on 127.0.0.1; e.g. tcp://127.0.0.1:7113)",
    )
    .option(
      '--health',
      "probe this machine's agents (the console's prober, from here) and publish the results on opsdeck.<machine>.health, for `opsdeck console --health-from agents`; needs the fleet config",
    )
    .option(
      '--log-rate <n>',
      `log lines per second each watcher of opsdeck.<machine>.logs gets at most; the rest are counted as skipped (default ${DEFAULT_RATE})`,
    )
    .option(
      '--metrics <addr:port>',
      'serve /metrics in the Prometheus text format there (e.g. 127.0.0.1:9470): every agent of this machine, its resources, errors, bridge, phase; implies --health',
    );
  addSettingsOptions(addAuthOptions(addBridgeOptions(agentCommand))).action(
    (_opts: unknown, cmd: Command) => runAgentCommand(cmd, io),
  );
}

type AgentOpts = {
  machine?: string;
  nats?: string;
  interval: string;
  resourceManager?: string;
  health?: boolean;
  metrics?: string;
  sampleKey?: string;
  logRate?: string;
  root?: string;
} & AuthArgs &
  BridgeArgs &
  LoginArgs;

/** Bad input: said (in the journal at priority err), exit 2. */
const refuse = (checkIo: Io, message: string): never => {
  checkIo.err(message);
  throw new Exit(EXIT.badInput);
};

/** Every option checked before anything connects; bad input exits 2. */
function checkAgentOpts(opts: AgentOpts, io: Io, checkIo: Io) {
  if (!opts.machine)
    refuse(
      checkIo,
      'opsdeck agent: which machine is this? pass --machine, set OPSDECK_AGENT_MACHINE or `machine:` in the --config file',
    );
  const machine = opts.machine!;
  const servers = natsServers(opts.nats, io.env);
  // Checked with the other settings (agent-settings.ts): here it is a valid duration.
  const interval = parseDuration(opts.interval, { minMs: 200 });
  const intervalMs = interval.ok ? interval.ms : 2000;
  if (!servers)
    refuse(
      checkIo,
      'opsdeck agent: no NATS server: pass --nats nats://host:4222 or set NATS_SERVERS',
    );
  const login = natsLogin(opts, checkIo, 'opsdeck agent');
  const jwks = loadAuth(opts, checkIo, 'opsdeck agent');
  const auth: ControlAuth = jwks ? { mode: 'verify', verify: jwks.verify } : NO_JWKS;
  if (opts.resourceManager && !/^tcp:\/\/[^:/]+:\d+$/.test(opts.resourceManager))
    refuse(
      checkIo,
      `opsdeck agent: --resource-manager ${opts.resourceManager}: expected tcp://HOST:PORT`,
    );
  let signer: SampleSigner | undefined;
  try {
    if (opts.sampleKey) signer = readSampleSigner(resolve(io.cwd, opts.sampleKey), machine);
  } catch (error) {
    refuse(checkIo, `opsdeck agent: --sample-key: ${(error as Error).message}`);
  }
  const bridgePlan = opts.bridge ? prepareBridge(opts, checkIo, machine) : undefined;
  // A bad value was refused with the settings (agent-settings.ts).
  const metricsAt = opts.metrics !== undefined ? parseListen(opts.metrics) : undefined;
  const local = localFleet(opts, checkIo, machine);
  const logRate = opts.logRate === undefined ? DEFAULT_RATE : Number(opts.logRate);
  if (!Number.isInteger(logRate) || logRate < 1 || logRate > 100_000)
    refuse(checkIo, `opsdeck agent: --log-rate ${opts.logRate}: expected an integer 1-100000`);
  // Logs and lifecycle read the upstream checkout: --root, else the folder the fleet came from.
  const mine = local.fleet?.find((m) => m.id === machine);
  const root = opts.root
    ? resolve(io.cwd, opts.root)
    : mine
      ? checkoutOf(mine.source.file)
      : undefined;
  const own = mine?.agents ?? [];
  const resourceManager = opts.resourceManager ?? local.resourceManager;
  const checked = {
    machine,
    servers: servers!,
    intervalMs,
    login,
    jwks,
    auth,
    signer,
    health: opts.health,
  };
  return { ...checked, bridgePlan, metricsAt, local, logRate, root, own, resourceManager };
}

type Checked = ReturnType<typeof checkAgentOpts>;

/** What the daemon runs with, in the log once at start. */
function logStart(log: ReturnType<typeof daemonLog>, c: Checked, origins: string): void {
  const { signer, auth, jwks, local, machine, logRate, root } = c;
  log(`opsdeck ${VERSION}; settings: ${origins || 'defaults'}`, 'notice');
  log(
    signer
      ? `resources samples signed (key ${signer.kid.slice(0, 8)})`
      : 'resources samples unsigned (no --sample-key): consoles show them as unverified and auto-throttle ignores them',
    signer ? 'notice' : 'warning',
  );
  log(
    `control ${authLabel(auth)}${jwks ? ` (${jwks.keys} key(s) from ${jwks.file})` : ''}`,
    jwks ? 'notice' : 'warning',
  );
  log(local.note, local.agents.length ? 'info' : 'notice');
  log(
    `logs on opsdeck.${machine}.logs (${logRate} lines/s per watcher) from ${root ? `${root}/logs` : 'no --root: containers only'}; agent_stop/agent_start/agent_restart ${authLabel(auth)}`,
    'info',
  );
}

/** Each change of the NATS link's state, once, in the log. */
function logLink(link: NatsLink, log: ReturnType<typeof daemonLog>): () => void {
  let lastState = '';
  return link.subscribe(() => {
    const s = link.getSnapshot();
    if (s.state !== lastState)
      log(
        `NATS ${s.state}${s.server ? ` (${s.server})` : ''}${s.error ? `: ${s.error}` : ''}`,
        s.state === 'connected' ? 'info' : s.error ? 'warning' : 'notice',
      );
    lastState = s.state;
  });
}

/**
 * "NATS connected" is the link, not the daemon: its subscriptions reach the server with the
 * next flush, and a request sent before that finds nobody. Once the server it is connected to
 * has them (the flush's PONG), the journal says so; scripts and tests wait for this line. Behind
 * a leafnode (PC2) the hub learns of them a moment later: the line names the server it means.
 */
async function logReady(
  nc: NatsConnection,
  machine: string,
  log: ReturnType<typeof daemonLog>,
): Promise<void> {
  try {
    await nc.flush();
    log(
      `ready: answering opsdeck.${machine}.control (subscribed on ${redact(nc.getServer())})`,
      'notice',
    );
  } catch (error) {
    log(
      `not ready: NATS did not confirm the subscriptions (${(error as Error).message})`,
      'warning',
    );
  }
}

async function runAgentCommand(cmd: Command, io: Io): Promise<void> {
  const startedAt = Date.now();
  const journal = isJournalStream(io.env);
  // Bad input is printed as before; in the journal it is stored at priority err.
  const plain = daemonLog(io.err, '', journal);
  const checkIo: Io = { ...io, err: (text) => plain(text, 'err') };
  const settings = applySettings(cmd, checkIo, 'opsdeck agent');
  const c = checkAgentOpts(cmd.opts<AgentOpts>(), io, checkIo);
  const { machine, intervalMs, metricsAt, local, root } = c;
  const log = daemonLog(io.err, `opsdeck agent ${machine}: `, journal);
  const lifecycle = realLifecycle({
    agents: c.own,
    ...(root ? { root } : {}),
    processes: () => readProcessTable((argv) => argv.some((a) => a.endsWith('.py'))),
  });
  logStart(log, c, settingsOrigins(settings));
  let observer: Observer | undefined;
  if (c.health || metricsAt)
    try {
      observer = await startObserver({
        machine,
        ...(local.fleet ? { fleet: local.fleet } : {}),
        health: c.health === true,
        ...(metricsAt ? { metrics: metricsAt } : {}),
        intervalMs,
        version: VERSION,
        startedAt,
        log,
      });
    } catch (error) {
      refuse(checkIo, `opsdeck agent: ${(error as Error).message}`);
    }
  const link = new NatsLink({ servers: c.servers, name: `opsdeck-agent-${machine}`, ...c.login });
  const unsubscribe = logLink(link, log);
  // A daemon lives until it is signalled, whatever else is pending: with NATS unreachable at
  // start, nothing held the process (the link's retry timer is unref'd, for the console), and it
  // ended at once with Node's code 13 for an unsettled top-level await.
  const alive = setInterval(() => {}, 2 ** 30);
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.once(signal, () => resolve(signal));
  });
  const nc = await Promise.race([link.connection(), stopped.then(() => undefined)]);
  const agent = nc
    ? runAgent(nc, {
        machine,
        intervalMs,
        auth: c.auth,
        ...(c.resourceManager ? { resourceManager: c.resourceManager } : {}),
        ...(c.signer ? { signer: c.signer } : {}),
        agents: local.agents,
        logs: fileOrDockerFinder(root, local.agents),
        logRate: c.logRate,
        lifecycle,
        log,
        version: VERSION,
        startedAt,
        ...(observer ? { exporter: observer.exporter } : {}),
      })
    : undefined;
  const bridge =
    nc && c.bridgePlan ? await c.bridgePlan.start(nc, log, observer?.onBridgeFrame) : undefined;
  if (nc) observer?.attach(nc, { ...(agent ? { agent } : {}), ...(bridge ? { bridge } : {}) });
  if (nc) void logReady(nc, machine, log);
  log(`stopping (${await stopped})`, 'notice');
  await observer?.stop();
  await bridge?.stop();
  await agent?.stop();
  unsubscribe();
  await link.close();
  clearInterval(alive);
  log('stopped', 'notice');
}
