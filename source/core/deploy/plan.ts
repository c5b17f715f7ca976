// What `opsdeck deploy plan` puts on one machine: the systemd unit for `opsdeck agent` and its
// settings file, the nats-server config and a drop-in for Debian's nats-server unit, and the
// commands that copy this machine's share of the secrets, install the files and start them.
//
// NATS across the two machines: one JetStream server, on the hub (the machine `certs generate`
// made the NATS host: MainPC); the other machine's nats-server is a leaf node of it. Not a
// cluster: a JetStream cluster of two needs both servers for its quorum, so either machine down
// would stop JetStream on the other as well, and routes trust each other completely. A leaf node
// logs in with its certificate, is bound to a user whose permissions the hub enforces, keeps the
// traffic between its own clients flowing while MainPC is away, and reconnects by itself. The
// price: JetStream's API is reached from the leaf through the hub's domain ($JS.mainpc.API, i.e.
// `jetstream({ domain: 'mainpc' })`); publishing into a stream needs nothing.
import { CREDENTIALS } from './agent-settings.js';
import { metricsListen } from './grafana.js';
import {
  authorizationLines,
  certSubject,
  machineSans,
  natsUsers,
  type CertMachine,
  type NatsUser,
} from '../security/artefacts.js';

/** Where things live on each machine. */
export const ON_HOST = {
  dir: '/etc/opsdeck',
  secrets: '/etc/opsdeck/secrets',
  settings: '/etc/opsdeck/agent.yaml',
  unit: '/etc/systemd/system/opsdeck-agent.service',
  natsConf: '/etc/nats-server.conf',
  dropIn: '/etc/systemd/system/nats-server.service.d/opsdeck.conf',
  state: '/var/lib/opsdeck',
  user: 'opsdeck',
} as const;

export interface HostPort {
  host: string;
  port: number;
}

export interface PlanInput {
  machine: string;
  /** From the secrets' manifest.json: every machine and where it is reached. */
  machines: readonly CertMachine[];
  /** The machine running the JetStream server (the manifest's natsHost). */
  hub: string;
  /** bcrypt hash per NATS user, from the secrets' nats/auth.conf. */
  hashes: Readonly<Record<string, string>>;
  generatedAt: string;
  version: string;
  /** ExecStart: node and opsdeck's launcher, absolute paths on this machine. */
  node: string;
  launcher: string;
  /** The secrets folder the plan was read from (the copy commands read it). */
  secretsDir: string;
  natsListen: HostPort;
  /** The hub's leaf node port. */
  leafListen: HostPort;
  /** How a leaf reaches the hub; default tls://<hub address>:<leaf port>. */
  hubUrl?: string;
  /** Run the error-bus bridge, reading the fleet from this upstream checkout. */
  bridgeRoot?: string;
  /** Serve /metrics on this port (`opsdeck deploy grafana` scrapes it); absent: off. */
  metricsPort?: number;
}

export interface PlanFile {
  /** Relative path in the --write folder. */
  name: string;
  installTo: string;
  secret: boolean;
  what: string;
  text: string;
  /** What is printed: the text with password hashes left out. */
  shown: string;
}

export interface PlanStep {
  title: string;
  where: string;
  commands: string[];
}

export interface DeployPlan {
  machine: string;
  role: 'hub' | 'leaf';
  topology: string[];
  files: PlanFile[];
  steps: PlanStep[];
  warnings: string[];
}

/** What a machine needs from the secrets folder (relative paths; the manifest and auth.conf let it plan for itself). */
export const machineShare = (m: string): string[] => [
  'manifest.json',
  'nats/auth.conf',
  'ca/trust.pem',
  `tls/${m}.crt`,
  `tls/${m}.key`,
  'jwt/jwks.json',
  `machines/${m}`,
];

/** The credentials the agent's unit hands over, by credential name (agent-settings.ts reads them). */
const agentCredentials = (m: string): Record<string, string> => ({
  [CREDENTIALS['tls-ca']!]: 'ca/trust.pem',
  [CREDENTIALS['tls-cert']!]: `tls/${m}.crt`,
  [CREDENTIALS['tls-key']!]: `tls/${m}.key`,
  [CREDENTIALS['nats-password-file']!]: `machines/${m}/secrets/NATS_PASSWORD`,
  [CREDENTIALS.jwks!]: 'jwt/jwks.json',
});

/** nats-server's TLS files: credentials of its unit, named to it by environment variables. */
const NATS_TLS = [
  { field: 'ca_file', credential: 'tls-ca', env: 'OPSDECK_TLS_CA', file: () => 'ca/trust.pem' },
  {
    field: 'cert_file',
    credential: 'tls-cert',
    env: 'OPSDECK_TLS_CERT',
    file: (m: string) => `tls/${m}.crt`,
  },
  {
    field: 'key_file',
    credential: 'tls-key',
    env: 'OPSDECK_TLS_KEY',
    file: (m: string) => `tls/${m}.key`,
  },
] as const;

/** A word the shell reads as it is. */
export const shq = (s: string): string =>
  /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;

const q = (s: string): string => JSON.stringify(s);
const hostPort = (a: HostPort): string =>
  (a.host.includes(':') ? `[${a.host}]` : a.host) + `:${a.port}`;
const everywhere = (host: string) => host === '0.0.0.0' || host === '::' || host === '*';

/** The hashes in an auth.conf that `opsdeck certs generate` wrote, by user. */
export function hashesFromAuthConf(text: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const m of text.matchAll(/user: "([^"]+)"\s*\n\s*password: "([^"]+)"/g))
    hashes[m[1]!] = m[2]!;
  return hashes;
}

/**
 * The users of both servers: those `certs generate` made, for ordinary clients only, with the
 * hub's JetStream domain allowed beside $JS.API; on the hub, one user per leaf machine, known by
 * its certificate's subject, with that machine's permissions.
 */
export function serverUsers(input: PlanInput, role: 'hub' | 'leaf'): NatsUser[] {
  const twin = (list: readonly string[]) =>
    list.flatMap((p) =>
      p.startsWith('$JS.API.') ? [p, p.replace('$JS.API.', `$JS.${input.hub}.API.`)] : [p],
    );
  const withDomain = (u: NatsUser): NatsUser => ({
    ...u,
    publish: {
      allow: twin(u.publish.allow),
      ...(u.publish.deny ? { deny: twin(u.publish.deny) } : {}),
    },
  });
  const users = natsUsers(
    input.machines.map((m) => m.id),
    input.hashes,
  ).map((u) => ({ ...withDomain(u), connectionTypes: ['STANDARD'] }));
  if (role === 'leaf') return users;
  const leaves = input.machines.filter((m) => m.id !== input.hub);
  return [
    ...users,
    ...leaves.map((m) => ({
      ...users.find((u) => u.user === m.id)!,
      user: certSubject(m.id),
      passwordHash: '',
      connectionTypes: ['LEAFNODE'],
    })),
  ];
}

type Role = DeployPlan['role'];

/** What in the input stops a plan: an unknown machine or hub, a user without a hash. */
function planProblems(input: PlanInput, me?: CertMachine, hub?: CertMachine): string[] {
  const problems: string[] = [];
  if (!me)
    problems.push(
      `no machine "${input.machine}" in the secrets (machines: ${input.machines.map((m) => m.id).join(', ')})`,
    );
  if (!hub) problems.push(`the NATS host "${input.hub}" is not one of the machines`);
  for (const user of [...input.machines.map((m) => m.id), 'opsdeck'])
    if (!input.hashes[user]) problems.push(`nats/auth.conf has no password hash for user ${user}`);
  return problems;
}

/**
 * Where the plan would fail on the machine: a leaf dialling a name the hub's certificate lacks,
 * binaries in a home folder.
 */
function planWarnings(
  input: PlanInput,
  role: Role,
  hub: CertMachine,
  hubHost: string | undefined,
  hubUrl: string,
): string[] {
  const warnings: string[] = [];
  if (role === 'leaf') {
    if (!input.hubUrl && !hubHost)
      warnings.push(
        `the secrets do not say where ${hub.id} is (certs generate ran without ${hub.id.toUpperCase()}_IP): the leaf dials ${hubUrl}; pass --hub-url, or regenerate the certs with the address set`,
      );
    const host = /^tls:\/\/\[?([^\]/]+?)\]?:\d+$/.exec(hubUrl)?.[1];
    const sans = machineSans(hub, input.hub);
    if (host && ![...sans.dns, ...sans.ips].includes(host))
      warnings.push(
        `${hub.id}'s certificate does not name ${host} (it names ${[...sans.dns, ...sans.ips].join(', ')}): the leaf will refuse it; dial one of those names or regenerate the certs with ${hub.id.toUpperCase()}_IP=${host}`,
      );
  }
  for (const path of [input.node, input.launcher])
    if (/^\/(root|home)\//.test(path))
      warnings.push(
        `${path} is under a home folder: the ${ON_HOST.user} user cannot run it there; install Node 20 and opsdeck system-wide (e.g. /usr/bin/node, npm install -g as root)`,
      );
  return warnings;
}

/** The four files a machine installs, each with its printed form (password hashes left out). */
function planFiles(input: PlanInput, role: Role, hub: CertMachine, hubUrl: string): PlanFile[] {
  const localUrl = `tls://${everywhere(input.natsListen.host) ? 'localhost' : input.natsListen.host}:${input.natsListen.port}`;
  const header = (what: string) =>
    `Generated by opsdeck deploy plan for ${input.machine} (opsdeck ${input.version}) from the secrets of ${input.generatedAt}. ${what}`;
  const users = serverUsers(input, role);
  return [
    {
      name: 'agent.yaml',
      installTo: ON_HOST.settings,
      secret: false,
      what: 'settings of opsdeck agent (the unit points to it)',
      text: agentSettings(input, localUrl, header),
    },
    {
      name: 'opsdeck-agent.service',
      installTo: ON_HOST.unit,
      secret: false,
      what: 'systemd unit: opsdeck agent as a dedicated user, restarted on failure',
      text: agentUnit(input, header),
    },
    {
      name: 'nats-server.conf',
      installTo: ON_HOST.natsConf,
      secret: true,
      what:
        role === 'hub'
          ? 'nats-server: the JetStream server, TLS verify, users, leaf node port'
          : `nats-server: leaf node of ${hub.id}, TLS verify, users`,
      text: natsConf(input, role, users, hubUrl, header),
    },
    {
      name: 'nats-server.service.d/opsdeck.conf',
      installTo: ON_HOST.dropIn,
      secret: false,
      what: "drop-in for Debian's nats-server unit: TLS files as credentials, store, restart",
      text: natsDropIn(input, role, header),
    },
  ].map((f) => ({
    ...f,
    shown: f.text.replace(/password: "[^"]*"/g, 'password: "<bcrypt hash from nats/auth.conf>"'),
  }));
}

/** The lines that tell the operator who serves JetStream and why the machines are not a cluster. */
function planTopology(input: PlanInput, role: Role, hub: CertMachine, hubUrl: string): string[] {
  const me = input.machine;
  const topology =
    role === 'hub'
      ? [
          `${me} runs the fleet's one JetStream server (domain ${hub.id}), clients on ${hostPort(input.natsListen)}, leaf nodes on ${hostPort(input.leafListen)}`,
          ...input.machines
            .filter((m) => m.id !== hub.id)
            .map(
              (m) =>
                `${m.id}'s nats-server joins as a leaf node, known by its certificate (${certSubject(m.id)})`,
            ),
        ]
      : [
          `${me}'s nats-server is a leaf node of ${hub.id} (${hubUrl}), clients on ${hostPort(input.natsListen)}; no JetStream here`,
          `JetStream lives on ${hub.id}: publish into its streams as usual; for its API (streams, consumers) use domain "${hub.id}"`,
        ];
  topology.push(
    'why not a cluster: two JetStream servers need each other for a quorum, so one machine down would stop JetStream on both; a leaf keeps local traffic going and reconnects',
  );
  return topology;
}

export function buildPlan(
  input: PlanInput,
): { ok: true; plan: DeployPlan } | { ok: false; problems: string[] } {
  const me = input.machines.find((m) => m.id === input.machine);
  const hub = input.machines.find((m) => m.id === input.hub);
  const problems = planProblems(input, me, hub);
  if (problems.length > 0 || !me || !hub) return { ok: false, problems };

  const role = me.id === hub.id ? 'hub' : 'leaf';
  const hubHost = hub.host && hub.host !== 'localhost' ? hub.host : undefined;
  const hubUrl = input.hubUrl ?? `tls://${hubHost ?? hub.id}:${input.leafListen.port}`;
  return {
    ok: true,
    plan: {
      machine: me.id,
      role,
      topology: planTopology(input, role, hub, hubUrl),
      files: planFiles(input, role, hub, hubUrl),
      steps: planSteps(input, role, hubHost),
      warnings: planWarnings(input, role, hub, hubHost, hubUrl),
    },
  };
}

function agentSettings(input: PlanInput, url: string, header: (s: string) => string): string {
  const lines = [
    `# ${header('')}`.trimEnd(),
    '# opsdeck agent reads this file (--config); flags win over OPSDECK_AGENT_* variables, which win',
    '# over this file. Secret files come from systemd (LoadCredential= in opsdeck-agent.service).',
    `machine: ${input.machine}`,
    `nats: ${url}`,
    `nats-user: ${input.machine}`,
    'interval: 2s',
  ];
  const me = input.machines.find((m) => m.id === input.machine)!;
  if (input.metricsPort !== undefined)
    lines.push(
      '# Prometheus metrics of this machine (opsdeck deploy grafana scrapes them); with `root:` every',
      '# agent of this machine is probed from here and exported.',
      `metrics: ${q(metricsListen(me, input.metricsPort))}`,
    );
  if (input.bridgeRoot)
    lines.push(
      "# carry this machine's ZMQ error bus into JetStream, with the fleet from the upstream checkout",
      'bridge: true',
      `root: ${q(input.bridgeRoot)}`,
    );
  else
    lines.push(
      "# bridge: true            # carry this machine's ZMQ error bus into JetStream (opsdeck errorbus doctor says where)",
      '# root: /path/to/AI_System_Monorepo   # the upstream checkout the bridge and the health probes read the fleet from',
    );
  return `${lines.join('\n')}\n`;
}

function agentUnit(input: PlanInput, header: (s: string) => string): string {
  const m = input.machine;
  const credentials = Object.entries(agentCredentials(m)).map(
    ([name, file]) => `LoadCredential=${name}:${ON_HOST.secrets}/${file}`,
  );
  return `${[
    `# ${header('')}`.trimEnd(),
    '[Unit]',
    `Description=opsdeck agent on ${m}: resources on NATS, control requests`,
    'After=network-online.target nats-server.service',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${ON_HOST.user}`,
    `ExecStart=${shq(input.node)} ${shq(input.launcher)} agent --config ${ON_HOST.settings}`,
    'Restart=on-failure',
    'RestartSec=5s',
    '# The secrets stay root-only in /etc/opsdeck/secrets: systemd hands the agent private copies',
    '# ($CREDENTIALS_DIRECTORY), which it finds by these names.',
    ...credentials,
    '# Its state and the audit trail of control actions; nothing else is writable.',
    'StateDirectory=opsdeck',
    `ReadWritePaths=${ON_HOST.state}`,
    `Environment=HOME=${ON_HOST.state}`,
    `Environment=OPSDECK_AUDIT=${ON_HOST.state}/audit.jsonl`,
    "# The throttle renices the fleet's agent processes, which run as another user: that (and",
    '# bringing their priority back at level 0) needs CAP_SYS_NICE, the only capability it keeps.',
    'AmbientCapabilities=CAP_SYS_NICE',
    'CapabilityBoundingSet=CAP_SYS_NICE',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'LockPersonality=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    '# nvidia-smi needs /dev/nvidia*: no PrivateDevices=. V8 needs writable executable memory:',
    '# no MemoryDenyWriteExecute=.',
    '# Lines start with their syslog priority (<4>...); the journal stores it as PRIORITY.',
    'SyslogIdentifier=opsdeck-agent',
    `LogExtraFields=OPSDECK_MACHINE=${m}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n')}\n`;
}

function tlsBlock(indent: string, verify: 'verify' | 'verify_and_map' | 'client'): string[] {
  return [
    `${indent}tls {`,
    ...NATS_TLS.map((t) => `${indent}  ${t.field}: $${t.env}`),
    ...(verify === 'client' ? [] : [`${indent}  ${verify}: true`, `${indent}  timeout: 2`]),
    `${indent}}`,
  ];
}

function natsConf(
  input: PlanInput,
  role: 'hub' | 'leaf',
  users: NatsUser[],
  hubUrl: string,
  header: (s: string) => string,
): string {
  const lines = [
    `# ${header('Install as /etc/nats-server.conf (root:nats 0640).')}`,
    role === 'hub'
      ? `# ${input.machine} runs the fleet's one JetStream server; the other machines' servers are its leaf nodes.`
      : `# A leaf node of ${input.hub}, which runs JetStream; the link logs in with this machine's certificate.`,
    `# ${role === 'hub' ? '$OPSDECK_TLS_* and $STATE_DIRECTORY come' : '$OPSDECK_TLS_* come'} from systemd (nats-server.service.d/opsdeck.conf).`,
    `server_name: ${q(input.machine)}`,
    `listen: ${q(hostPort(input.natsListen))}`,
  ];
  if (role === 'hub')
    lines.push('jetstream {', '  store_dir: $STATE_DIRECTORY', `  domain: ${q(input.hub)}`, '}');
  lines.push('# Every client presents a certificate signed by the fleet CA and logs in as a user.');
  lines.push(...tlsBlock('', 'verify'));
  lines.push(...authorizationLines(users));
  if (role === 'hub')
    lines.push(
      'leafnodes {',
      `  listen: ${q(hostPort(input.leafListen))}`,
      "  # A leaf's certificate subject is its user (verify_and_map): no password crosses the link.",
      ...tlsBlock('  ', 'verify_and_map'),
      '}',
    );
  else
    lines.push(
      'leafnodes {',
      '  remotes: [',
      '    {',
      `      url: ${q(hubUrl)}`,
      ...tlsBlock('      ', 'client'),
      '    }',
      '  ]',
      '}',
    );
  return `${lines.join('\n')}\n`;
}

function natsDropIn(input: PlanInput, role: 'hub' | 'leaf', header: (s: string) => string): string {
  return `${[
    `# ${header(`Install as ${ON_HOST.dropIn}.`)}`,
    '[Unit]',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    '# The TLS files, handed over from the root-only secrets folder; the config names them by',
    '# these variables (%d is the credentials folder).',
    ...NATS_TLS.flatMap((t) => [
      `LoadCredential=${t.credential}:${ON_HOST.secrets}/${t.file(input.machine)}`,
      `Environment=${t.env}=%d/${t.credential}`,
    ]),
    ...(role === 'hub'
      ? [
          '# The JetStream store: /var/lib/nats-server, owned by nats.',
          'StateDirectory=nats-server',
        ]
      : []),
    'Restart=on-failure',
    'RestartSec=2s',
  ].join('\n')}\n`;
}

function planSteps(
  input: PlanInput,
  role: 'hub' | 'leaf',
  hubHost: string | undefined,
): PlanStep[] {
  const m = input.machine;
  const me = input.machines.find((x) => x.id === m)!;
  const target = me.host && me.host !== 'localhost' ? me.host : m;
  const tar = `tar -C ${shq(input.secretsDir)} -cf - ${machineShare(m).join(' ')}`;
  const unpack = `umask 077 && mkdir -p ${ON_HOST.secrets} && tar -C ${ON_HOST.secrets} --no-same-owner -xf -`;
  const dir = '"$DIR"';
  return [
    {
      title: `copy ${m}'s share of the secrets into ${ON_HOST.secrets} (root only)`,
      where: 'on the machine with the secrets folder (where opsdeck certs generate ran)',
      commands: [
        `${tar} | ssh root@${target} '${unpack}'`,
        `# or, on ${m} itself:  ${tar} | sudo sh -c '${unpack}'`,
      ],
    },
    {
      title: 'install the files this plan wrote (DIR: the --write folder)',
      where: `on ${m}, as root`,
      commands: [
        `id -u ${ON_HOST.user} >/dev/null 2>&1 || useradd --system --home-dir ${ON_HOST.state} --no-create-home --shell /usr/sbin/nologin ${ON_HOST.user}`,
        `install -d -m 0755 ${ON_HOST.dir} /etc/systemd/system/nats-server.service.d`,
        `install -m 0644 ${dir}/agent.yaml ${ON_HOST.settings}`,
        `install -m 0644 ${dir}/opsdeck-agent.service ${ON_HOST.unit}`,
        `install -m 0644 ${dir}/nats-server.service.d/opsdeck.conf ${ON_HOST.dropIn}`,
        `install -m 0640 -o root -g nats ${dir}/nats-server.conf ${ON_HOST.natsConf}`,
      ],
    },
    {
      title: 'check and start',
      where: `on ${m}, as root`,
      commands: [
        'systemctl daemon-reload',
        `systemd-analyze verify ${ON_HOST.unit} nats-server.service`,
        'systemctl enable nats-server && systemctl restart nats-server',
        'systemctl enable --now opsdeck-agent',
        ...(role === 'hub'
          ? [
              `# let the leaf nodes and remote clients in, e.g.: ufw allow from <PC2 address> to any port ${input.leafListen.port},${input.natsListen.port} proto tcp`,
            ]
          : []),
        ...(input.metricsPort !== undefined
          ? [
              `# let Prometheus scrape /metrics, e.g.: ufw allow from <Prometheus host> to any port ${input.metricsPort} proto tcp`,
            ]
          : []),
      ],
    },
    {
      title: 'see it work',
      where: `on ${m}`,
      commands: [
        role === 'hub'
          ? 'journalctl -u nats-server -n 20 --no-pager   # "Leafnode connection created" once the leaf is up'
          : `journalctl -u nats-server -n 20 --no-pager   # "Leafnode connection created for account: $G" (${hubHost ?? input.hub} reached)`,
        `journalctl -u opsdeck-agent -n 20 --no-pager  # "ready: answering opsdeck.${m}.control (subscribed on ...)"; -p warning shows only problems`,
      ],
    },
  ];
}
