// Makes plausible errors for an agent: the types and messages the fleet's logs are full of,
// with severities weighted like a normal day (mostly error and warning, some critical).
import type { SimError, SimSeverity } from '../core/errors/encode.js';
import { uuidFrom } from '../core/seeded.js';

export interface ErrorContext {
  machine: string;
  agent: string;
  host: string;
  dependencies: string[];
  usesGpu: boolean;
}

interface Template {
  type: string;
  severity: SimSeverity;
  gpuOnly?: boolean;
  message: (c: ErrorContext, pick: <T>(xs: readonly T[]) => T) => string;
}

const TEMPLATES: Template[] = [
  { type: 'ConnectionError', severity: 'error', message: (c, pick) => `Connection refused connecting to ${pick(c.dependencies.length ? c.dependencies : ['SystemDigitalTwin'])} (tcp://${c.host}:${pick([7220, 7200, 5713, 7150])})` },
  { type: 'TimeoutError', severity: 'warning', message: (c, pick) => `Timeout waiting for response from ${pick(c.dependencies.length ? c.dependencies : ['ServiceRegistry'])} after 5000 ms` },
  { type: 'RedisConnectionError', severity: 'error', message: () => 'Error 111 connecting to localhost:6379. Connection refused.' },
  { type: 'ValueError', severity: 'warning', message: () => 'Invalid JSON request' },
  { type: 'KeyError', severity: 'error', message: (_c, pick) => `'${pick(['request_id', 'action', 'model_name', 'session_id'])}'` },
  { type: 'HealthCheckWarning', severity: 'info', message: (c) => `${c.agent} ready signal expired (agent:ready:${c.agent})` },
  {
    type: 'MemoryError',
    severity: 'critical',
    gpuOnly: true,
    message: (_c, pick) => `CUDA out of memory. Tried to allocate ${pick(['256.00', '512.00', '1.50'])} ${pick(['MiB', 'MiB', 'GiB'])} (GPU 0; reserved in total by PyTorch)`,
  },
  { type: 'RuntimeError', severity: 'critical', message: (_c, pick) => `${pick(['Worker thread died', 'Event loop is closed', 'Model kernel crashed'])}` },
];

// A normal day: errors and warnings dominate.
const WEIGHTS: Record<SimSeverity, number> = { error: 0.5, warning: 0.3, info: 0.1, critical: 0.1 };

export class ErrorMaker {
  private seq = 0;

  constructor(
    private readonly random: () => number,
    private readonly seed: number,
  ) {}

  private pick = <T>(xs: readonly T[]): T => xs[Math.floor(this.random() * xs.length)]!;

  private nextIds(c: ErrorContext): { id: string; natsId: string } {
    const n = this.seq++;
    const base = `${this.seed}/${c.machine}/${c.agent}/${n}`;
    return { id: uuidFrom(base), natsId: uuidFrom(`${base}/nats`) };
  }

  /** A random error, or one of `type` when given (floods repeat one type, as real floods do). */
  make(c: ErrorContext, now: number, want?: { type?: string; severity?: SimSeverity; message?: string }): SimError {
    const roll = this.random();
    let acc = 0;
    let severity: SimSeverity = 'error';
    for (const [s, w] of Object.entries(WEIGHTS) as [SimSeverity, number][]) {
      acc += w;
      if (roll < acc) {
        severity = s;
        break;
      }
    }
    const candidates = TEMPLATES.filter((t) => (want?.type ? t.type === want.type : t.severity === severity && (!t.gpuOnly || c.usesGpu)));
    const template = candidates.length ? this.pick(candidates) : TEMPLATES[0]!;
    return {
      ...this.nextIds(c),
      at: now,
      machine: c.machine,
      agent: c.agent,
      errorType: want?.type ?? template.type,
      severity: want?.severity ?? (want?.type ? template.severity : severity),
      message: want?.message ?? template.message(c, this.pick),
      details: { host: c.host },
      host: c.host,
    };
  }
}
