// Whether a resource sample is authenticated: its signature checked out (adapters/sample-sign.ts)
// and it is not a replay. A recorded genuine sample sent again (VRAM 99% from last night's
// spike) carries a good signature, so a verified sample must also be newer than the last one
// verified for its machine and close to now. Only verified samples may drive an action.

export type SigCheck = { ok: true; kid: string } | { ok: false; reason: string };

export type SampleAuth = { verified: true; kid: string } | { verified: false; reason: string };

/** The NATS header a sample's signature travels in. */
export const SAMPLE_SIG_HEADER = 'Opsdeck-Sample-Sig';

/** The public sample keys (adapters/sample-sign.ts reads them). */
export interface SampleKeys {
  /** Where they were read from. */
  file: string;
  machines: string[];
  /** Checks the signature header of a sample that came on `machine`'s subject. */
  check(machine: string, bytes: Uint8Array, header: string | undefined): SigCheck;
}

/** How far a sample's time may be from the receiver's clock (machines' clocks drift a little). */
export const MAX_SAMPLE_SKEW_MS = 60_000;

export function judgeSample(
  sig: SigCheck,
  ts: number,
  lastVerifiedTs: number | undefined,
  now: number,
): SampleAuth {
  if (!sig.ok) return { verified: false, reason: sig.reason };
  if (lastVerifiedTs !== undefined && ts <= lastVerifiedTs)
    return { verified: false, reason: 'replayed: not newer than the last signed one' };
  if (Math.abs(now - ts) > MAX_SAMPLE_SKEW_MS)
    return {
      verified: false,
      reason: `sample time ${Math.round((ts - now) / 1000)} s off this clock`,
    };
  return { verified: true, kid: sig.kid };
}

/** One line for the screen and the logs. */
export const authLine = (a: SampleAuth): string =>
  a.verified ? `signed (key ${a.kid.slice(0, 8)})` : `unverified: ${a.reason}`;
