// Upstream-format error frames for the ingest benchmarks, made once and cheap to send.
//
// Encoding one error (pyDumps) costs ~16 µs, which would cap a publisher near 60k/s. So a pool
// of templates is encoded once with the real encoders (source/core/errors/encode.ts: variants
// A-D and CentralErrorBus for ZMQ, both NATS libraries), and each message sent is a copy of a
// template with the error's ids rewritten: every error is a new one (unique ids, so dedup does
// real work), while agents, types and messages repeat as they do in a real flood.
import {
  natsMessages,
  zmqMessages,
  type NatsLibrary,
  type SimError,
  type ZmqVariant,
} from '../../source/core/errors/encode.js';
import { hash32, rng } from '../../source/core/seeded.js';
import { ErrorMaker } from '../../source/sim/error-maker.js';

export const POOL = 4096;

const enc = new TextEncoder();

interface Template {
  /** The message's frames (ZMQ) or body (NATS, one frame). */
  frames: Buffer[];
  /** Where each id's 12-hex tail sits in the last frame: rewritten per copy. */
  patches: number[];
  subject?: string;
  headers?: Record<string, string>;
}

function agents(): {
  machine: string;
  agent: string;
  host: string;
  deps: string[];
  gpu: boolean;
}[] {
  const out = [];
  for (let i = 0; i < 100; i++) {
    const machine = i < 50 ? 'mainpc' : 'pc2';
    out.push({
      machine,
      agent: `${machine === 'mainpc' ? 'Main' : 'Pc2'}Agent${String(i % 50).padStart(2, '0')}`,
      host: machine === 'mainpc' ? '127.0.0.1' : '127.0.0.2',
      deps: ['ServiceRegistry', 'SystemDigitalTwin'],
      gpu: i % 3 === 0,
    });
  }
  return out;
}

/** Offsets of the last 12 characters of every id in `text`. */
function idTails(frame: Buffer, ids: string[]): number[] {
  const out: number[] = [];
  for (const id of ids) {
    let at = frame.indexOf(id);
    while (at >= 0) {
      out.push(at + id.length - 12);
      at = frame.indexOf(id, at + 1);
    }
  }
  return out;
}

const MAIN_VARIANTS: ZmqVariant[] = ['A', 'A', 'B', 'C', 'central'];

function errors(seed: number): SimError[] {
  const maker = new ErrorMaker(rng(hash32(`bench/${seed}`)), seed);
  const pick = rng(seed);
  const list = agents();
  const out: SimError[] = [];
  for (let i = 0; i < POOL; i++) {
    const a = list[Math.floor(pick() * list.length)]!;
    out.push(
      maker.make(
        { machine: a.machine, agent: a.agent, host: a.host, dependencies: a.deps, usesGpu: a.gpu },
        Date.UTC(2026, 10, 24, 12) + i,
      ),
    );
  }
  return out;
}

/** ZMQ templates: MainPC agents use A, B, C and CentralErrorBus's re-publish; PC2's use D (with its cross-machine copy). */
export function zmqTemplates(seed = 1): Template[] {
  const out: Template[] = [];
  errors(seed).forEach((e, i) => {
    const variant: ZmqVariant =
      e.machine === 'pc2' ? (i % 4 === 0 ? 'B' : 'D') : MAIN_VARIANTS[i % MAIN_VARIANTS.length]!;
    for (const m of zmqMessages(variant, e)) {
      const frames = m.frames.map((f) => Buffer.from(typeof f === 'string' ? enc.encode(f) : f));
      out.push({ frames, patches: idTails(frames[frames.length - 1]!, [e.id]) });
    }
  });
  return out;
}

/** NATS templates: nats_error_bus.py (2-4 subjects per error, headers) and nats_client.py (one subject). */
export function natsTemplates(seed = 1): Template[] {
  const out: Template[] = [];
  errors(seed).forEach((e, i) => {
    const library: NatsLibrary = i % 2 === 0 ? 'errors' : 'error-stream';
    for (const m of natsMessages(library, e)) {
      const body = Buffer.from(typeof m.data === 'string' ? enc.encode(m.data) : m.data);
      out.push({
        frames: [body],
        patches: idTails(body, [e.id, e.natsId]),
        subject: m.subject,
        ...(m.headers ? { headers: m.headers } : {}),
      });
    }
  });
  return out;
}

const HEX = '0123456789abcdef';

/** A copy of template `i % pool` whose ids end in the round number: unique per message round. */
export function stamp(t: Template, round: number): Buffer[] {
  const last = Buffer.from(t.frames[t.frames.length - 1]!);
  for (const at of t.patches) {
    let r = round;
    for (let k = 11; k >= 0; k--) {
      last[at + k] = HEX.charCodeAt(r & 15);
      r >>>= 4;
    }
  }
  return t.frames.length === 1 ? [last] : [...t.frames.slice(0, -1), last];
}

/** Mean wire size of the templates' frames (for the report). */
export function meanBytes(templates: readonly Template[]): number {
  let sum = 0;
  for (const t of templates) for (const f of t.frames) sum += f.byteLength;
  return Math.round(sum / templates.length);
}
