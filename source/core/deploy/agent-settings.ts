// Where each `opsdeck agent` setting comes from. Every option can be given as its flag, in the
// environment (OPSDECK_AGENT_<NAME>, plus upstream's own names for a few), or in a YAML file
// (`--config FILE`, keys named like the flags); flags win over the environment, the environment
// over the file. A systemd unit hands secret files over with LoadCredential=: a secret path that
// none of them sets is taken from $CREDENTIALS_DIRECTORY/<credential> when that file exists.
import type { SourceLoc } from '../fleet/model.js';
import { parseYaml } from '../fleet/yaml-source.js';

export interface SettingSpec {
  /** The flag's long name without dashes: `interval`, `tls-cert`. */
  key: string;
  kind: 'string' | 'boolean';
  /** What a good value looks like, when the value alone can say (undefined: anything goes). */
  check?: (value: string) => string | undefined;
}

export type Origin =
  | { kind: 'flag' }
  | { kind: 'env'; name: string }
  | { kind: 'file'; loc: SourceLoc }
  | { kind: 'credential'; name: string };

export interface Setting {
  key: string;
  value: string | boolean;
  origin: Origin;
}

export type Read = { ok: true; settings: Setting[] } | { ok: false; problems: string[] };

export const envName = (key: string): string =>
  `OPSDECK_AGENT_${key.toUpperCase().replaceAll('-', '_')}`;

/** Upstream's environment names, read after OPSDECK_AGENT_<NAME>. */
export const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  nats: ['NATS_SERVERS', 'NATS_URL'],
  'nats-user': ['NATS_USERNAME'],
};

/** Settings a unit may pass as credentials (LoadCredential=<name>:<path>), by key. */
export const CREDENTIALS: Readonly<Record<string, string>> = {
  'tls-ca': 'tls-ca',
  'tls-cert': 'tls-cert',
  'tls-key': 'tls-key',
  'nats-password-file': 'nats-password',
  jwks: 'jwks',
};

export const describeOrigin = (key: string, o: Origin): string =>
  o.kind === 'flag'
    ? `--${key}`
    : o.kind === 'env'
      ? o.name
      : o.kind === 'file'
        ? `${o.loc.file}:${o.loc.line}:${o.loc.col}`
        : `credential ${o.name}`;

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/** The settings file: a YAML mapping of known keys to scalars. */
export function readSettingsFile(text: string, file: string, specs: readonly SettingSpec[]): Read {
  const parsed = parseYaml(text, file);
  const at = (loc: SourceLoc) => `${loc.file}:${loc.line}:${loc.col}`;
  const problems = parsed.diagnostics.map((d) =>
    d.code === 'duplicate-key'
      ? `${at(d.loc)}: ${d.message.replace(/: the last one wins.*$/, '')}: say each setting once`
      : `${at(d.loc)}: ${d.message}`,
  );
  if (problems.length > 0) return { ok: false, problems };
  const data = parsed.data;
  if (data === null || data === undefined) return { ok: true, settings: [] };
  if (typeof data !== 'object' || Array.isArray(data))
    return {
      ok: false,
      problems: [`${file}:1:1: expected a mapping of settings (key: value), one per line`],
    };
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const settings: Setting[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const loc = parsed.locate([key]);
    const spec = byKey.get(key);
    if (!spec) {
      problems.push(
        `${at(loc)}: unknown setting "${key}"; known: ${specs.map((s) => s.key).join(', ')}`,
      );
      continue;
    }
    if (spec.kind === 'boolean') {
      if (typeof value !== 'boolean') {
        problems.push(`${at(loc)}: ${key}: expected true or false, got ${show(value)}`);
        continue;
      }
    } else if (typeof value !== 'string' && typeof value !== 'number') {
      problems.push(`${at(loc)}: ${key}: expected a single value, got ${show(value)}`);
      continue;
    }
    settings.push({
      key,
      value: typeof value === 'number' ? String(value) : value,
      origin: { kind: 'file', loc },
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, settings };
}

const show = (v: unknown): string =>
  v === null
    ? 'nothing'
    : Array.isArray(v)
      ? 'a list'
      : typeof v === 'object'
        ? 'a mapping'
        : JSON.stringify(v);

/** The settings the environment gives: OPSDECK_AGENT_<NAME>, then upstream's names. */
export function envSettings(
  env: Readonly<Record<string, string | undefined>>,
  specs: readonly SettingSpec[],
): Read {
  const settings: Setting[] = [];
  const problems: string[] = [];
  for (const spec of specs) {
    const name = [envName(spec.key), ...(ENV_ALIASES[spec.key] ?? [])].find(
      (n) => (env[n] ?? '') !== '',
    );
    if (!name) continue;
    const text = env[name]!;
    if (spec.kind === 'boolean') {
      if (!TRUE.test(text) && !FALSE.test(text)) {
        problems.push(`${name}=${JSON.stringify(text)}: expected true or false (1/0, yes/no)`);
        continue;
      }
      settings.push({ key: spec.key, value: TRUE.test(text), origin: { kind: 'env', name } });
    } else settings.push({ key: spec.key, value: text, origin: { kind: 'env', name } });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, settings };
}

/** One setting per key: flags over environment over file over credentials. */
export function mergeSettings(...layers: ReadonlyArray<readonly Setting[]>): Map<string, Setting> {
  const merged = new Map<string, Setting>();
  for (const layer of layers) for (const s of layer) if (!merged.has(s.key)) merged.set(s.key, s);
  return merged;
}

/** Problems with the values themselves, each naming where the value came from. */
export function checkSettings(
  merged: ReadonlyMap<string, Setting>,
  specs: readonly SettingSpec[],
): string[] {
  const problems: string[] = [];
  for (const spec of specs) {
    const s = merged.get(spec.key);
    if (!s || typeof s.value !== 'string' || !spec.check) continue;
    const expected = spec.check(s.value);
    if (expected) problems.push(`${stated(s)}: expected ${expected}`);
  }
  return problems;
}

/** A value as it was given: `--interval 5`, `OPSDECK_AGENT_INTERVAL=5`, `agent.yaml:3:11: interval 5`. */
function stated(s: Setting): string {
  const o = s.origin;
  if (o.kind === 'flag') return `--${s.key} ${String(s.value)}`;
  if (o.kind === 'env') return `${o.name}=${String(s.value)}`;
  return `${describeOrigin(s.key, o)}: ${s.key} ${String(s.value)}`;
}
