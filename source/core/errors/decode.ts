// Decoders for every error format the fleet really sends (upstream-protocols c1, c2).
// Each returns an event or a malformed verdict with a short sanitised sample: nothing throws,
// nothing is dropped without being counted.
import { normaliseSeverity, type ErrorEvent, type ErrorFormat } from './event.js';
import { jsonObject } from '../text.js';
import { sanitise } from './sanitise.js';

export type Decoded =
  { ok: true; event: ErrorEvent } | { ok: false; reason: string; sample: string };

/** Frames larger than this are refused unparsed (upstream's bus has no limit; a console must). */
export const MAX_FRAME_BYTES = 256 * 1024;
const SAMPLE_CHARS = 160;

const utf8 = new TextDecoder('utf-8', { fatal: false });
type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const dict = (v: unknown): Dict => (isDict(v) ? v : {});

// The reason can quote the wire (an unknown topic, a subject): it reaches the screen too.
const malformed = (reason: string, text: string): Decoded => ({
  ok: false,
  reason: sanitise(reason),
  sample: sanitise(text.length > SAMPLE_CHARS ? `${text.slice(0, SAMPLE_CHARS)}…` : text),
});

// Three parameters rather than `...values`: the rest array was one more allocation per event.
const ids = (a: unknown, b?: unknown, c?: unknown): string[] => {
  const out: string[] = [];
  addId(out, a);
  addId(out, b);
  addId(out, c);
  return out;
};

const addId = (out: string[], v: unknown): void => {
  const s = typeof v === 'number' ? String(v) : str(v);
  if (s && !out.includes(s)) out.push(s);
};

// ErrorPublisher prefixes the agent with its machine (`MainPC.NLUAgent`).
const agentName = (source: unknown): string => {
  const s = str(source) ?? 'unknown';
  const dot = s.indexOf('.');
  return dot > 0 && machinePrefix(s, dot) ? s.slice(dot + 1) : s;
};

/**
 * Whether `s` up to `dot` is mainpc, pc2 or main_pc, letters in either case: what
 * /^(mainpc|pc2|main_pc)$/i said of `s.slice(0, dot)` (its /i folds ASCII letters only), without
 * the slice and the regex per frame.
 */
function machinePrefix(s: string, dot: number): boolean {
  const word = dot === 6 ? 'mainpc' : dot === 3 ? 'pc2' : dot === 7 ? 'main_pc' : undefined;
  if (word === undefined) return false;
  for (let i = 0; i < dot; i++) {
    const c = s.charCodeAt(i);
    const w = word.charCodeAt(i);
    // `w | 0x20` is w for a lower-case letter; a letter matches in either case, the rest exactly.
    if (c !== w && !(w >= 97 && w <= 122 && (c | 0x20) === w)) return false;
  }
  return true;
}

const messageOf = (details: Dict, fallback: string): string =>
  str(details.message) ?? str(details.error) ?? str(details.error_message) ?? fallback;

function event(
  machine: string,
  receivedAt: number,
  format: ErrorFormat,
  fields: Omit<ErrorEvent, 'machine' | 'receivedAt' | 'format' | 'bus' | 'bridged'>,
  bus: ErrorEvent['bus'] = 'zmq',
): Decoded {
  // Built property by property, not spread: object spread over the many shapes decoded JSON
  // takes falls off V8's fast path (microseconds per event at flood rates; bench/ingest).
  // Ids are shown in the detail view: sanitised in place (the array is this event's own, from ids()).
  const list = fields.ids;
  for (let i = 0; i < list.length; i++) list[i] = sanitise(list[i]!);
  const e: ErrorEvent = {
    machine: sanitise(machine),
    agent: sanitise(fields.agent),
    severity: fields.severity,
    category: sanitise(fields.category),
    message: sanitise(fields.message),
    details: fields.details,
    // The timestamp is shown in the detail view too; the machine can come from a header.
    ids: list,
    bus,
    format,
    receivedAt,
  };
  if (fields.sentAt !== undefined) e.sentAt = sanitise(fields.sentAt);
  return { ok: true, event: e };
}

// `details` below is an object of this message's own parsed JSON (or a new one): the fields it
// gains are set on it, in the order `{ ...details, ...extra }` would give, without copying it
// or making an `extra` object per event.

/** Variant A and D bodies share the `error_data` envelope. */
// PC2ErrorPublisher names its machine (source_machine / originating_machine): its cross-machine
// copy arrives on MainPC's bus but is PC2's error.
const originOf = (body: Dict, fallback: string): string => {
  const named = str(body.originating_machine) ?? str(body.source_machine);
  if (!named) return fallback;
  // The last name's id kept: a machine's frames name it alike, and its one string (its hash
  // made once) is what the publisher and flood maps are then asked for.
  if (named !== lastNamed) {
    const id = named.toLowerCase().replace(/[^a-z0-9]/g, '');
    lastOrigin = id === 'mainpc' ? 'mainpc' : id;
    lastNamed = named;
  }
  return lastOrigin;
};
let lastNamed = '';
let lastOrigin = '';

function fromEnvelope(
  body: Dict,
  bus: string,
  receivedAt: number,
  format: ErrorFormat,
  category?: string,
): Decoded {
  const machine = originOf(body, bus);
  const data = dict(body.error_data);
  const details = dict(data.details);
  const type = str(data.error_type) ?? 'error';
  const message = messageOf(details, type);
  if (isDict(data.machine_context)) details.machine_context = data.machine_context;
  details.error_type = type;
  return event(machine, receivedAt, format, {
    agent: agentName(body.source),
    severity: normaliseSeverity(data.severity),
    category: category ?? str(data.category) ?? type,
    message,
    details,
    ids: ids(data.error_id),
    sentAt: str(body.timestamp),
  });
}

/** Whatever CentralErrorBus re-published: the IPC publishers' own JSON. */
function fromLoose(body: Dict, machine: string, receivedAt: number, format: ErrorFormat): Decoded {
  const details = dict(body.details ?? body.context);
  const type = str(body.error_type) ?? str(body.type) ?? str(body.category) ?? 'error';
  return event(machine, receivedAt, format, {
    agent: agentName(
      body.agent ??
        body.source ??
        body.agent_name ??
        body.source_agent ??
        details.agent ??
        details.agent_name,
    ),
    severity: normaliseSeverity(body.severity),
    category: type,
    message: str(body.message) ?? messageOf(details, type),
    details,
    ids: ids(body.error_id, body.id, body.correlation_id),
    sentAt: str(body.timestamp),
  });
}

function decodeSingle(text: string, machine: string, receivedAt: number, depth = 0): Decoded {
  if (text.startsWith('ERROR:')) {
    const body = jsonObject(text.slice(6));
    return body
      ? fromEnvelope(body, machine, receivedAt, 'zmq-a')
      : malformed('variant A (ERROR:) with a body that is not a JSON object', text);
  }
  if (text.startsWith('PC2_ERROR:')) {
    const colon = text.indexOf(':', 10);
    const body = colon > 0 ? jsonObject(text.slice(colon + 1)) : undefined;
    return body
      ? fromEnvelope(body, machine, receivedAt, 'zmq-d', text.slice(10, colon).toLowerCase())
      : malformed('variant D (PC2_ERROR:<CAT>:) without a JSON object body', text);
  }
  if (text.startsWith('CROSS_MACHINE_ERROR:')) {
    const colon = text.indexOf(':', 20);
    const body = colon > 0 ? jsonObject(text.slice(colon + 1)) : undefined;
    return body
      ? fromEnvelope(body, machine, receivedAt, 'zmq-d-cross')
      : malformed('variant D (CROSS_MACHINE_ERROR:) without a JSON object body', text);
  }
  const body = jsonObject(text);
  if (!body)
    return malformed('not an upstream error frame (no known prefix, not a JSON object)', text);
  if (typeof body.raw === 'string' && Object.keys(body).length === 1) {
    // CentralErrorBus wraps what it could not parse, including every ERROR:-prefixed frame.
    if (depth === 0) {
      const inner = decodeSingle(body.raw, machine, receivedAt, 1);
      if (inner.ok) return inner;
    }
    return event(machine, receivedAt, 'zmq-raw', {
      agent: 'unknown',
      severity: 'error',
      category: 'raw',
      message: body.raw,
      details: {},
      ids: [],
    });
  }
  return fromLoose(body, machine, receivedAt, 'zmq-central');
}

/** One ZMQ message (all its frames) from a machine's error bus. */
export function decodeZmq(
  frames: readonly Uint8Array[],
  machine: string,
  receivedAt: number,
): Decoded {
  let size = 0;
  for (let i = 0; i < frames.length; i++) size += frames[i]!.byteLength;
  if (size > MAX_FRAME_BYTES)
    return malformed(
      `oversize message: ${size} bytes (limit ${MAX_FRAME_BYTES})`,
      utf8.decode(frames[0]!.subarray(0, SAMPLE_CHARS)),
    );
  if (frames.length === 1) return decodeSingle(utf8.decode(frames[0]), machine, receivedAt);
  if (frames.length === 2) {
    const topic = utf8.decode(frames[0]);
    const text = utf8.decode(frames[1]);
    const body = jsonObject(text);
    if (topic === 'ERROR' || topic === 'ERROR:') {
      if (!body)
        return malformed(
          `variant ${topic === 'ERROR' ? 'B' : 'C'} with a body that is not a JSON object`,
          text,
        );
      return fromLoose(body, machine, receivedAt, topic === 'ERROR' ? 'zmq-b' : 'zmq-c');
    }
    return malformed(`two frames with unknown topic "${topic.slice(0, 40)}"`, text);
  }
  return malformed(
    `${frames.length} frames (expected 1 or 2)`,
    frames.length ? utf8.decode(frames[0]!.subarray(0, SAMPLE_CHARS)) : '',
  );
}

/** One JetStream / core NATS message on an `errors.>` subject. */
export function decodeNats(
  subject: string,
  data: Uint8Array,
  machine: string,
  receivedAt: number,
): Decoded {
  if (data.byteLength > MAX_FRAME_BYTES)
    return malformed(
      `oversize message: ${data.byteLength} bytes (limit ${MAX_FRAME_BYTES})`,
      utf8.decode(data.subarray(0, SAMPLE_CHARS)),
    );
  const text = utf8.decode(data);
  const body = jsonObject(text);
  if (!body) return malformed(`${subject}: body is not a JSON object`, text);
  if ('source_agent' in body || 'error_id' in body) {
    // nats_client.py (WP-10): errors.<severity>.<agent>
    const context = dict(body.context);
    const type = str(body.error_type) ?? 'error';
    if (str(body.stack_trace)) context.stack_trace = body.stack_trace;
    context.retry_count = body.retry_count;
    return event(
      machine,
      receivedAt,
      'nats-error-stream',
      {
        agent: agentName(body.source_agent ?? subject.split('.')[2]),
        severity: normaliseSeverity(body.severity ?? subject.split('.')[1]),
        category: type,
        message: str(body.message) ?? type,
        details: context,
        ids: ids(body.error_id, body.correlation_id),
        sentAt: str(body.timestamp),
      },
      'nats',
    );
  }
  // nats_error_bus.py: errors.events / errors.agents.<agent> / errors.system[.critical]
  const details = dict(body.details);
  const category = str(body.category) ?? 'system';
  if (str(body.stack_trace)) details.stack_trace = body.stack_trace;
  return event(
    machine,
    receivedAt,
    'nats-errors',
    {
      agent: agentName(
        body.agent_name ?? (subject.startsWith('errors.agents.') ? subject.slice(14) : undefined),
      ),
      severity: normaliseSeverity(body.severity),
      category,
      message: str(body.message) ?? category,
      details,
      ids: ids(body.id, body.correlation_id),
      sentAt: str(body.timestamp),
    },
    'nats',
  );
}
