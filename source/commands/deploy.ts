// `opsdeck deploy plan --machine M`: what one machine of the fleet needs (core/deploy/plan.ts),
// read from the secrets folder of `opsdeck certs generate`: printed, and with --write DIR written
// for the install commands it lists. Password hashes are written, never printed.
import type { Command } from 'commander';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifest } from '../adapters/certs.js';
import { writePublic, writeSecret, writeShared } from '../adapters/secret-files.js';
import {
  buildPlan,
  hashesFromAuthConf,
  machineShare,
  type DeployPlan,
  type HostPort,
} from '../core/deploy/plan.js';
import { VERSION } from '../version.js';
import {
  grafanaDashboard,
  METRICS_PORT,
  metricsTarget,
  SCRAPE_JOB,
  scrapeConfig,
} from '../core/deploy/grafana.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, intArg } from './options.js';
import { secretsFolder } from './secrets-dir.js';

interface PlanArgs {
  machine: string;
  secrets?: string;
  write?: string;
  natsListen: string;
  leafListen: string;
  hubUrl?: string;
  bridge?: string;
  metricsPort: number | 'off';
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
    .addOption(
      checkedOption(
        '--metrics-port <port>',
        "the agent serves /metrics on the machine's address at this port (opsdeck deploy grafana scrapes it); off: no metrics",
        (text) => (text === 'off' ? ('off' as const) : portOrOff(text)),
        String(METRICS_PORT),
      ),
    )
    .action((args: PlanArgs) => writePlan(args, io));
  deploy
    .command('grafana')
    .description(
      "a Prometheus config scraping every machine's opsdeck agent --metrics (at the machines' addresses in the secrets), and a Grafana dashboard over it: fleet overview, resources per machine, error rates, per-agent drill-down",
    )
    .requiredOption('--out <dir>', 'write prometheus.yml and opsdeck-dashboard.json there')
    .option(
      '--secrets <dir>',
      'the secrets folder of opsdeck certs generate (its manifest names the machines and their addresses)',
      'secrets',
    )
    .addOption(
      checkedOption(
        '--metrics-port <port>',
        "the agents' /metrics port (as deploy plan set it)",
        PORT,
        String(METRICS_PORT),
      ),
    )
    .action((args: GrafanaArgs) => writeGrafana(args, io));
}

interface GrafanaArgs {
  out: string;
  secrets: string;
  metricsPort: number;
}

/** `deploy plan`: the plan printed, and with --write its files written (secret ones 0600). */
function writePlan(args: PlanArgs, io: Io): void {
  const plan = planFor(args, io);
  if (args.write) {
    const dir = abs(io, args.write);
    for (const f of plan.files) (f.secret ? writeSecret : writePublic)(join(dir, f.name), f.text);
    io.out(render(plan, dir, secretsFolder(io, args.secrets)).join('\n'));
  } else io.out(render(plan, undefined, secretsFolder(io, args.secrets)).join('\n'));
}

/** `deploy grafana`: prometheus.yml over the manifest's machines and the dashboard, into --out. */
function writeGrafana(args: GrafanaArgs, io: Io): void {
  const who = 'opsdeck deploy grafana';
  const metricsPort = args.metricsPort;
  const secrets = abs(io, args.secrets);
  let manifest;
  try {
    manifest = readManifest(secrets);
  } catch (error) {
    bad(io, `${join(secrets, 'manifest.json')}: ${(error as Error).message.split('\n')[0]}`, who);
  }
  if (!manifest)
    bad(
      io,
      `no manifest.json in ${secrets}: run opsdeck certs generate first, or pass --secrets DIR`,
      who,
    );
  const out = abs(io, args.out);
  const header = `Generated by opsdeck deploy grafana (opsdeck ${VERSION}) from the secrets of ${manifest.generatedAt}.`;
  writeShared(join(out, 'prometheus.yml'), scrapeConfig(manifest.machines, metricsPort, header));
  writeShared(
    join(out, 'opsdeck-dashboard.json'),
    `${JSON.stringify(grafanaDashboard(VERSION), null, 2)}\n`,
  );
  io.out(
    [
      `wrote into ${out}:`,
      `  prometheus.yml: scrapes ${manifest.machines.map((m) => `${m.id} at ${metricsTarget(m, metricsPort)}`).join(', ')} (job ${SCRAPE_JOB})`,
      '  opsdeck-dashboard.json: Grafana > Dashboards > New > Import, then pick the Prometheus data source',
      `check the config: promtool check config ${join(out, 'prometheus.yml')}`,
    ].join('\n'),
  );
}

const abs = (io: Io, p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));

function bad(io: Io, message: string, who = 'opsdeck deploy plan'): never {
  io.err(`${who}: ${message}`);
  throw new Exit(EXIT.badInput);
}

const PORT = intArg(1, 65535, 'a port');
const portOrOff = intArg(1, 65535, 'off or a port');

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
  const metricsPort = args.metricsPort === 'off' ? undefined : args.metricsPort;
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
    ...(metricsPort !== undefined ? { metricsPort } : {}),
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
