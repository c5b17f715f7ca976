// Fault requests: one JSON shape for the CLI flags, the NATS subject `opsdeck.sim.control` and
// the ZMQ REP control socket. `{fault, agent?, machine?, ...}` -> `{ok, error?, ...}`.
//
//   kill      {agent}                       close every endpoint of the agent (a crash: no log line)
//   restart   {agent}                       kill, then start again (clears slow/degraded/wedged)
//   stop / start {agent}                    an orderly stop (logged) / a start of a stopped agent
//   log-flood {agent, rate, seconds?}       the agent writes rate log lines/s (0: stop)
//   slow      {agent, ms}                   reply after ms (0: normal)
//   degraded  {agent, on?=true}             report degraded (BaseAgent: ready signal gone)
//   flood     {agent, rate, seconds?}       rate errors/s from the agent (0: stop)
//   malformed {agent, kind, count?=1, bus?} bad-json | oversize | binary | escape, on the
//                                           buses the phase publishes on (or bus: zmq|nats)
//   vram-spike {machine?=pc2, mb, seconds?} extra VRAM in use (0: end the spike)
//   bus-off / bus-on {bus, machine?}        stop / resume publishing on zmq or nats
//   error     {agent, severity?, error_type?, message?}  publish one error now
//   clear     {agent?}                      end every fault (of the agent, or everywhere)
//   status    {}                            machines, agents and counters
//
// With `opsdeck sim --jwks FILE` every fault but status needs a JWT for audience "sim" in
// `token` (sim/machine-control.ts faultVerifier); `opsdeck sim ctl` sends these from a shell.
import * as zmq from 'zeromq';
import { ZMQ_MAX_MESSAGE } from '../adapters/zmq-limits.js';
import { MAX_DURATION_MS } from '../core/duration.js';
import { released } from './endpoints.js';
import {
  MALFORMED_KINDS,
  SIM_SEVERITIES,
  type MalformedKind,
  type SimSeverity,
} from '../core/errors/encode.js';

export const FAULTS = [
  'kill',
  'restart',
  'stop',
  'start',
  'slow',
  'degraded',
  'flood',
  'log-flood',
  'malformed',
  'vram-spike',
  'bus-off',
  'bus-on',
  'error',
  'clear',
  'status',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface ControlRequest {
  fault: Fault;
  agent?: string;
  machine?: string;
  ms?: number;
  on?: boolean;
  rate?: number;
  seconds?: number;
  kind?: MalformedKind;
  count?: number;
  bus?: 'zmq' | 'nats';
  mb?: number;
  severity?: SimSeverity;
  error_type?: string;
  message?: string;
  /** A JWT for audience "sim" (needed when the sim enforces tokens). */
  token?: string;
}

export interface ControlReply {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

/** Decides whether a control request may run: allowAll, or the JWT check of `--jwks`. */
export type ControlVerifier = (
  request: ControlRequest,
) => { ok: true } | { ok: false; reason: string };
export const allowAll: ControlVerifier = () => ({ ok: true });

const NEEDS_AGENT: readonly Fault[] = [
  'kill',
  'restart',
  'stop',
  'start',
  'log-flood',
  'slow',
  'degraded',
  'flood',
  'malformed',
  'error',
];

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonNegative = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * The most errors or log lines a second one agent is asked for: five times the 20k/s the
 * console is measured under. The sim makes each second's worth in one tick, on its one thread:
 * `rate=1e9` wedged it (no probe, error or fault answered) until it was killed.
 */
export const MAX_RATE = 100_000;
const rate = (v: unknown): v is number => nonNegative(v) && v <= MAX_RATE;
// A reply delayed longer than a Node timer holds (2^31-1 ms) came back after 1 ms: not slow.
const timerMs = (v: unknown): v is number => nonNegative(v) && v <= MAX_DURATION_MS;

const KNOWN_KEYS = new Set([
  'fault',
  'agent',
  'machine',
  'ms',
  'on',
  'rate',
  'seconds',
  'kind',
  'count',
  'bus',
  'mb',
  'severity',
  'error_type',
  'message',
  'token',
]);

/** Checks a request's shape; every problem is a readable sentence. */
// Long: one check per request field, in the order an operator reads the message; each is a few
// lines.
export function parseControl(
  input: unknown, // bytes or a string off the wire, or a value already parsed
): { ok: true; request: ControlRequest } | { ok: false; error: string } {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      value = JSON.parse(text);
    } catch {
      return {
        ok: false,
        error: 'request is not JSON: expected {"fault": "...", "agent": "...", ...}',
      };
    }
  }
  if (!isDict(value))
    return { ok: false, error: 'request must be a JSON object {"fault": "...", ...}' };
  const fault = value.fault;
  if (typeof fault !== 'string' || !(FAULTS as readonly string[]).includes(fault)) {
    return {
      ok: false,
      error: `unknown fault ${JSON.stringify(fault)}: expected one of ${FAULTS.join(', ')}`,
    };
  }
  const unknown = Object.keys(value).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length)
    return { ok: false, error: `unknown field(s) ${unknown.join(', ')} for fault ${fault}` };
  for (const key of ['agent', 'machine', 'error_type', 'message', 'token'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string')
      return { ok: false, error: `${key} must be a string` };
  }
  if (NEEDS_AGENT.includes(fault as Fault) && !value.agent)
    return { ok: false, error: `fault ${fault} needs an agent (name, or machine/name)` };
  const need = (
    key: string,
    ok: (v: unknown) => boolean,
    what: string,
    required: boolean,
  ): string | undefined =>
    value[key] === undefined
      ? required
        ? `fault ${fault} needs ${key} (${what})`
        : undefined
      : ok(value[key])
        ? undefined
        : `${key} must be ${what}, got ${JSON.stringify(value[key])}`;
  const problems = [
    fault === 'slow' ? need('ms', timerMs, `a number of ms 0-${MAX_DURATION_MS}`, true) : undefined,
    fault === 'flood' ? need('rate', rate, `errors per second 0-${MAX_RATE}`, true) : undefined,
    fault === 'log-flood'
      ? need('rate', rate, `log lines per second 0-${MAX_RATE}`, true)
      : undefined,
    fault === 'vram-spike' ? need('mb', nonNegative, 'MB >= 0', true) : undefined,
    fault === 'malformed'
      ? need(
          'kind',
          (v) => (MALFORMED_KINDS as readonly unknown[]).includes(v),
          MALFORMED_KINDS.join(' | '),
          true,
        )
      : undefined,
    fault === 'bus-off' || fault === 'bus-on'
      ? need('bus', (v) => v === 'zmq' || v === 'nats', 'zmq | nats', true)
      : need('bus', (v) => v === 'zmq' || v === 'nats', 'zmq | nats', false),
    need(
      'seconds',
      (v) => nonNegative(v) && v > 0 && v * 1000 <= MAX_DURATION_MS,
      `a number of seconds > 0, at most ${MAX_DURATION_MS / 1000}`,
      false,
    ),
    need(
      'count',
      (v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 10_000,
      'an integer 1-10000',
      false,
    ),
    need('on', (v) => typeof v === 'boolean', 'true or false', false),
    need(
      'severity',
      (v) => (SIM_SEVERITIES as readonly unknown[]).includes(v),
      SIM_SEVERITIES.join(' | '),
      false,
    ),
  ].filter((p): p is string => p !== undefined);
  if (problems.length) return { ok: false, error: problems.join('; ') };
  return { ok: true, request: value as unknown as ControlRequest };
}

/** The ZMQ REP control socket on 127.0.0.1. Port 0 picks a free one. */
export async function openControlSocket(
  context: zmq.Context,
  port: number,
  handle: (data: Uint8Array) => Promise<string>,
): Promise<
  { ok: true; endpoint: string; close: () => Promise<void> } | { ok: false; error: string }
> {
  const sock = new zmq.Reply({ context, linger: 0, maxMessageSize: ZMQ_MAX_MESSAGE.reply });
  try {
    await sock.bind(`tcp://127.0.0.1:${port === 0 ? '*' : port}`);
  } catch (error) {
    sock.close();
    const code = (error as { code?: string }).code;
    return {
      ok: false,
      error:
        code === 'EADDRINUSE'
          ? `control port 127.0.0.1:${port} is in use (another sim?); pass --control-port N or 0 for a free one`
          : (error as Error).message,
    };
  }
  const endpoint = sock.lastEndpoint ?? `tcp://127.0.0.1:${port}`;
  void (async () => {
    try {
      for await (const [data] of sock) await sock.send(await handle(data ?? new Uint8Array()));
    } catch {
      // closed
    }
  })();
  return {
    ok: true,
    endpoint,
    close: async () => {
      sock.close();
      const port = Number(/:(\d+)$/.exec(endpoint)?.[1]);
      if (port) await released('127.0.0.1', port);
    },
  };
}
