// The error-bus migration phases (docs/architecture.md, "Error-bus phases") and how the phase
// is stored.
//
// Stored in NATS KV bucket `opsdeck`, key `errorbus.phase`, as JSON:
//     {"phase":1,"name":"dual-publish"}
// Writers compare-and-swap on the entry's revision. Readers also accept a bare number (`1`) or
// a bare name (`dual-publish`), so an operator can fix the key by hand; anything else is refused
// with a reason and the reader keeps its current phase. A deleted or absent key means phase 0.

export const PHASE_BUCKET = 'opsdeck';
export const PHASE_KEY = 'errorbus.phase';

export const PHASES = [
  { phase: 0, name: 'zmq' }, // today: ZMQ 7150 only
  { phase: 1, name: 'dual-publish' }, // publishers send every error to both buses
  { phase: 2, name: 'nats-consumers' }, // consumers read NATS only; publishers still send both
  { phase: 3, name: 'zmq-off' }, // 7150 closed; NATS only
] as const;

export type PhaseNumber = (typeof PHASES)[number]['phase'];
export type PhaseName = (typeof PHASES)[number]['name'];

export interface PhaseValue {
  phase: PhaseNumber;
  name: PhaseName;
}

export const phaseValue = (phase: PhaseNumber): PhaseValue => ({ ...PHASES[phase] });

export const encodePhase = (phase: PhaseNumber): string => JSON.stringify(phaseValue(phase));

export type PhaseDecode = { ok: true; value: PhaseValue } | { ok: false; reason: string };

const byNumber = (n: unknown): PhaseValue | undefined =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < PHASES.length
    ? phaseValue(n as PhaseNumber)
    : undefined;
const byName = (s: unknown): PhaseValue | undefined => {
  const found = PHASES.find((p) => p.name === s);
  return found ? { ...found } : undefined;
};

const VALID = `expected {"phase":N,"name":"..."} with N 0-3 (${PHASES.map((p) => `${p.phase} ${p.name}`).join(', ')})`;

/** Reads the KV value; a JSON object must agree with itself (phase and name naming one phase). */
export function decodePhase(text: string): PhaseDecode {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, reason: `empty value; ${VALID}` };
  const named = byName(trimmed);
  if (named) return { ok: true, value: named };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return {
      ok: false,
      reason: `"${trimmed.slice(0, 60)}" is neither JSON nor a phase name; ${VALID}`,
    };
  }
  const direct = byNumber(parsed) ?? byName(parsed);
  if (direct) return { ok: true, value: direct };
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const fromNumber = o.phase === undefined ? undefined : byNumber(o.phase);
    const fromName = o.name === undefined ? undefined : byName(o.name);
    if (o.phase !== undefined && !fromNumber)
      return { ok: false, reason: `phase ${JSON.stringify(o.phase)} is not 0-3; ${VALID}` };
    if (o.name !== undefined && !fromName)
      return { ok: false, reason: `name ${JSON.stringify(o.name)} is not a phase; ${VALID}` };
    if (fromNumber && fromName && fromNumber.phase !== fromName.phase) {
      return {
        ok: false,
        reason: `phase ${fromNumber.phase} and name "${fromName.name}" disagree; ${VALID}`,
      };
    }
    const value = fromNumber ?? fromName;
    if (value) return { ok: true, value };
  }
  return { ok: false, reason: `${trimmed.slice(0, 60)}: ${VALID}` };
}

/** Which buses a publisher sends on in a phase. */
export interface PublishTargets {
  zmq: boolean;
  nats: boolean;
}

export function publishTargets(phase: PhaseNumber): PublishTargets {
  switch (phase) {
    case 0:
      return { zmq: true, nats: false };
    case 1:
    case 2:
      // Phase 2 moves the consumers; publishers keep both legs so a rollback loses nothing.
      return { zmq: true, nats: true };
    case 3:
      return { zmq: false, nats: true };
  }
}
