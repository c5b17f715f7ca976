// `opsdeck agent`: the per-machine daemon. Publishes this machine's resources on
// opsdeck.<machine>.resources every interval and answers opsdeck.<machine>.control: status and
// ResourceManager's read-only actions for anyone, set_thresholds / set_throttle only with a JWT
// for this machine (--jwks); without a JWKS it refuses every state change and says why.
import type { NatsConnection, Subscription } from 'nats';
import { sanitise } from '../core/errors/sanitise.js';
import { resourcesSubject, type ResourceSample } from '../core/resources/sample.js';
import { GpuSampler, sampleMachine } from '../adapters/system-sampler.js';
import { ZmqPirate } from '../adapters/zmq-probe.js';
import { decodeBody, machineControl, type ControlAuth } from '../core/resources/machine-control.js';
import { initialRmState, type RmState, type RmStats } from '../core/resources/resource-manager.js';
import type { Log } from '../adapters/journal.js';

export const controlSubject = (machine: string) => `opsdeck.${machine}.control`;

export interface AgentOptions {
  machine: string;
  intervalMs: number;
  gpu?: GpuSampler;
  /** Log lines (one per event worth telling an operator), with a syslog priority. */
  log: Log;
  /** How state-changing control requests are checked; default: refused (no JWKS given). */
  auth?: ControlAuth;
  /** Upstream ResourceManager (tcp://127.0.0.1:7113): applied changes are forwarded to it. */
  resourceManager?: string;
  /** Published with every sample, so the console can tell an old or a restarted agent. */
  version?: string;
  /** ms since the epoch; default: when runAgent is called. */
  startedAt?: number;
}

export const NO_JWKS: ControlAuth = {
  mode: 'refuse',
  reason:
    'this agent was started without --jwks, so it cannot verify who sent a request and changes nothing (start it with --jwks FILE)',
};

/** ResourceManager's view of this machine, from the last sample. */
function statsOf(sample: ResourceSample | undefined): RmStats {
  const MB = 1024 * 1024;
  const total = sample?.ramTotalMb ?? 0;
  const used = sample?.ramUsedMb ?? 0;
  return {
    cpuPercent: sample?.cpuPct ?? 0,
    memoryPercent: total > 0 ? Math.round((used / total) * 1000) / 10 : 0,
    memoryAvailable: Math.max(0, total - used) * MB,
    memoryTotal: total * MB,
    diskPercent: 0,
    gpuAllocatedBytes: (sample?.gpu?.usedMb ?? 0) * MB,
    gpuReservedBytes: (sample?.gpu?.usedMb ?? 0) * MB,
    gpuTotalBytes: (sample?.gpu?.totalMb ?? 0) * MB,
  };
}

export interface RunningAgent {
  last(): ResourceSample | undefined;
  stop(): Promise<void>;
}

export function runAgent(nc: NatsConnection, options: AgentOptions): RunningAgent {
  const gpu = options.gpu ?? new GpuSampler();
  const encoder = new TextEncoder();
  let last: ResourceSample | undefined;
  let rm: RmState = initialRmState();
  const auth = options.auth ?? NO_JWKS;
  const upstream = options.resourceManager
    ? new ZmqPirate(options.resourceManager, 5000)
    : undefined;
  let gpuNote: string | undefined;
  let stopped = false;
  const startedAt = options.startedAt ?? Date.now();

  const tick = async () => {
    try {
      const sample = await sampleMachine(options.machine, gpu, rm.throttle);
      const note =
        sample.gpuState === 'error'
          ? `GPU: ${sample.gpuError}`
          : sample.gpuState === 'absent'
            ? 'GPU: no nvidia-smi here, publishing without GPU'
            : undefined;
      if (note !== gpuNote && note)
        options.log(note, sample.gpuState === 'error' ? 'warning' : 'info');
      gpuNote = note;
      const { gpuState: _state, gpuError: _error, ...measured } = sample;
      const wire: ResourceSample = {
        ...measured,
        ...(options.version ? { version: options.version } : {}),
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
      };
      last = wire;
      if (!stopped)
        nc.publish(resourcesSubject(options.machine), encoder.encode(JSON.stringify(wire)));
    } catch (error) {
      options.log(`sampling failed: ${(error as Error).message}`, 'err');
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), options.intervalMs);

  const control: Subscription = nc.subscribe(controlSubject(options.machine));
  void (async () => {
    for await (const m of control) {
      const body = decodeBody(m.data);
      if (body === undefined) {
        m.respond(
          encoder.encode(
            JSON.stringify({ ok: false, error: 'request is not JSON: expected {"action": ...}' }),
          ),
        );
        continue;
      }
      // Read-only status needs no token; state changes are checked in machineControl.
      if (
        typeof body === 'object' &&
        body !== null &&
        (body as { action?: unknown }).action === 'status'
      ) {
        m.respond(
          encoder.encode(
            JSON.stringify({ ok: true, machine: options.machine, sample: last ?? null }),
          ),
        );
        continue;
      }
      const result = machineControl(body, {
        machine: options.machine,
        rm,
        stats: statsOf(last),
        now: Date.now(),
        auth,
      });
      rm = result.state;
      const reply: Record<string, unknown> = { ...result.reply };
      if (result.change) {
        const c = result.change;
        options.log(
          `control ${sanitise(c.action)}: ${c.applied ? `applied${c.subject ? ` for ${sanitise(c.subject).slice(0, 64)}` : ''}` : `not applied: ${sanitise(c.reason ?? '')}`}`,
          c.applied ? 'notice' : 'warning',
        );
        if (c.applied && upstream) {
          // Upstream's ResourceManager gets the same request (it knows set_thresholds; it will
          // answer "Unknown action" to set_throttle, which is shown as it is).
          const { token: _token, ...plain } = body as Record<string, unknown>;
          const r = await upstream.request(JSON.stringify(plain));
          reply.upstream =
            r.kind === 'reply'
              ? safeJson(r.text)
              : {
                  error:
                    r.kind === 'timeout' ? `no reply from ${upstream.endpoint} in 5 s` : r.reason,
                };
        }
      }
      m.respond(encoder.encode(JSON.stringify(reply)));
    }
  })().catch(() => {});

  return {
    last: () => last,
    async stop() {
      stopped = true;
      clearInterval(timer);
      control.unsubscribe();
      upstream?.close();
    },
  };
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { raw: sanitise(text).slice(0, 200) };
  }
};
