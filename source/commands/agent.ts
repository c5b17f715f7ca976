// `opsdeck agent --machine NAME`: the per-machine daemon (resources out, control in).
import type { Command } from 'commander';
import { NatsLink } from '../adapters/nats-link.js';
import { NO_JWKS, runAgent } from '../agent/agent.js';
import { authLabel, type ControlAuth } from '../core/resources/machine-control.js';
import { addAuthOptions, loadAuth, type AuthArgs } from './auth-options.js';
import { addBridgeOptions, prepareBridge, type BridgeArgs } from './agent-bridge.js';
import { natsServers } from '../stores/data-plane.js';
import { EXIT, Exit, type Io } from './io.js';
import { loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { discoverFleet } from '../adapters/fleet-files.js';
import { codeFacts } from '../core/fleet/upstream-code.js';

/**
 * This machine's agents from the fleet config (named, or found in the current folder): their
 * processes are found by script path, and its ResourceManager is the agent whose code is
 * ResourceManager's. Without a config the daemon still samples resources, and says what it lacks.
 */
function localFleet(
  opts: FleetArgs,
  io: Io,
  machine: string,
): { agents: Array<{ name: string; scriptPath: string }>; resourceManager?: string; note: string } {
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
      note: `the fleet config has no machine ${machine}: agent processes and ResourceManager unknown`,
    };
  const rm = m.agents.find((a) => codeFacts(a).jsonOnly);
  return {
    agents: m.agents.map((a) => ({ name: a.name, scriptPath: a.scriptPath })),
    ...(rm ? { resourceManager: `tcp://127.0.0.1:${rm.port.value}` } : {}),
    note: `${m.agents.length} agents in ${m.source.file}${rm ? `; ResourceManager tcp://127.0.0.1:${rm.port.value}` : '; no ResourceManager in it'}`,
  };
}

export function registerAgent(program: Command, io: Io): void {
  const agentCommand = program
    .command('agent')
    .description(
      'run on each machine: publish its CPU/RAM/VRAM on opsdeck.<machine>.resources and answer opsdeck.<machine>.control',
    )
    .requiredOption('--machine <id>', 'this machine: mainpc, pc2, ...')
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .option('--interval <ms>', 'sampling interval in ms', '2000')
    .option(
      '--resource-manager <endpoint>',
      "upstream's ResourceManager on this machine (default: the fleet config's ResourceManager on 127.0.0.1; e.g. tcp://127.0.0.1:7113)",
    );
  // The bridge options carry the fleet options (--mainpc, --pc2, --root) for both uses.
  addAuthOptions(addBridgeOptions(agentCommand)).action(
    async (
      opts: {
        machine: string;
        nats?: string;
        interval: string;
        resourceManager?: string;
      } & AuthArgs &
        BridgeArgs &
        FleetArgs,
    ) => {
      const servers = natsServers(opts.nats, io.env);
      const intervalMs = Number(opts.interval);
      if (!servers) {
        io.err('opsdeck agent: no NATS server: pass --nats nats://host:4222 or set NATS_SERVERS');
        throw new Exit(EXIT.badInput);
      }
      if (
        !/^[A-Za-z0-9_-]{1,64}$/.test(opts.machine) ||
        !Number.isFinite(intervalMs) ||
        intervalMs < 200
      ) {
        io.err('opsdeck agent: --machine must be a short name and --interval at least 200 ms');
        throw new Exit(EXIT.badInput);
      }
      const jwks = loadAuth(opts, io, 'opsdeck agent');
      const auth: ControlAuth = jwks ? { mode: 'verify', verify: jwks.verify } : NO_JWKS;
      if (opts.resourceManager && !/^tcp:\/\/[^:/]+:\d+$/.test(opts.resourceManager)) {
        io.err(
          `opsdeck agent: --resource-manager ${opts.resourceManager}: expected tcp://HOST:PORT`,
        );
        throw new Exit(EXIT.badInput);
      }
      const bridgePlan = opts.bridge ? prepareBridge(opts, io, opts.machine) : undefined;
      const local = localFleet(opts, io, opts.machine);
      const resourceManager = opts.resourceManager ?? local.resourceManager;
      io.err(`opsdeck agent ${opts.machine}: ${local.note}`);
      io.err(
        `opsdeck agent ${opts.machine}: control ${authLabel(auth)}${jwks ? ` (${jwks.keys} key(s) from ${jwks.file})` : ''}`,
      );
      const link = new NatsLink({ servers, name: `opsdeck-agent-${opts.machine}` });
      let lastState = '';
      const unsubscribe = link.subscribe(() => {
        const s = link.getSnapshot();
        if (s.state !== lastState)
          io.err(
            `opsdeck agent ${opts.machine}: NATS ${s.state}${s.server ? ` (${s.server})` : ''}${s.error ? `: ${s.error}` : ''}`,
          );
        lastState = s.state;
      });
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        process.once('SIGHUP', resolve);
      });
      const nc = await Promise.race([link.connection(), stopped.then(() => undefined)]);
      const agent = nc
        ? runAgent(nc, {
            machine: opts.machine,
            intervalMs,
            auth,
            ...(resourceManager ? { resourceManager } : {}),
            agents: local.agents,
            log: (line) => io.err(`opsdeck agent ${opts.machine}: ${line}`),
          })
        : undefined;
      const bridge =
        nc && bridgePlan
          ? await bridgePlan.start(nc, (line) => io.err(`opsdeck agent ${opts.machine}: ${line}`))
          : undefined;
      await stopped;
      await bridge?.stop();
      await agent?.stop();
      unsubscribe();
      await link.close();
    },
  );
}
