// The JetStream streams the error bus needs: exactly one stream capturing `errors.>`, so every
// subject both upstream libraries publish on is kept once. Upstream declares three streams that
// overlap (ERRORS errors.>, AGENT_ERRORS errors.agents.>, ERROR_STREAM errors.>); nats-server
// keeps whichever was created first and refuses the others, so what the server holds depends on
// start order. A server that kept AGENT_ERRORS keeps none of errors.events or errors.<sev>.<agent>.
// Data in, verdict and fix plan out.
import { subjectsOverlap, subjectWithin } from './subjects.js';

export interface StreamObs {
  name: string;
  subjects: string[];
  messages: number;
}

/** Every subject the fleet publishes errors on (upstream-protocols c2). */
export const FLEET_SUBJECTS: ReadonlyArray<{ subject: string; who: string }> = [
  { subject: 'errors.events', who: 'nats_error_bus.py, every error' },
  { subject: 'errors.agents.*', who: 'nats_error_bus.py, per agent' },
  { subject: 'errors.system', who: 'nats_error_bus.py, critical' },
  { subject: 'errors.system.critical', who: 'nats_error_bus.py, critical' },
  { subject: 'errors.critical.*', who: 'nats_client.py' },
  { subject: 'errors.error.*', who: 'nats_client.py' },
  { subject: 'errors.warning.*', who: 'nats_client.py' },
  { subject: 'errors.info.*', who: 'nats_client.py' },
];

/** The streams upstream's two libraries try to create at start-up. */
export const UPSTREAM_STREAMS: ReadonlyArray<{
  name: string;
  subjects: string[];
  library: string;
}> = [
  { name: 'ERRORS', subjects: ['errors.>'], library: 'nats_error_bus.py' },
  { name: 'AGENT_ERRORS', subjects: ['errors.agents.>'], library: 'nats_error_bus.py' },
  { name: 'ERROR_STREAM', subjects: ['errors.>'], library: 'nats_client.py' },
];

export const ERRORS_ROOT = 'errors.>';
export const TARGET_STREAM = 'ERRORS';
/** nats_error_bus.py's limits for ERRORS. */
export const ERRORS_LIMITS = {
  maxMsgs: 100_000,
  maxAgeMs: 7 * 24 * 3600 * 1000,
  storage: 'file' as const,
};
export const RETIRED_PREFIX = 'opsdeck.retired.';

export type FixStep =
  /** Takes the stream off errors subjects; its messages stay (readable by name). */
  | { kind: 'retire'; stream: string; from: string[]; to: string[]; messages: number }
  /** Makes an existing stream capture errors.>. */
  | { kind: 'widen'; stream: string; from: string[]; to: string[] }
  | { kind: 'create'; stream: string; subjects: string[] };

export interface StreamVerdict {
  ok: boolean;
  evidence: string;
  /** Streams claiming any errors.* subject. */
  errorStreams: StreamObs[];
  /** Fleet subjects no stream captures (in full). */
  uncovered: string[];
  /** Pairs of streams whose subjects overlap. */
  overlaps: Array<[string, string]>;
  /** Steps that make it right; empty when ok. */
  fix: FixStep[];
}

const claimsErrors = (s: StreamObs): boolean =>
  s.subjects.some((x) => subjectsOverlap(x, ERRORS_ROOT));
const capturesAll = (s: StreamObs): boolean =>
  s.subjects.some((x) => subjectWithin(ERRORS_ROOT, x));
const describe = (s: { name: string; subjects: string[] }): string =>
  `${s.name} (${s.subjects.join(', ') || 'no subjects'})`;

export function judgeStreams(streams: readonly StreamObs[]): StreamVerdict {
  const errorStreams = streams.filter(claimsErrors);
  const overlaps: Array<[string, string]> = [];
  for (let i = 0; i < errorStreams.length; i++) {
    for (let j = i + 1; j < errorStreams.length; j++) {
      const a = errorStreams[i]!;
      const b = errorStreams[j]!;
      if (a.subjects.some((x) => b.subjects.some((y) => subjectsOverlap(x, y))))
        overlaps.push([a.name, b.name]);
    }
  }
  const uncovered = FLEET_SUBJECTS.filter(
    (f) => !errorStreams.some((s) => s.subjects.some((x) => subjectWithin(f.subject, x))),
  ).map((f) => f.subject);
  const ok = errorStreams.length === 1 && capturesAll(errorStreams[0]!) && overlaps.length === 0;
  const fix = ok ? [] : planStreamFix(streams);

  const parts: string[] = [];
  if (ok) {
    const s = errorStreams[0]!;
    parts.push(
      `${describe(s)} holds ${s.messages} messages and captures every subject the fleet publishes on`,
    );
  } else {
    if (errorStreams.length === 0)
      parts.push("no stream captures errors.*: JetStream keeps none of the fleet's errors");
    else parts.push(`error streams: ${errorStreams.map(describe).join('; ')}`);
    if (errorStreams.length > 1) parts.push('the errors are split over several streams');
    for (const [a, b] of overlaps) parts.push(`${a} and ${b} claim overlapping subjects`);
    if (uncovered.length > 0 && errorStreams.length > 0)
      parts.push(`${uncovered.join(', ')} land in no stream`);
    // What upstream would try: the declared streams the server refuses because they overlap one it has.
    const refused = UPSTREAM_STREAMS.filter((d) => !streams.some((s) => s.name === d.name)).filter(
      (d) =>
        errorStreams.some((s) =>
          s.subjects.some((x) => d.subjects.some((y) => subjectsOverlap(x, y))),
        ),
    );
    if (refused.length > 0 && errorStreams.length > 0) {
      parts.push(
        `upstream's ${refused.map(describe).join(' and ')} overlap ${errorStreams.map((s) => s.name).join(', ')}, so the server refuses them`,
      );
    }
    parts.push(`fix (opsdeck errorbus fix-streams): ${fix.map(describeFix).join('; then ')}`);
  }
  return { ok, evidence: parts.join('; '), errorStreams, uncovered, overlaps, fix };
}

/**
 * One stream on errors.>: keep the stream that already captures it (ERRORS preferred), else
 * widen a stream named ERRORS, else create ERRORS with upstream's limits. Every other stream
 * claiming errors subjects is retired first (the server refuses the new subjects while they
 * overlap), keeping its messages and any subjects outside errors.*.
 */
export function planStreamFix(streams: readonly StreamObs[]): FixStep[] {
  const errorStreams = streams.filter(claimsErrors);
  const full = errorStreams.filter(capturesAll);
  const keeper = full.find((s) => s.name === TARGET_STREAM) ?? full[0];
  const steps: FixStep[] = [];
  const widen = keeper ? undefined : errorStreams.find((s) => s.name === TARGET_STREAM);
  for (const s of errorStreams) {
    if (s === keeper || s === widen) continue;
    const kept = s.subjects.filter((x) => !subjectsOverlap(x, ERRORS_ROOT));
    steps.push({
      kind: 'retire',
      stream: s.name,
      from: s.subjects,
      to: kept.length > 0 ? kept : [`${RETIRED_PREFIX}${s.name}`],
      messages: s.messages,
    });
  }
  if (keeper) {
    // Extra errors.* subjects beside errors.> in the keeper itself are redundant but harmless.
    return steps;
  }
  if (widen)
    steps.push({
      kind: 'widen',
      stream: widen.name,
      from: widen.subjects,
      to: [...widen.subjects.filter((x) => !subjectsOverlap(x, ERRORS_ROOT)), ERRORS_ROOT],
    });
  else if (streams.some((s) => s.name === TARGET_STREAM)) {
    // A stream named ERRORS on other subjects entirely: take it over too.
    const s = streams.find((x) => x.name === TARGET_STREAM)!;
    steps.push({
      kind: 'widen',
      stream: s.name,
      from: s.subjects,
      to: [...s.subjects, ERRORS_ROOT],
    });
  } else steps.push({ kind: 'create', stream: TARGET_STREAM, subjects: [ERRORS_ROOT] });
  return steps;
}

export function describeFix(step: FixStep): string {
  switch (step.kind) {
    case 'retire':
      return `retire stream ${step.stream}: subjects ${step.from.join(', ')} -> ${step.to.join(', ')} (its ${step.messages} messages are kept)`;
    case 'widen':
      return `stream ${step.stream}: subjects ${step.from.join(', ') || '(none)'} -> ${step.to.join(', ')}`;
    case 'create':
      return `create stream ${step.stream} on ${step.subjects.join(', ')} (file storage, at most ${ERRORS_LIMITS.maxMsgs} messages, 7 days: nats_error_bus.py's limits)`;
  }
}
