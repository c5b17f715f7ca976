// Ed25519 keys for control-request tokens: generate a signing key, publish its JWKS, mint
// tokens, and verify them against a JWKS. Verification is synchronous (node:crypto) so every
// receive loop can check a request before acting; the key-free checks live in core.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  checkClaims,
  checkHeader,
  decodeJwt,
  DEFAULT_SKEW_S,
  TOKEN_ALG,
  TOKEN_ISSUER,
  type TokenVerifier,
} from '../core/security/token.js';

export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}
export interface PrivateJwk extends PublicJwk {
  d: string;
}
export interface Jwks {
  keys: PublicJwk[];
}

/** RFC 7638 thumbprint of an OKP key: the kid, so a key names itself. */
export function okpThumbprint(x: string): string {
  return createHash('sha256')
    .update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`)
    .digest('base64url');
}

export function generateSigningKey(): PrivateJwk {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { x: string; d: string };
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    x: jwk.x,
    d: jwk.d,
    kid: okpThumbprint(jwk.x),
    alg: TOKEN_ALG,
    use: 'sig',
  };
}

export const publicOf = ({ d: _d, ...pub }: PrivateJwk): PublicJwk => pub;

export interface MintOptions {
  audience: string | string[];
  subject: string;
  /** Lifetime in seconds. */
  ttlS: number;
  issuer?: string;
  /** ms since the epoch (tests move it). */
  now?: number;
}

export function mintToken(key: PrivateJwk, options: MintOptions): string {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const header = { alg: TOKEN_ALG, typ: 'JWT', kid: key.kid };
  const payload = {
    iss: options.issuer ?? TOKEN_ISSUER,
    aud: options.audience,
    sub: options.subject,
    iat,
    exp: iat + Math.round(options.ttlS),
  };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature = sign(
    null,
    Buffer.from(input),
    createPrivateKey({ key: { ...key }, format: 'jwk' }),
  );
  return `${input}.${signature.toString('base64url')}`;
}

export function readSigningKey(file: string): PrivateJwk {
  const value = JSON.parse(readFileSync(file, 'utf8')) as PrivateJwk;
  if (
    value.kty !== 'OKP' ||
    value.crv !== 'Ed25519' ||
    typeof value.d !== 'string' ||
    typeof value.x !== 'string' ||
    typeof value.kid !== 'string'
  ) {
    throw new Error(`${file} is not an Ed25519 private JWK`);
  }
  return value;
}

/** A key set file's `keys` list, unchecked; throws a sentence naming `where` when there is none. */
export function jwksList(text: string, where: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${where} is not JSON`);
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${where} has no "keys" list`);
  return keys;
}

/** Reads a JWKS; only public Ed25519 keys with a kid are kept; a private part is refused. */
export function parseJwks(text: string, where = 'JWKS'): Map<string, KeyObject> {
  const keys = jwksList(text, where);
  const out = new Map<string, KeyObject>();
  for (const k of keys as Array<Record<string, unknown>>) {
    if (typeof k !== 'object' || k === null) continue;
    if ('d' in k)
      throw new Error(
        `${where} holds a private key (kid ${String(k.kid)}): a JWKS must contain public keys only`,
      );
    if (
      k.kty !== 'OKP' ||
      k.crv !== 'Ed25519' ||
      typeof k.x !== 'string' ||
      typeof k.kid !== 'string'
    )
      continue;
    out.set(k.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x }, format: 'jwk' }));
  }
  if (out.size === 0) throw new Error(`${where} has no Ed25519 public key with a kid`);
  return out;
}

export const readJwks = (file: string): Map<string, KeyObject> =>
  parseJwks(readFileSync(file, 'utf8'), file);

export interface VerifierOptions {
  keys: Map<string, KeyObject>;
  issuer?: string;
  skewS?: number;
  now?: () => number;
}

/** Decode, pin the algorithm, find the kid, verify the signature, then the claims. */
export function tokenVerifier(options: VerifierOptions): TokenVerifier {
  const kids = new Set(options.keys.keys());
  return (token, audience) => {
    const decoded = decodeJwt(token);
    if (!decoded.ok) return decoded;
    const kid = checkHeader(decoded.value.header, kids);
    if (!kid.ok) return kid;
    const key = options.keys.get(kid.value)!;
    let good = false;
    try {
      good =
        decoded.value.signature.length === 64 &&
        verify(null, Buffer.from(decoded.value.signingInput), key, decoded.value.signature);
    } catch {
      good = false;
    }
    if (!good)
      return {
        ok: false,
        reason: `signature does not verify with key ${kid.value.slice(0, 12)} (token altered, or signed by another key)`,
      };
    return checkClaims(decoded.value.payload, kid.value, {
      audience,
      issuer: options.issuer ?? TOKEN_ISSUER,
      now: (options.now ?? Date.now)(),
      skewS: options.skewS ?? DEFAULT_SKEW_S,
    });
  };
}
