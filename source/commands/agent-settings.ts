// `opsdeck agent`'s settings from flags, the environment, a settings file and systemd credentials
// (core/deploy/agent-settings.ts says in which order), and the NATS login they make: a user and
// password file, and TLS files for a server that verifies client certificates.
import { parseDuration } from '../core/duration.js';
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { LinkOptions } from '../adapters/nats-link.js';
import {
  checkSettings,
  CREDENTIALS,
  describeOrigin,
  envName,
  envSettings,
  mergeSettings,
  readSettingsFile,
  type Setting,
  type SettingSpec,
} from '../core/deploy/agent-settings.js';
import { EXIT, Exit, type Io } from './io.js';
import { parseListen } from '../agent/metrics-server.js';

export interface LoginArgs {
  natsUser?: string;
  natsPasswordFile?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export const addSettingsOptions = (cmd: Command): Command =>
  cmd
    .option(
      '--config <file>',
      'settings file (YAML; keys named like these flags, e.g. `interval: 2s`); flags win over OPSDECK_AGENT_<NAME> variables, which win over the file',
    )
    .option('--nats-user <name>', 'NATS user (opsdeck certs makes one per machine; $NATS_USERNAME)')
    .option(
      '--nats-password-file <file>',
      "file holding that user's password (opsdeck certs: machines/<machine>/secrets/NATS_PASSWORD)",
    )
    .option(
      '--tls-ca <file>',
      'CAs the NATS server certificate must chain to (opsdeck certs: ca/trust.pem)',
    )
    .option('--tls-cert <file>', "this machine's NATS client certificate (tls/<machine>.crt)")
    .option('--tls-key <file>', 'its private key (tls/<machine>.key)');

/** What a good value looks like, for the settings whose value alone can say. */
const CHECKS: Readonly<Record<string, (v: string) => string | undefined>> = {
  machine: (v) =>
    /^[A-Za-z0-9_-]{1,64}$/.test(v) ? undefined : 'a short name (letters, digits, - and _)',
  interval: (v) =>
    parseDuration(v, { minMs: 200 }).ok
      ? undefined
      : 'a duration with its unit, at least 200ms (e.g. 2s)',
  'clock-skew': (v) => (/^\d+$/.test(v) && Number(v) <= 3600 ? undefined : 'whole seconds 0-3600'),
  'bridge-buffer': (v) => (/^[1-9]\d*$/.test(v) ? undefined : 'a positive integer'),
  'resource-manager': (v) => (/^tcp:\/\/[^:/]+:\d+$/.test(v) ? undefined : 'tcp://HOST:PORT'),
  metrics: (v) => (parseListen(v) ? undefined : 'ADDR:PORT (e.g. 127.0.0.1:9470)'),
};

const fail = (io: Io, who: string, problems: readonly string[]): never => {
  for (const p of problems) io.err(`${who}: ${p}`);
  throw new Exit(EXIT.badInput);
};

/**
 * Fills the command's options from the environment, the settings file and credentials where no
 * flag set them, checks the values, and returns every setting with where it came from. Bad input
 * (an unreadable or invalid file, a bad value anywhere) exits 2 naming the place.
 */
export function applySettings(cmd: Command, io: Io, who: string): Map<string, Setting> {
  const options = cmd.options.filter((o) => o.long && o.long !== '--help');
  const attribute = new Map(options.map((o) => [o.long!.slice(2), o.attributeName()]));
  const specs: SettingSpec[] = options
    .map((o) => o.long!.slice(2))
    .filter((key) => key !== 'config')
    .map((key) => {
      const o = options.find((x) => x.long === `--${key}`)!;
      const check = CHECKS[key];
      return {
        key,
        kind: o.required || o.optional ? 'string' : 'boolean',
        ...(check ? { check } : {}),
      };
    });
  const flags: Setting[] = specs
    .filter((s) => cmd.getOptionValueSource(attribute.get(s.key)!) === 'cli')
    .map((s) => ({
      key: s.key,
      value: cmd.getOptionValue(attribute.get(s.key)!) as string | boolean,
      origin: { kind: 'flag' },
    }));
  const env = envSettings(io.env, specs);
  if (!env.ok) fail(io, who, env.problems);
  const file = settingsFile(cmd, io, who);
  let fromFile: Setting[] = [];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return fail(io, who, [
        `settings file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`,
      ]);
    }
    const read = readSettingsFile(text, file, specs);
    if (!read.ok) fail(io, who, read.problems);
    else fromFile = read.settings;
  }
  const credentials: Setting[] = [];
  const dir = io.env.CREDENTIALS_DIRECTORY;
  if (dir)
    for (const [key, name] of Object.entries(CREDENTIALS))
      if (attribute.has(key) && existsSync(join(dir, name)))
        credentials.push({
          key,
          value: join(dir, name),
          origin: { kind: 'credential', name },
        });
  const merged = mergeSettings(flags, env.ok ? env.settings : [], fromFile, credentials);
  const problems = checkSettings(merged, specs);
  if (problems.length > 0) fail(io, who, problems);
  for (const s of merged.values())
    if (s.origin.kind !== 'flag')
      cmd.setOptionValueWithSource(
        attribute.get(s.key)!,
        s.value,
        s.origin.kind === 'env' ? 'env' : 'config',
      );
  return merged;
}

function settingsFile(cmd: Command, io: Io, who: string): string | undefined {
  const given =
    (cmd.getOptionValue('config') as string | undefined) ?? io.env[envName('config')] ?? '';
  if (given === '') return undefined;
  if (given.includes('\0')) fail(io, who, ['--config: not a file name']);
  return isAbsolute(given) ? given : resolve(io.cwd, given);
}

/** One line for the log: where each setting that is not a default came from (paths, never secrets). */
export const settingsOrigins = (merged: ReadonlyMap<string, Setting>): string =>
  [...merged.values()].map((s) => `${s.key} from ${describeOrigin(s.key, s.origin)}`).join(', ');

/** The NATS login the settings make; a missing or unreadable file exits 2, naming it (never its content). */
export function natsLogin(
  args: LoginArgs,
  io: Io,
  who: string,
): Pick<LinkOptions, 'user' | 'pass' | 'tls'> {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
  const readable = (flag: string, file: string): string => {
    try {
      return readFileSync(path(file), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return fail(io, who, [
        `${flag} ${path(file)}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`,
      ]);
    }
  };
  const login: Pick<LinkOptions, 'user' | 'pass' | 'tls'> = {};
  if (args.natsPasswordFile && !args.natsUser)
    fail(io, who, ['a NATS password file needs a user: set nats-user too']);
  if (args.natsUser) {
    login.user = args.natsUser;
    if (args.natsPasswordFile) {
      const pass = readable('nats-password-file', args.natsPasswordFile).trim();
      if (!pass) fail(io, who, [`nats-password-file ${path(args.natsPasswordFile)}: empty`]);
      login.pass = pass;
    }
  }
  if (Boolean(args.tlsCert) !== Boolean(args.tlsKey))
    fail(io, who, ['tls-cert and tls-key go together: set both or neither']);
  if (args.tlsCa || args.tlsCert) {
    const tls: NonNullable<LinkOptions['tls']> = {};
    if (args.tlsCa) {
      readable('tls-ca', args.tlsCa);
      tls.caFile = path(args.tlsCa);
    }
    if (args.tlsCert && args.tlsKey) {
      readable('tls-cert', args.tlsCert);
      readable('tls-key', args.tlsKey);
      tls.certFile = path(args.tlsCert);
      tls.keyFile = path(args.tlsKey);
    }
    login.tls = tls;
  }
  return login;
}
