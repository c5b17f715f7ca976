// `opsdeck throttle pc2 --auto on`: the auto-throttle policy (core/resources/auto-throttle.ts)
// fed from opsdeck.<machine>.resources; every change goes through the throttle Action (preview,
// execute, verify, audit). Runs until stopped: its stop(), or an "off" request on
// opsdeck.<machine>.throttle.auto (what `--auto off` sends).
import type { MsgHdrs, NatsConnection } from 'nats';
import { SAMPLE_SIG_HEADER, type SampleKeys } from '../adapters/sample-sign.js';
import { authLine, judgeSample } from '../core/resources/sample-auth.js';
import {
  autoStep,
  initialAutoState,
  vramPercent,
  type AutoPolicy,
  type AutoState,
} from '../core/resources/auto-throttle.js';
import { checkSample } from '../core/resources/sample-check.js';
import { resourcesSubject } from '../core/resources/sample.js';
import { isThrottleLevel } from '../core/resources/throttle.js';
import type { TokenSource } from '../adapters/control-client.js';
import { controlRequest, describeSource, tokenFrom } from '../adapters/control-client.js';
import { authLabel, type ControlAuth } from '../core/resources/machine-control.js';
import { describeToken } from '../core/security/token.js';
import type { Action, Outcome, Preview } from './action.js';
import { throttleAction } from './throttle.js';
import { textOf } from '../core/text.js';

export const autoSubject = (machine: string): string => `opsdeck.${machine}.throttle.auto`;

export interface AutoRunnerOptions {
  nc: NatsConnection;
  server: string;
  machine: string;
  policy: AutoPolicy;
  token: TokenSource;
  /** Who may stop it remotely: an "off" request is a control action and carries a token. */
  auth: ControlAuth;
  /** Only samples signed with the machine's key (and no replays) move the level. */
  keys: SampleKeys;
  env?: Readonly<Record<string, string | undefined>>;
  /** Runs one change through the action path; resolves when audited. */
  run: (action: Action) => Promise<Outcome | undefined>;
  log: (line: string) => void;
  timeoutMs?: number;
}

export interface AutoRunner {
  /** Resolves with why it stopped. */
  done: Promise<string>;
  state(): AutoState | undefined;
  stop(why: string): void;
}

const checkedReason = (c: { ok: true } | { ok: false; reason: string }): string | undefined =>
  c.ok ? undefined : c.reason;

export function startAutoThrottle(o: AutoRunnerOptions): AutoRunner {
  let state: AutoState | undefined;
  let lastNote: string | undefined;
  let stopWith: (why: string) => void = () => undefined;
  const done = new Promise<string>((resolve) => (stopWith = resolve));
  let stopped = false;
  const control = o.nc.subscribe(autoSubject(o.machine), {
    callback: (_err, msg) => {
      let body: { auto?: unknown } = {};
      try {
        body = JSON.parse(new TextDecoder().decode(msg.data)) as { auto?: unknown };
      } catch {
        /* answered below */
      }
      if (body.auto === 'off') {
        const refusal =
          o.auth.mode === 'refuse'
            ? o.auth.reason
            : o.auth.mode === 'verify'
              ? checkedReason(o.auth.verify((body as { token?: unknown }).token, o.machine))
              : undefined;
        if (refusal) {
          o.log(`auto-throttle ${o.machine}: refused an "off" request: ${refusal}`);
          msg.respond(
            new TextEncoder().encode(
              JSON.stringify({ ok: false, refused: true, error: `refused: ${refusal}` }),
            ),
          );
          return;
        }
        msg.respond(
          new TextEncoder().encode(
            JSON.stringify({
              ok: true,
              stopped: true,
              machine: o.machine,
              level: state?.level ?? null,
            }),
          ),
        );
        stop('an "off" request arrived (opsdeck throttle --auto off)');
      } else if (body.auto === 'status') {
        msg.respond(
          new TextEncoder().encode(
            JSON.stringify({
              ok: true,
              running: true,
              machine: o.machine,
              level: state?.level ?? null,
              policy: o.policy,
              auth: authLabel(o.auth),
              samples: `signed by ${o.machine}'s key only (${o.keys.file})`,
              ignored,
            }),
          ),
        );
      } else {
        msg.respond(
          new TextEncoder().encode(
            JSON.stringify({ ok: false, error: 'expected {"auto": "off"} or {"auto": "status"}' }),
          ),
        );
      }
    },
  });
  const stop = (why: string) => {
    if (stopped) return;
    stopped = true;
    samples.unsubscribe();
    control.unsubscribe();
    stopWith(why);
  };

  // Samples that arrive while a change is running are dropped: they show the level before it.
  let busy = false;
  let ignored = 0;
  let lastIgnored: string | undefined;
  let verifiedTs: number | undefined;
  /** Anyone can publish on the subject: a sample that is not the machine's own changes nothing. */
  const unverified = (reason: string): void => {
    ignored++;
    if (reason !== lastIgnored)
      o.log(
        `auto-throttle ${o.machine}: ignored an unverified sample (${reason}); only samples signed by ${o.machine}'s key count`,
      );
    lastIgnored = reason;
  };
  const onSample = async (data: Uint8Array, headers: MsgHdrs | undefined): Promise<void> => {
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(data));
    } catch {
      return unverified('not JSON');
    }
    const checked = checkSample(value);
    if (!checked.ok) return unverified(`refused: ${checked.reason}`);
    const sample = checked.sample;
    if (sample.machine !== o.machine) return unverified(`a sample for ${sample.machine}`);
    const auth = judgeSample(
      o.keys.check(o.machine, data, headers?.get(SAMPLE_SIG_HEADER) || undefined),
      sample.ts,
      verifiedTs,
      Date.now(),
    );
    if (!auth.verified) return unverified(auth.reason);
    verifiedTs = sample.ts;
    lastIgnored = undefined;
    const reported = isThrottleLevel(sample.throttleLevel) ? sample.throttleLevel : undefined;
    if (!state) {
      state = initialAutoState(reported ?? 0);
      o.log(
        `auto-throttle ${o.machine}: starting at level ${state.level} (from a sample ${authLine(auth)}); raise above ${o.policy.raiseAbovePct}% VRAM for ${o.policy.samples} samples, lower below ${o.policy.lowerBelowPct}%`,
      );
    }
    const step = autoStep(
      state,
      {
        vramPct: vramPercent(sample.gpu),
        ...(reported !== undefined ? { reportedLevel: reported } : {}),
      },
      o.policy,
    );
    if (step.note && step.note !== lastNote) o.log(`auto-throttle ${o.machine}: ${step.note}`);
    lastNote = step.note;
    if (!step.change) {
      state = step.state;
      return;
    }
    busy = true;
    o.log(
      `auto-throttle ${o.machine}: level ${step.change.from} -> ${step.change.to}: ${step.change.reason}`,
    );
    try {
      const outcome = await o.run(
        throttleAction({
          nc: o.nc,
          server: o.server,
          machine: o.machine,
          level: step.change.to,
          token: o.token,
          ...(o.env ? { env: o.env } : {}),
          reason: step.change.reason,
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        }),
      );
      // Only a verified change moves the policy; otherwise the next samples try again.
      state = outcome?.ok ? step.state : { ...state, above: 0, below: 0 };
    } catch (error) {
      o.log(`auto-throttle ${o.machine}: change failed: ${(error as Error).message}`);
      state = { ...state, above: 0, below: 0 };
    }
    busy = false;
  };
  const samples = o.nc.subscribe(resourcesSubject(o.machine), {
    callback: (err, m) => {
      if (err) return stop(`resources subscription ended: ${err.message}`);
      if (!busy && !stopped) void onSample(m.data, m.headers);
    },
  });

  return { done, state: () => state, stop };
}

/** `--auto off`: asks a running auto-throttle to stop (with a token); verified by nobody answering afterwards. */
export function autoOffAction(o: {
  nc: NatsConnection;
  server: string;
  machine: string;
  token: TokenSource;
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
}): Action {
  const subject = autoSubject(o.machine);
  return {
    id: 'throttle.auto.off',
    title: `Stop automatic throttling of ${o.machine}`,
    machine: o.machine,
    args: { machine: o.machine, server: o.server },
    async preview(): Promise<Preview> {
      const r = await controlRequest(o.nc, subject, { auto: 'status' }, o.timeoutMs ?? 2000);
      const running = r.kind === 'reply' && r.value.running === true;
      // Described, never shown: the preview says what goes out without printing the secret.
      const sample = tokenFrom(o.token, o.machine, o.env);
      return {
        target: `the auto-throttle runner for ${o.machine} (${subject} on ${o.server})`,
        lines: [
          `request ${subject} ${JSON.stringify({ auto: 'off', token: sample ? describeToken(sample) : '(no token)' })}`,
          `token: ${describeSource(o.token)}`,
          'the level in force stays as it is; set it by hand with --level',
        ],
        checks: [
          {
            name: 'an auto-throttle runner answers',
            ok: running,
            evidence:
              r.kind === 'reply'
                ? `running at level ${String(r.value.level)}; off requests: ${textOf(r.value.auth, 'unknown')}`
                : r.reason,
          },
        ],
        runnable: running,
        destructive: false,
      };
    },
    async execute(): Promise<Outcome> {
      const token = tokenFrom(o.token, o.machine, o.env);
      const r = await controlRequest(
        o.nc,
        subject,
        { auto: 'off', ...(token ? { token } : {}) },
        o.timeoutMs ?? 2000,
      );
      if (r.kind !== 'reply' || r.value.stopped !== true)
        return { ok: false, detail: r.kind === 'reply' ? JSON.stringify(r.value) : r.reason };
      return { ok: true, detail: `runner stopped at level ${String(r.value.level)}` };
    },
    async verify(outcome): Promise<Outcome> {
      const r = await controlRequest(o.nc, subject, { auto: 'status' }, 1000);
      return r.kind === 'reply'
        ? { ok: false, detail: `a runner still answers: ${JSON.stringify(r.value)}` }
        : { ok: true, detail: `${outcome.detail}; nobody answers ${subject} now` };
    },
  };
}
