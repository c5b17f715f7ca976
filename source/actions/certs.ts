// `certs generate`, `certs rotate` and `certs rotate --finish` as Actions: the console and the
// subcommands run the same preview -> confirm -> execute -> verify -> audit path. Previews and
// outcomes name files, modes and fingerprints, never secret bytes.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artefactPlan, type CertMachine } from '../core/security/artefacts.js';
import {
  buildGeneration,
  DEFAULTS,
  existingArtefacts,
  finishRotation,
  inspectArtefacts,
  MANIFEST,
  readManifest,
  retire,
  retiredStamps,
  RETIRED,
  stampOf,
  writeGeneration,
  type CertsReport,
  type Manifest,
} from '../adapters/certs.js';
import type { Jwks } from '../adapters/jwt.js';
import type { Action, Outcome, Preview } from './action.js';

export interface CertsOptions {
  dir: string;
  machines: CertMachine[];
  natsHost?: string;
  days?: number;
  caDays?: number;
  tokenDays?: number;
  /** Tests pin the clock. */
  now?: () => Date;
}

const modeOf = (secret: boolean) => (secret ? '0600' : '0644');

function planLines(machines: CertMachine[]): string[] {
  return artefactPlan(machines).map((s) => `write ${s.path} (${modeOf(s.secret)}): ${s.what}`);
}

function verifyReport(report: CertsReport, outcome: Outcome, extra: string[] = []): Outcome {
  const bad = report.artefacts.filter((a) => a.problems.length > 0);
  const ca = report.artefacts.find((a) => a.path === 'ca/ca.crt');
  const kid = report.artefacts.find((a) => a.path === 'jwt/signing.jwk');
  if (bad.length > 0) {
    return {
      ok: false,
      detail: `re-read ${report.dir}: ${bad.length} artefact(s) wrong: ${bad.map((a) => `${a.path} (${a.problems.join('; ')})`).join(', ')}`,
    };
  }
  return {
    ok: true,
    detail: `re-read ${report.dir}: ${report.artefacts.length} artefacts present, every private file 0600; CA ${ca?.fingerprint ?? '?'}, signing ${kid?.fingerprint ?? '?'}`,
    lines: [...(outcome.lines ?? []), ...extra],
  };
}

const nextSteps = (dir: string, m: CertMachine[]): string[] => [
  `next: give ${join(dir, 'jwt/jwks.json')} to \`opsdeck agent --jwks\` on each machine (and \`opsdeck sim --jwks\`)`,
  ...m.map(
    (x) =>
      `next: give ${join(dir, `samples/${x.id}.jwk`)} to \`opsdeck agent --machine ${x.id} --sample-key\` (it signs ${x.id}'s resource samples; consoles verify with samples/keys.json)`,
  ),
  ...m.map(
    (x) =>
      `next: copy ${join(dir, `machines/${x.id}/secrets`)} and .../certificates into ${x.id}'s upstream checkout (./secrets/, ./certificates/)`,
  ),
  `next: nats-server.conf: include "${join(dir, 'nats/auth.conf')}" (TLS verify on; users ${[...m.map((x) => x.id), 'opsdeck'].join(', ')})`,
];

export function certsGenerateAction(options: CertsOptions): Action {
  const dir = resolve(options.dir);
  const now = options.now ?? (() => new Date());
  return {
    id: 'certs.generate',
    title: 'Generate fleet certificates, keys and secrets',
    machine: 'fleet',
    args: {
      dir,
      machines: options.machines.map((m) => `${m.id}@${m.host}`),
      natsHost: options.natsHost ?? null,
      days: options.days ?? DEFAULTS.days,
      caDays: options.caDays ?? DEFAULTS.caDays,
      authDays: options.tokenDays ?? DEFAULTS.tokenDays,
    },
    async preview(): Promise<Preview> {
      const existing = existingArtefacts(dir, options.machines);
      return {
        target: dir,
        lines: [
          `folder ${dir} (0700)`,
          ...planLines(options.machines),
          `write ${MANIFEST} (0644): what was generated, for show and rotate`,
        ],
        checks: [
          {
            name: 'nothing to overwrite',
            ok: existing.length === 0,
            evidence:
              existing.length === 0
                ? `no artefacts in ${dir} yet`
                : `${existing.length} artefact(s) already there (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}): use \`opsdeck certs rotate\``,
          },
        ],
        runnable: existing.length === 0,
        destructive: false,
      };
    },
    async execute(): Promise<Outcome> {
      const generation = await buildGeneration({ ...options, now: now() });
      const written = writeGeneration(dir, generation);
      return {
        ok: true,
        detail: `wrote ${written.length} artefacts to ${dir}`,
        lines: nextSteps(dir, options.machines),
      };
    },
    async verify(outcome) {
      return verifyReport(inspectArtefacts(dir, now().getTime()), outcome);
    },
  };
}

/** The CAs and public keys to keep trusting while a rotation is open. */
function carried(dir: string): { trust: string[]; jwks: Jwks['keys'] } {
  const trustFile = join(dir, 'ca/trust.pem');
  const jwksFile = join(dir, 'jwt/jwks.json');
  const trust = existsSync(trustFile)
    ? (readFileSync(trustFile, 'utf8').match(
        /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
      ) ?? [])
    : [];
  const jwks = existsSync(jwksFile)
    ? (JSON.parse(readFileSync(jwksFile, 'utf8')) as Jwks).keys
    : [];
  return { trust, jwks };
}

type RotateOptions = Omit<CertsOptions, 'machines'> & { machines?: CertMachine[] };

/** What a rotation's preview read and its run need: the manifest and the retired folder's stamp. */
interface Rotation {
  options: RotateOptions;
  dir: string;
  now: () => Date;
  manifest?: Manifest;
  stamp: string;
}

/** The manifest of the generation to rotate, or why there is none to rotate. */
function readRotatable(dir: string): { manifest?: Manifest; problem?: string } {
  try {
    const manifest = readManifest(dir);
    return manifest
      ? { manifest }
      : {
          problem: `no ${MANIFEST} in ${dir}: nothing to rotate (run \`opsdeck certs generate\` first)`,
        };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

async function previewRotate(r: Rotation): Promise<Preview> {
  const { manifest, problem } = readRotatable(r.dir);
  r.manifest = manifest;
  const machines = r.options.machines ?? manifest?.machines ?? [];
  r.stamp = stampOf(r.now());
  const current = manifest ? existingArtefacts(r.dir, manifest.machines) : [];
  return {
    target: r.dir,
    lines: [
      `move ${current.length} current artefacts to ${join(RETIRED, r.stamp)}/ (kept, 0700, until the rotation is finished)`,
      ...planLines(machines),
      'ca/trust.pem keeps the retired CA(s) and jwt/jwks.json the retired kid(s), so running agents and old tokens keep working',
      'finish with `opsdeck certs rotate --finish` once every machine has the new files: that stops trusting the old ones and deletes them',
    ],
    checks: [
      {
        name: 'a generation to rotate',
        ok: !problem,
        evidence:
          problem ??
          `generated ${manifest!.generatedAt} for ${manifest!.machines.map((m) => m.id).join(', ')}`,
      },
    ],
    runnable: !problem,
    destructive: true,
  };
}

async function runRotate(r: Rotation): Promise<Outcome> {
  const m = r.manifest!;
  const { options, dir } = r;
  const keep = carried(dir);
  const machines = options.machines ?? m.machines;
  // Everything new is built in memory first: a failure here leaves the folder untouched.
  const when = r.now();
  const generation = await buildGeneration(
    {
      machines,
      natsHost: options.natsHost ?? m.natsHost,
      ...(options.days ? { days: options.days } : {}),
      ...(options.caDays ? { caDays: options.caDays } : {}),
      ...(options.tokenDays ? { tokenDays: options.tokenDays } : {}),
      now: when,
    },
    { trust: keep.trust, jwks: keep.jwks, retired: m.retired },
  );
  const old = retire(dir, m, when);
  r.stamp = old.stamp;
  generation.manifest.retired = [
    ...m.retired,
    { stamp: old.stamp, kid: old.key?.kid ?? null, caFingerprint: old.caFingerprint },
  ];
  const written = writeGeneration(dir, generation);
  return {
    ok: true,
    detail: `moved ${old.moved.length} artefacts to ${join(RETIRED, old.stamp)}/, wrote ${written.length} new ones`,
    lines: [...nextSteps(dir, machines), 'then: opsdeck certs rotate --finish'],
  };
}

async function verifyRotate(r: Rotation, outcome: Outcome): Promise<Outcome> {
  const report = inspectArtefacts(r.dir, r.now().getTime());
  if (!retiredStamps(r.dir).includes(r.stamp))
    return {
      ok: false,
      detail: `re-read ${r.dir}: ${join(RETIRED, r.stamp)} is missing: the old generation was not kept`,
    };
  const jwks = carried(r.dir);
  return verifyReport(report, outcome, [
    `trusted during the rotation: ${jwks.trust.length} CA(s), ${jwks.jwks.length} signing key(s)`,
  ]);
}

export function certsRotateAction(options: RotateOptions): Action {
  const r: Rotation = {
    options,
    dir: resolve(options.dir),
    now: options.now ?? (() => new Date()),
    stamp: '',
  };
  return {
    id: 'certs.rotate',
    title: 'Rotate fleet certificates, keys and secrets',
    machine: 'fleet',
    args: {
      dir: r.dir,
      machines: options.machines?.map((m) => `${m.id}@${m.host}`) ?? 'from manifest',
      days: options.days ?? DEFAULTS.days,
      authDays: options.tokenDays ?? DEFAULTS.tokenDays,
    },
    preview: () => previewRotate(r),
    execute: () => runRotate(r),
    verify: (outcome) => verifyRotate(r, outcome),
  };
}

export function certsFinishAction(options: { dir: string; now?: () => Date }): Action {
  const dir = resolve(options.dir);
  const now = options.now ?? (() => new Date());
  let manifest: Manifest | undefined;
  return {
    id: 'certs.rotate.finish',
    title: 'Finish the certificate rotation',
    machine: 'fleet',
    args: { dir },
    async preview(): Promise<Preview> {
      let problem: string | undefined;
      try {
        manifest = readManifest(dir);
        if (!manifest) problem = `no ${MANIFEST} in ${dir}`;
      } catch (error) {
        problem = (error as Error).message;
      }
      const stamps = retiredStamps(dir);
      if (!problem && stamps.length === 0)
        problem = `no ${RETIRED}/ generations in ${dir}: no rotation is open`;
      return {
        target: dir,
        lines: [
          ...stamps.map((s) => `delete ${join(RETIRED, s)}/`),
          'rewrite ca/trust.pem with the current CA only',
          'rewrite jwt/jwks.json with the current signing key only (tokens signed by retired keys stop working)',
        ],
        checks: [
          {
            name: 'an open rotation',
            ok: !problem,
            evidence: problem ?? `${stamps.length} retired generation(s)`,
          },
        ],
        runnable: !problem,
        destructive: true,
      };
    },
    async execute(): Promise<Outcome> {
      const { removed } = finishRotation(dir, manifest!);
      return {
        ok: true,
        detail: `removed ${removed.length} retired generation(s); only the current CA and key are trusted`,
      };
    },
    async verify(outcome) {
      const left = retiredStamps(dir);
      const jwks = carried(dir);
      if (left.length > 0 || jwks.trust.length !== 1 || jwks.jwks.length !== 1) {
        return {
          ok: false,
          detail: `re-read ${dir}: ${left.length} retired folder(s) left, ${jwks.trust.length} CA(s) and ${jwks.jwks.length} key(s) trusted`,
        };
      }
      return verifyReport(inspectArtefacts(dir, now().getTime()), outcome);
    },
  };
}
