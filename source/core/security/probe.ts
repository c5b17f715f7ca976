// `opsdeck security probe`: is authentication enforced on a machine's control subject? The
// probe sends requests that would change nothing even if accepted (set_thresholds with no
// thresholds) once without a token and once with an unsigned (`alg: none`) one. Enforced means
// both were refused as unauthenticated; any acceptance means NOT enforced.

export type ProbeVerdict = 'enforced' | 'NOT enforced' | 'no answer';

export type ProbeReply =
  | { kind: 'reply'; value: Record<string, unknown> }
  | { kind: 'no-answer'; reason: string }
  | { kind: 'error'; reason: string };

export interface ProbeAttempt {
  name: string;
  reply: ProbeReply;
}

export interface ProbeResult {
  machine: string;
  subject: string;
  verdict: ProbeVerdict;
  evidence: string[];
}

/** What the probe sends each machine, in words (the audit records it). */
export const PROBE_SENT = [
  'set_thresholds without a token',
  'set_thresholds with an unsigned token (alg none)',
];

/** One audit line per machine probed: what was sent, and what it answered. */
export const probeAuditEntry = (r: ProbeResult) => ({
  machine: r.machine,
  action: 'security.probe',
  args: { subject: r.subject, sent: PROBE_SENT },
  outcome: 'ok' as const,
  detail: `${r.verdict}: ${r.evidence.join('; ')}`.slice(0, 500),
});

/** A request that is harmless if a receiver wrongly accepts it: upstream keeps every threshold. */
export const PROBE_REQUEST = { action: 'set_thresholds' } as const;

/** An unsigned token for the machine (header alg none, empty signature). */
export function unsignedToken(machine: string, nowS: number): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: 'opsdeck', aud: machine, sub: 'opsdeck-security-probe', iat: nowS, exp: nowS + 60 })}.`;
}

const text = (r: ProbeReply): string =>
  r.kind === 'reply' ? JSON.stringify(r.value).slice(0, 200) : r.reason;

export function classifyProbe(
  machine: string,
  subject: string,
  attempts: ProbeAttempt[],
): ProbeResult {
  const evidence = attempts.map((a) => `${a.name}: ${text(a.reply)}`);
  if (attempts.every((a) => a.reply.kind !== 'reply'))
    return { machine, subject, verdict: 'no answer', evidence };
  const refused = attempts.every(
    (a) =>
      a.reply.kind === 'reply' &&
      a.reply.value.refused === true &&
      a.reply.value.status === 'error',
  );
  return { machine, subject, verdict: refused ? 'enforced' : 'NOT enforced', evidence };
}
