// The error-bus diagnosis from a live data plane: the topology from config + env, each error-bus
// port probed (ZMTP greeting: PUB, SUB, something else, nothing), the bridges heard from, what
// the data plane saw published, the streams and the KV phase. Read-only: changes nothing.
// `opsdeck errorbus doctor` runs it once; the console keeps a DoctorStore refreshing it. It
// reads stores and asks adapters, so it lives with the composition, not in a store.
import { BRIDGE_DETAIL } from '../core/errors/bridge.js';
import type { ZmqVariant } from '../core/errors/encode.js';
import type { ErrorFormat } from '../core/errors/event.js';
import { diagnose, type Diagnosis } from '../core/errorbus/doctor.js';
import {
  buildTopology,
  probeKey,
  type ProbeFinding,
  type Topology,
} from '../core/errorbus/topology.js';
import { listStreams } from '../adapters/error-streams.js';
import { readPhase } from '../adapters/phase-kv.js';
import { probeZmtp } from '../adapters/zmtp-probe.js';
import type { Machine } from '../core/fleet/model.js';
import type { NatsLink } from '../adapters/nats-link.js';
import type { BridgeStore } from '../stores/bridge-store.js';
import type { ErrorStore } from '../stores/error-store.js';
import { agentKey } from '../core/fleet/agent-key.js';

export interface DoctorOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Probe the error-bus ports (default true). */
  probe?: boolean;
  probeTimeoutMs?: number;
  /** Judge publishers seen in this last stretch. */
  windowMs?: number;
  now?: () => number;
}

export interface DoctorResult {
  diagnosis: Diagnosis;
  topology: Topology;
}

const VARIANT: Partial<Record<ErrorFormat, ZmqVariant>> = {
  'zmq-a': 'A',
  'zmq-b': 'B',
  'zmq-c': 'C',
  'zmq-d': 'D',
  'zmq-d-cross': 'D',
  'zmq-central': 'central',
};

/**
 * What the doctor reads of a data plane (data-plane.ts's DataPlane has all of it). Named here so
 * that the data plane, which owns a DoctorStore, and the doctor do not import each other.
 */
export interface DoctorPlane {
  machines: readonly Machine[];
  errors: Pick<ErrorStore, 'flush'>;
  bridges: Pick<BridgeStore, 'running'>;
  link: NatsLink | undefined;
}

function observedVariants(plane: DoctorPlane): Record<string, ZmqVariant> {
  const known = new Set(plane.machines.flatMap((m) => m.agents.map((a) => agentKey(m.id, a.name))));
  const out: Record<string, ZmqVariant> = {};
  for (const row of plane.errors.flush().rows) {
    const e = row.event;
    const mark = e.details[BRIDGE_DETAIL] as { format?: string } | undefined;
    const format = (e.bridged ? mark?.format : e.format) as ErrorFormat | undefined;
    const variant = format ? VARIANT[format] : undefined;
    const key = agentKey(e.machine, e.agent);
    // A cross-machine copy names the machine it came from; anything else must be an agent of the config.
    if (variant && known.has(key) && format !== 'zmq-d-cross') out[key] = variant;
  }
  return out;
}

export async function runDoctor(plane: DoctorPlane, options: DoctorOptions): Promise<DoctorResult> {
  const now = (options.now ?? Date.now)();
  const bridges = plane.bridges.running(now);
  const variants = observedVariants(plane);
  const base = {
    machines: plane.machines,
    env: options.env,
    bridges: Object.keys(bridges),
    variants,
  };
  let probes: Record<string, { holder: ProbeFinding; detail?: string }> | undefined;
  if (options.probe !== false) {
    const ports = buildTopology(base).ports;
    const found = await Promise.all(
      ports.map(
        async (p) =>
          [
            probeKey(p.host, p.port),
            await probeZmtp(p.host, p.port, options.probeTimeoutMs ?? 1000),
          ] as const,
      ),
    );
    probes = Object.fromEntries(found);
  }
  const topology = buildTopology({ ...base, ...(probes ? { probes } : {}) });
  const nc = plane.link?.nc;
  const connected =
    plane.link?.getSnapshot().state === 'connected' && nc !== undefined && !nc.isClosed();
  let kv: Diagnosis['kv'];
  let streams: Parameters<typeof diagnose>[0]['streams'];
  if (connected) {
    try {
      const read = await readPhase(nc);
      kv = read.invalid ? { error: `invalid value: ${read.invalid.reason}` } : read.value;
    } catch (error) {
      kv = { error: (error as Error).message };
    }
    try {
      streams = await listStreams(nc);
    } catch (error) {
      streams = { error: (error as Error).message };
    }
  }
  const diagnosis = diagnose({
    topology,
    machines: plane.machines.map((m) => ({ id: m.id, host: m.host })),
    bridges,
    ...(kv ? { kv } : {}),
    ...(streams ? { streams } : {}),
    publishers: plane.errors.flush().publishers,
    now,
    windowMs: options.windowMs ?? 10 * 60_000,
  });
  return { diagnosis, topology };
}
