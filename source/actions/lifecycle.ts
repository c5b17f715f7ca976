// Restart, stop or start one agent as an Action: the preview names the exact process or
// container the machine's opsdeck agent will act on (its `agent_how` answer) or the reason it
// cannot; the request carries a fresh JWT; the result is verified by opsdeck's own health probe
// (stop: DOWN; start: OK; restart: DOWN after the stop, then OK after the start) and audited.
import type { NatsConnection } from 'nats';
import type { Machine } from '../core/fleet/model.js';
import type { LifecycleVerb } from '../core/fleet/lifecycle.js';
import { AGENT_HOW } from '../core/resources/machine-control.js';
import { describeToken } from '../core/security/token.js';
import type { AgentHealth } from '../core/health/state.js';
import {
  controlRequest,
  controlSubject,
  describeSource,
  tokenFrom,
  type TokenSource,
} from '../adapters/control-client.js';
import { HealthStore, targetsFor } from '../stores/health-store.js';
import { netProber } from '../adapters/net-prober.js';
import type { Action, Outcome, Preview } from './action.js';
import { agentKey } from '../core/fleet/agent-key.js';
import { textOf } from '../core/text.js';

export interface LifecycleOptions {
  nc: NatsConnection;
  server: string;
  machines: readonly Machine[];
  machine: string;
  agent: string;
  verb: LifecycleVerb;
  token: TokenSource;
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  /** How long the probe waits for DOWN, and for OK (default 15 s and 60 s). */
  downWaitMs?: number;
  upWaitMs?: number;
}

const TITLE: Record<LifecycleVerb, string> = {
  restart: 'Restart',
  stop: 'Stop',
  start: 'Start',
};

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((l): l is string => typeof l === 'string') : [];

type Probe = { once(): Promise<AgentHealth>; close(): void };

/** opsdeck's own prober on one agent, each result taken as it comes (no hysteresis). */
function probeOf(o: LifecycleOptions): Probe | undefined {
  const m = o.machines.find((x) => x.id === o.machine);
  const a = m?.agents.find((x) => x.name === o.agent);
  if (!m || !a) return undefined;
  const store = new HealthStore(
    targetsFor([{ ...m, agents: [a] }], { timeoutMs: 1000 }),
    netProber(),
    {
      timeoutMs: 1000,
      locate: false,
      hysteresis: { downAfter: 1, upAfter: 1, historySize: 5 },
    },
  );
  const key = agentKey(o.machine, o.agent);
  return {
    async once() {
      await store.probeAll();
      return store.getSnapshot().agents.get(key)!;
    },
    close: () => store.stop(),
  };
}

const isUp = (h: AgentHealth) => h.state === 'healthy' || h.state === 'degraded';
const isDown = (h: AgentHealth) => h.state === 'unreachable';
const word = (h: AgentHealth) =>
  h.state === 'healthy'
    ? 'OK'
    : h.state === 'unreachable'
      ? `DOWN (${h.cause ?? h.reason})`
      : `${h.state.toUpperCase()} (${h.reason})`;

async function waitFor(
  probe: Probe,
  want: (h: AgentHealth) => boolean,
  ms: number,
): Promise<{ seen: boolean; last: AgentHealth; after: number }> {
  const began = Date.now();
  let last = await probe.once();
  while (!want(last) && Date.now() - began < ms) {
    await new Promise((r) => setTimeout(r, 250));
    last = await probe.once();
  }
  return { seen: want(last), last, after: Date.now() - began };
}

/** One lifecycle action's options, with the control subject and the agent's key. */
interface Lifecycle {
  o: LifecycleOptions;
  subject: string;
  key: string;
}

/** One `agent_<verb>` request, with a fresh token; its lines, or why it failed. */
async function request(
  l: Lifecycle,
  verb: LifecycleVerb,
): Promise<{ ok: boolean; lines: string[]; why?: string }> {
  const { o } = l;
  const token = tokenFrom(o.token, o.machine, o.env);
  const r = await controlRequest(
    o.nc,
    l.subject,
    { action: `agent_${verb}`, agent: o.agent, ...(token ? { token } : {}) },
    o.timeoutMs ?? 15_000,
  );
  if (r.kind !== 'reply') return { ok: false, lines: [], why: `${verb} ${l.key}: ${r.reason}` };
  const lines = strings(r.value.did).map((line) => `${o.machine}: ${line}`);
  if (r.value.status !== 'success')
    return {
      ok: false,
      lines,
      why: `${o.machine} ${r.value.refused ? 'refused' : 'failed'} ${verb} of ${o.agent}: ${textOf(r.value.message ?? r.value)}`,
    };
  return { ok: true, lines };
}

async function previewLifecycle({ o, subject, key }: Lifecycle): Promise<Preview> {
  const r = await controlRequest(o.nc, subject, { action: AGENT_HOW, agent: o.agent }, 5000);
  const known = o.machines.some(
    (m) => m.id === o.machine && m.agents.some((a) => a.name === o.agent),
  );
  const ok = r.kind === 'reply' && r.value.status === 'success';
  const line = ok ? String(r.value.line) : undefined;
  const steps = ok ? strings((r.value.steps as Record<string, unknown>)[o.verb]) : [];
  const sample = tokenFrom(o.token, o.machine, o.env);
  const why =
    r.kind !== 'reply'
      ? r.reason
      : ok
        ? ''
        : `${o.machine}'s opsdeck agent cannot manage ${o.agent}: ${textOf(r.value.message ?? r.value)}`;
  return {
    target: line ? `${key}: ${line}` : key,
    lines: [
      ...(line ? [`what runs now: ${line}`] : []),
      ...steps.map((s, i) => `  ${i + 1}. ${s}`),
      `request ${subject} ${JSON.stringify({ action: `agent_${o.verb}`, agent: o.agent, token: sample ? describeToken(sample) : '(no token)' })}${o.verb === 'restart' ? ' as agent_stop, then agent_start' : ''}`,
      `token: ${describeSource(o.token)}`,
      `verify: opsdeck's health probe sees ${o.agent} ${o.verb === 'stop' ? 'DOWN' : o.verb === 'start' ? 'OK' : 'DOWN after the stop, then OK after the start'}`,
    ],
    checks: [
      {
        name: `${o.agent} is in the fleet config of ${o.machine}`,
        ok: known,
        evidence: known ? 'yes' : `no agent ${o.agent} on ${o.machine}: health cannot be verified`,
      },
      {
        name: `${o.machine}'s opsdeck agent can ${o.verb} it`,
        ok,
        evidence: ok ? `agent_how: ${line}` : why,
      },
    ],
    runnable: ok && known,
    destructive: o.verb !== 'start',
  };
}

/** Stop, then wait for the probe to see it DOWN; the failure, or undefined when it went down. */
async function stopAndWait(
  l: Lifecycle,
  probe: Probe,
  lines: string[],
): Promise<Outcome | undefined> {
  const { o } = l;
  const s = await request(l, 'stop');
  lines.push(...s.lines);
  if (!s.ok) return { ok: false, detail: s.why!, lines };
  const down = await waitFor(probe, isDown, o.downWaitMs ?? 15_000);
  lines.push(
    down.seen
      ? `probe: ${o.agent} DOWN ${down.after} ms after the stop (${down.last.cause ?? 'refused'})`
      : `probe: ${o.agent} still ${word(down.last)} ${down.after} ms after the stop`,
  );
  if (!down.seen) return { ok: false, detail: `${l.key} did not go DOWN after the stop`, lines };
  return undefined;
}

async function runLifecycle(l: Lifecycle): Promise<Outcome> {
  const { o } = l;
  const probe = probeOf(o);
  if (!probe) throw new Error(`no agent ${l.key} in the fleet config`);
  const lines: string[] = [];
  try {
    if (o.verb !== 'start') {
      const failed = await stopAndWait(l, probe, lines);
      if (failed) return failed;
    }
    if (o.verb !== 'stop') {
      const s = await request(l, 'start');
      lines.push(...s.lines);
      if (!s.ok) return { ok: false, detail: s.why!, lines };
    }
    return { ok: true, detail: `${o.machine}'s opsdeck agent did ${o.verb} ${o.agent}`, lines };
  } finally {
    probe.close();
  }
}

async function verifyLifecycle({ o, key }: Lifecycle, outcome: Outcome): Promise<Outcome> {
  if (o.verb === 'stop') return { ...outcome, detail: `${outcome.detail}; probe: ${o.agent} DOWN` };
  const probe = probeOf(o)!;
  try {
    const up = await waitFor(probe, isUp, o.upWaitMs ?? 60_000);
    const seen = `probe: ${o.agent} ${word(up.last)} ${up.after} ms after the start`;
    return {
      ok: up.seen,
      detail: up.seen
        ? `${o.verb === 'restart' ? 'DOWN, then ' : ''}${word(up.last)}: ${o.agent} answers again (${up.last.via ?? 'health probe'})`
        : `${key} did not answer its health probe after the start: ${word(up.last)}`,
      lines: [...(outcome.lines ?? []), seen],
    };
  } finally {
    probe.close();
  }
}

export function lifecycleAction(o: LifecycleOptions): Action {
  const l: Lifecycle = {
    o,
    subject: controlSubject(o.machine),
    key: agentKey(o.machine, o.agent),
  };
  return {
    id: `agent.${o.verb}`,
    title: `${TITLE[o.verb]} ${l.key}`,
    machine: o.machine,
    args: { machine: o.machine, agent: o.agent, verb: o.verb, server: o.server },
    preview: () => previewLifecycle(l),
    execute: () => runLifecycle(l),
    verify: (outcome) => verifyLifecycle(l, outcome),
  };
}
