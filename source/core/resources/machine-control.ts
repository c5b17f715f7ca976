// `opsdeck.<machine>.control`: what a host agent (or the simulator, for its machines) answers.
// Read-only ResourceManager actions are open; state-changing ones (upstream's set_thresholds
// and the set_throttle design.md adds) need a JWT for this machine in `token`, checked before
// anything changes. Replies keep ResourceManager's `status` success|error; a refusal also says
// `refused: true` so a probe can tell "enforced" from "failed for another reason".
import { sanitise } from '../errors/sanitise.js';
import { PyFloat, type PyValue } from '../py/json.js';
import type { TokenVerifier } from '../security/token.js';
import { rmHandle, type RmState, type RmStats } from './resource-manager.js';

export const READ_ONLY_ACTIONS = ['get_stats', 'get_status', 'check_resources'] as const;
export const STATE_CHANGING_ACTIONS = ['set_thresholds', 'set_throttle'] as const;

/** How a receiver decides on state-changing requests. */
export type ControlAuth =
  /** The simulator without a JWKS: the demo and the tests run without tokens. */
  | { mode: 'open' }
  /** A receiver that cannot check tokens refuses every state-changing request. */
  | { mode: 'refuse'; reason: string }
  | { mode: 'verify'; verify: TokenVerifier };

export const authLabel = (auth: ControlAuth): string =>
  auth.mode === 'verify'
    ? 'JWT required (EdDSA, JWKS)'
    : auth.mode === 'open'
      ? 'OPEN: no token checked'
      : `refusing state changes: ${auth.reason}`;

export interface ControlContext {
  machine: string;
  rm: RmState;
  stats: RmStats;
  now: number;
  auth: ControlAuth;
}

export interface ControlResult {
  reply: Record<string, unknown>;
  state: RmState;
  /** Set when the request asked for a state change: whether it was applied, and by whom. */
  change?: { action: string; applied: boolean; subject?: string; reason?: string };
}

/** A ResourceManager reply as plain JSON values (Python floats become numbers). */
export function plain(value: PyValue): unknown {
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return value.map((v: PyValue) => plain(v));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, PyValue>).map(([k, v]) => [k, plain(v)]),
    );
  return value;
}

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Decodes a control message body; `undefined` means "not JSON". */
export function decodeBody(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as unknown;
  } catch {
    return undefined;
  }
}

export function machineControl(body: unknown, ctx: ControlContext): ControlResult {
  const error = (message: string, extra: Record<string, unknown> = {}): ControlResult => ({
    reply: { status: 'error', message, ...extra },
    state: ctx.rm,
  });
  if (!isDict(body))
    return error('request is not a JSON object: expected {"action": ..., "token": ...}');
  const action = body.action;
  if (typeof action !== 'string') return error('request has no "action"');
  const { token, ...request } = body;
  if ((READ_ONLY_ACTIONS as readonly string[]).includes(action)) {
    const r = rmHandle(request, ctx.rm, ctx.stats, ctx.now)!;
    return { reply: plain(r.reply) as Record<string, unknown>, state: r.state };
  }
  if (!(STATE_CHANGING_ACTIONS as readonly string[]).includes(action)) {
    const text = `unsupported action "${sanitise(action).slice(0, 40)}"; supported: status, ${[...READ_ONLY_ACTIONS, ...STATE_CHANGING_ACTIONS].join(', ')}`;
    return error(text, { ok: false, error: text });
  }
  let subject: string | undefined;
  if (ctx.auth.mode === 'refuse') {
    return {
      ...error(`refused: ${ctx.auth.reason}`, { refused: true }),
      change: { action, applied: false, reason: ctx.auth.reason },
    };
  }
  if (ctx.auth.mode === 'verify') {
    const checked = ctx.auth.verify(token, ctx.machine);
    if (!checked.ok)
      return {
        ...error(`refused: ${checked.reason}`, { refused: true }),
        change: { action, applied: false, reason: checked.reason },
      };
    subject = checked.value.sub;
  }
  const r = rmHandle(request, ctx.rm, ctx.stats, ctx.now)!;
  const applied = r.reply.status === 'success';
  return {
    reply: plain(r.reply) as Record<string, unknown>,
    state: r.state,
    change: {
      action,
      applied,
      ...(subject ? { subject } : {}),
      ...(applied ? {} : { reason: String(r.reply.message) }),
    },
  };
}
