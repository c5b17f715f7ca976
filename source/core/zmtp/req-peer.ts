// A ZMTP 3.0 REQ peer (rfc.zeromq.org/spec/23 ZMTP, 28 REQ-REP), pure: bytes in, steps out.
// The health prober speaks it over a kept TCP connection instead of a libzmq REQ socket
// (adapters/zmtp-req.ts owns the socket and the clock): a probe then costs one write and one
// read on the event loop, and libzmq's I/O thread has nothing to do for it.
//
// What a libzmq REQ does and this does too: greeting with the NULL mechanism, READY with
// Socket-Type REQ (sent once the peer's READY said REP or ROUTER), a peer that is not a REP or ROUTER refused, each request sent as [empty
// delimiter, body], a reply taken only when it starts with the empty delimiter and only while a
// request waits for it (anything else is dropped), a frame over the size cap refused from its
// header before its body is read (libzmq's ZMQ_MAXMSGSIZE), PING answered with PONG.
import { GREETING_BYTES, parseZmtpPeer, zmtpGreeting } from '../errorbus/zmtp.js';

const MORE = 0x01;
const LONG = 0x02;
const COMMAND = 0x04;

const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
};

/** One frame: flags, a 1- or 8-byte size, the body. */
export function zmtpFrame(flags: number, body: Uint8Array): Uint8Array {
  const long = body.length > 255;
  const head = long ? 9 : 2;
  const out = new Uint8Array(head + body.length);
  out[0] = flags | (long ? LONG : 0);
  if (long) {
    let n = body.length;
    for (let i = 8; i >= 1; i--) {
      out[i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else out[1] = body.length;
  out.set(body, head);
  return out;
}

/** A command frame: name length, name, data. */
export function zmtpCommand(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const body = new Uint8Array(1 + name.length + data.length);
  body[0] = name.length;
  for (let i = 0; i < name.length; i++) body[1 + i] = name.charCodeAt(i);
  body.set(data, 1 + name.length);
  return zmtpFrame(COMMAND, body);
}

/** READY with the one property a REQ must tell: Socket-Type. */
export function zmtpReady(socketType: string): Uint8Array {
  const name = 'Socket-Type';
  const data = new Uint8Array(1 + name.length + 4 + socketType.length);
  data[0] = name.length;
  let at = 1;
  for (const c of name) data[at++] = c.charCodeAt(0);
  const n = socketType.length;
  data.set([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255], at);
  at += 4;
  for (const c of socketType) data[at++] = c.charCodeAt(0);
  return zmtpCommand('READY', data);
}

/** A request as a REQ socket sends it: the empty delimiter, then the body. */
export function reqMessage(body: Uint8Array): Uint8Array {
  const frame = zmtpFrame(0, body);
  const out = new Uint8Array(2 + frame.length);
  out[0] = MORE;
  out[1] = 0;
  out.set(frame, 2);
  return out;
}

/** The properties of a READY command's data (names as sent; values as latin1 text). */
export function readyProperties(data: Uint8Array): Map<string, string> | undefined {
  const props = new Map<string, string>();
  let p = 0;
  while (p < data.length) {
    const n = data[p]!;
    if (p + 1 + n + 4 > data.length) return undefined;
    const name = latin1(data.subarray(p + 1, p + 1 + n));
    p += 1 + n;
    const length =
      data[p]! * 0x1000000 + ((data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!);
    p += 4;
    if (p + length > data.length) return undefined;
    props.set(name, latin1(data.subarray(p, p + length)));
    p += length;
  }
  return props;
}

export type ZmtpEvent =
  | { kind: 'greeting'; major: number; minor: number; mechanism: string }
  | { kind: 'command'; name: string; data: Uint8Array }
  | { kind: 'message'; parts: Uint8Array[] }
  | { kind: 'error'; reason: string };

/**
 * Cuts the peer's bytes into its greeting, then commands and messages. Chunks are kept until a
 * whole frame is there and joined once, so a big frame arriving in many chunks is copied once.
 * After an error it reads nothing more (the connection is to be dropped).
 */
export class ZmtpReader {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private greeted = false;
  private failed = false;
  private parts: Uint8Array[] = [];
  private partBytes = 0;

  /** `maxMessage`: the most bytes a message (all its frames) or a command may have. */
  constructor(private readonly maxMessage: number) {}

  /**
   * The events `chunk` completes. They may be views into `chunk`: read them before the caller
   * reuses it (a socket reading into one buffer does). What is kept for later is copied.
   */
  push(chunk: Uint8Array): ZmtpEvent[] {
    if (this.failed || chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.queued += chunk.length;
    const out: ZmtpEvent[] = [];
    for (;;) {
      const event = this.next();
      if (!event) break;
      out.push(event);
      if (event.kind === 'error') {
        this.failed = true;
        this.chunks = [];
        this.queued = 0;
        this.parts = [];
        return out;
      }
    }
    // A frame or message not complete yet: keep copies, never views into the caller's buffer.
    // (new Uint8Array(b), not b.slice(): a Node Buffer's slice is a view, not a copy.)
    const own = (b: Uint8Array) => (b.buffer === chunk.buffer ? new Uint8Array(b) : b);
    if (this.chunks.length > 0) this.chunks = this.chunks.map(own);
    if (this.parts.length > 0) this.parts = this.parts.map(own);
    return out;
  }

  private next(): ZmtpEvent | undefined {
    if (!this.greeted) {
      const head = this.peek(Math.min(this.queued, GREETING_BYTES));
      if (!head) return undefined;
      const peer = parseZmtpPeer(head);
      if (peer.kind === 'not-zmtp') return { kind: 'error', reason: `not ZMQ: ${peer.reason}` };
      const major = head.length > 10 ? head[10]! : 3;
      if (major < 3) return { kind: 'error', reason: `a ZMTP ${major}.x peer (3.x is spoken)` };
      if (this.queued < GREETING_BYTES) return undefined;
      const greeting = this.take(GREETING_BYTES);
      this.greeted = true;
      return {
        kind: 'greeting',
        major,
        minor: greeting[11]!,
        mechanism: latin1(greeting.subarray(12, 32)).replace(/\0+$/, ''),
      };
    }
    for (;;) {
      if (this.queued < 2) return undefined;
      const first = this.peek(2)!;
      const flags = first[0]!;
      if (flags & 0xf8)
        return {
          kind: 'error',
          reason: `bad frame flags 0x${flags.toString(16).padStart(2, '0')}`,
        };
      const command = (flags & COMMAND) !== 0;
      if (command && flags & MORE)
        return { kind: 'error', reason: 'a command frame with MORE set' };
      if (command && this.parts.length > 0)
        return { kind: 'error', reason: 'a command inside a multipart message' };
      let head = 2;
      let size = first[1]!;
      if (flags & LONG) {
        if (this.queued < 9) return undefined;
        const h = this.peek(9)!;
        size = 0;
        for (let i = 1; i <= 8; i++) size = size * 256 + h[i]!;
        head = 9;
      }
      // Headers count too: a flood of empty frames in one message is bounded like its bytes.
      const room = this.maxMessage - this.partBytes - head;
      if (size > room)
        return {
          kind: 'error',
          reason: `a ${command ? 'command' : 'message'} over ${this.maxMessage} bytes (its frame announces ${size})`,
        };
      if (this.queued < head + size) return undefined;
      const body = this.take(head + size).subarray(head);
      if (command) {
        const n = body[0] ?? 0;
        if (body.length < 1 + n)
          return { kind: 'error', reason: 'a command shorter than its name' };
        return {
          kind: 'command',
          name: latin1(body.subarray(1, 1 + n)),
          data: body.subarray(1 + n),
        };
      }
      this.parts.push(body);
      this.partBytes += head + size;
      if (flags & MORE) continue;
      const parts = this.parts;
      this.parts = [];
      this.partBytes = 0;
      return { kind: 'message', parts };
    }
  }

  /** The first n queued bytes, contiguous (joins chunks when it must); undefined if fewer. */
  private peek(n: number): Uint8Array | undefined {
    if (n === 0 || this.queued < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    let joined = 0;
    let count = 0;
    while (joined < n) joined += this.chunks[count++]!.length;
    const merged = new Uint8Array(joined);
    let at = 0;
    for (let i = 0; i < count; i++) {
      merged.set(this.chunks[i]!, at);
      at += this.chunks[i]!.length;
    }
    this.chunks.splice(0, count, merged);
    return merged.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const out = this.peek(n)!;
    const first = this.chunks[0]!;
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.queued -= n;
    return out;
  }
}

export type ReqState = 'greeting' | 'ready' | 'open' | 'failed';

export interface ReqStep {
  /** Bytes to send the peer now (READY, PONG). */
  write: Uint8Array[];
  /** The handshake finished in this step: requests may go. */
  opened: boolean;
  /** The reply to the request waiting, as its body frames (the delimiter removed). */
  reply?: Uint8Array[];
  /** Why the connection is unusable: drop it. */
  failed?: string;
}

/** One REQ connection's protocol state. */
export class ReqPeer {
  state: ReqState = 'greeting';
  /** The peer's greeting and READY, for messages: `REP (ZMTP 3.1, NULL)`. */
  peer = '';
  private readonly reader: ZmtpReader;
  private waiting = false;
  private lastBody: Uint8Array | undefined;
  private lastMessage: Uint8Array | undefined;

  constructor(maxMessage: number) {
    this.reader = new ZmtpReader(maxMessage);
  }

  /**
   * What to send first, as soon as the connection is made: the signature and major version
   * only, as libzmq does. A libzmq peer then sends its whole greeting, mechanism included, and
   * the rest of ours follows it; sent whole at once, a peer that wants CURVE hangs up without
   * saying so (libzmq checks the mechanism before it writes its own).
   */
  hello(): Uint8Array {
    return zmtpGreeting().subarray(0, 11);
  }

  /** The frames of a request; the peer must be open and no request waiting. */
  request(body: Uint8Array): Uint8Array {
    if (this.state !== 'open') throw new Error(`REQ peer not open (${this.state})`);
    if (this.waiting) throw new Error('a request is already waiting for its reply');
    this.waiting = true;
    // A prober asks the same thing every time: frame it once.
    if (body !== this.lastBody) {
      this.lastBody = body;
      this.lastMessage = reqMessage(body);
    }
    return this.lastMessage!;
  }

  /** The request waiting is given up (the connection is about to be dropped). */
  abandon(): void {
    this.waiting = false;
  }

  receive(chunk: Uint8Array): ReqStep {
    const step: ReqStep = { write: [], opened: false };
    if (this.state === 'failed') return step;
    for (const event of this.reader.push(chunk)) {
      const failed = this.apply(event, step);
      if (failed) {
        this.state = 'failed';
        this.waiting = false;
        step.failed = failed;
        return step;
      }
    }
    return step;
  }

  private apply(event: ZmtpEvent, step: ReqStep): string | undefined {
    switch (event.kind) {
      case 'error':
        return event.reason;
      case 'greeting':
        this.peer = `ZMTP ${event.major}.${event.minor}, ${event.mechanism}`;
        // CURVE and PLAIN need a handshake this peer does not do; libzmq would drop it too.
        if (event.mechanism !== 'NULL')
          return `the peer wants ${event.mechanism} security (this probe speaks NULL only)`;
        this.state = 'ready';
        // Our READY waits for the peer's (libzmq sends its own without waiting for ours): a
        // peer of the wrong type is told apart, and is never told we are a REQ.
        step.write.push(zmtpGreeting().subarray(11));
        return undefined;
      case 'command':
        if (event.name === 'READY' && this.state === 'ready') {
          const props = readyProperties(event.data);
          if (!props) return 'a READY command whose properties do not parse';
          let type: string | undefined;
          for (const [k, v] of props) if (k.toLowerCase() === 'socket-type') type = v;
          this.peer = `${type ?? 'no Socket-Type'} (${this.peer})`;
          if (type !== 'REP' && type !== 'ROUTER')
            return `the peer is ${type ? `a ${type}` : 'of no type'}, not a REP or ROUTER`;
          this.state = 'open';
          step.write.push(zmtpReady('REQ'));
          step.opened = true;
          return undefined;
        }
        if (this.state !== 'open') return `${event.name} before READY`;
        if (event.name === 'PING') {
          // TTL (2 bytes), then a context the PONG echoes (at most 16 bytes).
          step.write.push(zmtpCommand('PONG', event.data.subarray(2, 18)));
          return undefined;
        }
        if (event.name === 'ERROR') {
          const n = event.data[0] ?? 0;
          return `the peer sent ERROR: ${latin1(event.data.subarray(1, 1 + n))}`;
        }
        return undefined; // PONG and commands of later versions: nothing to do
      case 'message':
        if (this.state !== 'open') return 'a message before the handshake ended';
        // A REQ takes a reply only while it waits for one, and only behind the empty delimiter
        // (libzmq's req_t drops anything else and keeps waiting).
        if (!this.waiting || event.parts.length < 2 || event.parts[0]!.length !== 0)
          return undefined;
        this.waiting = false;
        step.reply = event.parts.slice(1);
        return undefined;
    }
  }
}
