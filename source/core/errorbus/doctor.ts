// `opsdeck errorbus doctor` and the scorecard's error-bus lines: per machine who binds what on
// the error-bus ports, whose errors are lost without the bridge (and whose even with it), the
// streams' subject overlaps, and the phase each machine is effectively in, whatever KV says.
// Pure: the topology (config + env + probes + running bridges), what the data plane observed,
// the streams and the KV phase go in; a diagnosis with its reasons comes out.
import type { PublisherStats } from '../errors/pipeline.js';
import { PHASES, type PhaseNumber, type PhaseValue } from './phase.js';
import { judgeStreams, type StreamObs, type StreamVerdict } from './streams.js';
import type { Delivery, PortReport, Route, Topology } from './topology.js';

/** What a running bridge last said about itself (opsdeck.<machine>.bridge). */
export interface BridgeObs {
  machine: string;
  state: string;
  received: number;
  published: number;
  duplicates: number;
  dropped: number;
  queued: number;
  nats: string;
  endpoints: Array<{ endpoint: string; mode: string; state: string }>;
  /** When this bridge process started (ms): a new value means it restarted. */
  since?: number;
  /** How old the status is (ms). */
  ageMs: number;
}

export interface DoctorInput {
  topology: Topology;
  machines: ReadonlyArray<{ id: string; host: string }>;
  /** Bridges heard from, by machine (fresh statuses only). */
  bridges: Readonly<Record<string, BridgeObs | undefined>>;
  kv?: PhaseValue | { error: string };
  streams?: StreamObs[] | { error: string };
  publishers: readonly PublisherStats[];
  now: number;
  windowMs: number;
}

export type Reach = 'native' | 'bridge' | 'zmq' | 'nobody';

export interface PublisherDiagnosis {
  agent: string;
  variant: string;
  /**
   * Where its errors go now: what was seen in the window first (natively on NATS, through the
   * bridge, on ZMQ), else what config and env predict (`observed` false).
   */
  reach: Reach;
  route: Route;
  /** Seen in the window: natively on NATS / through the bridge / on a ZMQ bus. */
  seenNative: boolean;
  seenBridged: boolean;
  seenZmq: boolean;
  observed: boolean;
  /** What the claim rests on, in words: the counts seen, or "predicted from config and env". */
  evidence: string;
  /** The prediction the traffic contradicts, when it does (the model is wrong, not the traffic). */
  contradicted?: string;
}

export interface MachineDiagnosis {
  id: string;
  host: string;
  ports: PortReport[];
  bridge?: BridgeObs;
  publishers: PublisherDiagnosis[];
  /** Publishers whose errors reach no one today and reach NATS once this fleet's bridges run. */
  lostWithoutBridge: PublisherDiagnosis[];
  /** Publishers no bridge helps (upstream's sockets), with the fix. */
  lostEvenWithBridge: PublisherDiagnosis[];
  effective: { phase: PhaseNumber; name: string; why: string };
}

export interface Diagnosis {
  kv?: PhaseValue | { error: string };
  streams?: StreamVerdict | { error: string };
  machines: MachineDiagnosis[];
  /** Problems worth an exit code 1: errors reaching no one, streams not right, a machine behind KV. */
  findings: string[];
}

const seen = (last: number | undefined, i: DoctorInput) =>
  last !== undefined && last > i.now - i.windowMs;

function publisherOf(route: Route, i: DoctorInput): PublisherDiagnosis {
  const mine = i.publishers.filter(
    (p) => p.agent === route.agent && (p.machine === route.machine || p.machine === 'any'),
  );
  // Seen only on another machine's bus (an ipc publisher beside that machine's CentralErrorBus,
  // a frame that names the wrong machine): still evidence that its errors reach someone.
  const elsewhere = mine.length === 0 ? i.publishers.filter((p) => p.agent === route.agent) : [];
  const stats = [...mine, ...elsewhere];
  const recent = (pick: (p: PublisherStats) => number | undefined) =>
    stats.some((p) => seen(pick(p), i));
  const seenNative = recent((p) => p.lastNats);
  const seenBridged = recent((p) => p.lastBridged);
  const seenZmq = recent((p) => p.lastZmq);
  const observed = seenNative || seenBridged || seenZmq;
  const predicted = route.now.to;
  const reach: Reach = seenNative
    ? 'native'
    : seenBridged
      ? 'bridge'
      : seenZmq
        ? 'zmq'
        : predicted === 'nats'
          ? 'bridge'
          : predicted === 'zmq'
            ? 'zmq'
            : 'nobody';
  const sum = (pick: (p: PublisherStats) => number | undefined) =>
    stats.reduce((n, p) => n + (pick(p) ?? 0), 0);
  const minutes = Math.round(i.windowMs / 60_000);
  const where = elsewhere.length
    ? ` (on ${[...new Set(elsewhere.map((p) => p.machine))].join(', ')}'s bus)`
    : '';
  const evidence = observed
    ? `seen in the last ${minutes} min: ${sum((p) => p.nats)} natively on NATS, ${sum((p) => p.bridged)} through the bridge, ${sum((p) => p.zmq)} on ZMQ${where}`
    : `not seen in the last ${minutes} min; predicted from config and env`;
  // The prediction is about the ZMQ route: native NATS copies say nothing about it.
  const contradicted =
    (seenZmq || seenBridged) && predicted === 'nobody'
      ? `config and env predict ${route.now.why}, yet its errors arrived (${evidence.replace(/^seen in the last \d+ min: /, '')}): the prediction is wrong (its real env or sockets differ)`
      : undefined;
  return {
    agent: route.agent,
    variant: route.variant,
    reach,
    route,
    seenNative,
    seenBridged,
    seenZmq,
    observed,
    evidence,
    ...(contradicted ? { contradicted } : {}),
  };
}

const list = (ps: readonly PublisherDiagnosis[], max = 8): string => {
  const names = [...new Set(ps.map((p) => p.agent))];
  return names.length > max
    ? `${names.slice(0, max).join(', ')} and ${names.length - max} more`
    : names.join(', ');
};

const name = (n: PhaseNumber) => PHASES[n].name;

/**
 * The phase a machine's errors are really in: 0 while any publisher reaches no one or ZMQ only;
 * else 1 to 3 by what KV says, the bridge's share and whether the error-bus port is closed.
 */
function effectivePhase(
  publishers: readonly PublisherDiagnosis[],
  ports: readonly PortReport[],
  bridge: BridgeObs | undefined,
  kvPhase: PhaseNumber | undefined,
): MachineDiagnosis['effective'] {
  const behind = publishers.filter((p) => p.reach === 'nobody' || p.reach === 'zmq');
  if (publishers.length === 0) {
    const p = kvPhase ?? 0;
    return { phase: p, name: name(p), why: 'no ZMQ publishers in the config: as KV says' };
  }
  if (behind.length > 0) {
    const lost = behind.filter((p) => p.reach === 'nobody');
    const zmqOnly = behind.filter((p) => p.reach === 'zmq');
    return {
      phase: 0,
      name: name(0),
      why: [
        lost.length ? `errors of ${list(lost)} reach no one` : '',
        zmqOnly.length ? `errors of ${list(zmqOnly)} reach ZMQ only, not NATS` : '',
      ]
        .filter(Boolean)
        .join('; '),
    };
  }
  const native = publishers.filter((p) => p.reach === 'native').length;
  const bridged = publishers.filter((p) => p.reach === 'bridge').length;
  const how = `every publisher reaches NATS (${native} natively, ${bridged} through the bridge)`;
  const closed =
    ports.every((p) => p.probe?.holder === 'none') && !(bridge && bridge.state === 'running');
  if ((kvPhase ?? 0) >= 3 && bridged === 0 && closed)
    return { phase: 3, name: name(3), why: `${how}; the error-bus port is closed` };
  if ((kvPhase ?? 0) >= 3)
    return {
      phase: 2,
      name: name(2),
      why: `${how}, but ${bridged > 0 ? `${bridged} only through the bridge (phase 3 needs native NATS publishers)` : 'the error-bus port is still open'}`,
    };
  if ((kvPhase ?? 0) === 2)
    return { phase: 2, name: name(2), why: `${how}; consumers read NATS (KV)` };
  return {
    phase: 1,
    name: name(1),
    why: `${how}${kvPhase === 0 ? '; KV still says 0: advancing to 1 needs no agent change' : ''}`,
  };
}

/** One machine: its publishers, who is lost with and without the bridge, its ports and phase. */
function diagnoseMachine(
  m: DoctorInput['machines'][number],
  i: DoctorInput,
  kvPhase: PhaseNumber | undefined,
): MachineDiagnosis {
  const own = i.topology.routes.filter((r) => r.machine === m.id && r.copy === 'own');
  const publishers = own.map((r) => publisherOf(r, i));
  // Lost only while no traffic says otherwise: a publisher whose errors arrive is not lost.
  const lostWithout = publishers.filter(
    (p) =>
      p.route.withoutBridge.to === 'nobody' &&
      p.route.withBridge.to === 'nats' &&
      !p.seenNative &&
      !p.seenZmq,
  );
  const lostEven = publishers.filter((p) => p.route.withBridge.to === 'nobody' && !p.observed);
  const ports = i.topology.ports.filter((p) => p.machine === m.id);
  const bridge = i.bridges[m.id];
  return {
    id: m.id,
    host: m.host,
    ports,
    ...(bridge ? { bridge } : {}),
    publishers,
    lostWithoutBridge: lostWithout,
    lostEvenWithBridge: lostEven,
    effective: effectivePhase(publishers, ports, bridge, kvPhase),
  };
}

/**
 * A machine's problems worth an exit code 1: behind KV, errors reaching no one, predictions the
 * traffic contradicts, port mismatches.
 */
function machineFindings(m: MachineDiagnosis, kvPhase: PhaseNumber | undefined): string[] {
  const findings: string[] = [];
  const { effective } = m;
  if (kvPhase !== undefined && effective.phase < kvPhase)
    findings.push(
      `${m.id} is effectively in phase ${effective.phase} ${effective.name} while KV says ${kvPhase} ${name(kvPhase)}: ${effective.why}`,
    );
  for (const p of m.publishers.filter((x) => x.reach === 'nobody')) {
    const d = p.route.now as Extract<Delivery, { to: 'nobody' }>;
    findings.push(
      `${m.id}/${p.agent} (${p.variant}): ${d.why}${d.fix ? `; fix: ${d.fix}` : ''} (${p.evidence})`,
    );
  }
  for (const p of m.publishers)
    if (p.contradicted) findings.push(`${m.id}/${p.agent}: ${p.contradicted}`);
  for (const port of m.ports)
    if (port.mismatch) findings.push(`${m.id} port ${port.port}: ${port.mismatch}`);
  return findings;
}

export function diagnose(i: DoctorInput): Diagnosis {
  const kvPhase: PhaseNumber | undefined = i.kv && 'phase' in i.kv ? i.kv.phase : undefined;
  const streams =
    i.streams === undefined
      ? undefined
      : Array.isArray(i.streams)
        ? judgeStreams(i.streams)
        : i.streams;
  const machines = i.machines.map((m) => diagnoseMachine(m, i, kvPhase));
  const findings = machines.flatMap((m) => machineFindings(m, kvPhase));
  if (streams && 'ok' in streams && !streams.ok) findings.push(`streams: ${streams.evidence}`);
  if (streams && 'error' in streams) findings.push(`streams: ${streams.error}`);
  return { ...(i.kv ? { kv: i.kv } : {}), ...(streams ? { streams } : {}), machines, findings };
}

const deliveryText = (d: Delivery): string =>
  d.to === 'nobody' ? `lost: ${d.why}` : d.to === 'zmq' ? `ZMQ only: ${d.via}` : `NATS: ${d.via}`;

/** The report as lines, for the terminal. */
export function doctorLines(d: Diagnosis): string[] {
  const out: string[] = [];
  out.push(
    `phase in KV: ${!d.kv ? 'unknown (no NATS)' : 'error' in d.kv ? `unreadable: ${d.kv.error}` : `${d.kv.phase} ${d.kv.name}`}`,
  );
  out.push(
    `streams: ${!d.streams ? 'unknown (no NATS)' : 'error' in d.streams ? `cannot list: ${d.streams.error}` : `${d.streams.ok ? 'ok' : 'NOT ok'}: ${d.streams.evidence}`}`,
  );
  if (d.streams && 'overlaps' in d.streams)
    for (const [a, b] of d.streams.overlaps)
      out.push(`  overlap: ${a} and ${b} claim the same subjects`);
  for (const m of d.machines) {
    out.push('');
    out.push(
      `${m.id} (${m.host}): effectively phase ${m.effective.phase} ${m.effective.name}: ${m.effective.why}`,
    );
    for (const p of m.ports) {
      out.push(
        `  port ${p.port}: config: ${p.expected.by}; probe: ${p.probe ? `${p.probe.holder}${p.probe.detail ? ` (${p.probe.detail})` : ''}` : 'not probed'}`,
      );
      if (p.connecting.length)
        out.push(`    PUBs that config and env aim here: ${p.connecting.join(', ')}`);
      if (p.binding.length)
        out.push(`    PC2ErrorPublishers that config and env bind here: ${p.binding.join(', ')}`);
      if (p.bridge) out.push(`    bridge: ${p.bridge.mode} a SUB (${p.bridge.why})`);
      if (p.mismatch) out.push(`    MISMATCH: ${p.mismatch}`);
    }
    out.push(
      m.bridge
        ? `  bridge: ${m.bridge.state}, ${m.bridge.received} received, ${m.bridge.published} stored, ${m.bridge.duplicates} duplicates, ${m.bridge.dropped} dropped, ${m.bridge.queued} queued, NATS ${m.bridge.nats} (${m.bridge.endpoints.map((e) => `${e.endpoint} ${e.state}`).join(', ')})`
        : `  bridge: not running (start: opsdeck agent --machine ${m.id} --bridge)`,
    );
    out.push(
      `  lost without the bridge (${new Set(m.lostWithoutBridge.map((p) => p.agent)).size}): ${list(m.lostWithoutBridge, 20) || 'none'}`,
    );
    out.push(
      `  lost even with the bridge (${new Set(m.lostEvenWithBridge.map((p) => p.agent)).size}): ${list(m.lostEvenWithBridge, 20) || 'none'}`,
    );
    for (const p of m.publishers) {
      const seenAs =
        p.reach === 'native'
          ? 'NATS natively'
          : p.reach === 'bridge' && p.seenBridged
            ? 'NATS through the bridge'
            : p.reach === 'zmq' && p.seenZmq
              ? 'ZMQ'
              : deliveryText(p.route.now);
      out.push(
        `    ${p.agent} (${p.variant}, ${p.route.socket}${p.route.endpoint ? ` ${p.route.endpoint.host}:${p.route.endpoint.port}` : ''}): ${seenAs} [${p.evidence}]`,
      );
      if (p.contradicted) out.push(`      CONTRADICTED: ${p.contradicted}`);
      const fix = p.route.withBridge.to === 'nobody' ? p.route.withBridge.fix : undefined;
      if (fix && !p.observed) out.push(`      fix: ${fix}`);
    }
  }
  return out;
}

/** The scorecard's error-bus lines (P1.3): per machine, then the streams. */
// Long: a table, one scorecard row per check, in the order the scorecard shows them.
export function doctorMetrics(d: Diagnosis): Array<{
  label: string;
  value: string;
  verdict: 'good' | 'warn' | 'bad' | 'unknown';
  note?: string;
}> {
  const kv = d.kv && 'phase' in d.kv ? d.kv.phase : undefined;
  const out: Array<{
    label: string;
    value: string;
    verdict: 'good' | 'warn' | 'bad' | 'unknown';
    note?: string;
  }> = [];
  for (const m of d.machines) {
    const e = m.effective;
    out.push({
      label: `${m.id}: effectively in phase`,
      value: `${e.phase} ${e.name}`,
      verdict: kv !== undefined && e.phase < kv ? 'bad' : e.phase === 0 ? 'warn' : 'good',
      note: e.why.slice(0, 120),
    });
    for (const p of m.ports) {
      const probed = p.probe
        ? `${p.probe.holder === 'none' ? 'nothing listens' : p.probe.holder === 'sub' ? 'SUB bound' : p.probe.holder === 'pub' ? 'PUB bound' : p.probe.holder}`
        : 'not probed';
      out.push({
        label: `${m.id}: port ${p.port}`,
        value: `${probed}; config: ${p.expected.by}`.slice(0, 90),
        verdict: p.mismatch ? 'warn' : 'unknown',
        ...(p.mismatch ? { note: p.mismatch } : {}),
      });
    }
    const heard = m.publishers.filter((p) => p.observed);
    const contradicted = m.publishers.filter((p) => p.contradicted);
    out.push({
      label: `${m.id}: publishers heard from`,
      value: `${new Set(heard.map((p) => p.agent)).size}/${new Set(m.publishers.map((p) => p.agent)).size} (${heard.filter((p) => p.seenNative).length} natively on NATS, ${heard.filter((p) => p.seenBridged).length} through the bridge, ${heard.filter((p) => p.seenZmq).length} on ZMQ)`,
      verdict: 'unknown',
      note: 'observed in the window; the rest of this section is predicted from config and env',
    });
    if (contradicted.length)
      out.push({
        label: `${m.id}: predictions the traffic contradicts`,
        value: `${contradicted.length}: ${list(contradicted, 4)}`,
        verdict: 'warn',
        note: contradicted[0]!.contradicted!.slice(0, 120),
      });
    const without = [...new Set(m.lostWithoutBridge.map((p) => p.agent))];
    const bridged = m.bridge !== undefined && m.bridge.state === 'running';
    out.push({
      label: `${m.id}: lost without the bridge`,
      value: without.length
        ? `${without.length}: ${without.slice(0, 5).join(', ')}${without.length > 5 ? ', …' : ''}`
        : 'none',
      verdict: without.length === 0 ? 'good' : bridged ? 'good' : 'bad',
      note: bridged
        ? `bridge running: ${m.bridge!.published} stored, ${m.bridge!.dropped} dropped`
        : without.length
          ? `start opsdeck agent --machine ${m.id} --bridge`
          : 'bridge not running',
    });
    const even = [...new Set(m.lostEvenWithBridge.map((p) => p.agent))];
    const fix = m.lostEvenWithBridge[0]?.route.withBridge;
    out.push({
      label: `${m.id}: lost even with the bridge`,
      value: even.length
        ? `${even.length}: ${even.slice(0, 5).join(', ')}${even.length > 5 ? ', …' : ''}`
        : 'none',
      verdict: even.length ? 'bad' : 'good',
      ...(fix && fix.to === 'nobody' && fix.fix ? { note: `fix: ${fix.fix}`.slice(0, 120) } : {}),
    });
  }
  const s = d.streams;
  if (s && 'overlaps' in s)
    out.push({
      label: 'stream subject overlaps',
      value: s.overlaps.length ? s.overlaps.map(([a, b]) => `${a}/${b}`).join(', ') : 'none',
      verdict: s.overlaps.length ? 'bad' : 'good',
      ...(s.ok ? {} : { note: 'opsdeck errorbus fix-streams' }),
    });
  else
    out.push({
      label: 'stream subject overlaps',
      value: 'unknown',
      verdict: 'unknown',
      note: s && 'error' in s ? s.error : 'needs NATS',
    });
  return out;
}
