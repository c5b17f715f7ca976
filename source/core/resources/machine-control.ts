// `opsdeck.<machine>.control`: what `opsdeck agent` answers (and the simulator, which runs the
// same agent per machine). ResourceManager's actions go to upstream's ResourceManager itself, so
// every reply is the machine's own word; `set_throttle` is opsdeck's (upstream has none): the
// level's thresholds through ResourceManager's `set_thresholds`, then the agent processes
// reniced, each step reported as it went. State-changing requests need a JWT for this machine in
// `token`, checked before anything changes. Replies keep ResourceManager's `status`
// success|error; a refusal also says `refused: true` so a probe can tell "enforced" from "failed".
import { sanitise } from '../errors/sanitise.js';
import type { AgentProcess } from '../fleet/processes.js';
import type { TokenVerifier } from '../security/token.js';
import { isThrottleLevel, THROTTLE_HELP, thresholdsRequest, throttleInfo } from './throttle.js';
import {
  describeManaged,
  plannedSteps,
  type Lifecycle,
  type LifecycleVerb,
} from '../fleet/lifecycle.js';

export const READ_ONLY_ACTIONS = ['get_stats', 'get_status', 'check_resources'] as const;
export const STATE_CHANGING_ACTIONS = [
  'set_thresholds',
  'set_throttle',
  'agent_stop',
  'agent_start',
  'agent_restart',
] as const;
/** How the daemon would stop / start an agent (read-only, for previews). */
export const AGENT_HOW = 'agent_how';

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

export type RmAnswer = { ok: true; reply: Record<string, unknown> } | { ok: false; error: string };

/** What the control handler may touch on the machine. */
export interface MachineSide {
  /** Upstream's ResourceManager here (JSON over its REP), or undefined when there is none. */
  rm?: { endpoint: string; ask(request: Record<string, unknown>): Promise<RmAnswer> };
  /** The machine's agent processes (found by script path), or why they cannot be listed. */
  processes(): Promise<AgentProcess[] | { error: string }>;
  renice(
    pid: number,
    nice: number,
  ): Promise<{ ok: true; nice: number } | { ok: false; error: string }>;
  /** Stops and starts the machine's agents; absent: the daemon manages none. */
  lifecycle?: Lifecycle;
}

export interface ControlResult {
  reply: Record<string, unknown>;
  /** Set when the request asked for a state change: whether it was applied, and by whom. */
  change?: { action: string; applied: boolean; subject?: string; reason?: string };
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

const error = (message: string, extra: Record<string, unknown> = {}): ControlResult => ({
  reply: { status: 'error', message, ...extra },
});

const noRm = (machine: string) =>
  `no ResourceManager on ${machine}: opsdeck agent knows none (the fleet config has no ResourceManager here, and --resource-manager was not given)`;

async function askRm(
  side: MachineSide,
  machine: string,
  request: Record<string, unknown>,
): Promise<RmAnswer> {
  if (!side.rm) return { ok: false, error: noRm(machine) };
  return side.rm.ask(request);
}

/** ResourceManager's thresholds: numbers 0-100 only (upstream stores anything and chokes later). */
function checkThresholds(request: Record<string, unknown>): string | undefined {
  for (const key of ['cpu_threshold', 'memory_threshold', 'gpu_threshold']) {
    const v = request[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100)
      return `${key} must be a number 0-100, got ${sanitise(JSON.stringify(v)).slice(0, 40)}`;
  }
  return undefined;
}

export async function machineControl(
  body: unknown,
  ctx: { machine: string; auth: ControlAuth; side: MachineSide },
): Promise<ControlResult> {
  if (!isDict(body))
    return error('request is not a JSON object: expected {"action": ..., "token": ...}');
  const action = body.action;
  if (typeof action !== 'string') return error('request has no "action"');
  const { token, ...request } = body;
  if (action === AGENT_HOW) return agentHow(request, ctx);
  if ((READ_ONLY_ACTIONS as readonly string[]).includes(action)) {
    const r = await askRm(ctx.side, ctx.machine, request);
    return r.ok
      ? { reply: { ...r.reply, via: `ResourceManager ${ctx.side.rm!.endpoint}` } }
      : error(r.error);
  }
  if (!(STATE_CHANGING_ACTIONS as readonly string[]).includes(action)) {
    const text = `unsupported action "${sanitise(action).slice(0, 40)}"; supported: status, ${[...READ_ONLY_ACTIONS, AGENT_HOW, ...STATE_CHANGING_ACTIONS].join(', ')}`;
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
  const who = subject ? { subject } : {};
  if (action.startsWith('agent_'))
    return agentLifecycle(action.slice(6) as LifecycleVerb, request, ctx, who);
  if (action === 'set_thresholds') {
    const bad = checkThresholds(request);
    if (bad) return { ...error(bad), change: { action, applied: false, reason: bad, ...who } };
    const r = await askRm(ctx.side, ctx.machine, request);
    if (!r.ok)
      return { ...error(r.error), change: { action, applied: false, reason: r.error, ...who } };
    const applied = r.reply.status === 'success';
    return {
      reply: { ...r.reply, via: `ResourceManager ${ctx.side.rm!.endpoint}` },
      change: { action, applied, ...who, ...(applied ? {} : { reason: String(r.reply.message) }) },
    };
  }
  return setThrottle(request, ctx, who);
}

/** opsdeck's throttle: thresholds through ResourceManager, then the agents reniced. */
async function setThrottle(
  request: Record<string, unknown>,
  ctx: { machine: string; side: MachineSide },
  who: { subject?: string },
): Promise<ControlResult> {
  const action = 'set_throttle';
  const level = request.level;
  if (!isThrottleLevel(level)) {
    const why = `${THROTTLE_HELP}, got ${sanitise(JSON.stringify(level ?? null)).slice(0, 40)}`;
    return { ...error(why), change: { action, applied: false, reason: why, ...who } };
  }
  const info = throttleInfo(level);
  const t = thresholdsRequest(level);
  const rm = await askRm(ctx.side, ctx.machine, t);
  const did: string[] = [];
  if (!rm.ok || rm.reply.status !== 'success') {
    const why = rm.ok
      ? `ResourceManager did not apply set_thresholds: ${sanitise(JSON.stringify(rm.reply)).slice(0, 200)}`
      : rm.error;
    return {
      ...error(`${why}; nothing changed`, rm.ok ? { upstream: rm.reply } : {}),
      change: { action, applied: false, reason: why, ...who },
    };
  }
  did.push(
    `ResourceManager ${ctx.side.rm!.endpoint}: set_thresholds cpu ${info.thresholds.cpu} / memory ${info.thresholds.memory} / gpu ${info.thresholds.gpu} answered success`,
  );
  const procs = await ctx.side.processes();
  const failed: string[] = [];
  if ('error' in procs) failed.push(`agent processes: ${procs.error}`);
  else {
    let done = 0;
    for (const p of procs) {
      const r = await ctx.side.renice(p.pid, info.nice);
      if (r.ok && r.nice === info.nice) done++;
      else
        failed.push(
          `${p.agent} (pid ${p.pid}): ${r.ok ? `nice is ${r.nice}, not ${info.nice}` : r.error}`,
        );
    }
    did.push(
      procs.length === 0
        ? 'no agent process of the fleet config found here: nothing to renice'
        : `reniced ${done} of ${procs.length} agent processes to nice ${info.nice}`,
    );
  }
  const reply = {
    status: failed.length === 0 ? 'success' : 'error',
    level,
    name: info.name,
    did,
    ...(failed.length
      ? { failed, message: `level ${level} only in part: ${failed.slice(0, 3).join('; ')}` }
      : {}),
    upstream: rm.reply,
  };
  return {
    reply,
    change: {
      action,
      applied: failed.length === 0,
      ...who,
      ...(failed.length ? { reason: String(reply.message) } : {}),
    },
  };
}

const agentName = (request: Record<string, unknown>): string | undefined =>
  typeof request.agent === 'string' && /^[\w.-]{1,128}$/.test(request.agent)
    ? request.agent
    : undefined;

/** How the daemon would stop and start an agent: the exact process or container, or why not. */
async function agentHow(
  request: Record<string, unknown>,
  ctx: { machine: string; side: MachineSide },
): Promise<ControlResult> {
  const agent = agentName(request);
  if (!agent) return error('expected "agent": the agent\'s name as in the fleet config');
  if (!ctx.side.lifecycle)
    return error(`opsdeck agent on ${ctx.machine} manages no agents`, { manageable: false });
  const m = await ctx.side.lifecycle.how(agent);
  if ('error' in m) return error(sanitise(m.error), { manageable: false });
  return {
    reply: {
      status: 'success',
      manageable: true,
      managed: m,
      line: sanitise(describeManaged(m)),
      steps: {
        stop: plannedSteps(m, 'stop').map(sanitise),
        start: plannedSteps(m, 'start').map(sanitise),
        restart: plannedSteps(m, 'restart').map(sanitise),
      },
    },
  };
}

/** Stop, start or restart one agent (the token was checked by the caller). */
async function agentLifecycle(
  verb: LifecycleVerb,
  request: Record<string, unknown>,
  ctx: { machine: string; side: MachineSide },
  who: { subject?: string },
): Promise<ControlResult> {
  const action = `agent_${verb}`;
  const agent = agentName(request);
  const refuse = (why: string) => ({
    ...error(why),
    change: { action: `${action} ${agent ?? '?'}`, applied: false, reason: why, ...who },
  });
  if (!agent) return refuse('expected "agent": the agent\'s name as in the fleet config');
  const life = ctx.side.lifecycle;
  if (!life) return refuse(`opsdeck agent on ${ctx.machine} manages no agents`);
  const how = await life.how(agent);
  if ('error' in how) return refuse(`${agent} cannot be managed here: ${sanitise(how.error)}`);
  const did: string[] = [];
  if (verb !== 'start') {
    const r = await life.stop(agent);
    if (!r.ok) return refuse(`stopping ${agent}: ${sanitise(r.error)}`);
    did.push(...r.did);
  }
  let pid: number | undefined;
  if (verb !== 'stop') {
    const r = await life.start(agent);
    if (!r.ok)
      return {
        ...error(`starting ${agent}: ${sanitise(r.error)}`, { did }),
        change: { action: `${action} ${agent}`, applied: false, reason: r.error, ...who },
      };
    did.push(...r.did);
    pid = r.pid;
  }
  return {
    reply: {
      status: 'success',
      agent,
      did: did.map(sanitise),
      was: sanitise(describeManaged(how)),
      ...(pid !== undefined ? { pid } : {}),
    },
    change: { action: `${action} ${agent}`, applied: true, ...who },
  };
}
