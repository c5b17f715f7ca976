// `opsdeck security probe`: sends unauthenticated control requests to every machine and says
// whether each refuses them. Exit 1 when any machine is not enforcing (or does not answer).
import type { Command } from 'commander';
import { secretsFolder } from './secrets-dir.js';
import { appendAudit, auditPath } from '../adapters/audit.js';
import { probeAuditEntry } from '../core/security/probe.js';
import { connectControl } from '../adapters/control-client.js';
import { redact, splitServers } from '../adapters/nats-link.js';
import { probeEnforcement } from '../adapters/security-probe.js';
import { natsServers } from '../wiring/data-plane.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg } from './options.js';

export const PROBE_SCHEMA = 'opsdeck.security.probe/1';

export function registerSecurity(program: Command, io: Io): void {
  const security = program
    .command('security')
    .description('security checks against the live fleet');
  security
    .command('probe')
    .description(
      'send an unauthenticated control request to each machine (opsdeck.<machine>.control) and report enforced / NOT enforced',
    )
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .option('--machines <list>', 'machines to probe', 'mainpc,pc2')
    .option(
      '--secrets <dir>',
      'secrets folder (TLS files and the opsdeck user, for tls:// servers; default: $OPSDECK_SECRETS, else secrets/ at the fleet checkout root, else ./secrets)',
    )
    .addOption(
      checkedOption(
        '--timeout <duration>',
        'reply timeout per request',
        durationArg({ minMs: 100 }),
        '2s',
      ),
    )
    .option('--json', `machine-readable (schema ${PROBE_SCHEMA})`)
    .action(
      async (args: {
        nats?: string;
        machines: string;
        secrets?: string;
        timeout: number;
        json?: boolean;
      }) => {
        const servers = natsServers(args.nats, io.env);
        const machines = args.machines
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean);
        const timeoutMs = args.timeout;
        if (
          !servers ||
          machines.length === 0 ||
          machines.some((m) => !/^[A-Za-z0-9_-]{1,64}$/.test(m))
        ) {
          io.err(
            'opsdeck security probe: needs a NATS server (--nats or $NATS_SERVERS), and --machines a,b',
          );
          throw new Exit(EXIT.badInput);
        }
        const secretsDir = secretsFolder(io, args.secrets);
        let nc;
        try {
          nc = await connectControl({ servers, secretsDir, env: io.env });
        } catch (error) {
          io.err(`opsdeck security probe: ${(error as Error).message}`);
          throw new Exit(EXIT.findings);
        }
        try {
          const results = await probeEnforcement(nc, machines, timeoutMs);
          // It sent control requests: each machine's is in the audit, like every action's.
          for (const r of results) appendAudit(probeAuditEntry(r), auditPath(io.env));
          if (args.json)
            io.out(
              JSON.stringify(
                {
                  schema: PROBE_SCHEMA,
                  server: splitServers(servers).map(redact).join(','),
                  results,
                },
                null,
                2,
              ),
            );
          else {
            for (const r of results) {
              io.out(`${r.machine}: ${r.verdict} (${r.subject})`);
              for (const e of r.evidence) io.out(`  ${e}`);
            }
          }
          if (results.some((r) => r.verdict !== 'enforced')) throw new Exit(EXIT.findings);
        } finally {
          await nc.close().catch(() => undefined);
        }
      },
    );
}
