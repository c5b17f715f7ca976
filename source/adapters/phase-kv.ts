// The error-bus phase in NATS KV (bucket `opsdeck`, key `errorbus.phase`): read it with its
// revision, and change it only by compare-and-swap on that revision, so two consoles on two
// machines cannot both advance from the same phase. Revision 0 means the key was never written
// (phase 0); a deleted key also reads as phase 0, at the delete marker's revision.
import type { KV, NatsConnection } from 'nats';
import {
  decodePhase,
  encodePhase,
  PHASE_BUCKET,
  PHASE_KEY,
  type PhaseNumber,
  type PhaseValue,
} from '../core/errorbus/phase.js';

export interface PhaseRead {
  value: PhaseValue;
  /** KV revision to compare-and-swap against; 0: never written. */
  revision: number;
  state: 'absent' | 'deleted' | 'set';
  /** The stored text when it is not a valid phase (the value shown is then phase 0's, and writes are refused). */
  invalid?: { raw: string; reason: string };
}

export const PHASE_LOCATION = `NATS KV ${PHASE_BUCKET}/${PHASE_KEY}`;

const isNotFound = (error: unknown): boolean =>
  /stream not found|bucket not found/i.test((error as Error).message ?? '');

async function bucket(nc: NatsConnection, create: boolean): Promise<KV> {
  // history 10: the sim creates it so, and an operator can see the last changes.
  return nc.jetstream().views.kv(PHASE_BUCKET, create ? { history: 10 } : { bindOnly: true });
}

export async function readPhase(nc: NatsConnection): Promise<PhaseRead> {
  let entry;
  try {
    entry = await (await bucket(nc, false)).get(PHASE_KEY);
  } catch (error) {
    if (isNotFound(error))
      return { value: { phase: 0, name: 'zmq' }, revision: 0, state: 'absent' };
    throw error;
  }
  if (!entry) return { value: { phase: 0, name: 'zmq' }, revision: 0, state: 'absent' };
  if (entry.operation === 'DEL' || entry.operation === 'PURGE')
    return { value: { phase: 0, name: 'zmq' }, revision: entry.revision, state: 'deleted' };
  const raw = entry.string();
  const decoded = decodePhase(raw);
  if (!decoded.ok)
    return {
      value: { phase: 0, name: 'zmq' },
      revision: entry.revision,
      state: 'set',
      invalid: { raw, reason: decoded.reason },
    };
  return { value: decoded.value, revision: entry.revision, state: 'set' };
}

export type CasResult =
  { ok: true; revision: number } | { ok: false; reason: string; current?: PhaseRead };

export const describeRead = (r: PhaseRead): string =>
  r.invalid
    ? `an invalid value at revision ${r.revision} (${r.invalid.reason})`
    : `phase ${r.value.phase} ${r.value.name} at revision ${r.revision}${r.state === 'absent' ? ' (never written)' : r.state === 'deleted' ? ' (key deleted)' : ''}`;

/** Writes `phase` if the key is still at `revision`; otherwise says what it is now. */
export async function casPhase(
  nc: NatsConnection,
  phase: PhaseNumber,
  revision: number,
): Promise<CasResult> {
  const kv = await bucket(nc, true);
  try {
    const written = await kv.put(PHASE_KEY, encodePhase(phase), { previousSeq: revision });
    return { ok: true, revision: written };
  } catch (error) {
    const code = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
    if (code !== 10071 && !/wrong last sequence/.test((error as Error).message)) throw error;
    const current = await readPhase(nc).catch(() => undefined);
    return {
      ok: false,
      reason: `${PHASE_LOCATION} changed since it was read at revision ${revision}${current ? `: it is now ${describeRead(current)}` : ''} (another console got there first); nothing was changed`,
      ...(current ? { current } : {}),
    };
  }
}
