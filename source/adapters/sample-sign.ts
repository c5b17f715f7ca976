// Resource samples drive actions (auto-throttle), so who sent one matters: anyone who can
// publish on opsdeck.pc2.resources could otherwise raise PC2's throttle level with a fake VRAM
// reading, or stop it with a fake `throttleLevel: 0`. Each machine's agent signs the exact bytes
// of every sample with its own Ed25519 key (`opsdeck certs generate` writes samples/<machine>.jwk,
// 0600); the console and auto-throttle verify with the public keys (samples/keys.json), each
// bound to its machine. The signature travels in a NATS header, so the sample's JSON is as it was.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { SAMPLE_SIG_HEADER, type SampleKeys } from '../core/resources/sample-auth.js';
import { generateSigningKey, jwksList, publicOf, type PrivateJwk, type PublicJwk } from './jwt.js';

export { SAMPLE_SIG_HEADER, type SampleKeys };
/** In the secrets folder (`opsdeck certs generate`). */
export const SAMPLE_KEYS_FILE = 'samples/keys.json';
export const sampleKeyFile = (machine: string): string => `samples/${machine}.jwk`;

/** The public half of a machine's sample key, as samples/keys.json lists it. */
export interface SampleKey extends PublicJwk {
  machine: string;
}

export interface SampleSigner {
  machine: string;
  kid: string;
  /** The header that signs exactly these bytes. */
  headers(bytes: Uint8Array): MsgHdrs;
}

/** A new key for `machine`: the private JWK file's content and its public entry. */
export function newSampleKey(machine: string): { key: PrivateJwk; public: SampleKey } {
  const key = generateSigningKey();
  return { key, public: { ...publicOf(key), machine } };
}

export function signerFor(machine: string, key: PrivateJwk): SampleSigner {
  const privateKey = createPrivateKey({ key: { ...key }, format: 'jwk' });
  return {
    machine,
    kid: key.kid,
    headers(bytes) {
      const h = natsHeaders();
      h.set(SAMPLE_SIG_HEADER, `${key.kid} ${sign(null, bytes, privateKey).toString('base64url')}`);
      return h;
    },
  };
}

/** Reads a machine's private sample key; refuses one other users can read. */
export function readSampleSigner(file: string, machine: string): SampleSigner {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077)
    throw new Error(`${file} is mode ${mode.toString(8)}: a private key must be 600 (chmod 600)`);
  let key: PrivateJwk;
  try {
    key = JSON.parse(readFileSync(file, 'utf8')) as PrivateJwk;
  } catch {
    throw new Error(`${file} is not JSON: expected an Ed25519 private JWK`);
  }
  if (key.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.d !== 'string')
    throw new Error(`${file} is not an Ed25519 private JWK`);
  return signerFor(machine, key);
}

export function sampleKeys(file: string, text: string): SampleKeys {
  const list = jwksList(text, file);
  const byKid = new Map<string, { machine: string; key: KeyObject }>();
  for (const k of list as Array<Record<string, unknown>>) {
    if (typeof k !== 'object' || k === null || 'd' in k)
      throw new Error(`${file}: every entry must be a public key (no "d")`);
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string')
      throw new Error(`${file}: kid ${String(k.kid)} is not an Ed25519 public key`);
    if (typeof k.kid !== 'string' || typeof k.machine !== 'string')
      throw new Error(`${file}: every key needs a kid and the machine it signs for`);
    byKid.set(k.kid, {
      machine: k.machine,
      key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x }, format: 'jwk' }),
    });
  }
  return {
    file,
    machines: [...new Set([...byKid.values()].map((v) => v.machine))],
    check(machine, bytes, header) {
      if (!header) return { ok: false, reason: 'unsigned' };
      const [kid, sig] = header.split(' ');
      const entry = kid ? byKid.get(kid) : undefined;
      if (!entry || !sig) return { ok: false, reason: `signed by an unknown key` };
      if (entry.machine !== machine)
        return { ok: false, reason: `signed with ${entry.machine}'s key on ${machine}'s subject` };
      let good = false;
      try {
        good = verify(null, bytes, entry.key, Buffer.from(sig, 'base64url'));
      } catch {
        good = false;
      }
      return good ? { ok: true, kid: kid! } : { ok: false, reason: 'bad signature' };
    },
  };
}

export function readSampleKeys(file: string): SampleKeys {
  return sampleKeys(file, readFileSync(file, 'utf8'));
}

/**
 * The keys a console verifies with: OPSDECK_SAMPLE_KEYS, else samples/keys.json in the secrets
 * folder; undefined when there are none. Keys that cannot be read verify nothing, and say why.
 */
export function findSampleKeys(
  secretsDir: string,
  env: Readonly<Record<string, string | undefined>>,
): SampleKeys | undefined {
  const file = env.OPSDECK_SAMPLE_KEYS ?? join(secretsDir, SAMPLE_KEYS_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return readSampleKeys(file);
  } catch (error) {
    const reason = `sample keys unreadable: ${(error as Error).message}`;
    return { file, machines: [], check: () => ({ ok: false, reason }) };
  }
}
