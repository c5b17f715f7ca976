// Control-request tokens: what a receiver accepts and refuses, with tokens made by jose (an
// independent JWT library) as well as by our own minting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { SignJWT, UnsecuredJWT, importJWK } from 'jose';
import {
  generateSigningKey,
  mintToken,
  parseJwks,
  publicOf,
  tokenVerifier,
} from '../../source/adapters/jwt.js';
import { decodeJwt, describeToken } from '../../source/core/security/token.js';

const key = generateSigningKey();
const other = generateSigningKey();
const NOW = Date.parse('2026-03-01T12:00:00Z');
const nowS = NOW / 1000;
const keys = parseJwks(JSON.stringify({ keys: [publicOf(key)] }));
const verify = tokenVerifier({ keys, now: () => NOW, skewS: 30 });

async function joseToken(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
  signWith = key,
): Promise<string> {
  const { d, x, crv, kty } = signWith;
  const priv = await importJWK({ d, x, crv, kty }, 'EdDSA');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: signWith.kid, ...header })
    .sign(priv);
}
const good = {
  iss: 'opsdeck',
  aud: 'pc2',
  sub: 'opsdeck-operator',
  iat: nowS - 10,
  exp: nowS + 300,
};

describe('control tokens: accepted', () => {
  test('our own minting, for the right machine', () => {
    const t = mintToken(key, { audience: 'pc2', subject: 'op', ttlS: 120, now: NOW });
    const r = verify(t, 'pc2');
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.deepEqual(r.ok && r.value.aud, ['pc2']);
  });
  test('a token signed by jose (another implementation), audience as a list', async () => {
    const r = verify(await joseToken({ ...good, aud: ['mainpc', 'pc2'] }), 'pc2');
    assert.ok(r.ok, r.ok ? '' : r.reason);
  });
  test('expired 20 s ago is within a 30 s clock skew; issued 20 s in the future too', async () => {
    assert.ok(verify(await joseToken({ ...good, exp: nowS - 20 }), 'pc2').ok);
    assert.ok(verify(await joseToken({ ...good, iat: nowS + 20, nbf: nowS + 20 }), 'pc2').ok);
  });
});

describe('control tokens: refused, each with a reason', () => {
  const cases: Array<[string, () => unknown, RegExp, string?]> = [
    ['missing', () => undefined, /no token/],
    ['empty string', () => '', /no token/],
    ['not a JWT', () => 'hello', /not a compact JWT/],
    ['a number', () => 42, /must be a string/],
    [
      'expired beyond the skew',
      () => joseToken({ ...good, exp: nowS - 31 }),
      /expired 31 s ago \(allowed clock skew 30 s\)/,
    ],
    [
      'issued beyond the skew in the future',
      () => joseToken({ ...good, iat: nowS + 45 }),
      /issued 45 s in the future/,
    ],
    [
      'not valid yet (nbf) beyond the skew',
      () => joseToken({ ...good, nbf: nowS + 60 }),
      /not valid for another 60 s/,
    ],
    ['no exp', () => joseToken({ iss: 'opsdeck', aud: 'pc2' }), /no numeric "exp"/],
    [
      // The lifetime check once ran only with "iat": a token without it lived as long as it said.
      'no iat and exp 10 years out',
      () => joseToken({ iss: 'opsdeck', aud: 'pc2', exp: nowS + 10 * 365 * 86400 }),
      /valid for another 3650 days, longer than the 400 a token may live/,
    ],
    [
      'a recent iat and exp 10 years out',
      () => joseToken({ ...good, iat: nowS, exp: nowS + 10 * 365 * 86400 }),
      /valid for another 3650 days/,
    ],
    [
      'wrong audience',
      () => joseToken({ ...good, aud: 'mainpc' }),
      /wrong audience: token is for "mainpc", this is "pc2"/,
    ],
    ['no audience', () => joseToken({ iss: 'opsdeck', exp: nowS + 60 }), /no "aud"/],
    [
      'wrong issuer',
      () => joseToken({ ...good, iss: 'ai_system' }),
      /issuer "ai_system" is not "opsdeck"/,
    ],
    ['alg none', () => new UnsecuredJWT(good).encode(), /algorithm "none" refused: only EdDSA/],
    [
      'HS256 signed with the public key bytes (key confusion)',
      async () => {
        const pub = createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: key.x },
          format: 'jwk',
        });
        const secrets = [
          Buffer.from(key.x, 'base64url'),
          Buffer.from(pub.export({ type: 'spki', format: 'pem' }) as string),
          Buffer.from(JSON.stringify(publicOf(key))),
        ];
        return Promise.all(
          secrets.map((s) =>
            new SignJWT(good)
              .setProtectedHeader({ alg: 'HS256', kid: key.kid })
              .sign(new Uint8Array(s)),
          ),
        );
      },
      /algorithm "HS256" refused/,
    ],
    [
      'tampered payload (audience changed after signing)',
      async () => {
        const [h, , s] = (await joseToken({ ...good, aud: 'mainpc' })).split('.');
        return `${h}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.${s}`;
      },
      /signature does not verify/,
    ],
    [
      'tampered signature (one bit)',
      async () => {
        const t = await joseToken(good);
        const sig = Buffer.from(t.split('.')[2]!, 'base64url');
        sig[10] = sig[10]! ^ 1;
        return `${t.split('.').slice(0, 2).join('.')}.${sig.toString('base64url')}`;
      },
      /signature does not verify/,
    ],
    [
      "unknown kid (another fleet's key)",
      () => joseToken(good, {}, other),
      /unknown kid "[\w-]+": not in this receiver's JWKS/,
    ],
    [
      'a known kid but signed by another key',
      () => joseToken(good, { kid: key.kid }, other),
      /signature does not verify/,
    ],
    ['no kid', () => joseToken(good, { kid: undefined }), /no "kid"/],
    [
      'a key embedded in the header',
      () => joseToken(good, { jwk: { kty: 'OKP', crv: 'Ed25519', x: other.x } }),
      /names its own key/,
    ],
  ];
  for (const [name, make, reason] of cases) {
    test(name, async () => {
      const made = await make();
      for (const token of Array.isArray(made) ? made : [made]) {
        const r = verify(token, 'pc2');
        assert.equal(r.ok, false, `accepted: ${name}`);
        assert.match(r.ok ? '' : r.reason, reason);
      }
    });
  }
  test('the skew is configurable: 0 s refuses a token expired 1 s ago', async () => {
    const strict = tokenVerifier({ keys, now: () => NOW, skewS: 0 });
    const t = await joseToken({ ...good, exp: nowS - 1 });
    assert.equal(strict(t, 'pc2').ok, false);
    assert.equal(verify(t, 'pc2').ok, true);
  });
});

describe('JWKS and previews', () => {
  test('a JWKS holding a private key is refused; one with no Ed25519 key too', () => {
    assert.throws(() => parseJwks(JSON.stringify({ keys: [key] })), /holds a private key/);
    assert.throws(
      () => parseJwks(JSON.stringify({ keys: [{ kty: 'RSA', kid: 'x', n: 'a', e: 'AQAB' }] })),
      /no Ed25519 public key/,
    );
    assert.throws(() => parseJwks('nope'), /not JSON/);
  });
  test('a preview shows claims, never the token bytes', () => {
    const t = mintToken(key, { audience: 'pc2', subject: 'op', ttlS: 60, now: NOW });
    const shown = describeToken(t);
    assert.match(shown, /^<JWT EdDSA kid=\S+ aud=pc2 sub=op exp=2026-03-01T12:01:00Z>$/);
    for (const part of t.split('.')) assert.ok(!shown.includes(part));
    assert.ok(decodeJwt(t).ok);
  });
});
