// Encoders for every error format the fleet publishes (upstream-protocols c1, c2), byte for byte:
// the simulator publishes with them and decode.ts is tested against them. Pure.
//
// One simulated error carries one shared id. Where a format has an id field it is that id
// (A/D error_data.error_id, CentralErrorBus's error_id); the NATS
// libraries mint their own message id (`id` / `error_id`, as upstream's uuid4) and carry the
// shared id as `correlation_id`, as BaseAgent's UnifiedErrorHandler does. So dual-published
// copies match on error_id == correlation_id. Variant B has no id field: its copies match on
// (agent, message, timestamp), which both copies carry identically.
import { pyDumps, type PyValue } from '../py/json.js';
import { isoformat } from '../py/time.js';
import { hash32, rng } from '../seeded.js';
import { textOf } from '../text.js';

/** The ZMQ formats: A-D as in c1, `central` = CentralErrorBus's single-JSON-frame re-publish. */
export type ZmqVariant = 'A' | 'B' | 'C' | 'D' | 'central';
export const ZMQ_VARIANTS: readonly ZmqVariant[] = ['A', 'B', 'C', 'D', 'central'];

/** `errors`: nats_error_bus.py (stream ERRORS); `error-stream`: nats_client.py WP-10 (ERROR_STREAM). */
export type NatsLibrary = 'errors' | 'error-stream';
export const NATS_LIBRARIES: readonly NatsLibrary[] = ['errors', 'error-stream'];

export type SimSeverity = 'critical' | 'error' | 'warning' | 'info';
export const SIM_SEVERITIES: readonly SimSeverity[] = ['critical', 'error', 'warning', 'info'];

export interface SimError {
  /** The shared id (the handler's error_id). */
  id: string;
  /** The id the NATS library mints for its own copy. */
  natsId: string;
  /** ms since the epoch. */
  at: number;
  /** `mainpc` / `pc2` (or any machine id). */
  machine: string;
  agent: string;
  errorType: string;
  severity: SimSeverity;
  message: string;
  details?: Record<string, PyValue>;
  /** PC2ErrorPublisher's category (default `pc2_service`). */
  category?: string;
  stackTrace?: string | null;
  /** Address PC2ErrorPublisher puts in machine_context.host (get_pc2_ip()). */
  host?: string;
}

/** Frames of one ZMQ message, and which machine's bus it goes to (`own` or a machine id). */
export interface ZmqMessage {
  frames: (string | Uint8Array)[];
  /** `own`, or a machine id. */
  to: string;
}

export interface NatsMessage {
  subject: string;
  data: string | Uint8Array;
  headers?: Record<string, string>;
}

// ErrorPublisher / PC2ErrorPublisher vocabulary: critical|high|medium|low.
const LEVEL: Record<SimSeverity, string> = {
  critical: 'critical',
  error: 'high',
  warning: 'medium',
  info: 'low',
};

const machineLabel = (machine: string): string =>
  machine === 'mainpc' ? 'MainPC' : machine === 'pc2' ? 'PC2' : machine;

/** Variant A's source: create_mainpc_error_publisher names it `MainPC.<agent>`. */
const sourceA = (e: SimError): string => (e.machine === 'mainpc' ? `MainPC.${e.agent}` : e.agent);

function bodyA(e: SimError): Record<string, PyValue> {
  return {
    message_type: e.severity === 'critical' ? 'critical_alert' : 'error_report',
    source: sourceA(e),
    timestamp: isoformat(e.at, 'utc'),
    error_data: {
      error_id: e.id,
      error_type: e.errorType,
      severity: LEVEL[e.severity],
      details: { message: e.message, ...e.details },
    },
  };
}

const bodyB = (e: SimError): Record<string, PyValue> => ({
  timestamp: isoformat(e.at),
  agent: e.agent,
  type: e.errorType,
  message: e.message,
  severity: 'ERROR',
});

// C's body has no agent or id field; `context` is whatever the caller passes, and the simulated
// callers pass their name and the error id there (a choice of the simulator, not upstream's).
const bodyC = (e: SimError): Record<string, PyValue> => ({
  error_type: e.errorType,
  message: e.message,
  severity: e.severity.toUpperCase(),
  context: { agent: e.agent, error_id: e.id, ...e.details },
});

function bodyD(e: SimError): Record<string, PyValue> {
  return {
    message_type: e.severity === 'critical' ? 'critical_alert' : 'error_report',
    source: e.agent,
    source_machine: 'PC2',
    timestamp: isoformat(e.at, 'utc'),
    error_data: {
      error_id: e.id,
      error_type: e.errorType,
      severity: LEVEL[e.severity],
      category: e.category ?? 'pc2_service',
      details: { message: e.message, ...e.details },
      machine_context: {
        host: e.host ?? 'localhost',
        current_machine: 'pc2',
        runtime_env: 'development',
      },
    },
  };
}

/** What an IPC publisher hands CentralErrorBus, which re-sends it with send_json. */
const bodyCentral = (e: SimError): Record<string, PyValue> => ({
  agent: e.agent,
  error_id: e.id,
  error_type: e.errorType,
  severity: e.severity,
  message: e.message,
  timestamp: isoformat(e.at),
  machine: machineLabel(e.machine),
});

/** The ZMQ message(s) one error produces in a variant. D adds the cross-machine copy to MainPC. */
export function zmqMessages(variant: ZmqVariant, e: SimError): ZmqMessage[] {
  switch (variant) {
    case 'A':
      return [{ frames: [`ERROR:${pyDumps(bodyA(e))}`], to: 'own' }];
    case 'B':
      return [{ frames: ['ERROR', pyDumps(bodyB(e))], to: 'own' }];
    case 'C':
      return [{ frames: ['ERROR:', pyDumps(bodyC(e))], to: 'own' }];
    case 'central':
      return [{ frames: [pyDumps(bodyCentral(e))], to: 'own' }];
    case 'D': {
      const body = bodyD(e);
      const category = textOf((body.error_data as Record<string, PyValue>).category).toUpperCase();
      const out: ZmqMessage[] = [{ frames: [`PC2_ERROR:${category}:${pyDumps(body)}`], to: 'own' }];
      // should_send_mainpc: propagate_to_mainpc and severity in ["critical", "high"].
      if (e.severity === 'critical' || e.severity === 'error') {
        out.push({
          frames: [
            `CROSS_MACHINE_ERROR:PC2:${pyDumps({ ...body, cross_machine_alert: true, originating_machine: 'PC2' })}`,
          ],
          to: 'mainpc',
        });
      }
      return out;
    }
  }
}

// nats_error_bus.py's category: a keyword map over error_type (UnifiedErrorHandler).
const CATEGORY_WORDS: [RegExp, string][] = [
  [/connect|network|socket|timeout|refused|unreachable/i, 'network'],
  [/database|sql|redis|db_|query/i, 'database'],
  [/auth|token|permission|credential|jwt/i, 'authentication'],
  [/valid|schema|parse|decode|value/i, 'validation'],
  [/memory|resource|gpu|vram|cuda|oom|disk|cpu/i, 'resource'],
  [/config|setting|env/i, 'configuration'],
  [/api|http|request|upstream|external/i, 'external_api'],
  [/input|user/i, 'user_input'],
];

export const errorCategory = (errorType: string): string =>
  CATEGORY_WORDS.find(([re]) => re.test(errorType))?.[1] ?? 'system';

/** A subject token: agent names go into subjects, and `.`, `*`, `>` or spaces would split them. */
export const subjectToken = (name: string): string => name.replace(/[\s.*>]/g, '_') || '_';

/** The NATS message(s) one error produces with a library. */
export function natsMessages(library: NatsLibrary, e: SimError): NatsMessage[] {
  const agent = subjectToken(e.agent);
  if (library === 'errors') {
    const body = pyDumps({
      id: e.natsId,
      timestamp: isoformat(e.at),
      agent_name: e.agent,
      severity: e.severity,
      category: errorCategory(e.errorType),
      message: e.message,
      details: { error_type: e.errorType, ...e.details },
      stack_trace: e.stackTrace ?? null,
      correlation_id: e.id,
      resolved: false,
      resolution_notes: null,
    });
    const subjects = ['errors.events', `errors.agents.${agent}`];
    if (e.severity === 'critical') subjects.push('errors.system', 'errors.system.critical');
    const headers = { agent: e.agent, severity: e.severity };
    return subjects.map((subject) => ({ subject, data: body, headers }));
  }
  const body = pyDumps({
    error_id: e.natsId,
    timestamp: isoformat(e.at),
    source_agent: e.agent,
    error_type: e.errorType,
    severity: e.severity.toUpperCase(),
    message: e.message,
    stack_trace: e.stackTrace ?? null,
    context: { ...e.details },
    correlation_id: e.id,
    retry_count: 0,
  });
  return [{ subject: `errors.${e.severity}.${agent}`, data: body }];
}

// ---------------------------------------------------------------------------------------------
// Malformed frames, for the console's robustness (practice 14: nothing from the wire reaches
// the terminal unsanitised).

export type MalformedKind = 'bad-json' | 'oversize' | 'binary' | 'escape';
export const MALFORMED_KINDS: readonly MalformedKind[] = [
  'bad-json',
  'oversize',
  'binary',
  'escape',
];

/** Escape sequences an attacker or a broken agent could put in an error message. */
export const ESCAPES =
  '\u001b[2J\u001b[H' + // clear screen, cursor home
  '\u001b]0;opsdeck pwned\u0007' + // OSC: set window title
  '\u001b[31;5mdisk on fire\u001b[0m' + // colour + blink
  '\u009b6n' + // C1 CSI: cursor position report request
  '\u001b]52;c;b3BzZGVjaw==\u0007'; // OSC 52: write the clipboard

function binaryBytes(seed: string, size: number): Uint8Array {
  const next = rng(hash32(seed));
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(next() * 256);
  // Always include NUL, 0xff and an invalid UTF-8 sequence, whatever the seed.
  out.set([0x00, 0xff, 0xc3, 0x28, 0x1b], 0);
  return out;
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
};

export const OVERSIZE_ZMQ_BYTES = 2 * 1024 * 1024;

/** A malformed ZMQ message in a variant's framing. */
export function malformedZmq(
  kind: MalformedKind,
  variant: ZmqVariant,
  e: SimError,
  oversizeBytes = OVERSIZE_ZMQ_BYTES,
): ZmqMessage {
  if (kind === 'escape') {
    const [first] = zmqMessages(variant, {
      ...e,
      message: `${e.message} ${ESCAPES}`,
      details: { ...e.details, note: ESCAPES },
    });
    return first!;
  }
  if (kind === 'oversize') {
    const [first] = zmqMessages(variant, {
      ...e,
      details: { ...e.details, blob: 'x'.repeat(oversizeBytes) },
    });
    return first!;
  }
  const [good] = zmqMessages(variant, e);
  const frames = good!.frames;
  const last = frames[frames.length - 1] as string;
  // Keep the variant's topic so a consumer's prefix match still routes the broken body.
  const split = variant === 'A' ? 6 : variant === 'D' ? last.indexOf(':', 10) + 1 : 0;
  const prefix = last.slice(0, split);
  const body = last.slice(split);
  if (kind === 'bad-json') {
    const broken = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
    const text = variant === 'central' ? pyDumps({ raw: broken }) : prefix + broken;
    return { frames: [...frames.slice(0, -1), text], to: 'own' };
  }
  const bytes = binaryBytes(e.id, 256);
  const framed = variant === 'central' ? bytes : concat(new TextEncoder().encode(prefix), bytes);
  return { frames: [...frames.slice(0, -1), framed], to: 'own' };
}

/** A malformed NATS message on the library's subject. `maxPayload` is the server's limit. */
export function malformedNats(
  kind: MalformedKind,
  library: NatsLibrary,
  e: SimError,
  maxPayload: number,
): NatsMessage {
  if (kind === 'escape')
    return natsMessages(library, {
      ...e,
      message: `${e.message} ${ESCAPES}`,
      details: { ...e.details, note: ESCAPES },
    })[0]!;
  if (kind === 'oversize') {
    // The server refuses anything over max_payload, so oversize here means "just under it".
    const pad = Math.max(0, maxPayload - 4096);
    return natsMessages(library, { ...e, details: { ...e.details, blob: 'x'.repeat(pad) } })[0]!;
  }
  const good = natsMessages(library, e)[0]!;
  if (kind === 'bad-json') {
    const text = good.data as string;
    return { ...good, data: text.slice(0, Math.floor(text.length / 2)) };
  }
  return { ...good, data: binaryBytes(e.id, 256) };
}
