// The operator's side of `opsdeck.<machine>.control`: a NATS connection (TLS client certificate
// and the opsdeck user when the URL is tls://), a fresh short-lived token per request, and
// request/reply with a timeout whose outcome is always shown.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions, NatsConnection } from 'nats';
import { connectNats } from './nats-connect.js';
import { operator } from './audit.js';
import { mintToken, readSigningKey } from './jwt.js';
import { redact, splitServers } from './nats-link.js';

export const controlSubject = (machine: string): string => `opsdeck.${machine}.control`;

/** Lifetime of a token minted for one request. */
export const REQUEST_TOKEN_TTL_S = 120;

export interface ControlConnectOptions {
  servers: string;
  /** Secrets folder (opsdeck certs): TLS files and the opsdeck user's password for tls:// URLs. */
  secretsDir?: string;
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
}

export function connectOptions(options: ControlConnectOptions): ConnectionOptions {
  return {
    servers: splitServers(options.servers),
    name: 'opsdeck-control',
    timeout: options.timeoutMs ?? 3000,
    pingInterval: 2000,
    maxPingOut: 3,
    reconnect: false,
    ...operatorLogin(options),
  };
}

/**
 * The operator's NATS login: for tls:// servers the opsdeck user's client certificate and
 * password from the secrets folder (a server with TLS verify needs both), else upstream's
 * NATS_USERNAME / NATS_PASSWORD when set.
 */
export function operatorLogin(
  options: Pick<ControlConnectOptions, 'servers' | 'secretsDir' | 'env'>,
): Pick<ConnectionOptions, 'user' | 'pass' | 'tls'> {
  const dir = options.secretsDir;
  if (dir && splitServers(options.servers).some((s) => s.startsWith('tls://'))) {
    const caFile = existsSync(join(dir, 'ca/trust.pem'))
      ? join(dir, 'ca/trust.pem')
      : join(dir, 'ca/ca.crt');
    const passFile = join(dir, 'nats/opsdeck.password');
    return {
      tls: {
        caFile,
        certFile: join(dir, 'tls/opsdeck.crt'),
        keyFile: join(dir, 'tls/opsdeck.key'),
      },
      ...(existsSync(passFile)
        ? { user: 'opsdeck', pass: readFileSync(passFile, 'utf8').trim() }
        : {}),
    };
  }
  if (options.env?.NATS_USERNAME && options.env.NATS_PASSWORD)
    return { user: options.env.NATS_USERNAME, pass: options.env.NATS_PASSWORD };
  return {};
}

export async function connectControl(options: ControlConnectOptions): Promise<NatsConnection> {
  try {
    return await connectNats(connectOptions(options));
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new Error(
      `cannot reach NATS at ${splitServers(options.servers).map(redact).join(',')}: ${code ?? (error as Error).message}`,
    );
  }
}

export type ControlReply =
  | { kind: 'reply'; value: Record<string, unknown>; ms: number }
  | { kind: 'no-answer'; reason: string }
  | { kind: 'error'; reason: string };

export async function controlRequest(
  nc: NatsConnection,
  subject: string,
  body: Record<string, unknown>,
  timeoutMs = 3000,
): Promise<ControlReply> {
  const began = performance.now();
  try {
    const m = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), {
      timeout: timeoutMs,
    });
    const text = new TextDecoder().decode(m.data);
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return { kind: 'error', reason: `reply is not a JSON object: ${text.slice(0, 80)}` };
      return {
        kind: 'reply',
        value: value as Record<string, unknown>,
        ms: performance.now() - began,
      };
    } catch {
      return { kind: 'error', reason: `reply is not JSON: ${text.slice(0, 80)}` };
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '503')
      return {
        kind: 'no-answer',
        reason: `nobody answers ${subject} (no opsdeck agent or sim for it on this NATS)`,
      };
    if (code === 'TIMEOUT')
      return { kind: 'no-answer', reason: `no reply on ${subject} within ${timeoutMs} ms` };
    return { kind: 'error', reason: (error as Error).message };
  }
}

export type TokenSource =
  { kind: 'mint'; file: string } | { kind: 'file'; file: string } | { kind: 'none'; why: string };

/** Where a token for `machine` comes from: the signing key (fresh, 120 s) or the machine token file. */
export function tokenSource(secretsDir: string | undefined, machine: string): TokenSource {
  if (!secretsDir) return { kind: 'none', why: 'no secrets folder given' };
  const key = join(secretsDir, 'jwt/signing.jwk');
  if (existsSync(key)) return { kind: 'mint', file: key };
  const file = join(secretsDir, `tokens/${machine}.jwt`);
  if (existsSync(file)) return { kind: 'file', file };
  return { kind: 'none', why: `neither ${key} nor ${file} exists (run opsdeck certs generate)` };
}

export function tokenFrom(
  source: TokenSource,
  machine: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  if (source.kind === 'mint')
    return mintToken(readSigningKey(source.file), {
      audience: machine,
      subject: `opsdeck-operator:${operator(env)}`,
      ttlS: REQUEST_TOKEN_TTL_S,
    });
  if (source.kind === 'file') return readFileSync(source.file, 'utf8').trim();
  return undefined;
}

export const describeSource = (source: TokenSource): string =>
  source.kind === 'mint'
    ? `minted per request from ${source.file} (valid ${REQUEST_TOKEN_TTL_S} s)`
    : source.kind === 'file'
      ? `machine token ${source.file}`
      : `none: ${source.why}`;
