// `opsdeck certs generate|show|rotate`: the fleet's CA and certificates, JWT signing key and
// tokens, upstream secrets, CURVE certificates and the nats-server auth include file.
import type { Command } from 'commander';
import { discoverFleet } from '../adapters/fleet-files.js';
import { auditPath } from '../adapters/audit.js';
import { inspectArtefacts, type CertsReport } from '../adapters/certs.js';
import { hostFor } from '../core/fleet/load.js';
import type { CertMachine } from '../core/security/artefacts.js';
import { certsFinishAction, certsGenerateAction, certsRotateAction } from '../actions/certs.js';
import { runAction } from '../actions/run-cli.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, intArg } from './options.js';
import { secretsFolder } from './secrets-dir.js';

interface CertsArgs extends FleetArgs {
  dir?: string;
  natsHost?: string;
  days?: number;
  caDays?: number;
  tokenDays?: number;
  yes?: boolean;
  dryRun?: boolean;
}

/** `--dir`, else the one secrets rule (secrets-dir.ts): the console reads what this writes. */
export function secretsDir(args: FleetArgs & { dir?: string }, io: Io): string {
  return secretsFolder(io, args.dir, args);
}

/** The fleet's machines when a config is named or found here; else MainPC and PC2 from the env. */
function certMachines(args: FleetArgs, io: Io): CertMachine[] {
  const named = Boolean(args.mainpc || args.pc2 || args.root);
  if (named || Object.keys(discoverFleet(io.cwd).files).length > 0) {
    return loadFleetArgs(args, io, { quiet: true }).machines.map((m) => ({
      id: m.id,
      host: m.host,
    }));
  }
  return ['mainpc', 'pc2'].map((id) => ({ id, host: hostFor(id, io.env) }));
}

const DAYS = intArg(1, 3650, 'whole days');

export function formatReport(report: CertsReport): string[] {
  const lines = [
    `secrets folder ${report.dir}${report.generatedAt ? `, generated ${report.generatedAt}` : ', no manifest (nothing generated yet?)'}`,
  ];
  if (report.retired.length)
    lines.push(
      `rotation open: retired generation(s) ${report.retired.join(', ')} still trusted (finish with: opsdeck certs rotate --finish)`,
    );
  const width = Math.max(...report.artefacts.map((a) => a.path.length));
  for (const a of report.artefacts) {
    const expiry = a.daysLeft === null ? '' : `  ${a.daysLeft} days left`;
    const status = a.problems.length ? `  PROBLEM: ${a.problems.join('; ')}` : '';
    lines.push(
      `  ${a.path.padEnd(width)}  ${a.mode ?? '---'}  ${a.fingerprint ?? '-'}${expiry}${status}`,
    );
  }
  lines.push(
    report.problems
      ? `${report.problems} artefact(s) with problems`
      : `all ${report.artefacts.length} artefacts present and private files 0600`,
  );
  return lines;
}

export function registerCerts(program: Command, io: Io): void {
  const certs = program
    .command('certs')
    .description(
      'fleet CA, machine certificates, JWT keys and tokens, upstream secrets, CURVE keys, nats-server auth',
    );
  const common = (cmd: Command) =>
    addFleetOptions(
      cmd.option(
        '--dir <dir>',
        'secrets folder (default: secrets/ beside the fleet config, or ./secrets)',
      ),
    )
      .option('--yes', 'do not ask (for scripts)')
      .option('--dry-run', 'show what would be written; change nothing');

  common(
    certs
      .command('generate')
      .description(
        'generate every artefact into a new secrets folder (private files 0600, written atomically, never printed)',
      )
      .option(
        '--nats-host <machine>',
        'machine whose certificate nats-server uses (default mainpc)',
      )
      .addOption(
        checkedOption('--days <n>', 'machine and operator certificate lifetime', DAYS, '397'),
      )
      .addOption(checkedOption('--ca-days <n>', 'CA lifetime', DAYS, '1825'))
      .addOption(checkedOption('--token-days <n>', 'machine token lifetime', DAYS, '30')),
  ).action((args: CertsArgs) => generate(args, io));

  addFleetOptions(
    certs
      .command('show')
      .description(
        'list every artefact with its fingerprint, days to expiry and problems (exit 1 when any)',
      )
      .option(
        '--dir <dir>',
        'secrets folder (default: secrets/ beside the fleet config, or ./secrets)',
      )
      .option('--json', 'machine-readable (schema opsdeck.certs.show/1)'),
  ).action((args: CertsArgs & { json?: boolean }) => show(args, io));

  common(
    certs
      .command('rotate')
      .description(
        'replace every artefact; the old ones move to retired/<time>/ and stay trusted until --finish',
      )
      .option(
        '--finish',
        'end an open rotation: stop trusting and delete the retired generation(s)',
      )
      .addOption(checkedOption('--days <n>', 'machine and operator certificate lifetime', DAYS))
      .addOption(checkedOption('--token-days <n>', 'machine token lifetime', DAYS)),
  ).action((args: CertsArgs & { finish?: boolean }) => rotate(args, io));
}

/** How runAction asks and audits, from the common options. */
const runOptions = (args: CertsArgs, io: Io) => ({
  yes: args.yes ?? false,
  dryRun: args.dryRun ?? false,
  auditPath: auditPath(io.env),
});

/** `certs generate`: every artefact for the fleet's machines, the NATS host one of them. */
async function generate(args: CertsArgs, io: Io): Promise<void> {
  const machines = certMachines(args, io);
  if (args.natsHost && !machines.some((m) => m.id === args.natsHost)) {
    io.err(
      `opsdeck certs: --nats-host ${args.natsHost} is not a machine of the fleet (${machines.map((m) => m.id).join(', ')})`,
    );
    throw new Exit(EXIT.badInput);
  }
  const action = certsGenerateAction({
    dir: secretsDir(args, io),
    machines,
    ...(args.natsHost ? { natsHost: args.natsHost } : {}),
    days: args.days!,
    caDays: args.caDays!,
    tokenDays: args.tokenDays!,
  });
  await runAction(action, io, runOptions(args, io));
}

/** `certs show`: the report, as lines or JSON; exit 1 when an artefact has a problem. */
function show(args: CertsArgs & { json?: boolean }, io: Io): void {
  const report = inspectArtefacts(secretsDir(args, io));
  if (args.json) io.out(JSON.stringify(report, null, 2));
  else for (const line of formatReport(report)) io.out(line);
  if (report.problems > 0) throw new Exit(EXIT.findings);
}

/** `certs rotate`: a new generation (machines re-read only when a config is named), or --finish. */
async function rotate(args: CertsArgs & { finish?: boolean }, io: Io): Promise<void> {
  const dir = secretsDir(args, io);
  const named = Boolean(args.mainpc || args.pc2 || args.root);
  const action = args.finish
    ? certsFinishAction({ dir })
    : certsRotateAction({
        dir,
        ...(named ? { machines: certMachines(args, io) } : {}),
        ...(args.days ? { days: args.days } : {}),
        ...(args.tokenDays ? { tokenDays: args.tokenDays } : {}),
      });
  await runAction(action, io, runOptions(args, io));
}
