// The error-bus migration as actions (P1.3): advance / roll back the phase in NATS KV by
// compare-and-swap, gated by the preflight computed from a live data plane; and the stream fix.
// The console builds these on its own data plane (which has been observing all along); the
// `opsdeck errorbus` subcommands build them on a data plane they run for --observe.
import type { NatsConnection } from 'nats';
import { encodePhase, PHASE_KEY } from '../core/errorbus/phase.js';
import {
  effects,
  nextTransition,
  portClosedCheck,
  preflight,
  streamsCheck,
  transitionLabel,
  type Check,
  type Direction,
  type Observation,
  type Transition,
} from '../core/errorbus/preflight.js';
import {
  describeFix,
  judgeStreams,
  planStreamFix,
  type FixStep,
} from '../core/errorbus/streams.js';
import { applyStreamFix, listStreams } from '../adapters/error-streams.js';
import { redact } from '../adapters/nats-link.js';
import {
  casPhase,
  describeRead,
  PHASE_LOCATION,
  readPhase,
  type PhaseRead,
} from '../adapters/phase-kv.js';
import { probeTcp, tcpEndpoint } from '../adapters/tcp-probe.js';
import { errorBusEndpoint, type DataPlane } from '../wiring/data-plane.js';
import type { Action, Outcome, Preview } from './action.js';

export const DEFAULT_WINDOW_MS = 10 * 60_000;
/** A resource sample older than this does not show the machine reaching NATS (agents publish every 1-2 s). */
export const DEFAULT_FRESH_MS = 10_000;

export interface ErrorBusContext {
  /** The live data plane the verdicts are computed from. */
  plane: DataPlane;
  windowMs?: number;
  freshMs?: number;
  /** How long to wait for the NATS link before giving up. */
  connectTimeoutMs?: number;
  /** After 2 -> 3: how long the machines get to close their error-bus port. */
  verifyTimeoutMs?: number;
  probeTimeoutMs?: number;
  /** Arguments as the operator gave them, for the audit. */
  args?: Record<string, unknown>;
  /**
   * The phase as read when the operator asked (a command reads it before observing): a preview
   * that finds another revision stops there. Without it, a run that lost the race to another
   * console read the winner's phase and went on to the next step: two operators each asking
   * for one step moved the fleet two phases.
   */
  asked?: PhaseRead;
  now?: () => number;
}

const clock = (ctx: ErrorBusContext) => ctx.now ?? Date.now;

/** The data plane's NATS connection, waiting up to the timeout; throws a readable reason. */
export async function natsOf(ctx: ErrorBusContext): Promise<NatsConnection> {
  const link = ctx.plane.link;
  if (!link) throw new Error('NATS is off: pass --nats URL (or set NATS_SERVERS / NATS_URL)');
  if (link.nc && !link.nc.isClosed()) return link.nc;
  const timeout = ctx.connectTimeoutMs ?? 5000;
  // A timer that holds the process: the link's own retry timers do not, and a CLI waiting on
  // nothing else would otherwise end mid-await.
  let timer: NodeJS.Timeout | undefined;
  const nc = await Promise.race([
    link.connection(),
    new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeout))),
  ]).finally(() => clearTimeout(timer));
  if (!nc) {
    const s = link.getSnapshot();
    throw new Error(
      `NATS at ${s.server ?? '?'} not reachable within ${timeout} ms${s.error ? `: ${s.error}` : ''}`,
    );
  }
  return nc;
}

/** What the data plane has seen, as data for the preflight rules. */
export async function observe(ctx: ErrorBusContext): Promise<Observation> {
  const plane = ctx.plane;
  const now = clock(ctx)();
  const link = plane.link?.getSnapshot();
  const nc = plane.link?.nc;
  const connected = link?.state === 'connected' && nc !== undefined && !nc.isClosed();
  // Straight from the pipeline: fresh even while the Errors pane is paused, and no side effect on the store.
  const pipeline = plane.errors.pipeline;
  const resources = plane.resources.getSnapshot();
  const feed = plane.natsFeed();
  let streams: Observation['streams'] = { error: 'not connected to NATS' };
  if (connected) {
    try {
      streams = await listStreams(nc);
    } catch (error) {
      streams = { error: (error as Error).message };
    }
  }
  return {
    now,
    windowMs: ctx.windowMs ?? DEFAULT_WINDOW_MS,
    since: plane.startedAt,
    freshMs: ctx.freshMs ?? DEFAULT_FRESH_MS,
    nats: {
      connected,
      detail: link
        ? `${link.state} to ${link.server ?? '?'}${link.rttMs !== undefined ? `, rtt ${link.rttMs.toFixed(1)} ms` : ''}${link.error && !connected ? ` (${link.error})` : ''}`
        : 'NATS is off (no --nats, NATS_SERVERS or NATS_URL)',
    },
    machines: plane.machines.map((m) => {
      const r = resources.machines[m.id];
      return {
        id: m.id,
        errorBus: errorBusEndpoint(m),
        ...(r ? { resourcesAt: r.receivedAt } : {}),
      };
    }),
    streams,
    publishers: [...pipeline.publishers.values()].map((p) => ({ ...p })),
    counters: {
      matched: pipeline.counters.matched,
      zmqOnly: pipeline.counters.zmqOnly,
      natsOnly: pipeline.counters.natsOnly,
      received: { ...pipeline.counters.received },
    },
    consumer:
      feed && connected
        ? { mode: feed.mode(), sequences: feed.sequences() }
        : { mode: 'none', sequences: [] },
  };
}

export interface NextStep {
  transition: Transition;
  checks: Check[];
  runnable: boolean;
  /** When the stream check fails: the fix `errorbus.fix-streams` would apply. */
  streamFix?: FixStep[];
}

export interface ErrorBusStatus {
  /** Current phase and KV revision; undefined when it could not be read (see error). */
  phase?: PhaseRead;
  error?: string;
  /** The next advance and its preflight, or why there is none. */
  advance?: NextStep | { none: string };
  /** The rollback step, or why there is none. */
  rollback?: Transition | { none: string };
  /** How long the data plane has been observing (ms). */
  observedMs: number;
}

function nextStep(t: Transition, o: Observation): NextStep {
  const checks = preflight(t, o);
  const streams = t.to.phase === 1 ? streamsCheck(o) : undefined;
  return {
    transition: t,
    checks,
    runnable: checks.every((c) => c.ok),
    ...(streams?.verdict && !streams.verdict.ok ? { streamFix: streams.verdict.fix } : {}),
  };
}

/** For the scorecard and the Actions screen: the phase with its revision, and the next step's preflight. */
export async function errorBusStatus(ctx: ErrorBusContext): Promise<ErrorBusStatus> {
  const observedMs = clock(ctx)() - ctx.plane.startedAt;
  let read: PhaseRead;
  try {
    read = await readPhase(await natsOf(ctx));
  } catch (error) {
    return { error: `cannot read ${PHASE_LOCATION}: ${(error as Error).message}`, observedMs };
  }
  if (read.invalid)
    return {
      phase: read,
      error: `${PHASE_LOCATION} holds ${describeRead(read)}: fix the key by hand`,
      observedMs,
    };
  const up = nextTransition(read.value.phase, 'advance');
  const down = nextTransition(read.value.phase, 'rollback');
  return {
    phase: read,
    advance: up.ok ? nextStep(up.transition, await observe(ctx)) : { none: up.reason },
    rollback: down.ok ? down.transition : { none: down.reason },
    observedMs,
  };
}

const blocked = (target: string, check: Check, lines: string[] = []): Preview => ({
  target,
  lines,
  checks: [check],
  runnable: false,
  destructive: true,
});

/** One phase action's context, and the read and transition behind its last preview. */
interface PhaseMove {
  ctx: ErrorBusContext;
  direction: Direction;
  planned?: { preview: Preview; read: PhaseRead; transition: Transition };
}

/** The transition from the phase just read, or the preview that says why there is none. */
function transitionFrom(
  p: PhaseMove,
  read: PhaseRead,
  at: string,
): { t: Transition } | { blocked: Preview } {
  const { ctx, direction } = p;
  if (read.invalid) {
    return {
      blocked: blocked(at, {
        name: 'phase readable',
        ok: false,
        evidence: `${describeRead(read)}: stored "${read.invalid.raw.slice(0, 80)}"; fix the key by hand`,
      }),
    };
  }
  if (ctx.asked && ctx.asked.revision !== read.revision)
    return {
      blocked: blocked(at, {
        name: 'the phase is as it was when asked',
        ok: false,
        evidence: `another console got there first: ${PHASE_LOCATION} was ${describeRead(ctx.asked)} when this ${direction} was asked and is now ${describeRead(read)}; nothing was changed (ask again to go on from phase ${read.value.phase})`,
      }),
    };
  const step = nextTransition(read.value.phase, direction);
  if (!step.ok)
    return {
      blocked: blocked(at, {
        name: `a phase to ${direction === 'advance' ? 'advance' : 'roll back'} to`,
        ok: false,
        evidence: step.reason,
      }),
    };
  return { t: step.transition };
}

/** What the preview says will happen: the CAS, its effects, the port checks, a stream fix. */
function phaseLines(p: PhaseMove, t: Transition, read: PhaseRead, next: NextStep): string[] {
  const lines = [
    `set ${PHASE_KEY} to ${encodePhase(t.to.phase)} only if it is still at revision ${read.revision}`,
    ...effects(t),
  ];
  if (t.to.phase === 3 && p.direction === 'advance') {
    for (const m of p.ctx.plane.machines)
      lines.push(`then verify ${m.id}'s error bus ${errorBusEndpoint(m)} refuses a TCP connect`);
  }
  if (next.streamFix?.length) {
    lines.push(
      'stream fix offered, applied only by its own action (opsdeck errorbus fix-streams):',
    );
    for (const s of next.streamFix) lines.push(`  ${describeFix(s)}`);
  }
  return lines;
}

async function previewPhase(p: PhaseMove): Promise<Preview> {
  p.planned = undefined;
  const read = await readPhase(await natsOf(p.ctx));
  const at = `${PHASE_LOCATION} at revision ${read.revision}`;
  const from = transitionFrom(p, read, at);
  if ('blocked' in from) return from.blocked;
  const { t } = from;
  const next: NextStep =
    p.direction === 'advance'
      ? nextStep(t, await observe(p.ctx))
      : { transition: t, checks: [], runnable: true };
  const preview: Preview = {
    target: `${at} (phase ${transitionLabel(t)})`,
    lines: phaseLines(p, t, read, next),
    checks: next.checks,
    runnable: next.runnable,
    destructive: true,
  };
  p.planned = { preview, read, transition: t };
  return preview;
}

async function runPhase(p: PhaseMove, preview: Preview): Promise<Outcome> {
  if (!p.planned || p.planned.preview !== preview)
    throw new Error('execute() needs the preview this action produced last');
  const { read, transition: t } = p.planned;
  const result = await casPhase(await natsOf(p.ctx), t.to.phase, read.revision);
  if (!result.ok) return { ok: false, detail: `refused: ${result.reason}` };
  return {
    ok: true,
    detail: `${PHASE_KEY}: phase ${transitionLabel(t)}, revision ${read.revision} -> ${result.revision}`,
  };
}

/** After 2 -> 3: the phase is only done when every machine's error bus refuses connections. */
async function verifyZmqOff(
  ctx: ErrorBusContext,
  now: PhaseRead,
  outcome: Outcome,
  lines: string[],
): Promise<Outcome> {
  const checks = await waitPortsClosed(ctx);
  for (const c of checks) lines.push(`${c.ok ? 'pass' : 'FAIL'}  ${c.name}: ${c.evidence}`);
  const machine = (c: Check) => c.name.replace(/ error bus closed$/, '');
  const open = checks.filter((c) => !c.ok);
  if (open.length > 0) {
    return {
      ok: false,
      detail: `phase is 3 zmq-off (revision ${now.revision}) but ${open.map(machine).join(', ')} did not close the error bus; roll back (opsdeck errorbus phase rollback) or close it`,
      lines,
    };
  }
  return {
    ok: true,
    detail: `${outcome.detail}; error bus closed on ${checks.map(machine).join(', ')}`,
    lines,
  };
}

async function verifyPhase(p: PhaseMove, outcome: Outcome): Promise<Outcome> {
  if (!p.planned) return outcome;
  const { transition: t } = p.planned;
  const now = await readPhase(await natsOf(p.ctx));
  if (now.invalid || now.value.phase !== t.to.phase) {
    return {
      ok: false,
      detail: `re-read ${PHASE_LOCATION}: ${describeRead(now)}, not phase ${t.to.phase} ${t.to.name}`,
    };
  }
  const lines = [...(outcome.lines ?? []), `re-read: ${describeRead(now)}`];
  if (t.to.phase === 3 && p.direction === 'advance')
    return verifyZmqOff(p.ctx, now, outcome, lines);
  if (t.from.phase === 3) lines.push(...(await portsReopened(p.ctx)));
  return { ...outcome, lines };
}

/** Advance or roll back one phase: compare-and-swap on the revision the preview read. */
export function phaseAction(ctx: ErrorBusContext, direction: Direction): Action {
  const p: PhaseMove = { ctx, direction };
  return {
    id: `errorbus.${direction}`,
    title:
      direction === 'advance' ? 'Advance the error-bus phase' : 'Roll back the error-bus phase',
    machine: 'fleet',
    args: { direction, ...ctx.args },
    preview: () => previewPhase(p),
    execute: (preview) => runPhase(p, preview),
    verify: (outcome) => verifyPhase(p, outcome),
  };
}

async function probeMachines(ctx: ErrorBusContext) {
  return Promise.all(
    ctx.plane.machines.map(async (m) => {
      const endpoint = errorBusEndpoint(m);
      const at = tcpEndpoint(endpoint);
      const probe = at
        ? await probeTcp(at.host, at.port, ctx.probeTimeoutMs ?? 1000)
        : ({ result: 'error', code: 'ENDPOINT', message: 'not a tcp:// endpoint' } as const);
      return { machine: m.id, endpoint, probe };
    }),
  );
}

/** Polls every machine's error bus until each refuses, or the time is up. */
async function waitPortsClosed(ctx: ErrorBusContext): Promise<Check[]> {
  const end = Date.now() + (ctx.verifyTimeoutMs ?? 5000);
  for (;;) {
    const checks = (await probeMachines(ctx)).map((p) =>
      portClosedCheck(p.machine, p.endpoint, p.probe),
    );
    if (checks.every((c) => c.ok) || Date.now() >= end) return checks;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** After 3 -> 2: whether the error buses are open again (information; publishers own those sockets). */
async function portsReopened(ctx: ErrorBusContext): Promise<string[]> {
  const end = Date.now() + (ctx.verifyTimeoutMs ?? 5000);
  for (;;) {
    const probes = await probeMachines(ctx);
    if (probes.every((p) => p.probe.result === 'open') || Date.now() >= end) {
      return probes.map((p) =>
        p.probe.result === 'open'
          ? `${p.machine} error bus ${p.endpoint}: open again`
          : `${p.machine} error bus ${p.endpoint}: not open yet (${p.probe.result}); its bus publisher must start again`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One stream on errors.> (core/errorbus/streams.ts plans it): offered by the 0 -> 1 preflight. */
export function fixStreamsAction(ctx: ErrorBusContext): Action {
  let planned: { preview: Preview; steps: FixStep[] } | undefined;
  return {
    id: 'errorbus.fix-streams',
    title: 'Fix the error streams',
    machine: 'fleet',
    args: { ...ctx.args },
    async preview() {
      planned = undefined;
      const nc = await natsOf(ctx);
      const streams = await listStreams(nc);
      const verdict = judgeStreams(streams);
      const server = redact(ctx.plane.link?.getSnapshot().server ?? '?');
      const target = `JetStream streams on ${server}: ${verdict.errorStreams.map((s) => s.name).join(', ') || '(no error stream)'}`;
      if (verdict.ok) {
        return {
          target,
          lines: [],
          runnable: false,
          destructive: true,
          noop: verdict.evidence,
        };
      }
      const steps = planStreamFix(streams);
      const lines = [
        `now: ${verdict.evidence.replace(/; fix \(.*$/, '')}`,
        ...steps.map((s, i) => `${i + 1}. ${describeFix(s)}`),
      ];
      if (steps.some((s) => s.kind === 'retire') && steps.some((s) => s.kind !== 'retire')) {
        lines.push(
          'between the steps (milliseconds) new errors reach live subscribers but no stream',
        );
      }
      const preview: Preview = { target, lines, runnable: true, destructive: true };
      planned = { preview, steps };
      return preview;
    },
    async execute(preview): Promise<Outcome> {
      if (!planned || planned.preview !== preview)
        throw new Error('execute() needs the preview this action produced last');
      const nc = await natsOf(ctx);
      const again = planStreamFix(await listStreams(nc));
      if (
        JSON.stringify(again.map(({ kind, stream }) => [kind, stream])) !==
        JSON.stringify(planned.steps.map(({ kind, stream }) => [kind, stream]))
      ) {
        return {
          ok: false,
          detail:
            'refused: the streams changed since the preview; nothing was changed; preview again',
        };
      }
      const done = await applyStreamFix(nc, planned.steps);
      return { ok: true, detail: done.join('; '), lines: done };
    },
    async verify(outcome) {
      const verdict = judgeStreams(await listStreams(await natsOf(ctx)));
      return verdict.ok
        ? {
            ok: true,
            detail: `${outcome.detail}; re-read: ${verdict.evidence}`,
            ...(outcome.lines ? { lines: outcome.lines } : {}),
          }
        : { ok: false, detail: `applied, but re-read: ${verdict.evidence}` };
    },
  };
}
