// Two actions the CLI has and the console now offers through the same path: the security probe
// (is an unauthenticated control request refused?) and the auto-throttle runner (started inside
// the console, stopped when it quits or by "Stop automatic throttling").
import type { NatsConnection } from 'nats';
import { controlRequest } from '../adapters/control-client.js';
import { probeEnforcement } from '../adapters/security-probe.js';
import { authLabel } from '../core/resources/machine-control.js';
import { PROBE_SENT, type ProbeResult } from '../core/security/probe.js';
import { Exit, type Io } from '../core/io.js';
import type { Action, Outcome, Preview } from './action.js';
import {
  autoSubject,
  startAutoThrottle,
  type AutoRunner,
  type AutoTarget,
} from './auto-throttle.js';
import { runAction } from './run-cli.js';
import type { SampleKeys } from '../adapters/sample-sign.js';

/** Probes one machine's control subject; the result also goes to `seen` (the scorecard). */
export function securityProbeAction(o: {
  nc: NatsConnection;
  server: string;
  machine: string;
  subject: string;
  seen?: (r: ProbeResult) => void;
  timeoutMs?: number;
}): Action {
  return {
    id: `security.probe.${o.machine}`,
    title: `Probe control auth on ${o.machine}`,
    machine: o.machine,
    args: { subject: o.subject, sent: PROBE_SENT },
    async preview(): Promise<Preview> {
      return {
        target: `${o.subject} on ${o.server}`,
        lines: [
          ...PROBE_SENT.map((s) => `request ${o.subject}: ${s}`),
          'harmless if wrongly accepted: set_thresholds with no thresholds changes nothing',
          'enforced = both refused as unauthenticated; any acceptance = NOT enforced',
        ],
        runnable: true,
        destructive: false,
      };
    },
    async execute(): Promise<Outcome> {
      const [r] = await probeEnforcement(o.nc, [o.machine], o.timeoutMs ?? 2000);
      o.seen?.(r!);
      // A probe that got no answer observed nothing: it is not a result.
      return {
        ok: r!.verdict !== 'no answer',
        detail: `${r!.verdict}: ${r!.evidence.join('; ')}`.slice(0, 500),
        lines: r!.evidence,
      };
    },
    // The probe is itself the observation of the machine.
    async verify(outcome) {
      return outcome;
    },
  };
}

/** Where the console keeps the runner it started, to stop it when the console quits. */
export interface AutoHolder {
  runner?: AutoRunner;
}

/** Output of the runner's own changes, which have no terminal of their own in the console. */
const quietIo = (env: Io['env'], log: (line: string) => void): Io => ({
  out: log,
  err: log,
  env,
  cwd: process.cwd(),
});

type AutoOnOptions = AutoTarget & {
  env: Io['env'];
  auditPath: string;
  holder: AutoHolder;
  log: (line: string) => void;
  /** The machines' sample keys; without the machine's, forged samples could steer it. */
  keys: SampleKeys | undefined;
  keysFile: string;
  timeoutMs?: number;
};

/** The options, the runner's subject, and the machine's sample keys if there are any. */
interface AutoOn {
  o: AutoOnOptions;
  subject: string;
  keys: SampleKeys | undefined;
}

const askStatus = (a: AutoOn) =>
  controlRequest(a.o.nc, a.subject, { auto: 'status' }, a.o.timeoutMs ?? 1500);

async function previewAutoOn(a: AutoOn): Promise<Preview> {
  const { o, subject, keys } = a;
  const r = await askStatus(a);
  const running = r.kind === 'reply' && r.value.running === true;
  const p = o.policy;
  return {
    target: `${o.machine}'s throttle level, from opsdeck.${o.machine}.resources on ${o.server}`,
    lines: [
      `raise a level when VRAM stays above ${p.raiseAbovePct}% for ${p.samples} samples; lower below ${p.lowerBelowPct}%`,
      `levels ${p.minLevel}-${p.maxLevel}; each change goes through the throttle action (preview, verify, audit)`,
      `runs inside this console: it stops when the console quits, or with "Stop automatic throttling" (here or opsdeck throttle ${o.machine} --auto off)`,
      `remote "off" requests: ${authLabel(o.auth)}`,
    ],
    checks: [
      {
        name: 'no other runner answers',
        ok: !running,
        evidence: running
          ? `one already runs (${subject} answers, level ${String((r as { value: Record<string, unknown> }).value.level)})`
          : `nobody answers ${subject}`,
      },
      {
        name: 'samples are signed',
        ok: keys !== undefined,
        evidence: keys
          ? `acts only on samples signed by ${o.machine}'s key (${keys.file})`
          : `no sample key for ${o.machine} in ${o.keys?.file ?? o.keysFile}: opsdeck certs generate writes it; run the agent with --sample-key`,
      },
    ],
    runnable: !running && !o.holder.runner && keys !== undefined,
    destructive: false,
  };
}

async function startAutoOn({ o, subject, keys }: AutoOn): Promise<Outcome> {
  if (!keys) throw new Error(`no sample key for ${o.machine}: nothing was started`);
  const io = quietIo(o.env, o.log);
  const runner = startAutoThrottle({
    nc: o.nc,
    server: o.server,
    machine: o.machine,
    policy: o.policy,
    token: o.token,
    auth: o.auth,
    keys,
    env: o.env,
    log: o.log,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    // Starting it was the operator's confirmation; each change is previewed, verified and
    // audited all the same.
    run: async (action) => {
      try {
        return await runAction(action, io, { yes: true, auditPath: o.auditPath });
      } catch (error) {
        if (error instanceof Exit) return undefined;
        throw error;
      }
    },
  });
  o.holder.runner = runner;
  void runner.done.then((why) => {
    if (o.holder.runner === runner) delete o.holder.runner;
    o.log(`auto-throttle ${o.machine} stopped: ${why}`);
  });
  return { ok: true, detail: `runner started on ${subject}` };
}

async function verifyAutoOn(a: AutoOn, outcome: Outcome): Promise<Outcome> {
  const r = await askStatus(a);
  return r.kind === 'reply' && r.value.running === true
    ? { ok: true, detail: `${outcome.detail}; it answers: level ${String(r.value.level)}` }
    : {
        ok: false,
        detail: `started, but nobody answers ${a.subject}: ${r.kind === 'reply' ? JSON.stringify(r.value) : r.reason}`,
      };
}

export function autoOnAction(o: AutoOnOptions): Action {
  const a: AutoOn = {
    o,
    subject: autoSubject(o.machine),
    keys: o.keys?.machines.includes(o.machine) ? o.keys : undefined,
  };
  return {
    id: 'throttle.auto.on',
    title: `Throttle ${o.machine} automatically from its VRAM`,
    machine: o.machine,
    args: { machine: o.machine, server: o.server, policy: o.policy },
    preview: () => previewAutoOn(a),
    execute: () => startAutoOn(a),
    verify: (outcome) => verifyAutoOn(a, outcome),
  };
}
