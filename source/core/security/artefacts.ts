// What `opsdeck certs generate` makes, where it puts it, and the text formats that need no I/O:
// the SANs of each machine certificate, pyzmq's CURVE certificate files, and the nats-server
// include file. The adapter (source/adapters/certs.ts) generates the keys and writes the files.

export interface CertMachine {
  id: string;
  /** Where the machine is reached (MAINPC_IP / PC2_IP or the fleet's host). */
  host: string;
}

export type ArtefactKind =
  | 'ca-cert'
  | 'ca-key'
  | 'cert'
  | 'key'
  | 'jwk-private'
  | 'jwks'
  | 'token'
  | 'secret'
  | 'curve-public'
  | 'curve-secret'
  | 'nats-conf'
  | 'trust';

export interface ArtefactSpec {
  /** Relative to the secrets folder, `/`-separated. */
  path: string;
  kind: ArtefactKind;
  /** Private: 0600, never printed. Public files are 0644. */
  secret: boolean;
  what: string;
}

/** A certificate's subject: nats-server can map a leaf node's certificate to a user by it. */
export const certSubject = (cn: string): string => `CN=${cn}, O=opsdeck fleet`;

/** The machine the nats-server runs on by default: upstream points NATS at the MainPC IP. */
export const DEFAULT_NATS_HOST = 'mainpc';
export const OPERATOR = 'opsdeck';
/** CURVE pairs upstream's secure_zmq.py loads from certificates/. */
export const CURVE_NAMES = ['server', 'client'] as const;
/** Upstream SecretManager names (./secrets/<NAME>). */
export const UPSTREAM_SECRETS = ['JWT_SECRET', 'NATS_USERNAME', 'NATS_PASSWORD'] as const;

// Long: a table, one entry per artefact file, in the order they are written.
export function artefactPlan(machines: readonly CertMachine[]): ArtefactSpec[] {
  const specs: ArtefactSpec[] = [
    {
      path: 'ca/ca.crt',
      kind: 'ca-cert',
      secret: false,
      what: 'fleet CA certificate (ECDSA P-256)',
    },
    { path: 'ca/ca.key', kind: 'ca-key', secret: true, what: 'fleet CA private key' },
    {
      path: 'ca/trust.pem',
      kind: 'trust',
      secret: false,
      what: 'CAs trusted by nats-server (the new CA, plus retired ones until a rotation is finished)',
    },
  ];
  for (const m of machines) {
    specs.push({
      path: `tls/${m.id}.crt`,
      kind: 'cert',
      secret: false,
      what: `${m.id} certificate (serverAuth + clientAuth)`,
    });
    specs.push({ path: `tls/${m.id}.key`, kind: 'key', secret: true, what: `${m.id} private key` });
  }
  specs.push({
    path: `tls/${OPERATOR}.crt`,
    kind: 'cert',
    secret: false,
    what: 'operator client certificate (clientAuth)',
  });
  specs.push({
    path: `tls/${OPERATOR}.key`,
    kind: 'key',
    secret: true,
    what: 'operator client private key',
  });
  specs.push({
    path: 'jwt/signing.jwk',
    kind: 'jwk-private',
    secret: true,
    what: 'Ed25519 JWT signing key (mints control tokens)',
  });
  specs.push({
    path: 'jwt/jwks.json',
    kind: 'jwks',
    secret: false,
    what: 'public JWKS: give to `opsdeck agent --jwks` and `opsdeck sim --jwks`',
  });
  for (const m of machines)
    specs.push({
      path: `samples/${m.id}.jwk`,
      kind: 'jwk-private',
      secret: true,
      what: `Ed25519 key ${m.id}'s agent signs its resource samples with (opsdeck agent --sample-key)`,
    });
  specs.push({
    path: 'samples/keys.json',
    kind: 'jwks',
    secret: false,
    what: "public keys of the machines' sample keys: the console and auto-throttle verify samples with it",
  });
  for (const m of machines)
    specs.push({
      path: `tokens/${m.id}.jwt`,
      kind: 'token',
      secret: true,
      what: `control token for ${m.id} (aud ${m.id})`,
    });
  for (const m of machines) {
    for (const name of UPSTREAM_SECRETS) {
      specs.push({
        path: `machines/${m.id}/secrets/${name}`,
        kind: 'secret',
        secret: true,
        what: `upstream ${name} for ${m.id} (copy to its ./secrets/)`,
      });
    }
    for (const c of CURVE_NAMES) {
      specs.push({
        path: `machines/${m.id}/certificates/${c}.key`,
        kind: 'curve-public',
        secret: false,
        what: `ZMQ CURVE ${c} public certificate (pyzmq format)`,
      });
      specs.push({
        path: `machines/${m.id}/certificates/${c}.key_secret`,
        kind: 'curve-secret',
        secret: true,
        what: `ZMQ CURVE ${c} secret certificate (pyzmq format)`,
      });
    }
  }
  specs.push({
    path: `nats/${OPERATOR}.password`,
    kind: 'secret',
    secret: true,
    what: 'NATS password of the opsdeck user',
  });
  specs.push({
    path: 'nats/auth.conf',
    kind: 'nats-conf',
    secret: true,
    what: 'nats-server include file: TLS (verify on) and per-subject users (bcrypt hashes of their passwords)',
  });
  return specs;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-fA-F:]+:[0-9a-fA-F:]*$/;
export const isIp = (s: string): boolean => IPV4.test(s) || IPV6.test(s);

export interface Sans {
  dns: string[];
  ips: string[];
}

/**
 * A machine certificate's names: its id, `<id>-service` (upstream's docker names), its address
 * (MAINPC_IP / PC2_IP), localhost for clients on the same box; the NATS host also gets upstream's
 * NATS names (`nats`, `nats_coordination`).
 */
export function machineSans(m: CertMachine, natsHost: string = DEFAULT_NATS_HOST): Sans {
  const dns = new Set<string>([m.id, `${m.id}-service`, 'localhost']);
  const ips = new Set<string>(['127.0.0.1']);
  if (m.host && m.host !== 'localhost') (isIp(m.host) ? ips : dns).add(m.host);
  if (m.id === natsHost) for (const n of ['nats', 'nats_coordination']) dns.add(n);
  return { dns: [...dns], ips: [...ips] };
}

// ---------------------------------------------------------------------------------------------
// pyzmq's certificate files (zmq/auth/certs.py: create_certificates / load_certificate)

const PUBLIC_BANNER = (when: string) =>
  `#   ****  Generated on ${when} by pyzmq  ****\n` +
  '#   ZeroMQ CURVE Public Certificate\n' +
  '#   Exchange securely, or use a secure mechanism to verify the contents\n' +
  '#   of this file after exchange. Store public certificates in your home\n' +
  '#   directory, in the .curve subdirectory.\n\n';
const SECRET_BANNER = (when: string) =>
  `#   ****  Generated on ${when} by pyzmq  ****\n` +
  '#   ZeroMQ CURVE **Secret** Certificate\n' +
  '#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n';

/** Python's str(datetime.datetime.now()): `2025-08-19 12:34:56.123456` (local time). */
export function pyNow(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}

/** Z85 text of a 32-byte key is 40 characters from this alphabet. */
export const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** `name.key` (public only) or `name.key_secret` (both keys), byte for byte as pyzmq writes them. */
export function zplCertificate(
  publicKey: string,
  secretKey: string | undefined,
  when: Date,
): string {
  const banner = secretKey ? SECRET_BANNER(pyNow(when)) : PUBLIC_BANNER(pyNow(when));
  return `${banner}metadata\ncurve\n    public-key = "${publicKey}"\n${secretKey ? `    secret-key = "${secretKey}"\n` : ''}`;
}

/** pyzmq's load_certificate: the first public-key and secret-key lines, quotes stripped. */
export function parseZplCertificate(text: string): { publicKey?: string; secretKey?: string } {
  let publicKey: string | undefined;
  let secretKey: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    const value = () => line.slice(line.indexOf('=') + 1).replace(/^[ \t'"]+|[ \t'"]+$/g, '');
    if (line.startsWith('public-key') && publicKey === undefined) publicKey = value();
    if (line.startsWith('secret-key') && secretKey === undefined) secretKey = value();
  }
  return {
    ...(publicKey !== undefined ? { publicKey } : {}),
    ...(secretKey !== undefined ? { secretKey } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// nats-server include file

export interface NatsUser {
  user: string;
  /** bcrypt, as nats-server accepts: the include file never holds a password itself. */
  passwordHash: string;
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
  allowResponses: boolean;
  /** nats-server's allowed_connection_types (STANDARD, LEAFNODE, ...); absent: any. */
  connectionTypes?: string[];
}

/**
 * Per-subject permissions: a machine publishes its own resources, bridge status and errors,
 * answers its own control subject, and may not send control or change the error-bus phase;
 * opsdeck sends control, moves the phase (KV `opsdeck`) and reads everything, but may not fake
 * resources.
 */
export function natsUsers(
  machines: readonly string[],
  hashes: Readonly<Record<string, string>>,
): NatsUser[] {
  const pass = (user: string) => {
    const h = hashes[user];
    if (!h) throw new Error(`no NATS password hash for ${user}`);
    // A plain password here would end up in a config file that gets copied between machines.
    if (!BCRYPT.test(h)) throw new Error(`the NATS password of ${user} is not a bcrypt hash`);
    return h;
  };
  const users: NatsUser[] = machines.map((id) => ({
    user: id,
    passwordHash: pass(id),
    publish: {
      allow: [
        `opsdeck.${id}.resources`,
        `opsdeck.${id}.bridge`,
        `opsdeck.${id}.health`,
        'errors.>',
        'telemetry.>',
        'memory.>',
        'models.>',
        'memory_events',
        '$JS.API.>',
        '$JS.ACK.>',
        '_INBOX.>',
      ],
      deny: [
        'opsdeck.*.control',
        '$KV.opsdeck.>',
        '$JS.API.STREAM.DELETE.>',
        '$JS.API.STREAM.PURGE.>',
      ],
    },
    subscribe: {
      allow: [
        `opsdeck.${id}.control`,
        'errors.>',
        'telemetry.>',
        'memory.>',
        'models.>',
        'memory_events',
        '_INBOX.>',
        '$KV.opsdeck.>',
      ],
    },
    allowResponses: true,
  }));
  users.push({
    user: OPERATOR,
    passwordHash: pass(OPERATOR),
    publish: {
      allow: ['opsdeck.>', '$JS.API.>', '$JS.ACK.>', '$KV.opsdeck.>', '_INBOX.>'],
      // What only a machine's own agent may say about that machine.
      deny: ['opsdeck.*.resources', 'opsdeck.*.health'],
    },
    subscribe: { allow: ['>'] },
    allowResponses: false,
  });
  return users;
}

/** What nats-server treats as a bcrypt hash rather than a plain password. */
export const BCRYPT = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;

const q = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(q).join(', ')}]`;

export interface NatsConfInput {
  certFile: string;
  keyFile: string;
  caFile: string;
  users: NatsUser[];
  generatedAt: Date;
}

/** The include file: `include "auth.conf"` from nats-server.conf (paths absolute). */
export function natsAuthConf(input: NatsConfInput): string {
  const lines = [
    `# Generated by opsdeck certs generate at ${input.generatedAt.toISOString()}. Passwords are bcrypt hashes; keep it 0600 all the same.`,
    '# Use it from nats-server.conf with:  include "auth.conf"   (the path is relative to that file)',
    '# Every client must present a certificate signed by the fleet CA (verify: true) and log in as a user.',
    'tls {',
    `  cert_file: ${q(input.certFile)}`,
    `  key_file: ${q(input.keyFile)}`,
    `  ca_file: ${q(input.caFile)}`,
    '  verify: true',
    '  timeout: 2',
    '}',
    ...authorizationLines(input.users),
    '',
  ];
  return lines.join('\n');
}

/** The `authorization { users: [...] }` block. */
export function authorizationLines(users: readonly NatsUser[]): string[] {
  const lines = ['authorization {', '  users: ['];
  for (const u of users) {
    lines.push('    {');
    lines.push(`      user: ${q(u.user)}`);
    // No password: a leaf node's user, known by its certificate (verify_and_map).
    if (u.passwordHash) lines.push(`      password: ${q(u.passwordHash)}`);
    if (u.connectionTypes) lines.push(`      allowed_connection_types: ${list(u.connectionTypes)}`);
    lines.push('      permissions: {');
    lines.push(
      `        publish: { allow: ${list(u.publish.allow)}${u.publish.deny ? `, deny: ${list(u.publish.deny)}` : ''} }`,
    );
    lines.push(
      `        subscribe: { allow: ${list(u.subscribe.allow)}${u.subscribe.deny ? `, deny: ${list(u.subscribe.deny)}` : ''} }`,
    );
    if (u.allowResponses) lines.push('        allow_responses: true');
    lines.push('      }');
    lines.push('    }');
  }
  lines.push('  ]', '}');
  return lines;
}

// ---------------------------------------------------------------------------------------------
// show: the scorecard's view of the folder

export interface ArtefactStatus {
  path: string;
  kind: ArtefactKind;
  secret: boolean;
  what: string;
  present: boolean;
  /** sha256 (certificates: of the DER; JWK: its RFC 7638 thumbprint; else of the public part or the file). */
  fingerprint: string | null;
  /** Certificates and tokens: ISO time they stop being valid. */
  expires: string | null;
  daysLeft: number | null;
  /** Octal, e.g. "600". */
  mode: string | null;
  problems: string[];
}

export const daysBetween = (from: number, to: number): number =>
  Math.floor((to - from) / 86_400_000);

/** Problems shared by every kind: missing, mode, expiry. */
export function basicProblems(
  spec: ArtefactSpec,
  present: boolean,
  mode: number | null,
  daysLeft: number | null,
  warnDays = spec.kind === 'token' ? 7 : 30,
): string[] {
  const problems: string[] = [];
  if (!present) return [`missing`];
  if (spec.secret && mode !== null && (mode & 0o077) !== 0)
    problems.push(`mode ${mode.toString(8).padStart(3, '0')}: a private file must be 600`);
  if (daysLeft !== null && daysLeft < 0) problems.push(`expired ${-daysLeft} days ago`);
  else if (daysLeft !== null && daysLeft < warnDays) problems.push(`expires in ${daysLeft} days`);
  return problems;
}
