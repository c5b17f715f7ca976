// Asks a TCP port what listens there: refused (nothing), a ZMQ socket of some type (from its
// ZMTP greeting and READY), or something that is not ZMQ. Sends only a greeting; hangs up as
// soon as the peer has said what it is.
import { connect } from 'node:net';
import { holderOfSocketType, parseZmtpPeer, zmtpGreeting } from '../core/errorbus/zmtp.js';
import type { ZmtpProbe } from '../core/seams/prober.js';

export type { ZmtpProbe };

export function probeZmtp(host: string, port: number, timeoutMs = 1000): Promise<ZmtpProbe> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let got = Buffer.alloc(0);
    let settled = false;
    const done = (result: ZmtpProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      const peer = parseZmtpPeer(got);
      // A ZMTP peer that said nothing more than its greeting: a ZMQ socket of unknown type.
      if (peer.kind === 'zmtp')
        done({ holder: 'other', detail: `ZMQ ${peer.mechanism} (type not told)` });
      else done({ holder: 'unknown', detail: `no answer in ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('connect', () => socket.write(zmtpGreeting()));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      // A greeting and a READY command are a few hundred bytes: more is not a ZMQ peer we read.
      if (got.length > 64 * 1024)
        return done({ holder: 'other', detail: `not ZMQ: over 64 KiB before a greeting ended` });
      const peer = parseZmtpPeer(got);
      if (peer.kind === 'partial') return;
      if (peer.kind === 'not-zmtp')
        return done({ holder: 'other', detail: `not ZMQ: ${peer.reason}` });
      if (peer.socketType)
        return done({
          holder: holderOfSocketType(peer.socketType),
          detail: `${peer.socketType} (ZMTP ${peer.version}, ${peer.mechanism})`,
          socketType: peer.socketType.toUpperCase(),
        });
      if (peer.mechanism !== 'NULL')
        return done({
          holder: 'other',
          detail: `ZMQ with ${peer.mechanism} security (type not told before a handshake)`,
        });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED')
        done({ holder: 'none', detail: 'refused: nothing listens' });
      else done({ holder: 'unknown', detail: `${error.code ?? 'error'}: ${error.message}` });
    });
    socket.once('close', () => {
      const peer = parseZmtpPeer(got);
      if (peer.kind === 'zmtp')
        done({
          holder: peer.socketType ? holderOfSocketType(peer.socketType) : 'other',
          detail: peer.socketType ?? `ZMQ ${peer.mechanism}`,
        });
      else
        done({
          holder: got.length === 0 ? 'other' : 'other',
          detail: got.length === 0 ? 'accepted, then closed without a word: not ZMQ' : 'not ZMQ',
        });
    });
  });
}
