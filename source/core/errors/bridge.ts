// What `opsdeck agent --bridge` publishes for one ZMQ message: the error decoded (any variant),
// re-encoded in nats_error_bus.py's body format, once, on errors.agents.<agent>, with a stable
// Nats-Msg-Id and a mark saying it was bridged. Pure: the adapter supplies the content hash.
//
// The message id is the frame's own error id when it has one (A, D, CentralErrorBus JSON): the
// same error reaching two bridges (PC2's local copy and MainPC's CROSS_MACHINE_ERROR copy), or
// one bridge re-sending after a reconnect, is stored once by JetStream's duplicate window, and
// the console matches the bridged copy with the ZMQ copy and with a native NATS twin (whose
// correlation_id is that id). Id-less frames (B, C, raw) get `zmq-<hash of the frames>`: a
// re-send is still a duplicate, and the console matches them on content (agent + message), as it
// matches their ZMQ copies.
import { decodeZmq } from './decode.js';
import { errorCategory, subjectToken } from './encode.js';
import type { BridgeMark, ErrorEvent } from './event.js';
import { pyDumps, type PyValue } from '../py/json.js';
import { isoformat } from '../py/time.js';

/** Header on every bridged message: the machine whose bridge published it. */
export const BRIDGE_HEADER = 'Opsdeck-Bridge';
/** `id`: the message id is the frame's error id; `content`: made from the frame's bytes. */
export const BRIDGE_KEY_HEADER = 'Opsdeck-Bridge-Key';
/** Key in the body's details: what came through a bridge. A ZMQ frame carrying it came from NATS. */
export const BRIDGE_DETAIL = 'opsdeck_bridge';
/** Header on a bridged message that was backlog: its age in ms when the bridge received it. */
export const BACKLOG_HEADER = 'Opsdeck-Backlog';
/** Frames older than this when received are backlog (a connecting PUB's queue), not fresh. */
export const BACKLOG_MS = 10_000;

// Formats whose timestamp is UTC without saying so: ErrorPublisher (A) and PC2ErrorPublisher (D)
// write datetime.utcnow().isoformat(). Other naive timestamps may be local time: their age is
// not known, so they are never called backlog.
const UTC_NAIVE = new Set(['zmq-a', 'zmq-d', 'zmq-d-cross']);

/** How old a frame was when received (ms), when its timestamp says so reliably. */
export function frameAge(
  e: Pick<ErrorEvent, 'sentAt' | 'format'>,
  now: number,
): number | undefined {
  const t = e.sentAt;
  if (!t || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(t)) return undefined;
  const explicit = /(Z|[+-]\d\d:?\d\d)$/.test(t);
  if (!explicit && !UTC_NAIVE.has(e.format)) return undefined;
  const at = Date.parse(explicit ? t : `${t.replace(/(\.\d{3})\d+$/, '$1')}Z`);
  return Number.isFinite(at) ? now - at : undefined;
}

export interface BridgedMessage {
  kind: 'publish';
  msgId: string;
  subject: string;
  body: string;
  headers: Record<string, string>;
  event: ErrorEvent;
}

export type BridgeVerdict =
  | BridgedMessage
  | { kind: 'malformed'; reason: string; sample: string }
  /** The frame carries our own mark: it came from NATS, and going back would loop. */
  | { kind: 'loop'; reason: string };

/**
 * One ZMQ message received by the bridge on `machine`'s bus (`endpoint`, for the record).
 * `contentId` hashes the frames (only called for frames without an error id).
 */
export function bridgeMessage(
  frames: readonly Uint8Array[],
  machine: string,
  endpoint: string,
  now: number,
  contentId: (frames: readonly Uint8Array[]) => string,
  backlogMs = BACKLOG_MS,
): BridgeVerdict {
  const decoded = decodeZmq(frames, machine, now);
  if (!decoded.ok) return { kind: 'malformed', reason: decoded.reason, sample: decoded.sample };
  const e = decoded.event;
  if (BRIDGE_DETAIL in e.details)
    return {
      kind: 'loop',
      reason: `${e.agent}: the frame carries ${BRIDGE_DETAIL}, so it came from NATS; not published again`,
    };
  const errorId = e.ids[0];
  const msgId = errorId ?? `zmq-${contentId(frames)}`;
  const age = frameAge(e, now);
  const backlog = age !== undefined && age > backlogMs ? Math.round(age) : undefined;
  const errorType = typeof e.details.error_type === 'string' ? e.details.error_type : e.category;
  const body = pyDumps({
    id: msgId,
    timestamp: e.sentAt ?? isoformat(now),
    agent_name: e.agent,
    severity: e.severity,
    category: errorCategory(errorType),
    message: e.message,
    details: {
      ...(e.details as Record<string, PyValue>),
      error_type: errorType,
      [BRIDGE_DETAIL]: {
        machine,
        endpoint,
        format: e.format,
        origin: e.machine,
        ...(backlog !== undefined ? { backlog_ms: backlog } : {}),
      },
    },
    stack_trace: typeof e.details.stack_trace === 'string' ? e.details.stack_trace : null,
    correlation_id: errorId ?? null,
    resolved: false,
    resolution_notes: null,
  });
  return {
    kind: 'publish',
    msgId,
    subject: `errors.agents.${subjectToken(e.agent)}`,
    body,
    headers: {
      'Nats-Msg-Id': msgId,
      [BRIDGE_HEADER]: machine,
      [BRIDGE_KEY_HEADER]: errorId ? 'id' : 'content',
      ...(backlog !== undefined ? { [BACKLOG_HEADER]: String(backlog) } : {}),
      // What nats_error_bus.py sets, plus the machine (NATS itself carries none).
      agent: e.agent,
      severity: e.severity,
      machine: e.machine,
    },
    event: e,
  };
}

/** The mark from a NATS message's headers, if a bridge published it. */
export function bridgeMarkOf(
  headers: { get(key: string): string } | undefined,
): BridgeMark | undefined {
  const machine = headers?.get(BRIDGE_HEADER);
  if (!machine) return undefined;
  const backlog = Number(headers!.get(BACKLOG_HEADER) || NaN);
  return {
    machine,
    synthetic: headers!.get(BRIDGE_KEY_HEADER) === 'content',
    ...(Number.isFinite(backlog) && backlog > 0 ? { backlogMs: backlog } : {}),
  };
}
