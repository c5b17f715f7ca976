// Argument parsing: every subcommand is registered here. Exit codes: 0 ok, 1 findings, 2 bad input.
import { Command, CommanderError } from 'commander';
import { EXIT, Exit, processIo, type Io } from './commands/io.js';
import { VERSION } from './version.js';

type Register = (program: Command, io: Io) => unknown;

/**
 * Every top-level command, in the order --help lists them, with the module(s) that register it.
 * Start-up (issue 7): a launch imports only the modules of the command it runs (the console's
 * first frame must not wait for the simulator, certificates or the linter to load); --help,
 * `help`, --version and anything unexpected load them all, so that output is unchanged.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  {
    names: ['config'],
    load: async () => {
      const [{ registerConfig }, { registerMigrate }] = await Promise.all([
        import('./commands/config.js'),
        import('./commands/migrate.js'),
      ]);
      return (program, io) => registerMigrate(registerConfig(program, io), io);
    },
  },
  { names: ['ports'], load: async () => (await import('./commands/ports.js')).registerPorts },
  { names: ['lint'], load: async () => (await import('./commands/lint.js')).registerLint },
  { names: ['sim'], load: async () => (await import('./commands/sim.js')).registerSim },
  { names: ['status'], load: async () => (await import('./commands/status.js')).registerStatus },
  { names: ['agent'], load: async () => (await import('./commands/agent.js')).registerAgent },
  {
    names: ['console', 'demo'],
    load: async () => (await import('./commands/console.js')).registerConsole,
  },
  {
    names: ['errorbus'],
    load: async () => {
      const [{ registerErrorbus }, { registerErrorbusDoctor }] = await Promise.all([
        import('./commands/errorbus.js'),
        import('./commands/errorbus-doctor.js'),
      ]);
      return (program, io) => {
        registerErrorbus(program, io);
        registerErrorbusDoctor(program, io);
      };
    },
  },
  { names: ['audit'], load: async () => (await import('./commands/audit.js')).registerAudit },
  { names: ['certs'], load: async () => (await import('./commands/certs.js')).registerCerts },
  {
    names: ['security'],
    load: async () => (await import('./commands/security.js')).registerSecurity,
  },
  {
    names: ['throttle'],
    load: async () => (await import('./commands/throttle.js')).registerThrottle,
  },
  { names: ['deploy'], load: async () => (await import('./commands/deploy.js')).registerDeploy },
  { names: ['logs'], load: async () => (await import('./commands/logs.js')).registerLogs },
  {
    names: ['restart', 'stop', 'start'],
    load: async () => (await import('./commands/lifecycle.js')).registerLifecycle,
  },
];

const CONSOLE = COMMANDS.find((c) => c.names.includes('console'))!;

/** The commands `argv` can reach: its own when it names one first, the console when it names none. */
export function commandsFor(argv: readonly string[]): ReadonlyArray<(typeof COMMANDS)[number]> {
  const named = COMMANDS.find((c) => c.names.includes(argv[0] ?? ''));
  if (named) return [named];
  const names = new Set([
    'help',
    '-h',
    '--help',
    '-V',
    '--version',
    ...COMMANDS.flatMap((c) => c.names),
  ]);
  // A bare launch or console options only (`opsdeck --screen errors`): the default command. A
  // command name or help anywhere else (`opsdeck -- status`, `opsdeck --nats x --help`) is
  // commander's to interpret, with everything registered.
  if (argv[0] === undefined || (argv[0].startsWith('-') && !argv.some((a) => names.has(a))))
    return [CONSOLE];
  return COMMANDS;
}

export async function buildProgram(io: Io, argv?: readonly string[]): Promise<Command> {
  const program = new Command('opsdeck')
    .description('Terminal console for the two-machine agent fleet (MainPC + PC2)')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(run with --help for usage)');
  const registers = await Promise.all((argv ? commandsFor(argv) : COMMANDS).map((c) => c.load()));
  for (const register of registers) register(program, io);
  // Every subcommand reports usage errors with exit 2 rather than terminating the process.
  const harden = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
    cmd.commands.forEach(harden);
  };
  harden(program);
  return program;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  // A word first that names no command went to the default command, the console, which said
  // "too many arguments for 'console'" of a mistyped `opsdeck stauts`.
  const first = argv[0];
  const known = ['help', ...COMMANDS.flatMap((c) => c.names)];
  if (first !== undefined && !first.startsWith('-') && !known.includes(first)) {
    io.err(
      `error: unknown command '${first}' (commands: ${known.filter((n) => n !== 'help').join(', ')})`,
    );
    io.err('(run with --help for usage)');
    return EXIT.badInput;
  }
  const program = await buildProgram(io, argv);
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
