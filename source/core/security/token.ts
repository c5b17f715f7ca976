// Control-request tokens (docs/architecture.md, "Control requests"): a compact JWT signed EdDSA
// (Ed25519), with `iss`, `aud` (the machine it may act on), `exp` and a `kid` from the fleet's
// JWKS. These are the checks that need no key material: decoding, the pinned algorithm, the
// known kid and the claims with a bounded clock skew. The signature itself is checked by the adapter that
// holds the public keys (source/adapters/jwt.ts). Every refusal is one readable sentence.
import { textOf } from '../text.js';

/** The only algorithm accepted: no `none`, no HMAC, no RSA/ECDSA confusion. */
export const TOKEN_ALG = 'EdDSA';
export const TOKEN_ISSUER = 'opsdeck';
export const DEFAULT_SKEW_S = 30;
/** Beyond this a token is refused even when valid: the fleet never issues longer ones. */
export const MAX_TOKEN_LIFETIME_S = 400 * 24 * 3600;

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `base64url(header).base64url(payload)`: the bytes the signature covers. */
  signingInput: string;
  signature: Uint8Array;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface TokenPolicy {
  /** This receiver: the token's `aud` must name it. */
  audience: string;
  issuer: string;
  /** ms since the epoch. */
  now: number;
  /** Allowed clock difference between issuer and receiver, seconds (>= 0). */
  skewS: number;
}

export interface TokenClaims {
  iss: string;
  aud: string[];
  sub?: string;
  exp: number;
  iat?: number;
  kid: string;
}

/** Verifies a token for one audience. Sync so it fits every receive loop. */
export type TokenVerifier = (token: unknown, audience: string) => Checked<TokenClaims>;

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const B64URL = /^[A-Za-z0-9_-]*$/;

function part(text: string, what: string): Checked<Record<string, unknown>> {
  if (!B64URL.test(text)) return { ok: false, reason: `token ${what} is not base64url` };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: `token ${what} is not JSON` };
  }
  return isDict(value)
    ? { ok: true, value }
    : { ok: false, reason: `token ${what} is not a JSON object` };
}

export function decodeJwt(token: unknown): Checked<DecodedJwt> {
  if (token === undefined || token === null || token === '')
    return { ok: false, reason: 'no token: control requests need a JWT in the "token" field' };
  if (typeof token !== 'string')
    return { ok: false, reason: 'token must be a string (a compact JWT)' };
  if (token.length > 8192) return { ok: false, reason: 'token is longer than 8 KiB' };
  const parts = token.split('.');
  if (parts.length !== 3)
    return {
      ok: false,
      reason: `token is not a compact JWT (${parts.length} part${parts.length === 1 ? '' : 's'}, expected header.payload.signature)`,
    };
  const [h, p, s] = parts as [string, string, string];
  const header = part(h, 'header');
  if (!header.ok) return header;
  const payload = part(p, 'payload');
  if (!payload.ok) return payload;
  if (!B64URL.test(s)) return { ok: false, reason: 'token signature is not base64url' };
  return {
    ok: true,
    value: {
      header: header.value,
      payload: payload.value,
      signingInput: `${h}.${p}`,
      signature: new Uint8Array(Buffer.from(s, 'base64url')),
    },
  };
}

/** The header: algorithm pinned, no critical extensions, a kid the receiver knows. */
export function checkHeader(
  header: Record<string, unknown>,
  knownKids: ReadonlySet<string>,
): Checked<string> {
  const alg = header.alg;
  if (alg !== TOKEN_ALG) {
    const shown = typeof alg === 'string' ? `"${alg.slice(0, 20)}"` : 'missing';
    return {
      ok: false,
      reason: `algorithm ${shown} refused: only ${TOKEN_ALG} (Ed25519) tokens are accepted`,
    };
  }
  if (header.crit !== undefined)
    return { ok: false, reason: 'token header has "crit" extensions, which are not supported' };
  if (
    header.jku !== undefined ||
    header.jwk !== undefined ||
    header.x5u !== undefined ||
    header.x5c !== undefined
  ) {
    return {
      ok: false,
      reason:
        "token header names its own key (jku/jwk/x5u/x5c): keys come only from the receiver's JWKS",
    };
  }
  const kid = header.kid;
  if (typeof kid !== 'string' || kid === '')
    return {
      ok: false,
      reason: 'token has no "kid": the receiver cannot tell which key signed it',
    };
  if (!knownKids.has(kid))
    return {
      ok: false,
      reason: `unknown kid "${kid.slice(0, 64)}": not in this receiver's JWKS (rotated out, or another fleet's key)`,
    };
  return { ok: true, value: kid };
}

const numeric = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The claims, after the signature verified. `exp` and `nbf`/`iat` get `skewS` of slack. */
export function checkClaims(
  payload: Record<string, unknown>,
  kid: string,
  policy: TokenPolicy,
): Checked<TokenClaims> {
  const nowS = policy.now / 1000;
  const skew = Math.max(0, policy.skewS);
  if (payload.iss !== policy.issuer)
    return {
      ok: false,
      reason: `issuer ${JSON.stringify(payload.iss ?? null)} is not "${policy.issuer}"`,
    };
  const aud =
    typeof payload.aud === 'string'
      ? [payload.aud]
      : Array.isArray(payload.aud) && payload.aud.every((a) => typeof a === 'string')
        ? payload.aud
        : undefined;
  if (!aud || aud.length === 0)
    return { ok: false, reason: 'token has no "aud": it must name the machine it may act on' };
  if (!aud.includes(policy.audience))
    return {
      ok: false,
      reason: `wrong audience: token is for ${aud.map((a) => `"${a.slice(0, 40)}"`).join(', ')}, this is "${policy.audience}"`,
    };
  if (!numeric(payload.exp))
    return {
      ok: false,
      reason: 'token has no numeric "exp": tokens without an expiry are refused',
    };
  if (nowS > payload.exp + skew)
    return {
      ok: false,
      reason: `token expired ${Math.round(nowS - payload.exp)} s ago (allowed clock skew ${skew} s)`,
    };
  // From exp alone: a token without "iat" (or with a forged recent one) that is good for ten
  // more years passed the lifetime check, which only ran with "iat".
  if (payload.exp - nowS > MAX_TOKEN_LIFETIME_S + skew)
    return {
      ok: false,
      reason: `token is valid for another ${Math.round((payload.exp - nowS) / 86400)} days, longer than the ${MAX_TOKEN_LIFETIME_S / 86400} a token may live`,
    };
  if (payload.nbf !== undefined) {
    if (!numeric(payload.nbf)) return { ok: false, reason: '"nbf" must be a number' };
    if (payload.nbf > nowS + skew)
      return {
        ok: false,
        reason: `token not valid for another ${Math.round(payload.nbf - nowS)} s (allowed clock skew ${skew} s)`,
      };
  }
  if (payload.iat !== undefined) {
    if (!numeric(payload.iat)) return { ok: false, reason: '"iat" must be a number' };
    if (payload.iat > nowS + skew)
      return {
        ok: false,
        reason: `token issued ${Math.round(payload.iat - nowS)} s in the future (allowed clock skew ${skew} s): check the clocks`,
      };
    if (payload.exp - payload.iat > MAX_TOKEN_LIFETIME_S)
      return {
        ok: false,
        reason: `token lifetime ${Math.round((payload.exp - payload.iat) / 86400)} days is longer than the ${MAX_TOKEN_LIFETIME_S / 86400} allowed`,
      };
  }
  if (payload.sub !== undefined && typeof payload.sub !== 'string')
    return { ok: false, reason: '"sub" must be a string' };
  return {
    ok: true,
    value: {
      iss: policy.issuer,
      aud,
      exp: payload.exp,
      kid,
      ...(typeof payload.sub === 'string' ? { sub: payload.sub } : {}),
      ...(numeric(payload.iat) ? { iat: payload.iat } : {}),
    },
  };
}

/** What a preview may show of a token: its claims, never its bytes. */
export function describeToken(token: string): string {
  const d = decodeJwt(token);
  if (!d.ok) return '<unreadable token>';
  const { kid } = d.value.header;
  const { aud, sub, exp } = d.value.payload;
  const expires = numeric(exp) ? new Date(exp * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : '?';
  const word = (v: unknown) =>
    textOf(v, '-')
      .replace(/[^\w.:@-]/g, '?')
      .slice(0, 64);
  const audText = Array.isArray(aud) ? aud.map(word).join(',') : word(aud);
  return `<JWT ${TOKEN_ALG} kid=${word(kid).slice(0, 12)} aud=${audText} sub=${word(sub)} exp=${expires}>`;
}
