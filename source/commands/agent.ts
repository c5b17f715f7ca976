// `opsdeck agent --machine NAME`: the per-machine daemon (resources out, control in).
import type { Command } from 'commander';
import { NatsLink } from '../adapters/nats-link.js';
import { NO_JWKS, runAgent } from '../agent/agent.js';
import { authLabel, type ControlAuth } from '../core/resources/machine-control.js';
import { addAuthOptions, loadAuth, type AuthArgs } from './auth-options.js';
import { addBridgeOptions, prepareBridge, type BridgeArgs } from './agent-bridge.js';
import { natsServers } from '../stores/data-plane.js';
import { EXIT, Exit, type Io } from './io.js';

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
      "forward applied set_thresholds / set_throttle to upstream's ResourceManager (e.g. tcp://127.0.0.1:7113)",
    );
  addAuthOptions(addBridgeOptions(agentCommand)).action(
    async (
      opts: {
        machine: string;
        nats?: string;
        interval: string;
        resourceManager?: string;
      } & AuthArgs &
        BridgeArgs,
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
            ...(opts.resourceManager ? { resourceManager: opts.resourceManager } : {}),
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
