// The sim overrides file: per-agent protocol, error formats, VRAM and start-up behaviour, per
// machine GPU and RAM. The format is documented at the top of examples/sim-overrides.yaml.
// Every problem is reported with its path; a file with any problem is refused as a whole.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  HEALTH_PROTOCOLS,
  METRICS_MODES,
  type HealthProtocol,
  type MetricsMode,
} from '../core/health/replies.js';
import {
  NATS_LIBRARIES,
  ZMQ_VARIANTS,
  type NatsLibrary,
  type ZmqVariant,
} from '../core/errors/encode.js';

export interface AgentOverride {
  protocol?: HealthProtocol;
  error_variant?: ZmqVariant | 'none';
  nats_library?: NatsLibrary | 'none';
  vram_mb?: number;
  slow_ms?: number;
  degraded?: boolean;
  down?: boolean;
  flood_per_s?: number;
  /**
   * true: binds the first free port from 5000 as upstream's BaseAgent does when its code never
   * passes the port; false: its configured ports. Default: what its upstream code does.
   */
  free_port?: boolean;
}

export interface MachineOverride {
  gpu?: string;
  vram_total_mb?: number;
  ram_total_mb?: number;
}

export interface SimOverrides {
  defaults: AgentOverride;
  /** Keyed by `Name` (every machine) or `machine/Name`. */
  agents: Record<string, AgentOverride>;
  machines: Record<string, MachineOverride>;
  seed?: number;
  /** Background errors per second per machine. */
  error_rate?: number;
  /**
   * How ZMQ error frames reach a machine's bus. `upstream` (default): each agent owns the
   * sockets upstream's code opens (ErrorPublisher and ForPC2 connect a PUB, PC2ErrorPublisher
   * binds one, CentralErrorBus re-publishes IPC input on its bound PUB), so what upstream loses
   * is lost here too (see sim/wiring.ts). `collector`: a fleet that does not exist upstream,
   * where every publisher hands its frames to one PUB the machine binds on its error-bus port.
   */
  wiring?: 'collector' | 'upstream';
  /** The upstream env the agents see in `upstream` wiring: ERROR_BUS_HOST, MAINPC_ERROR_BUS_HOST, ... */
  wiring_env?: Record<string, string>;
  /**
   * Seconds BaseAgent's Redis ready key lives (`setex 300`, never refreshed): after it, every
   * BaseAgent answers `degraded`. 0 keeps them ready (a fleet whose key is refreshed).
   */
  ready_ttl_s?: number;
  /** What BaseAgent's /metrics answers (see MetricsMode); default `upstream`. */
  metrics?: MetricsMode;
}

export type OverridesResult =
  { ok: true; overrides: SimOverrides } | { ok: false; problems: string[] };

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

const AGENT_KEYS: Record<keyof AgentOverride, (v: unknown) => string | undefined> = {
  protocol: (v) => oneOf(v, HEALTH_PROTOCOLS),
  error_variant: (v) => oneOf(v, [...ZMQ_VARIANTS, 'none']),
  nats_library: (v) => oneOf(v, [...NATS_LIBRARIES, 'none']),
  vram_mb: (v) => count(v),
  slow_ms: (v) => count(v),
  degraded: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  down: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  flood_per_s: (v) => count(v),
  free_port: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
};

const MACHINE_KEYS: Record<keyof MachineOverride, (v: unknown) => string | undefined> = {
  gpu: (v) => (typeof v === 'string' && v !== '' ? undefined : 'must be a GPU name'),
  vram_total_mb: (v) => count(v),
  ram_total_mb: (v) => count(v),
};

function oneOf(v: unknown, allowed: readonly string[]): string | undefined {
  return typeof v === 'string' && allowed.includes(v)
    ? undefined
    : `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`;
}

function count(v: unknown): string | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
    ? undefined
    : `must be a number >= 0 (got ${JSON.stringify(v)})`;
}

function checkEntry<T extends object>(
  value: unknown,
  path: string,
  rules: Record<string, (v: unknown) => string | undefined>,
  problems: string[],
): T {
  if (!isDict(value)) {
    problems.push(`${path}: must be a mapping of ${Object.keys(rules).join(', ')}`);
    return {} as T;
  }
  for (const [key, v] of Object.entries(value)) {
    const rule = rules[key];
    if (!rule)
      problems.push(`${path}.${key}: unknown key (known: ${Object.keys(rules).join(', ')})`);
    else {
      const why = rule(v);
      if (why) problems.push(`${path}.${key}: ${why}`);
    }
  }
  return value as T;
}

/** Checks a parsed overrides document. */
// Long: one check per key of the overrides file, in the file's documented order.
export function checkOverrides(data: unknown, file: string): OverridesResult {
  const problems: string[] = [];
  if (data === null || data === undefined)
    return { ok: true, overrides: { defaults: {}, agents: {}, machines: {} } };
  if (!isDict(data))
    return {
      ok: false,
      problems: [
        `${file}: must be a mapping with agents:, machines:, defaults:, seed:, error_rate:`,
      ],
    };
  const top = [
    'agents',
    'machines',
    'defaults',
    'seed',
    'error_rate',
    'wiring',
    'wiring_env',
    'ready_ttl_s',
    'metrics',
  ];
  for (const key of Object.keys(data))
    if (!top.includes(key))
      problems.push(`${file}: ${key}: unknown key (known: ${top.join(', ')})`);
  const defaults =
    data.defaults === undefined
      ? {}
      : checkEntry<AgentOverride>(data.defaults, `${file}: defaults`, AGENT_KEYS, problems);
  // A mapping of name -> settings, each entry checked against its known keys.
  const section = <T extends object>(
    key: string,
    what: string,
    known: Record<string, (v: unknown) => string | undefined>,
  ) => {
    const out: Record<string, T> = {};
    const value = data[key];
    if (value === undefined) return out;
    if (!isDict(value)) problems.push(`${file}: ${key}: must be a mapping of ${what} to settings`);
    else
      for (const [name, entry] of Object.entries(value))
        out[name] = checkEntry<T>(entry, `${file}: ${key}.${name}`, known, problems);
    return out;
  };
  const agents = section<AgentOverride>('agents', 'agent name (or machine/name)', AGENT_KEYS);
  const machines = section<MachineOverride>('machines', 'machine id', MACHINE_KEYS);
  if (data.seed !== undefined && !(typeof data.seed === 'number' && Number.isInteger(data.seed)))
    problems.push(`${file}: seed: must be an integer`);
  if (data.error_rate !== undefined && count(data.error_rate))
    problems.push(`${file}: error_rate: ${count(data.error_rate)}`);
  if (data.ready_ttl_s !== undefined && count(data.ready_ttl_s))
    problems.push(`${file}: ready_ttl_s: ${count(data.ready_ttl_s)}`);
  if (data.metrics !== undefined && oneOf(data.metrics, METRICS_MODES))
    problems.push(`${file}: metrics: ${oneOf(data.metrics, METRICS_MODES)}`);
  if (data.wiring !== undefined && oneOf(data.wiring, ['collector', 'upstream']))
    problems.push(`${file}: wiring: ${oneOf(data.wiring, ['collector', 'upstream'])}`);
  if (
    data.wiring_env !== undefined &&
    !(
      isDict(data.wiring_env) &&
      Object.values(data.wiring_env).every((v) => typeof v === 'string' || typeof v === 'number')
    )
  ) {
    problems.push(
      `${file}: wiring_env: must be a mapping of variable name to value (ERROR_BUS_HOST: 127.0.0.1)`,
    );
  }
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    overrides: {
      defaults,
      agents,
      machines,
      ...(typeof data.seed === 'number' ? { seed: data.seed } : {}),
      ...(typeof data.error_rate === 'number' ? { error_rate: data.error_rate } : {}),
      ...(data.wiring === 'collector' || data.wiring === 'upstream' ? { wiring: data.wiring } : {}),
      ...(typeof data.ready_ttl_s === 'number' ? { ready_ttl_s: data.ready_ttl_s } : {}),
      ...(typeof data.metrics === 'string' ? { metrics: data.metrics as MetricsMode } : {}),
      ...(isDict(data.wiring_env)
        ? {
            wiring_env: Object.fromEntries(
              Object.entries(data.wiring_env).map(([k, v]) => [k, String(v)]),
            ),
          }
        : {}),
    },
  };
}

export function readOverrides(file: string): OverridesResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return {
      ok: false,
      problems: [
        `cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      ],
    };
  }
  let data: unknown;
  try {
    data = parse(text, { uniqueKeys: true });
  } catch (error) {
    return {
      ok: false,
      problems: [`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`],
    };
  }
  return checkOverrides(data, file);
}
