// Makes plausible errors for an agent: the types and messages the fleet's logs are full of,
// with severities weighted like a normal day (mostly error and warning, some critical).
import type { SimError, SimSeverity } from '../core/errors/encode.js';
import { hash32, rng, uuidNext } from '../core/seeded.js';

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
  {
    type: 'ConnectionError',
    severity: 'error',
    message: (c, pick) =>
      `Connection refused connecting to ${pick(c.dependencies.length ? c.dependencies : ['SystemDigitalTwin'])} (tcp://${c.host}:${pick([7220, 7200, 5713, 7150])})`,
  },
  {
    type: 'TimeoutError',
    severity: 'warning',
    message: (c, pick) =>
      `Timeout waiting for response from ${pick(c.dependencies.length ? c.dependencies : ['ServiceRegistry'])} after 5000 ms`,
  },
  {
    type: 'RedisConnectionError',
    severity: 'error',
    message: () => 'Error 111 connecting to localhost:6379. Connection refused.',
  },
  { type: 'ValueError', severity: 'warning', message: () => 'Invalid JSON request' },
  {
    type: 'KeyError',
    severity: 'error',
    message: (_c, pick) => `'${pick(['request_id', 'action', 'model_name', 'session_id'])}'`,
  },
  {
    type: 'HealthCheckWarning',
    severity: 'info',
    message: (c) => `${c.agent} ready signal expired (agent:ready:${c.agent})`,
  },
  {
    type: 'MemoryError',
    severity: 'critical',
    gpuOnly: true,
    message: (_c, pick) =>
      `CUDA out of memory. Tried to allocate ${pick(['256.00', '512.00', '1.50'])} ${pick(['MiB', 'MiB', 'GiB'])} (GPU 0; reserved in total by PyTorch)`,
  },
  {
    type: 'RuntimeError',
    severity: 'critical',
    message: (_c, pick) =>
      `${pick(['Worker thread died', 'Event loop is closed', 'Model kernel crashed'])}`,
  },
];

// A normal day: errors and warnings dominate.
const WEIGHTS: [SimSeverity, number][] = [
  ['error', 0.5],
  ['warning', 0.3],
  ['info', 0.1],
  ['critical', 0.1],
];

// Candidate templates, computed once per key: a 20k/s flood asks the same question each time.
const CANDIDATES = new Map<string, Template[]>();
function candidates(type: string | undefined, severity: SimSeverity, gpu: boolean): Template[] {
  const key = type ? `t:${type}` : `s:${severity}:${gpu}`;
  let found = CANDIDATES.get(key);
  if (!found) {
    found = TEMPLATES.filter((t) =>
      type ? t.type === type : t.severity === severity && (!t.gpuOnly || gpu),
    );
    CANDIDATES.set(key, found);
  }
  return found;
}

export class ErrorMaker {
  private readonly idStream: () => number;

  constructor(
    private readonly random: () => number,
    seed: number,
  ) {
    // Ids repeat run to run for a seed (same faults in the same order give the same ids).
    this.idStream = rng(hash32(`ids/${seed}`));
  }

  private pick = <T>(xs: readonly T[]): T => xs[Math.floor(this.random() * xs.length)]!;

  /** A random error, or one of `type` when given (floods repeat one type, as real floods do). */
  make(
    c: ErrorContext,
    now: number,
    want?: { type?: string; severity?: SimSeverity; message?: string },
  ): SimError {
    const roll = this.random();
    let acc = 0;
    let severity: SimSeverity = 'error';
    for (let i = 0; i < WEIGHTS.length; i++) {
      acc += WEIGHTS[i]![1];
      if (roll < acc) {
        severity = WEIGHTS[i]![0];
        break;
      }
    }
    const type = want?.type;
    const found = candidates(type, severity, c.usesGpu);
    const template = found.length ? this.pick(found) : TEMPLATES[0]!;
    return {
      id: uuidNext(this.idStream),
      natsId: uuidNext(this.idStream),
      at: now,
      machine: c.machine,
      agent: c.agent,
      errorType: type ?? template.type,
      severity: want?.severity ?? (type ? template.severity : severity),
      message: want?.message ?? template.message(c, this.pick),
      details: { host: c.host },
      host: c.host,
    };
  }
}
