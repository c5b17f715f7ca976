// `opsdeck deploy plan --machine M`: what one machine of the fleet needs (core/deploy/plan.ts),
// read from the secrets folder of `opsdeck certs generate`: printed, and with --write DIR written
// for the install commands it lists. Password hashes are written, never printed.
import type { Command } from 'commander';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest } from '../adapters/certs.js';
import { writePublic, writeSecret } from '../adapters/secret-files.js';
import {
  buildPlan,
  hashesFromAuthConf,
  machineShare,
  type DeployPlan,
  type HostPort,
} from '../core/deploy/plan.js';
import { VERSION } from '../version.js';
import { EXIT, Exit, type Io } from './io.js';
import { secretsFolder } from './secrets-dir.js';

interface PlanArgs {
  machine: string;
  secrets?: string;
  write?: string;
  natsListen: string;
  leafListen: string;
  hubUrl?: string;
  bridge?: string;
}

/** This opsdeck's launcher (bin/opsdeck.js), from source/commands, dist/commands or dist/bundle. */
const LAUNCHER = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));

export function registerDeploy(program: Command, io: Io): void {
  const deploy = program
    .command('deploy')
    .description("put opsdeck agent and nats-server on the fleet's machines");
  deploy
    .command('plan')
    .description(
      'what one machine needs: a systemd unit for opsdeck agent and its settings, a nats-server config (JetStream on the NATS host, a TLS leaf node on the others) and its unit drop-in, and the commands that copy the secrets and install them. Run it on that machine (the unit names its node and opsdeck)',
    )
    .requiredOption('--machine <id>', 'the machine to plan for: mainpc, pc2')
    .option(
      '--secrets <dir>',
      'the secrets folder of opsdeck certs generate (default: $OPSDECK_SECRETS, else secrets/ at the fleet checkout root, else ./secrets); on a machine that has its share: /etc/opsdeck/secrets',
    )
    .option('--write <dir>', 'also write the files there (nats-server.conf 0600: password hashes)')
    .option('--nats-listen <host:port>', 'where nats-server takes clients', '0.0.0.0:4222')
    .option('--leaf-listen <host:port>', "the NATS host's leaf node port", '0.0.0.0:7422')
    .option(
      '--hub-url <url>',
      'how a leaf node dials the NATS host (default tls://<its address in the secrets>:<leaf port>)',
    )
    .option(
      '--bridge <checkout>',
      'also run the error-bus bridge in the agent, reading the fleet from this upstream checkout',
    )
    .action((args: PlanArgs) => {
      const plan = planFor(args, io);
      if (args.write) {
        const dir = abs(io, args.write);
        for (const f of plan.files)
          (f.secret ? writeSecret : writePublic)(join(dir, f.name), f.text);
        io.out(render(plan, dir, secretsFolder(io, args.secrets)).join('\n'));
      } else io.out(render(plan, undefined, secretsFolder(io, args.secrets)).join('\n'));
    });
}

const abs = (io: Io, p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));

function bad(io: Io, message: string): never {
  io.err(`opsdeck deploy plan: ${message}`);
  throw new Exit(EXIT.badInput);
}

function hostPort(io: Io, flag: string, text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535)
    bad(io, `${flag} ${text}: expected HOST:PORT (e.g. 0.0.0.0:4222)`);
  return { host: m[1] ?? m[2]!, port };
}

/** Reads the secrets and builds the plan; anything missing or malformed exits 2 and writes nothing. */
function planFor(args: PlanArgs, io: Io): DeployPlan {
  const secrets = secretsFolder(io, args.secrets);
  const natsListen = hostPort(io, '--nats-listen', args.natsListen);
  const leafListen = hostPort(io, '--leaf-listen', args.leafListen);
  if (
    args.hubUrl !== undefined &&
    !/^tls:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(args.hubUrl)
  )
    bad(io, `--hub-url ${args.hubUrl}: expected tls://HOST:PORT (the leaf link is always TLS)`);
  let manifest;
  try {
    manifest = readManifest(secrets);
  } catch (error) {
    bad(io, `${join(secrets, 'manifest.json')}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!manifest)
    bad(
      io,
      `no manifest.json in ${secrets}: run opsdeck certs generate first, or pass --secrets DIR`,
    );
  const missing = machineShare(args.machine).filter((p) => !existsSync(join(secrets, p)));
  if (manifest.machines.some((m) => m.id === args.machine) && missing.length > 0)
    bad(io, `${secrets} lacks ${missing.join(', ')} (what ${args.machine} needs)`);
  const built = buildPlan({
    machine: args.machine,
    machines: manifest.machines,
    hub: manifest.natsHost,
    hashes: existsSync(join(secrets, 'nats/auth.conf'))
      ? hashesFromAuthConf(readFileSync(join(secrets, 'nats/auth.conf'), 'utf8'))
      : {},
    generatedAt: manifest.generatedAt,
    version: VERSION,
    node: process.execPath,
    launcher: realpathSync(LAUNCHER),
    secretsDir: secrets,
    natsListen,
    leafListen,
    ...(args.hubUrl ? { hubUrl: args.hubUrl } : {}),
    ...(args.bridge ? { bridgeRoot: abs(io, args.bridge) } : {}),
  });
  if (!built.ok) return bad(io, built.problems.join('; '));
  return built.plan;
}

function render(plan: DeployPlan, written: string | undefined, secrets: string): string[] {
  const lines = [
    `opsdeck deploy plan for ${plan.machine} (${plan.role === 'hub' ? 'NATS host' : 'leaf node'}), secrets ${secrets}`,
    ...plan.topology.map((t) => `  ${t}`),
    ...plan.warnings.map((w) => `warning: ${w}`),
    '',
  ];
  plan.steps.forEach((step, i) => {
    lines.push(`${i + 1}. ${step.title}`, `   ${step.where}:`);
    if (i === 1)
      lines.push(
        written
          ? `     DIR=${written}`
          : '     DIR=...   # the folder `--write DIR` wrote the files to',
      );
    for (const c of step.commands) lines.push(`     ${c}`);
    lines.push('');
  });
  if (written) {
    lines.push(`wrote into ${written}:`);
    for (const f of plan.files)
      lines.push(`  ${f.name} (${f.secret ? '0600' : '0644'}) -> ${f.installTo}: ${f.what}`);
  } else
    for (const f of plan.files)
      lines.push(
        `--- ${f.name} -> ${f.installTo}: ${f.what}`,
        ...f.shown.trimEnd().split('\n'),
        '',
      );
  return lines;
}
