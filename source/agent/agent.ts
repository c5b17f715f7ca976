// `opsdeck agent`: the per-machine daemon. Publishes this machine's resources on
// opsdeck.<machine>.resources every interval and answers opsdeck.<machine>.control.
import type { NatsConnection, Subscription } from 'nats';
import { sanitise } from '../core/errors/sanitise.js';
import { resourcesSubject, type ResourceSample } from '../core/resources/sample.js';
import { GpuSampler, sampleMachine } from '../adapters/system-sampler.js';

export const controlSubject = (machine: string) => `opsdeck.${machine}.control`;

export interface AgentOptions {
  machine: string;
  intervalMs: number;
  gpu?: GpuSampler;
  /** Log lines (one per event worth telling an operator). */
  log: (line: string) => void;
}

export interface RunningAgent {
  last(): ResourceSample | undefined;
  stop(): Promise<void>;
}

export function runAgent(nc: NatsConnection, options: AgentOptions): RunningAgent {
  const gpu = options.gpu ?? new GpuSampler();
  const encoder = new TextEncoder();
  let last: ResourceSample | undefined;
  let gpuNote: string | undefined;
  let stopped = false;

  const tick = async () => {
    try {
      const sample = await sampleMachine(options.machine, gpu, 0);
      const note = sample.gpuState === 'error' ? `GPU: ${sample.gpuError}` : sample.gpuState === 'absent' ? 'GPU: no nvidia-smi here, publishing without GPU' : undefined;
      if (note !== gpuNote && note) options.log(note);
      gpuNote = note;
      const { gpuState: _state, gpuError: _error, ...wire } = sample;
      last = wire;
      if (!stopped) nc.publish(resourcesSubject(options.machine), encoder.encode(JSON.stringify(wire)));
    } catch (error) {
      options.log(`sampling failed: ${(error as Error).message}`);
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), options.intervalMs);

  const control: Subscription = nc.subscribe(controlSubject(options.machine));
  void (async () => {
    for await (const m of control) {
      let action = '';
      try {
        const body = JSON.parse(new TextDecoder().decode(m.data)) as { action?: unknown };
        action = typeof body.action === 'string' ? body.action : '';
      } catch {
        m.respond(encoder.encode(JSON.stringify({ ok: false, error: 'request is not JSON: expected {"action": ...}' })));
        continue;
      }
      // Read-only status needs no token; state-changing actions (throttle, phase) are verified
      // against a JWT by the actions layer before they reach a machine.
      if (action === 'status') m.respond(encoder.encode(JSON.stringify({ ok: true, machine: options.machine, sample: last ?? null })));
      else m.respond(encoder.encode(JSON.stringify({ ok: false, error: `unsupported action "${sanitise(action).slice(0, 40)}"; supported: status` })));
    }
  })().catch(() => {});

  return {
    last: () => last,
    async stop() {
      stopped = true;
      clearInterval(timer);
      control.unsubscribe();
    },
  };
}
