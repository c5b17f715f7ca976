// The error-bus phase machine and its preflight rules. Pure: an Observation (what a data plane
// saw over a window) goes in, checks with evidence come out. The actions read the world, call
// these, and show the result; the same verdicts feed the console's scorecard.
//
//   0 zmq -> 1 dual-publish     NATS reachable from this console and from every machine (their
//                               resource samples arrive); one error stream on errors.>
//   1 -> 2 nats-consumers       in the window every agent seen on ZMQ was seen on NATS too, and
//                               the JetStream consumer saw no sequence gap
//   2 -> 3 zmq-off              no ZMQ-only publisher in the window; afterwards each machine's
//                               error-bus port refuses a TCP connect (verified after the change)
//   rollback                    one step back, no preflight beyond the compare-and-swap
import { phaseValue, PHASES, type PhaseNumber, type PhaseValue } from './phase.js';
import { judgeStreams, type StreamVerdict } from './streams.js';
import { withBridge } from './bridge-coverage.js';
import {
  agentList,
  inWindow,
  samePublisher,
  secs,
  span,
  type Check,
  type MachineObs,
  type Observation,
} from './observation.js';
import type { PublisherStats } from '../errors/pipeline.js';

export type { Check, ConsumerObs, MachineObs, Observation } from './observation.js';

export type Direction = 'advance' | 'rollback';

export interface Transition {
  direction: Direction;
  from: PhaseValue;
  to: PhaseValue;
}

export type TransitionResult = { ok: true; transition: Transition } | { ok: false; reason: string };

const label = (p: PhaseValue): string => `${p.phase} ${p.name}`;
export const transitionLabel = (t: Transition): string => `${label(t.from)} -> ${label(t.to)}`;

/** The one step `direction` allows from `current`. */
export function nextTransition(current: PhaseNumber, direction: Direction): TransitionResult {
  const to = current + (direction === 'advance' ? 1 : -1);
  if (to < 0)
    return {
      ok: false,
      reason: `already at phase ${label(phaseValue(current))}: there is nothing to roll back to`,
    };
  if (to >= PHASES.length)
    return {
      ok: false,
      reason: `already at phase ${label(phaseValue(current))}, the last one: there is nothing to advance to`,
    };
  return {
    ok: true,
    transition: { direction, from: phaseValue(current), to: phaseValue(to as PhaseNumber) },
  };
}

/** What the change does to the fleet, one line each, for the preview. */
export function effects(t: Transition): string[] {
  const key = `${t.from.phase}->${t.to.phase}`;
  switch (key) {
    case '0->1':
      return [
        'publishers send every error to both buses: ZMQ 7150 and NATS (errors.>)',
        'consumers keep reading ZMQ',
      ];
    case '1->2':
      return ['consumers read NATS only', 'publishers keep both legs, so a rollback loses nothing'];
    case '2->3':
      return [
        'publishers stop sending on ZMQ; each machine closes its error-bus port (7150)',
        "afterwards: a TCP connect to every machine's error bus must be refused",
      ];
    case '3->2':
      return [
        'publishers send on ZMQ again; each machine reopens its error-bus port',
        'consumers keep reading NATS',
      ];
    case '2->1':
      return ['consumers go back to reading ZMQ', 'publishers keep both legs'];
    case '1->0':
      return ['publishers stop sending on NATS: ZMQ 7150 only, as before the migration'];
    default:
      return [];
  }
}

export const resourcesSubjectOf = (machine: string): string => `opsdeck.${machine}.resources`;

export function natsLinkCheck(o: Observation): Check {
  return {
    name: 'NATS reachable from this console',
    ok: o.nats.connected,
    evidence: o.nats.detail,
  };
}

export function machineReachCheck(o: Observation, m: MachineObs): Check {
  const name = `NATS reachable from ${m.id}`;
  if (m.resourcesAt === undefined) {
    return {
      name,
      ok: false,
      evidence: `no ${resourcesSubjectOf(m.id)} sample in ${secs(o.now - o.since)} of observing (is \`opsdeck agent --machine ${m.id}\` running there?)`,
    };
  }
  const age = o.now - m.resourcesAt;
  return age <= o.freshMs
    ? { name, ok: true, evidence: `${resourcesSubjectOf(m.id)} sample ${secs(age)} ago` }
    : {
        name,
        ok: false,
        evidence: `last ${resourcesSubjectOf(m.id)} sample ${secs(age)} ago, older than ${secs(o.freshMs)}`,
      };
}

export function streamsCheck(o: Observation): Check & { verdict?: StreamVerdict } {
  const name = 'one error stream on errors.>, no overlapping streams';
  if (!Array.isArray(o.streams))
    return { name, ok: false, evidence: `cannot list JetStream streams: ${o.streams.error}` };
  const verdict = judgeStreams(o.streams);
  return { name, ok: verdict.ok, evidence: verdict.evidence, verdict };
}

export interface Coverage {
  /** Publishers seen on ZMQ in the window. */
  zmq: PublisherStats[];
  /** Of those, the ones not seen on NATS in the window. */
  missing: PublisherStats[];
  /** Publishers seen on NATS in the window. */
  nats: number;
}

/**
 * Who published where in the window. A ZMQ publisher (seen on a ZMQ bus, or on NATS only through
 * a ZMQ->NATS bridge) counts as seen on NATS when the same agent, publishing natively,
 * was seen there from the same machine, or from `any` (NATS carries no machine, and an agent
 * that runs on both machines cannot be told apart there).
 */
export function coverage(
  publishers: readonly PublisherStats[],
  now: number,
  windowMs: number,
): Coverage {
  const within = inWindow(now, windowMs);
  // Native NATS publishes only: a copy a ZMQ->NATS bridge carried is ZMQ evidence (it stops at phase 3).
  const onNats = publishers.filter((p) => within(p.lastNats));
  const zmq = publishers.filter(
    (p) => within(p.lastZmq) || within((p as { lastBridged?: number }).lastBridged),
  );
  const missing = zmq.filter((p) => !onNats.some((n) => samePublisher(n, p)));
  return { zmq, missing, nats: onNats.length };
}

export function coverageCheck(o: Observation, name: string): Check {
  const c = coverage(o.publishers, o.now, o.windowMs);
  if (c.zmq.length === 0) {
    return {
      name,
      ok: false,
      evidence: `no agent was seen publishing on ZMQ in the last ${span(o)}: nothing to compare (observe longer, or check the ZMQ subscription to each error bus)`,
    };
  }
  const counters = o.counters
    ? `; dedup: ${o.counters.matched} matched on both buses, ${o.counters.zmqOnly} ZMQ-only, ${o.counters.natsOnly} NATS-only`
    : '';
  if (c.missing.length === 0) {
    return {
      name,
      ok: true,
      evidence: `${c.zmq.length}/${c.zmq.length} agents seen on ZMQ in the last ${span(o)} were also seen on NATS (100%)${counters}`,
    };
  }
  const covered = c.zmq.length - c.missing.length;
  return {
    name,
    ok: false,
    evidence: `${covered}/${c.zmq.length} (${Math.floor((covered / c.zmq.length) * 100)}%) seen on NATS in the last ${span(o)}; not yet seen on NATS: ${agentList(c.missing)}${counters}`,
  };
}

export function continuityCheck(o: Observation): Check {
  const name = 'NATS delivered without gaps (JetStream sequence continuity)';
  if (o.consumer.mode === 'none')
    return { name, ok: false, evidence: 'no NATS consumer: the console is not connected' };
  if (o.consumer.mode === 'core')
    return {
      name,
      ok: false,
      evidence:
        'no error stream: errors arrive on a plain subscription, which has no sequence to check',
    };
  const tracked = o.consumer.sequences.filter((s) => s.tracked);
  if (tracked.length === 0)
    return {
      name,
      ok: false,
      evidence: `no consumer covers a whole error stream (${o.consumer.sequences.map((s) => s.stream).join(', ') || 'none'})`,
    };
  const delivered = tracked.reduce((n, s) => n + s.delivered, 0);
  if (delivered === 0)
    return {
      name,
      ok: false,
      evidence: `nothing delivered from ${tracked.map((s) => s.stream).join(', ')} in ${span(o)}: continuity unproven`,
    };
  const parts = tracked.map((s) => {
    const base = `${s.stream}: ${s.delivered} delivered, stream seq ${s.first ?? '-'}..${s.last ?? '-'}`;
    if (s.gaps === 0) return `${base}, no gap`;
    const ranges = s.missing.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
    return `${base}, ${s.gaps} missing (${ranges}${s.missing.length < 10 ? '' : ', ...'})`;
  });
  return { name, ok: tracked.every((s) => s.gaps === 0), evidence: parts.join('; ') };
}

/** The checks that gate `t` (none for a rollback). */
export function preflight(t: Transition, o: Observation): Check[] {
  if (t.direction === 'rollback') return [];
  switch (t.to.phase) {
    case 1:
      return withBridge(o, 1, [
        natsLinkCheck(o),
        ...o.machines.map((m) => machineReachCheck(o, m)),
        streamsCheck(o),
      ]);
    case 2:
      return withBridge(o, 2, [
        coverageCheck(o, 'every agent seen on ZMQ is also seen on NATS'),
        continuityCheck(o),
      ]);
    case 3:
      return withBridge(o, 3, [coverageCheck(o, 'no ZMQ-only publishers')]);
    default:
      return [];
  }
}

export type PortProbe =
  | { result: 'refused' }
  | { result: 'open' }
  | { result: 'timeout'; ms: number }
  | { result: 'error'; code: string; message: string };

/** After 2 -> 3: the error-bus port must refuse connections on every machine. */
export function portClosedCheck(machine: string, endpoint: string, probe: PortProbe): Check {
  const name = `${machine} error bus closed`;
  switch (probe.result) {
    case 'refused':
      return { name, ok: true, evidence: `TCP connect to ${endpoint} refused` };
    case 'open':
      return {
        name,
        ok: false,
        evidence: `TCP connect to ${endpoint} succeeded: the port is still open`,
      };
    case 'timeout':
      return {
        name,
        ok: false,
        evidence: `no answer from ${endpoint} in ${probe.ms} ms: cannot tell closed from filtered`,
      };
    case 'error':
      return { name, ok: false, evidence: `${endpoint}: ${probe.code} ${probe.message}` };
  }
}
