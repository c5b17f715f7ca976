// `opsdeck throttle pc2 --level N` as an Action: one JWT-carrying `set_throttle` on
// opsdeck.<machine>.control. The machine's opsdeck agent does what a level is (core/resources/
// throttle.ts): upstream's set_thresholds on ResourceManager, then renices the agent processes;
// its reply says what it did and what failed, and any failure fails the action (exit 1, audit
// `failed`, the upstream reply shown). Verified against the machine: ResourceManager's own
// get_status, and the next resources sample's throttle read back. The console runs the same Action.
import type { NatsConnection, Subscription } from 'nats';
import { resourcesSubject } from '../core/resources/sample.js';
import {
  authLine,
  judgeSample,
  SAMPLE_SIG_HEADER,
  type SampleAuth,
  type SampleKeys,
} from '../core/resources/sample-auth.js';
import {
  throttleInfo,
  type ThrottleLevel,
  type ThrottleReading,
} from '../core/resources/throttle.js';
import { describeToken } from '../core/security/token.js';
import {
  controlRequest,
  controlSubject,
  describeSource,
  tokenFrom,
  type ControlReply,
  type TokenSource,
} from '../adapters/control-client.js';
import type { Action, Outcome, Preview } from './action.js';

export interface ThrottleOptions {
  nc: NatsConnection;
  /** Shown in the preview and the audit (no credentials). */
  server: string;
  machine: string;
  level: ThrottleLevel;
  token: TokenSource;
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  /** How long verify waits for a resources sample with the new level. */
  sampleWaitMs?: number;
  /** Auto mode: why the policy chose this level (goes to the audit). */
  reason?: string;
  /**
   * The machines' sample keys (samples/keys.json): with them only a sample signed by the
   * machine's key reads the level back; without, the read-back says it is unverified.
   */
  keys?: SampleKeys;
}

const show = (r: ControlReply): string => (r.kind === 'reply' ? JSON.stringify(r.value) : r.reason);

interface RmStatus {
  thresholds?: { cpu: number; memory: number; gpu: number };
}

async function readStatus(
  o: ThrottleOptions,
): Promise<{ ok: true; status: RmStatus } | { ok: false; reason: string }> {
  const r = await controlRequest(
    o.nc,
    controlSubject(o.machine),
    { action: 'get_status' },
    o.timeoutMs,
  );
  if (r.kind !== 'reply') return { ok: false, reason: r.reason };
  if (r.value.status !== 'success')
    return {
      ok: false,
      reason: `get_status answered ${typeof r.value.message === 'string' ? r.value.message : JSON.stringify(r.value).slice(0, 160)}`,
    };
  return { ok: true, status: r.value };
}

const fmtStatus = (s: RmStatus): string =>
  s.thresholds
    ? `ResourceManager thresholds cpu ${s.thresholds.cpu} / memory ${s.thresholds.memory} / gpu ${s.thresholds.gpu}`
    : 'ResourceManager reported no thresholds';

const lines = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((l): l is string => typeof l === 'string') : [];

/** One throttle action's options, with the level's thresholds and the control subject. */
interface Throttle {
  o: ThrottleOptions;
  info: ReturnType<typeof throttleInfo>;
  subject: string;
}

async function previewThrottle({ o, info, subject }: Throttle): Promise<Preview> {
  const t = info.thresholds;
  const now = await readStatus(o);
  // A placeholder token, described, so the preview shows what will be sent but no secret.
  const sample = tokenFrom(o.token, o.machine, o.env);
  const tokenText = sample ? describeToken(sample) : '(no token)';
  return {
    target: `${o.machine} (${subject} on ${o.server})`,
    lines: [
      ...(now.ok ? [`now: ${fmtStatus(now.status)}`] : []),
      `request ${subject} ${JSON.stringify({ action: 'set_throttle', level: o.level, token: tokenText })}`,
      `what ${o.machine}'s opsdeck agent does (upstream has no throttle action):`,
      `  1. set_thresholds cpu ${t.cpu} / memory ${t.memory} / gpu ${t.gpu} on ResourceManager (upstream's API: allocations refused above them)`,
      `  2. renice the fleet's agent processes it finds to nice ${info.nice}`,
      `  nothing frees VRAM: no upstream mechanism does`,
      `effect: ${info.effect}`,
      `token: ${describeSource(o.token)}`,
      `verify: ResourceManager's get_status shows ${t.cpu}/${t.memory}/${t.gpu}; the next ${resourcesSubject(o.machine)} sample reads level ${o.level} back`,
    ],
    checks: [
      {
        name: `${o.machine} answers ${subject} with ResourceManager's status`,
        ok: now.ok,
        evidence: now.ok ? `get_status: ${fmtStatus(now.status)}` : now.reason,
      },
    ],
    runnable: now.ok,
    destructive: o.level >= 2,
  };
}

/** What the agent's reply says it did, what failed, and ResourceManager's own answer. */
const saidLines = (v: Record<string, unknown>): string[] => [
  ...lines(v.did).map((l) => `done: ${l}`),
  ...lines(v.failed).map((l) => `FAILED: ${l}`),
  ...(v.upstream !== undefined ? [`ResourceManager replied: ${JSON.stringify(v.upstream)}`] : []),
];

async function setThrottle({ o, subject }: Throttle): Promise<Outcome> {
  // A fresh token: minted ones live two minutes.
  const token = tokenFrom(o.token, o.machine, o.env);
  const reply = await controlRequest(
    o.nc,
    subject,
    { action: 'set_throttle', level: o.level, ...(token ? { token } : {}) },
    o.timeoutMs,
  );
  if (reply.kind !== 'reply')
    return {
      ok: false,
      detail: `set_throttle to ${o.machine}: ${reply.reason}`,
      lines: [`set_throttle: ${show(reply)}`],
    };
  const v = reply.value;
  const said = saidLines(v);
  if (v.status !== 'success') {
    const why = typeof v.message === 'string' ? v.message : JSON.stringify(v);
    return {
      ok: false,
      detail: `${o.machine} ${v.refused ? 'refused' : 'did not apply'} level ${o.level}: ${why}`,
      lines: said.length ? said : [`set_throttle: ${show(reply)}`],
    };
  }
  return {
    ok: true,
    detail: `${o.machine}'s opsdeck agent applied level ${o.level}`,
    lines: said,
  };
}

interface ReadBack {
  reading?: ThrottleReading;
  /** How the counted sample was authenticated; absent without keys. */
  auth?: SampleAuth;
  /** The last sample that read the level back but was not counted: why (a bad signature...). */
  ignored?: string;
}

/**
 * The first resources sample after `since` that reads `level` back (with keys: one signed by the
 * machine's key), until `sub` ends. A forged or replayed sample must not make a throttle that
 * did not happen look verified.
 */
async function levelSample(
  sub: Subscription,
  o: Pick<ThrottleOptions, 'machine' | 'level' | 'keys'>,
  since: number,
): Promise<ReadBack> {
  let ignored: string | undefined;
  for await (const m of sub) {
    let s: { throttle?: ThrottleReading; ts?: unknown };
    try {
      s = JSON.parse(new TextDecoder().decode(m.data)) as typeof s;
    } catch {
      continue; // not a sample
    }
    if (!s.throttle || s.throttle.at < since || s.throttle.level !== o.level) continue;
    if (!o.keys) return { reading: s.throttle };
    const sig = o.keys.check(o.machine, m.data, m.headers?.get(SAMPLE_SIG_HEADER) || undefined);
    const auth = judgeSample(sig, typeof s.ts === 'number' ? s.ts : NaN, undefined, Date.now());
    if (auth.verified) return { reading: s.throttle, auth };
    ignored = auth.reason;
  }
  return ignored ? { ignored } : {};
}

/** The read-back line: what was read, and whether a signature vouches for it. */
function readBackLine(o: ThrottleOptions, r: ReadBack, waitMs: number): string {
  if (r.reading)
    return `read back from ${o.machine}: ${r.reading.summary} (${r.auth ? authLine(r.auth) : `unverified: no sample keys to check its signature`})`;
  const what = o.keys ? 'signed sample' : 'sample';
  const why = r.ignored ? `; one read it back but was not counted: ${r.ignored}` : '';
  return `no ${resourcesSubject(o.machine)} ${what} read level ${o.level} back within ${waitMs / 1000} s${why}`;
}

async function verifyThrottle({ o, info }: Throttle, outcome: Outcome): Promise<Outcome> {
  const t = info.thresholds;
  const started = Date.now();
  const sub = o.nc.subscribe(resourcesSubject(o.machine));
  const waitMs = o.sampleWaitMs ?? 5000;
  const sampleSeen = levelSample(sub, o, started);
  const timer = setTimeout(() => sub.unsubscribe(), waitMs);
  const status = await readStatus(o);
  const back = await sampleSeen;
  const reading = back.reading;
  clearTimeout(timer);
  sub.unsubscribe();
  if (!status.ok)
    return {
      ok: false,
      detail: `re-read failed: ${status.reason}`,
      lines: outcome.lines ?? [],
    };
  const s = status.status.thresholds;
  const thresholdsOk = s?.cpu === t.cpu && s.memory === t.memory && s.gpu === t.gpu;
  const good = thresholdsOk && reading !== undefined;
  const sampleLine = readBackLine(o, back, waitMs);
  return {
    ok: good,
    detail: good
      ? `re-read ${o.machine}: ${fmtStatus(status.status)}; ${reading.summary} (${back.auth ? authLine(back.auth) : 'sample unverified: no sample keys'})`
      : `re-read ${o.machine}: ${fmtStatus(status.status)}${thresholdsOk ? '' : `, not ${t.cpu}/${t.memory}/${t.gpu}`}${reading ? '' : `; ${sampleLine}`}`,
    lines: [...(outcome.lines ?? []), sampleLine],
  };
}

export function throttleAction(o: ThrottleOptions): Action {
  const th: Throttle = { o, info: throttleInfo(o.level), subject: controlSubject(o.machine) };
  return {
    id: o.reason ? 'throttle.auto' : 'throttle.set',
    title: `Set ${o.machine} throttle to level ${o.level} (${th.info.name})`,
    machine: o.machine,
    args: {
      machine: o.machine,
      level: o.level,
      name: th.info.name,
      server: o.server,
      ...(o.reason ? { reason: o.reason } : {}),
    },
    preview: () => previewThrottle(th),
    execute: () => setThrottle(th),
    verify: (outcome) => verifyThrottle(th, outcome),
  };
}
