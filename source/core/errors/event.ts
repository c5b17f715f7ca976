// One model for an error seen on either bus, whatever format the publisher used.

export type Bus = 'zmq' | 'nats';

/**
 * An error `opsdeck agent --bridge` carried from a machine's ZMQ bus into NATS (header
 * Opsdeck-Bridge). It arrives on NATS but is the ZMQ copy's twin, never a native NATS publish.
 */
export interface BridgeMark {
  /** The machine whose bridge published it. */
  machine: string;
  /** True when the ZMQ frame had no error id and the bridge made one from its content: match on content. */
  synthetic: boolean;
  /**
   * How old the frame was when the bridge received it, when older than the bridge's backlog
   * window: a connecting PUB's queue delivered on (re)connect, not a fresh error.
   */
  backlogMs?: number;
}

/** Normalised severity: the five upstream vocabularies map onto these. */
export type Severity = 'critical' | 'error' | 'warning' | 'info' | 'debug';

export const SEVERITIES: readonly Severity[] = ['critical', 'error', 'warning', 'info', 'debug'];

/** Which upstream wire format an event arrived in (upstream-protocols c1, c2). */
export type ErrorFormat =
  | 'zmq-a' // "ERROR:"+json, ErrorPublisher
  | 'zmq-b' // [ERROR, json], ForPC2 agents
  | 'zmq-c' // [ERROR:, json], streaming TTS / interrupt handler
  | 'zmq-d' // "PC2_ERROR:<CAT>:"+json, PC2ErrorPublisher
  | 'zmq-d-cross' // "CROSS_MACHINE_ERROR:PC2:"+json
  | 'zmq-central' // CentralErrorBus single-frame JSON re-publish
  | 'zmq-raw' // CentralErrorBus {"raw": ...} for frames it could not parse
  | 'nats-errors' // nats_error_bus.py (stream ERRORS: errors.events, errors.agents.<a>, errors.system*)
  | 'nats-error-stream' // nats_client.py WP-10 (stream ERROR_STREAM: errors.<sev>.<agent>)
  | 'bus-gap'; // not from the wire: opsdeck's own row for a time it had no connection to a bus

export interface ErrorEvent {
  /** Machine whose bus delivered it (the console's view), not necessarily the publisher's. */
  machine: string;
  agent: string;
  severity: Severity;
  /** Upstream category or error type, whichever the format carries. */
  category: string;
  message: string;
  details: Record<string, unknown>;
  /** Every id the publisher attached (error_id, id, correlation_id): cross-bus matching uses them. */
  ids: string[];
  bus: Bus;
  /** Set when the copy came through the bridge (bus is then `nats`). */
  bridged?: BridgeMark;
  format: ErrorFormat;
  /** Publisher's timestamp as sent (ISO or epoch seconds), if any. */
  sentAt?: string;
  /** ms since epoch when opsdeck received it. */
  receivedAt: number;
}

/**
 * Upstream's severity vocabularies: ErrorPublisher (critical|high|medium|low, default "error"),
 * ForPC2 ("ERROR"), nats_error_bus (debug..fatal), nats_client (CRITICAL|ERROR|WARNING|INFO),
 * and free-form strings from the streaming agents.
 */
export function normaliseSeverity(raw: unknown): Severity {
  const s = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  switch (s) {
    case 'fatal':
    case 'critical':
    case 'crit':
    case 'emergency':
    case 'alert':
      return 'critical';
    case 'high':
    case 'error':
    case 'err':
    case 'severe':
      return 'error';
    case 'medium':
    case 'warning':
    case 'warn':
      return 'warning';
    case 'low':
    case 'info':
    case 'notice':
      return 'info';
    case 'debug':
    case 'trace':
      return 'debug';
    default:
      return 'error'; // upstream's own default when a publisher sends none
  }
}
