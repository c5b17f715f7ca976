// `opsdeck logs MACHINE/AGENT [--lines N] [--follow] [--json]`: an agent's log from its machine's
// opsdeck agent over NATS (opsdeck.<machine>.logs), for scripts. Text: one line per log line
// (time level message extra); --json: one JSON object per item as the daemon sent it.
import type { Command } from 'commander';
import { connectControl } from '../adapters/control-client.js';
import { watchLogs } from '../adapters/log-client.js';
import { lineText } from '../core/logs/line.js';
import { MAX_TAIL_LINES } from '../core/logs/stream.js';
import { natsServers } from '../wiring/data-plane.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, intArg } from './options.js';
import { secretsFolder } from './secrets-dir.js';

interface LogsArgs {
  lines: number;
  follow?: boolean;
  json?: boolean;
  nats?: string;
  secrets?: string;
}

function bad(io: Io, message: string): never {
  io.err(`opsdeck logs: ${message}`);
  throw new Exit(EXIT.badInput);
}

/** `machine/Agent` as typed; bad input says what was expected. */
export function parseAgentRef(
  io: Io,
  command: string,
  text: string,
): { machine: string; agent: string } {
  const m = /^([A-Za-z0-9_-]{1,64})\/([\w.-]{1,128})$/.exec(text);
  if (!m) {
    io.err(`opsdeck ${command}: "${text}": expected MACHINE/AGENT, e.g. mainpc/ServiceRegistry`);
    throw new Exit(EXIT.badInput);
  }
  return { machine: m[1]!, agent: m[2]! };
}

export function registerLogs(program: Command, io: Io): void {
  program
    .command('logs')
    .description(
      "an agent's log, from its machine's opsdeck agent (opsdeck.<machine>.logs): the last lines, then (--follow) every new one",
    )
    .argument('<machine/agent>', 'e.g. mainpc/ServiceRegistry')
    .addOption(
      checkedOption(
        '--lines <n>',
        `how many of the last lines (0-${MAX_TAIL_LINES})`,
        intArg(0, MAX_TAIL_LINES),
        '100',
      ),
    )
    .option('-f, --follow', 'keep printing new lines (across rotation) until Ctrl+C')
    .option('--json', 'one JSON object per line: {kind, at, level, message, extra, format}')
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .option('--secrets <dir>', 'secrets folder (TLS login for tls:// servers)')
    .action(async (ref: string, args: LogsArgs) => {
      const target = parseAgentRef(io, 'logs', ref);
      const lines = args.lines;
      const servers = natsServers(args.nats, io.env);
      if (!servers) bad(io, 'no NATS server: pass --nats nats://host:4222 or set NATS_SERVERS');
      let nc;
      try {
        nc = await connectControl({
          servers,
          secretsDir: secretsFolder(io, args.secrets),
          env: io.env,
        });
      } catch (error) {
        io.err(`opsdeck logs: ${(error as Error).message}`);
        throw new Exit(EXIT.findings);
      }
      try {
        let onSignal = () => undefined as void;
        const result = await new Promise<{ reason: string; failed: boolean }>((resolve) => {
          const watch = watchLogs(
            nc,
            { ...target, lines, follow: args.follow === true },
            {
              opened: (info) => {
                if (!args.json) io.err(`${target.machine}/${target.agent}: ${info.source}`);
              },
              items: (items) => {
                for (const item of items) io.out(args.json ? JSON.stringify(item) : lineText(item));
              },
              end: (reason, failed) => resolve({ reason, failed }),
            },
          );
          onSignal = () => watch.stop();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
        });
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        if (result.failed) {
          io.err(`opsdeck logs: ${result.reason}`);
          throw new Exit(EXIT.findings);
        }
      } finally {
        await nc.close().catch(() => undefined);
      }
    });
}
