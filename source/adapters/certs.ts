// Generates and inspects the fleet's security artefacts (see core/security/artefacts.ts for
// the list): a CA and certificates (ECDSA P-256), the Ed25519 JWT key and JWKS, machine
// tokens, upstream's secrets and CURVE certificates, and the nats-server include file. Every
// private file is written 0600 atomically; nothing here prints a secret.
import { createHash, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type * as X509 from '@peculiar/x509';
import bcrypt from 'bcryptjs';
import * as zmq from 'zeromq';
import {
  artefactPlan,
  basicProblems,
  certSubject,
  CURVE_NAMES,
  daysBetween,
  DEFAULT_NATS_HOST,
  machineSans,
  natsAuthConf,
  natsUsers,
  OPERATOR,
  parseZplCertificate,
  Z85_KEY,
  zplCertificate,
  type ArtefactSpec,
  type ArtefactStatus,
  type CertMachine,
} from '../core/security/artefacts.js';
import { decodeJwt } from '../core/security/token.js';
import {
  generateSigningKey,
  mintToken,
  publicOf,
  type Jwks,
  type PrivateJwk,
  type PublicJwk,
} from './jwt.js';
import { ensurePrivateDir, fsyncDir, writePublic, writeSecret } from './secret-files.js';
import { newSampleKey, SAMPLE_KEYS_FILE, sampleKeyFile } from './sample-sign.js';

/** `nats server passwd`'s default. */
const BCRYPT_COST = 11;

type CryptoKey = webcrypto.CryptoKey;
const crypto = webcrypto;

// Start-up (issue 7): @peculiar/x509 takes about 0.1 s to load and the console imports this
// module (for its security store) before its first frame, so it is loaded on first use.
const requireCjs = createRequire(import.meta.url);
let x509Module: typeof X509 | undefined;
function x509(): typeof X509 {
  if (!x509Module) {
    x509Module = requireCjs('@peculiar/x509') as typeof X509;
    x509Module.cryptoProvider.set(
      crypto as unknown as Parameters<typeof X509.cryptoProvider.set>[0],
    );
  }
  return x509Module;
}
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export const MANIFEST = 'manifest.json';
export const RETIRED = 'retired';

export interface Manifest {
  schema: 'opsdeck.certs/1';
  generatedAt: string;
  machines: CertMachine[];
  natsHost: string;
  /** kids and CA fingerprints still trusted from retired generations (until rotation is finished). */
  retired: { stamp: string; kid: string | null; caFingerprint: string | null }[];
}

export interface GenerateOptions {
  machines: CertMachine[];
  natsHost?: string;
  /** Machine and operator certificates. */
  days?: number;
  caDays?: number;
  tokenDays?: number;
  now?: Date;
}

export const DEFAULTS = { days: 397, caDays: 1825, tokenDays: 30 } as const;

const serial = () => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
};

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return x509().PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
export const certFingerprint = (cert: X509.X509Certificate): string =>
  sha256(new Uint8Array(cert.rawData));

interface Issued {
  certPem: string;
  keyPem: string;
}

async function issue(
  ca: { cert: X509.X509Certificate; key: CryptoKey },
  cn: string,
  sans: { dns: string[]; ips: string[] },
  usages: string[],
  notBefore: Date,
  notAfter: Date,
): Promise<Issued> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const cert = await x509().X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: certSubject(cn),
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: EC,
    extensions: [
      new (x509().BasicConstraintsExtension)(false, undefined, true),
      new (x509().KeyUsagesExtension)(
        x509().KeyUsageFlags.digitalSignature | x509().KeyUsageFlags.keyAgreement,
        true,
      ),
      new (x509().ExtendedKeyUsageExtension)(usages, false),
      new (x509().SubjectAlternativeNameExtension)(
        [
          ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
          ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
        ],
        false,
      ),
      await x509().SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509().AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await pkcs8Pem(keys.privateKey) };
}

/** Everything a generation writes: relative path -> bytes. Nothing touches the disk here. */
export interface Generation {
  files: Map<string, string>;
  manifest: Manifest;
  signingKey: PrivateJwk;
  caPem: string;
}

/** What each step of a generation shares: the options, the clock, and the files so far. */
interface Build {
  options: GenerateOptions;
  now: Date;
  /** Five minutes back: a machine whose clock is a little behind still accepts the certificates. */
  notBefore: Date;
  files: Map<string, string>;
}

const daysAfter = (b: Build, n: number) => new Date(b.now.getTime() + n * 86_400_000);

type Ca = { cert: X509.X509Certificate; key: CryptoKey };

/** The fleet CA, self-signed; trust.pem also holds the CAs a rotation carries. */
async function makeCa(b: Build, carriedTrust: string[]): Promise<{ ca: Ca; caPem: string }> {
  const caKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const caCert = await x509().X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=opsdeck fleet CA, O=opsdeck fleet',
    notBefore: b.notBefore,
    notAfter: daysAfter(b, b.options.caDays ?? DEFAULTS.caDays),
    keys: caKeys,
    signingAlgorithm: EC,
    extensions: [
      new (x509().BasicConstraintsExtension)(true, 0, true),
      new (x509().KeyUsagesExtension)(
        x509().KeyUsageFlags.keyCertSign | x509().KeyUsageFlags.cRLSign,
        true,
      ),
      await x509().SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caPem = caCert.toString('pem');
  b.files.set('ca/ca.crt', caPem);
  b.files.set('ca/ca.key', await pkcs8Pem(caKeys.privateKey));
  b.files.set('ca/trust.pem', [caPem, ...carriedTrust].map((p) => p.trim()).join('\n') + '\n');
  return { ca: { cert: caCert, key: caKeys.privateKey }, caPem };
}

/** Each machine's certificate (server and client) and the operator's (client only). */
async function issueLeaves(b: Build, ca: Ca, natsHost: string): Promise<void> {
  const leafEnd = daysAfter(b, b.options.days ?? DEFAULTS.days);
  for (const m of b.options.machines) {
    const issued = await issue(
      ca,
      m.id,
      machineSans(m, natsHost),
      [x509().ExtendedKeyUsage.serverAuth, x509().ExtendedKeyUsage.clientAuth],
      b.notBefore,
      leafEnd,
    );
    b.files.set(`tls/${m.id}.crt`, issued.certPem);
    b.files.set(`tls/${m.id}.key`, issued.keyPem);
  }
  const op = await issue(
    ca,
    `${OPERATOR}-operator`,
    { dns: [OPERATOR], ips: [] },
    [x509().ExtendedKeyUsage.clientAuth],
    b.notBefore,
    leafEnd,
  );
  b.files.set(`tls/${OPERATOR}.crt`, op.certPem);
  b.files.set(`tls/${OPERATOR}.key`, op.keyPem);
}

/** The JWT signing key and JWKS (with the kids a rotation carries), sample keys, machine tokens. */
function makeKeys(b: Build, carriedJwks: PublicJwk[]): PrivateJwk {
  const { options, files } = b;
  const signingKey = generateSigningKey();
  const jwks: Jwks = {
    keys: [publicOf(signingKey), ...carriedJwks.filter((k) => k.kid !== signingKey.kid)],
  };
  files.set('jwt/signing.jwk', `${JSON.stringify(signingKey, null, 2)}\n`);
  files.set('jwt/jwks.json', `${JSON.stringify(jwks, null, 2)}\n`);
  const sampleKeys = options.machines.map((m) => {
    const made = newSampleKey(m.id);
    files.set(sampleKeyFile(m.id), `${JSON.stringify(made.key, null, 2)}\n`);
    return made.public;
  });
  files.set(SAMPLE_KEYS_FILE, `${JSON.stringify({ keys: sampleKeys }, null, 2)}\n`);
  for (const m of options.machines) {
    files.set(
      `tokens/${m.id}.jwt`,
      mintToken(signingKey, {
        audience: m.id,
        subject: `${OPERATOR}-operator`,
        ttlS: (options.tokenDays ?? DEFAULTS.tokenDays) * 86_400,
        now: b.now.getTime(),
      }),
    );
  }
  return signingKey;
}

/** Upstream's own: the JWT secret, NATS users' passwords and CURVE certificates per machine. */
function makeUpstreamSecrets({ options, files, now }: Build): void {
  // Upstream: one HS256 secret shared by every process on both machines (SecurityManager).
  const jwtSecret = randomBytes(32).toString('base64url');
  const passwords: Record<string, string> = {};
  for (const user of [...options.machines.map((m) => m.id), OPERATOR])
    passwords[user] = randomBytes(24).toString('base64url');
  const curve = Object.fromEntries(CURVE_NAMES.map((c) => [c, zmq.curveKeyPair()])) as Record<
    (typeof CURVE_NAMES)[number],
    { publicKey: string; secretKey: string }
  >;
  for (const m of options.machines) {
    files.set(`machines/${m.id}/secrets/JWT_SECRET`, jwtSecret);
    files.set(`machines/${m.id}/secrets/NATS_USERNAME`, m.id);
    files.set(`machines/${m.id}/secrets/NATS_PASSWORD`, passwords[m.id]!);
    for (const c of CURVE_NAMES) {
      files.set(
        `machines/${m.id}/certificates/${c}.key`,
        zplCertificate(curve[c].publicKey, undefined, now),
      );
      files.set(
        `machines/${m.id}/certificates/${c}.key_secret`,
        zplCertificate(curve[c].publicKey, curve[c].secretKey, now),
      );
    }
  }
  files.set(`nats/${OPERATOR}.password`, passwords[OPERATOR]!);
}

export async function buildGeneration(
  options: GenerateOptions,
  carried: { trust: string[]; jwks: PublicJwk[]; retired: Manifest['retired'] } = {
    trust: [],
    jwks: [],
    retired: [],
  },
): Promise<Generation> {
  const now = options.now ?? new Date();
  const natsHost =
    options.natsHost ??
    (options.machines.some((m) => m.id === DEFAULT_NATS_HOST)
      ? DEFAULT_NATS_HOST
      : options.machines[0]!.id);
  const b: Build = {
    options,
    now,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    files: new Map<string, string>(),
  };
  const { ca, caPem } = await makeCa(b, carried.trust);
  await issueLeaves(b, ca, natsHost);
  const signingKey = makeKeys(b, carried.jwks);
  makeUpstreamSecrets(b);
  return {
    files: b.files,
    signingKey,
    caPem,
    manifest: {
      schema: 'opsdeck.certs/1',
      generatedAt: now.toISOString(),
      machines: options.machines,
      natsHost,
      retired: carried.retired,
    },
  };
}

/** The include file names absolute paths, so it depends on where the folder is. */
export function natsConfFor(dir: string, generation: Generation): string {
  const abs = resolve(dir);
  const hashes: Record<string, string> = {};
  for (const m of generation.manifest.machines)
    hashes[m.id] = bcrypt.hashSync(
      generation.files.get(`machines/${m.id}/secrets/NATS_PASSWORD`)!,
      BCRYPT_COST,
    );
  hashes[OPERATOR] = bcrypt.hashSync(
    generation.files.get(`nats/${OPERATOR}.password`)!,
    BCRYPT_COST,
  );
  return natsAuthConf({
    certFile: join(abs, `tls/${generation.manifest.natsHost}.crt`),
    keyFile: join(abs, `tls/${generation.manifest.natsHost}.key`),
    caFile: join(abs, 'ca/trust.pem'),
    users: natsUsers(
      generation.manifest.machines.map((m) => m.id),
      hashes,
    ),
    generatedAt: new Date(generation.manifest.generatedAt),
  });
}

/** Writes a generation into `dir` (each file atomically, private ones 0600). */
export function writeGeneration(dir: string, generation: Generation): string[] {
  ensurePrivateDir(dir);
  const specs = new Map(artefactPlan(generation.manifest.machines).map((s) => [s.path, s]));
  const written: string[] = [];
  const all = new Map(generation.files);
  all.set('nats/auth.conf', natsConfFor(dir, generation));
  for (const [path, text] of all) {
    const spec = specs.get(path);
    if (!spec) throw new Error(`internal: ${path} is not in the artefact plan`);
    (spec.secret ? writeSecret : writePublic)(join(dir, path), text);
    written.push(path);
  }
  writePublic(join(dir, MANIFEST), `${JSON.stringify(generation.manifest, null, 2)}\n`);
  return written;
}

export function readManifest(dir: string): Manifest | undefined {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) return undefined;
  const value = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  if (value.schema !== 'opsdeck.certs/1' || !Array.isArray(value.machines))
    throw new Error(`${file} is not an opsdeck certs manifest`);
  return value;
}

/** Planned files that already exist (generate refuses to overwrite them). */
export function existingArtefacts(dir: string, machines: readonly CertMachine[]): string[] {
  return artefactPlan(machines)
    .map((s) => s.path)
    .filter((p) => existsSync(join(dir, p)));
}

// ---------------------------------------------------------------------------------------------
// Rotation: the current generation moves to retired/<stamp>/ and stays trusted (its CA in
// trust.pem, its kid in jwks.json) until the rotation is finished.

export const stampOf = (d: Date): string => d.toISOString().replace(/[:.]/g, '-');

export function retire(
  dir: string,
  manifest: Manifest,
  now: Date,
): {
  stamp: string;
  moved: string[];
  trust: string;
  key: PublicJwk | undefined;
  caFingerprint: string | null;
} {
  const stamp = stampOf(now);
  const target = join(dir, RETIRED, stamp);
  ensurePrivateDir(target);
  const caFile = join(dir, 'ca/ca.crt');
  const trust = existsSync(caFile) ? readFileSync(caFile, 'utf8') : '';
  const caFingerprint = trust ? certFingerprint(new (x509().X509Certificate)(trust)) : null;
  let key: PublicJwk | undefined;
  try {
    key = publicOf(JSON.parse(readFileSync(join(dir, 'jwt/signing.jwk'), 'utf8')) as PrivateJwk);
  } catch {
    key = undefined;
  }
  const moved: string[] = [];
  for (const path of [...artefactPlan(manifest.machines).map((s) => s.path), MANIFEST]) {
    const from = join(dir, path);
    if (!existsSync(from)) continue;
    const to = join(target, path);
    ensurePrivateDir(dirname(to));
    renameSync(from, to);
    fsyncDir(dirname(to));
    moved.push(path);
  }
  return { stamp, moved, trust, key, caFingerprint };
}

/** Retired generations still kept (stamps, oldest first). */
export function retiredStamps(dir: string): string[] {
  const root = join(dir, RETIRED);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => statSync(join(root, n)).isDirectory())
    .sort();
}

/** Ends the rotation: only the current CA and key stay trusted; retired/ is removed. */
export function finishRotation(dir: string, manifest: Manifest): { removed: string[] } {
  const removed = retiredStamps(dir);
  const caPem = readFileSync(join(dir, 'ca/ca.crt'), 'utf8');
  writePublic(join(dir, 'ca/trust.pem'), `${caPem.trim()}\n`);
  const signing = JSON.parse(readFileSync(join(dir, 'jwt/signing.jwk'), 'utf8')) as PrivateJwk;
  writePublic(
    join(dir, 'jwt/jwks.json'),
    `${JSON.stringify({ keys: [publicOf(signing)] }, null, 2)}\n`,
  );
  writePublic(join(dir, MANIFEST), `${JSON.stringify({ ...manifest, retired: [] }, null, 2)}\n`);
  rmSync(join(dir, RETIRED), { recursive: true, force: true });
  fsyncDir(dir);
  return { removed };
}

// ---------------------------------------------------------------------------------------------
// show

const spkiFingerprintOfKey = (pem: string): string =>
  sha256(createPublicKey(pem).export({ type: 'spki', format: 'der' }));

/** What an artefact's text says; filled in as it is read, so a failure keeps what came before. */
interface Reading {
  fingerprint: string | null;
  expires: string | null;
  problems: string[];
}

/** A certificate's fingerprint and expiry, and whether the .key beside it is its key. */
function readCert(spec: ArtefactSpec, file: string, text: string, r: Reading): void {
  const cert = new (x509().X509Certificate)(text);
  r.fingerprint = `sha256:${certFingerprint(cert)}`;
  r.expires = cert.notAfter.toISOString();
  const keyFile = file.replace(/\.crt$/, '.key');
  if (existsSync(keyFile)) {
    const certSpki = sha256(new Uint8Array(cert.publicKey.rawData));
    if (certSpki !== spkiFingerprintOfKey(readFileSync(keyFile, 'utf8')))
      r.problems.push(`does not match ${spec.path.replace(/\.crt$/, '.key')}`);
  }
}

function readToken(text: string, r: Reading): void {
  const d = decodeJwt(text.trim());
  if (!d.ok) {
    r.problems.push(d.reason);
    return;
  }
  r.fingerprint = `kid:${String(d.value.header.kid)}`;
  const exp = d.value.payload.exp;
  if (typeof exp === 'number') r.expires = new Date(exp * 1000).toISOString();
}

function readCurve(spec: ArtefactSpec, text: string, r: Reading): void {
  const parsed = parseZplCertificate(text);
  if (!parsed.publicKey || !Z85_KEY.test(parsed.publicKey))
    r.problems.push('no valid public-key line');
  if (spec.kind === 'curve-secret' && (!parsed.secretKey || !Z85_KEY.test(parsed.secretKey)))
    r.problems.push('no valid secret-key line');
  r.fingerprint = parsed.publicKey ? `public:${sha256(parsed.publicKey).slice(0, 16)}` : null;
}

/** One artefact by its kind: a fingerprint that reveals nothing secret, an expiry, problems. */
function readArtefact(spec: ArtefactSpec, file: string, r: Reading): void {
  const text = readFileSync(file, 'utf8');
  switch (spec.kind) {
    case 'ca-cert':
    case 'cert':
      return readCert(spec, file, text, r);
    case 'ca-key':
    case 'key':
      r.fingerprint = `spki-sha256:${spkiFingerprintOfKey(text)}`;
      return;
    case 'trust':
      r.fingerprint = `${text.split('BEGIN CERTIFICATE').length - 1} CA(s)`;
      return;
    case 'jwk-private':
      r.fingerprint = `kid:${(JSON.parse(text) as PrivateJwk).kid}`;
      return;
    case 'jwks':
      r.fingerprint = `kids:${(JSON.parse(text) as Jwks).keys.map((k) => k.kid).join(',')}`;
      return;
    case 'token':
      return readToken(text, r);
    case 'curve-public':
    case 'curve-secret':
      return readCurve(spec, text, r);
    default:
      // A secret's fingerprint: a short hash that tells two copies apart and reveals nothing.
      r.fingerprint = `sha256:${sha256(text).slice(0, 16)}`;
  }
}

function inspectOne(dir: string, spec: ArtefactSpec, now: number): ArtefactStatus {
  const file = join(dir, spec.path);
  const base = { path: spec.path, kind: spec.kind, secret: spec.secret, what: spec.what };
  if (!existsSync(file))
    return {
      ...base,
      present: false,
      fingerprint: null,
      expires: null,
      daysLeft: null,
      mode: null,
      problems: ['missing'],
    };
  const mode = statSync(file).mode & 0o777;
  const r: Reading = { fingerprint: null, expires: null, problems: [] };
  try {
    readArtefact(spec, file, r);
  } catch (error) {
    r.problems.push(`unreadable: ${(error as Error).message.split('\n')[0]}`);
  }
  const daysLeft = r.expires ? daysBetween(now, Date.parse(r.expires)) : null;
  return {
    ...base,
    present: true,
    fingerprint: r.fingerprint,
    expires: r.expires,
    daysLeft,
    mode: mode.toString(8).padStart(3, '0'),
    problems: [...basicProblems(spec, true, mode, daysLeft), ...r.problems],
  };
}

export interface CertsReport {
  schema: 'opsdeck.certs.show/1';
  dir: string;
  generatedAt: string | null;
  machines: string[];
  retired: string[];
  artefacts: ArtefactStatus[];
  problems: number;
}

/** Every artefact with fingerprint, expiry and problems: `opsdeck certs show` and the scorecard. */
export function inspectArtefacts(dir: string, now = Date.now()): CertsReport {
  const manifest = readManifest(dir);
  const machines = manifest?.machines ?? [
    { id: 'mainpc', host: 'localhost' },
    { id: 'pc2', host: 'localhost' },
  ];
  const artefacts = artefactPlan(machines).map((s) => inspectOne(dir, s, now));
  if (existsSync(dir)) {
    const mode = statSync(dir).mode & 0o777;
    if (mode & 0o077)
      artefacts.unshift({
        path: '.',
        kind: 'secret',
        secret: true,
        what: 'the secrets folder',
        present: true,
        fingerprint: null,
        expires: null,
        daysLeft: null,
        mode: mode.toString(8),
        problems: [`folder mode ${mode.toString(8)}: must be 700`],
      });
  }
  return {
    schema: 'opsdeck.certs.show/1',
    dir: resolve(dir),
    generatedAt: manifest?.generatedAt ?? null,
    machines: machines.map((m) => m.id),
    retired: retiredStamps(dir),
    artefacts,
    problems: artefacts.filter((a) => a.problems.length > 0).length,
  };
}
