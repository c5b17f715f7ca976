// Just enough ZMTP 3 (rfc.zeromq.org/spec/23 and 37) to ask a listening port what it is: send a
// NULL-mechanism greeting, read the peer's greeting and its READY command, whose Socket-Type
// property says PUB, SUB, REP... A libzmq peer sends both without waiting for our READY, so a
// probe never completes a connection and never joins the bus. Pure: bytes in, verdict out.

export const GREETING_BYTES = 64;

/** Our greeting: signature, version 3.0, mechanism NULL, as-server 0. */
export function zmtpGreeting(): Uint8Array {
  const g = new Uint8Array(GREETING_BYTES);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 0;
  g.set(new TextEncoder().encode('NULL'), 12);
  return g;
}

export type ZmtpPeer =
  /** More bytes are needed (at least `need` in total). */
  | { kind: 'partial'; need: number }
  | { kind: 'zmtp'; version: string; mechanism: string; socketType?: string }
  | { kind: 'not-zmtp'; reason: string };

const ascii = (b: Uint8Array): string => String.fromCharCode(...b);

/** Reads what the peer sent so far. */
export function parseZmtpPeer(bytes: Uint8Array): ZmtpPeer {
  // What may be an HTTP status line: wait for all of it (a timeout still ends the probe).
  if (bytes.length >= 1 && bytes[0] === 0x48 && bytes.length < 12)
    return { kind: 'partial', need: 12 };
  if (bytes.length >= 1 && bytes[0] !== 0xff) {
    // An HTTP server answers a greeting it cannot parse with its status line: say so.
    const http = /^HTTP\/1\.[01] \d{3}/.exec(ascii(bytes.subarray(0, 16)));
    return {
      kind: 'not-zmtp',
      reason: http
        ? `an HTTP server (it answered "${http[0]}")`
        : `first byte 0x${bytes[0]!.toString(16).padStart(2, '0')}, not a ZMTP signature`,
    };
  }
  if (bytes.length >= 10 && bytes[9] !== 0x7f)
    return { kind: 'not-zmtp', reason: 'bad signature (byte 10 is not 0x7f)' };
  if (bytes.length < 11) return { kind: 'partial', need: 11 };
  const major = bytes[10]!;
  if (major < 3) return { kind: 'zmtp', version: `${major}.x`, mechanism: 'NULL' }; // ZMTP 1/2: no socket-type metadata in this form
  if (bytes.length < GREETING_BYTES) return { kind: 'partial', need: GREETING_BYTES };
  const version = `${major}.${bytes[11]!}`;
  const mechanism = ascii(bytes.subarray(12, 32)).replace(/\0+$/, '');
  if (mechanism !== 'NULL') return { kind: 'zmtp', version, mechanism }; // CURVE/PLAIN: metadata comes after a handshake we do not do
  // The READY command: flags (0x04 short / 0x06 long), size, then "\x05READY" and properties.
  let at = GREETING_BYTES;
  if (bytes.length < at + 2) return { kind: 'partial', need: at + 2 };
  const flags = bytes[at]!;
  if ((flags & 0x04) === 0) return { kind: 'zmtp', version, mechanism };
  let size: number;
  if (flags & 0x02) {
    if (bytes.length < at + 9) return { kind: 'partial', need: at + 9 };
    size = 0;
    for (let i = 1; i <= 8; i++) size = size * 256 + bytes[at + i]!;
    at += 9;
  } else {
    size = bytes[at + 1]!;
    at += 2;
  }
  if (size > 4096) return { kind: 'zmtp', version, mechanism };
  if (bytes.length < at + size) return { kind: 'partial', need: at + size };
  const body = bytes.subarray(at, at + size);
  const nameLength = body[0] ?? 0;
  if (ascii(body.subarray(1, 1 + nameLength)) !== 'READY')
    return { kind: 'zmtp', version, mechanism };
  let p = 1 + nameLength;
  while (p < body.length) {
    const n = body[p]!;
    const name = ascii(body.subarray(p + 1, p + 1 + n));
    p += 1 + n;
    if (p + 4 > body.length) break;
    const length =
      ((body[p]! << 24) >>> 0) + (body[p + 1]! << 16) + (body[p + 2]! << 8) + body[p + 3]!;
    p += 4;
    const value = ascii(body.subarray(p, p + length));
    p += length;
    if (name.toLowerCase() === 'socket-type')
      return { kind: 'zmtp', version, mechanism, socketType: value };
  }
  return { kind: 'zmtp', version, mechanism };
}

/** A socket type as the holder the topology rules know. */
export function holderOfSocketType(socketType: string | undefined): 'pub' | 'sub' | 'other' {
  switch (socketType?.toUpperCase()) {
    case 'PUB':
    case 'XPUB':
      return 'pub';
    case 'SUB':
    case 'XSUB':
      return 'sub';
    default:
      return 'other';
  }
}
