// How the phase preflight counts `opsdeck agent --bridge`: a bridged copy is on NATS (consumers
// reading NATS see it) but is not a native NATS publish (it ends when ZMQ does, at phase 3).
//
//   0 -> 1  with a bridge running, phase 1 ("every publisher on both buses") holds without agent
//           changes: every ZMQ publisher must reach NATS, natively or through the bridge
//   1 -> 2  consumers move to NATS: a publisher reaching NATS only through the bridge is covered
//   2 -> 3  ZMQ goes away, and the bridge with it: only native NATS publishers count, and the
//           evidence names the agents that are not there yet (bridged only, or ZMQ only)
import type { PublisherStats } from '../errors/pipeline.js';
import {
  agentList as names,
  inWindow,
  samePublisher,
  span,
  type Check,
  type Observation,
} from './observation.js';

export interface BridgedCoverage {
  /** Publishers seen on ZMQ or through the bridge in the window. */
  seen: PublisherStats[];
  native: PublisherStats[];
  /** Not native, but carried by the bridge. */
  bridgedOnly: PublisherStats[];
  /** Neither: seen on a ZMQ bus only. */
  zmqOnly: PublisherStats[];
}

/** Same agent on NATS natively, from the same machine or from `any` (NATS names no machine). */
export function bridgedCoverage(
  publishers: readonly PublisherStats[],
  now: number,
  windowMs: number,
): BridgedCoverage {
  const within = inWindow(now, windowMs);
  const onNats = publishers.filter((p) => within(p.lastNats));
  const isNative = (p: PublisherStats) => onNats.some((n) => samePublisher(n, p));
  const isBridged = (p: PublisherStats) =>
    publishers.some((b) => within(b.lastBridged) && samePublisher(b, p));
  // One entry per machine/agent that published on ZMQ (directly or through the bridge).
  const seen = publishers.filter(
    (p) => p.machine !== 'any' && (within(p.lastZmq) || within(p.lastBridged)),
  );
  const native = seen.filter(isNative);
  const bridgedOnly = seen.filter((p) => !isNative(p) && isBridged(p));
  const zmqOnly = seen.filter((p) => !isNative(p) && !isBridged(p));
  return { seen, native, bridgedOnly, zmqOnly };
}

/** Whether the window shows a bridge at work. */
export const bridgeSeen = (o: Observation): boolean =>
  o.publishers.some((p) => p.lastBridged !== undefined && p.lastBridged > o.now - o.windowMs);

const split = (c: BridgedCoverage): string =>
  `${c.native.length} natively, ${c.bridgedOnly.length} only through the bridge, ${c.zmqOnly.length} ZMQ only`;

const nothingSeen = (o: Observation, name: string): Check => ({
  name,
  ok: false,
  evidence: `no agent was seen publishing on ZMQ or through the bridge in the last ${span(o)}: nothing to compare (observe longer)`,
});

/** 0 -> 1 with a bridge, and 1 -> 2: every ZMQ publisher reaches NATS, natively or bridged. */
export function reachesNatsCheck(o: Observation, name: string): Check {
  const c = bridgedCoverage(o.publishers, o.now, o.windowMs);
  if (c.seen.length === 0) return nothingSeen(o, name);
  if (c.zmqOnly.length === 0)
    return {
      name,
      ok: true,
      evidence: `${c.seen.length}/${c.seen.length} publishers seen in the last ${span(o)} reach NATS (${split(c)})`,
    };
  return {
    name,
    ok: false,
    evidence: `${c.seen.length - c.zmqOnly.length}/${c.seen.length} reach NATS (${split(c)}); ZMQ only: ${names(c.zmqOnly)} (start \`opsdeck agent --bridge\` on their machine, or see \`opsdeck errorbus doctor\`)`,
  };
}

/** 2 -> 3: native NATS publishers only; names the agents that are not there yet. */
export function nativeOnlyCheck(o: Observation, name: string): Check {
  const c = bridgedCoverage(o.publishers, o.now, o.windowMs);
  if (c.seen.length === 0) return nothingSeen(o, name);
  if (c.bridgedOnly.length === 0 && c.zmqOnly.length === 0)
    return {
      name,
      ok: true,
      evidence: `${c.native.length}/${c.seen.length} publishers seen in the last ${span(o)} publish natively on NATS`,
    };
  const parts = [
    c.bridgedOnly.length
      ? `only through the bridge (lost once ZMQ is off): ${names(c.bridgedOnly)}`
      : '',
    c.zmqOnly.length ? `ZMQ only: ${names(c.zmqOnly)}` : '',
  ].filter(Boolean);
  return {
    name,
    ok: false,
    evidence: `${c.native.length}/${c.seen.length} publish natively on NATS in the last ${span(o)}; not natively on NATS yet: ${parts.join('; ')}`,
  };
}

/**
 * The preflight of an advance to `phase` once a bridge is seen at work in the window (without
 * one, `checks` stand as they are): phase 1 gains the reach check; the coverage check of phases
 * 2 and 3 (first in `checks`) is replaced by the bridge-aware one, under the same name.
 */
export function withBridge(o: Observation, phase: number, checks: Check[]): Check[] {
  if (!bridgeSeen(o)) return checks;
  if (phase === 1)
    return [
      ...checks,
      reachesNatsCheck(
        o,
        'every ZMQ publisher reaches NATS, natively or through the bridge (phase 1 without agent changes)',
      ),
    ];
  const [first, ...rest] = checks;
  if (phase === 2 && first) return [reachesNatsCheck(o, first.name), ...rest];
  if (phase === 3 && first) return [nativeOnlyCheck(o, first.name), ...rest];
  return checks;
}
