// `opsdeck throttle pc2 --auto on`: the auto-throttle policy (core/resources/auto-throttle.ts)
// fed from opsdeck.<machine>.resources; every change goes through the throttle Action (preview,
// execute, verify, audit). Runs until stopped: its stop(), or an "off" request on
// opsdeck.<machine>.throttle.auto (what `--auto off` sends).
import type { Msg, MsgHdrs, NatsConnection, Subscription } from 'nats';
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
import { isThrottleLevel, type ThrottleLevel } from '../core/resources/throttle.js';
import type { TokenSource } from '../adapters/control-client.js';
import { controlRequest, describeSource, tokenFrom } from '../adapters/control-client.js';
import { authLabel, type ControlAuth } from '../core/resources/machine-control.js';
import { describeToken } from '../core/security/token.js';
import type { Action, Outcome, Preview } from './action.js';
import { throttleAction } from './throttle.js';
import { textOf } from '../core/text.js';

export const autoSubject = (machine: string): string => `opsdeck.${machine}.throttle.auto`;

/** What the runner and the action that starts it both need. */
export interface AutoTarget {
  nc: NatsConnection;
  server: string;
  machine: string;
  policy: AutoPolicy;
  token: TokenSource;
  /** Who may stop it remotely: an "off" request is a control action and carries a token. */
  auth: ControlAuth;
}

export interface AutoRunnerOptions extends AutoTarget {
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
  const runner = new AutoThrottle(o);
  return { done: runner.done, state: () => runner.state, stop: (why) => runner.stop(why) };
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** The runner: the policy's state, the "off"/"status" requests, and the samples that move it. */
class AutoThrottle {
  state: AutoState | undefined;
  readonly done: Promise<string>;
  private stopWith: (why: string) => void = () => undefined;
  private stopped = false;
  private lastNote: string | undefined;
  // Samples that arrive while a change is running are dropped: they show the level before it.
  private busy = false;
  private ignored = 0;
  private lastIgnored: string | undefined;
  private verifiedTs: number | undefined;
  private readonly control: Subscription;
  private readonly samples: Subscription;

  constructor(private readonly o: AutoRunnerOptions) {
    this.done = new Promise<string>((resolve) => (this.stopWith = resolve));
    this.control = o.nc.subscribe(autoSubject(o.machine), {
      callback: (_err, msg) => this.onControl(msg),
    });
    this.samples = o.nc.subscribe(resourcesSubject(o.machine), {
      callback: (err, m) => {
        if (err) return this.stop(`resources subscription ended: ${err.message}`);
        if (!this.busy && !this.stopped) void this.onSample(m.data, m.headers);
      },
    });
  }

  stop(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.samples.unsubscribe();
    this.control.unsubscribe();
    this.stopWith(why);
  }

  /** `{"auto": "off"}` (a control action: it carries a token) or `{"auto": "status"}`. */
  private onControl(msg: Msg): void {
    const o = this.o;
    let body: { auto?: unknown } = {};
    try {
      body = JSON.parse(new TextDecoder().decode(msg.data)) as { auto?: unknown };
    } catch {
      /* answered below */
    }
    if (body.auto === 'off') return this.onOff(msg, body);
    if (body.auto === 'status') {
      msg.respond(
        encode({
          ok: true,
          running: true,
          machine: o.machine,
          level: this.state?.level ?? null,
          policy: o.policy,
          auth: authLabel(o.auth),
          samples: `signed by ${o.machine}'s key only (${o.keys.file})`,
          ignored: this.ignored,
        }),
      );
      return;
    }
    msg.respond(encode({ ok: false, error: 'expected {"auto": "off"} or {"auto": "status"}' }));
  }

  private onOff(msg: Msg, body: { auto?: unknown }): void {
    const o = this.o;
    const refusal =
      o.auth.mode === 'refuse'
        ? o.auth.reason
        : o.auth.mode === 'verify'
          ? checkedReason(o.auth.verify((body as { token?: unknown }).token, o.machine))
          : undefined;
    if (refusal) {
      o.log(`auto-throttle ${o.machine}: refused an "off" request: ${refusal}`);
      msg.respond(encode({ ok: false, refused: true, error: `refused: ${refusal}` }));
      return;
    }
    msg.respond(
      encode({ ok: true, stopped: true, machine: o.machine, level: this.state?.level ?? null }),
    );
    this.stop('an "off" request arrived (opsdeck throttle --auto off)');
  }

  /** Anyone can publish on the subject: a sample that is not the machine's own changes nothing. */
  private unverified(reason: string): void {
    this.ignored++;
    if (reason !== this.lastIgnored)
      this.o.log(
        `auto-throttle ${this.o.machine}: ignored an unverified sample (${reason}); only samples signed by ${this.o.machine}'s key count`,
      );
    this.lastIgnored = reason;
  }

  /** The sample, if it is well-formed, the machine's own, signed and not a replay. */
  private verified(data: Uint8Array, headers: MsgHdrs | undefined) {
    const o = this.o;
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(data));
    } catch {
      return this.unverified('not JSON');
    }
    const checked = checkSample(value);
    if (!checked.ok) return this.unverified(`refused: ${checked.reason}`);
    const sample = checked.sample;
    if (sample.machine !== o.machine) return this.unverified(`a sample for ${sample.machine}`);
    const auth = judgeSample(
      o.keys.check(o.machine, data, headers?.get(SAMPLE_SIG_HEADER) || undefined),
      sample.ts,
      this.verifiedTs,
      Date.now(),
    );
    if (!auth.verified) return this.unverified(auth.reason);
    this.verifiedTs = sample.ts;
    this.lastIgnored = undefined;
    return { sample, auth };
  }

  private async onSample(data: Uint8Array, headers: MsgHdrs | undefined): Promise<void> {
    const o = this.o;
    const ok = this.verified(data, headers);
    if (!ok) return;
    const { sample, auth } = ok;
    const reported = isThrottleLevel(sample.throttleLevel) ? sample.throttleLevel : undefined;
    if (!this.state) {
      this.state = initialAutoState(reported ?? 0);
      o.log(
        `auto-throttle ${o.machine}: starting at level ${this.state.level} (from a sample ${authLine(auth)}); raise above ${o.policy.raiseAbovePct}% VRAM for ${o.policy.samples} samples, lower below ${o.policy.lowerBelowPct}%`,
      );
    }
    const step = autoStep(
      this.state,
      {
        vramPct: vramPercent(sample.gpu),
        ...(reported !== undefined ? { reportedLevel: reported } : {}),
      },
      o.policy,
    );
    if (step.note && step.note !== this.lastNote) o.log(`auto-throttle ${o.machine}: ${step.note}`);
    this.lastNote = step.note;
    if (!step.change) {
      this.state = step.state;
      return;
    }
    this.busy = true;
    await this.change(step.change, step.state);
    this.busy = false;
  }

  /** One change through the throttle Action; only a verified one moves the policy. */
  private async change(
    change: { from: number; to: ThrottleLevel; reason: string },
    next: AutoState,
  ) {
    const o = this.o;
    o.log(`auto-throttle ${o.machine}: level ${change.from} -> ${change.to}: ${change.reason}`);
    const state = this.state!;
    try {
      const outcome = await o.run(
        throttleAction({
          nc: o.nc,
          server: o.server,
          machine: o.machine,
          level: change.to,
          token: o.token,
          ...(o.env ? { env: o.env } : {}),
          reason: change.reason,
          keys: o.keys,
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        }),
      );
      // Only a verified change moves the policy; otherwise the next samples try again.
      this.state = outcome?.ok ? next : { ...state, above: 0, below: 0 };
    } catch (error) {
      o.log(`auto-throttle ${o.machine}: change failed: ${(error as Error).message}`);
      this.state = { ...state, above: 0, below: 0 };
    }
  }
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
