// Argument parsing: every subcommand is registered here. Exit codes: 0 ok, 1 findings, 2 bad input.
import { Command, CommanderError } from 'commander';
import { registerConfig } from './commands/config.js';
import { registerMigrate } from './commands/migrate.js';
import { EXIT, Exit, processIo, type Io } from './commands/io.js';
import { registerLint } from './commands/lint.js';
import { registerPorts } from './commands/ports.js';
import { registerSim } from './commands/sim.js';
import { registerStatus } from './commands/status.js';
import { registerAgent } from './commands/agent.js';
import { registerConsole } from './commands/console.js';
import { registerAudit } from './commands/audit.js';
import { registerErrorbus } from './commands/errorbus.js';
import { registerErrorbusDoctor } from './commands/errorbus-doctor.js';
import { registerCerts } from './commands/certs.js';
import { registerSecurity } from './commands/security.js';
import { registerThrottle } from './commands/throttle.js';

export function buildProgram(io: Io): Command {
  const program = new Command('opsdeck')
    .description('Terminal console for the two-machine agent fleet (MainPC + PC2)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)');
  const config = registerConfig(program, io);
  registerMigrate(config, io);
  registerPorts(program, io);
  registerLint(program, io);
  registerSim(program, io);
  registerStatus(program, io);
  registerAgent(program, io);
  registerConsole(program, io);
  registerErrorbus(program, io);
  registerErrorbusDoctor(program, io);
  registerAudit(program, io);
  registerCerts(program, io);
  registerSecurity(program, io);
  registerThrottle(program, io);
  // Every subcommand reports usage errors with exit 2 rather than terminating the process.
  const harden = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
    cmd.commands.forEach(harden);
  };
  harden(program);
  return program;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    if (error instanceof CommanderError) {
      // --help and --version end with exitCode 0; usage errors are bad input.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    io.err(`opsdeck: ${(error as Error).message ?? String(error)}`);
    return EXIT.badInput;
  }
}
