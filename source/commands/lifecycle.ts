// `opsdeck restart|stop|start MACHINE/AGENT`: one agent's lifecycle through the action path
// (preview naming the exact process or container, confirmation, a JWT-carrying request to the
// machine's opsdeck agent, verified by opsdeck's health probe, audited).
import type { Command } from 'commander';
import { auditPath } from '../adapters/audit.js';
import { connectControl, tokenSource } from '../adapters/control-client.js';
import { redact, splitServers } from '../adapters/nats-link.js';
import { lifecycleAction } from '../actions/lifecycle.js';
import { runAction } from '../actions/run-cli.js';
import { LIFECYCLE_VERBS, type LifecycleVerb } from '../core/fleet/lifecycle.js';
import { natsServers } from '../wiring/data-plane.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';
import { parseAgentRef } from './logs.js';
import { secretsFolder } from './secrets-dir.js';

interface LifecycleArgs extends FleetArgs {
  nats?: string;
  secrets?: string;
  yes?: boolean;
  dryRun?: boolean;
}

const WHAT: Record<LifecycleVerb, string> = {
  restart: 'stop one agent, see it DOWN, start it, see it OK',
  stop: 'stop one agent and see it DOWN',
  start: 'start one agent and see it OK',
};

export function registerLifecycle(program: Command, io: Io): void {
  for (const verb of LIFECYCLE_VERBS)
    addFleetOptions(
      program
        .command(verb)
        .description(`${WHAT[verb]}, through its machine's opsdeck agent (JWT-checked)`)
        .argument('<machine/agent>', 'e.g. pc2/VisionProcessingAgent')
        .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
        .option('--secrets <dir>', 'secrets folder: signing key or machine token, TLS files')
        .option('--yes', 'do not ask (for scripts)')
        .option('--dry-run', 'show the preview; send nothing'),
    ).action(async (ref: string, args: LifecycleArgs) => {
      const target = parseAgentRef(io, verb, ref);
      const servers = natsServers(args.nats, io.env);
      if (!servers) {
        io.err(`opsdeck ${verb}: no NATS server: pass --nats nats://host:4222 or set NATS_SERVERS`);
        throw new Exit(EXIT.badInput);
      }
      const fleet = loadFleetArgs(args, io, { quiet: true });
      const secrets = secretsFolder(io, args.secrets, args);
      let nc;
      try {
        nc = await connectControl({ servers, secretsDir: secrets, env: io.env });
      } catch (error) {
        io.err(`opsdeck ${verb}: ${(error as Error).message}; nothing was sent`);
        throw new Exit(EXIT.findings);
      }
      try {
        await runAction(
          lifecycleAction({
            nc,
            server: splitServers(servers).map(redact).join(','),
            machines: fleet.machines,
            ...target,
            verb,
            token: tokenSource(secrets, target.machine),
            env: io.env,
          }),
          io,
          { yes: args.yes ?? false, dryRun: args.dryRun ?? false, auditPath: auditPath(io.env) },
        );
      } finally {
        await nc.close().catch(() => undefined);
      }
    });
}
