// `opsdeck throttle pc2 --level N` as an Action: two JWT-carrying requests on
// opsdeck.<machine>.control (upstream's set_thresholds with the level's thresholds, then
// set_throttle), each answered or timed out visibly; verified by get_status and by the next
// resources sample showing the new throttleLevel. The console runs the same Action.
import type { NatsConnection } from 'nats';
import { resourcesSubject } from '../core/resources/sample.js';
import { throttleInfo, throttleRequests, type ThrottleLevel } from '../core/resources/throttle.js';
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
}

const show = (r: ControlReply): string => (r.kind === 'reply' ? JSON.stringify(r.value) : r.reason);

interface RmStatus {
  thresholds?: { cpu: number; memory: number; gpu: number };
  throttle?: { level: number; name: string };
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
    return { ok: false, reason: `get_status answered ${JSON.stringify(r.value).slice(0, 160)}` };
  return { ok: true, status: r.value as RmStatus };
}

const fmtStatus = (s: RmStatus): string =>
  `level ${s.throttle?.level ?? '?'} ${s.throttle?.name ?? ''}, thresholds cpu ${s.thresholds?.cpu ?? '?'} / memory ${s.thresholds?.memory ?? '?'} / gpu ${s.thresholds?.gpu ?? '?'}`;

export function throttleAction(o: ThrottleOptions): Action {
  const info = throttleInfo(o.level);
  const subject = controlSubject(o.machine);
  const requests = throttleRequests(o.level);
  return {
    id: o.reason ? 'throttle.auto' : 'throttle.set',
    title: `Set ${o.machine} throttle to level ${o.level} (${info.name})`,
    machine: o.machine,
    args: {
      machine: o.machine,
      level: o.level,
      name: info.name,
      server: o.server,
      ...(o.reason ? { reason: o.reason } : {}),
    },
    async preview(): Promise<Preview> {
      const now = await readStatus(o);
      // A placeholder token, described, so the preview shows what will be sent but no secret.
      const sample = tokenFrom(o.token, o.machine, o.env);
      const tokenText = sample ? describeToken(sample) : '(no token)';
      return {
        target: `${o.machine} (${subject} on ${o.server})`,
        lines: [
          ...(now.ok ? [`now: ${fmtStatus(now.status)}`] : []),
          ...requests.map(
            (r) => `request ${subject} ${JSON.stringify({ ...r, token: tokenText })}`,
          ),
          `effect: ${info.effect}`,
          `token: ${describeSource(o.token)}`,
          `verify: get_status shows level ${o.level} and thresholds ${info.thresholds.cpu}/${info.thresholds.memory}/${info.thresholds.gpu}; the next ${resourcesSubject(o.machine)} sample shows throttleLevel ${o.level}`,
        ],
        checks: [
          {
            name: `${o.machine} answers ${subject}`,
            ok: now.ok,
            evidence: now.ok ? `get_status: ${fmtStatus(now.status)}` : now.reason,
          },
        ],
        runnable: now.ok,
        destructive: o.level >= 2,
      };
    },
    async execute(): Promise<Outcome> {
      const lines: string[] = [];
      for (const r of requests) {
        // A fresh token for each request: minted ones live two minutes.
        const token = tokenFrom(o.token, o.machine, o.env);
        const reply = await controlRequest(
          o.nc,
          subject,
          { ...r, ...(token ? { token } : {}) },
          o.timeoutMs,
        );
        lines.push(`${r.action}: ${show(reply)}`);
        if (reply.kind !== 'reply')
          return { ok: false, detail: `${r.action} to ${o.machine}: ${reply.reason}`, lines };
        if (reply.value.status !== 'success') {
          const why =
            typeof reply.value.message === 'string'
              ? reply.value.message
              : JSON.stringify(reply.value);
          return {
            ok: false,
            detail: `${o.machine} ${reply.value.refused ? 'refused' : 'did not apply'} ${r.action}: ${why}`,
            lines,
          };
        }
      }
      return {
        ok: true,
        detail: `${o.machine} accepted set_thresholds and set_throttle ${o.level}`,
        lines,
      };
    },
    async verify(outcome): Promise<Outcome> {
      const wanted = info.thresholds;
      const sub = o.nc.subscribe(resourcesSubject(o.machine));
      const sampleSeen = (async () => {
        for await (const m of sub) {
          try {
            const s = JSON.parse(new TextDecoder().decode(m.data)) as {
              throttleLevel?: number;
              gpu?: { usedMb: number } | null;
            };
            if (s.throttleLevel === o.level) return s;
          } catch {
            /* not a sample */
          }
        }
        return undefined;
      })();
      const timer = setTimeout(() => sub.unsubscribe(), o.sampleWaitMs ?? 5000);
      const status = await readStatus(o);
      const sample = await sampleSeen;
      clearTimeout(timer);
      sub.unsubscribe();
      if (!status.ok)
        return {
          ok: false,
          detail: `re-read failed: ${status.reason}`,
          lines: outcome.lines ?? [],
        };
      const s = status.status;
      const good =
        s.throttle?.level === o.level &&
        s.thresholds?.cpu === wanted.cpu &&
        s.thresholds.memory === wanted.memory &&
        s.thresholds.gpu === wanted.gpu;
      const sampleLine = sample
        ? `next ${resourcesSubject(o.machine)} sample: throttleLevel ${o.level}${sample.gpu ? `, VRAM ${sample.gpu.usedMb} MB` : ''}`
        : `no ${resourcesSubject(o.machine)} sample with throttleLevel ${o.level} within ${(o.sampleWaitMs ?? 5000) / 1000} s`;
      return {
        ok: good,
        detail: good
          ? `re-read ${o.machine}: ${fmtStatus(s)}`
          : `re-read ${o.machine} shows ${fmtStatus(s)}, not level ${o.level} with ${wanted.cpu}/${wanted.memory}/${wanted.gpu}`,
        lines: [...(outcome.lines ?? []), sampleLine],
      };
    },
  };
}
