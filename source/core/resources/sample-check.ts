// Resource samples arrive from the wire: check every field before the console believes it.
// Finite is not enough: `usedMb: -5000` once took the whole console down (a negative bar
// width), and a buggy sampler can send it as easily as an attacker. Every number has the range
// a real machine can report; a sample with one field outside it is refused whole, with the
// field and the value in the reason.
import { sanitise } from '../errors/sanitise.js';
import type { ResourceSample, SampleExporter } from './sample.js';
import { isThrottleLevel, MAX_THROTTLE_LEVEL, type ThrottleReading } from './throttle.js';
import { textOf } from '../text.js';

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

export type SampleCheck = { ok: true; sample: ResourceSample } | { ok: false; reason: string };

/** The largest memory figure believed (MB): 16 TiB of RAM or VRAM is past any machine here. */
const MAX_MB = 16 * 1024 * 1024;
/** Sample times before 2001 or after 2286 are a broken clock or a forgery (ms since the epoch). */
const MIN_TS = 1e12;
const MAX_TS = 1e13;

/** The value when it is a number in [min, max]; else why not, naming the field. */
function inRange(field: string, v: unknown, min: number, max: number, integer = false): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${field} must be a number`;
  if (v < min || v > max || (integer && !Number.isInteger(v)))
    return `${field} ${v} is out of range (${integer ? 'an integer ' : ''}${min}-${max})`;
  return '';
}

/** The first field out of its range, or '' when every one is in. */
const firstProblem = (checks: readonly string[]): string => checks.find((c) => c !== '') ?? '';

// Long: one check per sample field, in the schema's order; each is a few lines.
export function checkSample(value: unknown): SampleCheck {
  if (!isDict(value)) return { ok: false, reason: 'not a JSON object' };
  const { machine, ts, source, gpu, cpuPct, ramTotalMb, ramUsedMb, throttleLevel, agents } = value;
  const throttle = checkThrottle(value.throttle);
  const exporter = checkExporter(value.exporter);
  if (typeof machine !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(machine))
    return { ok: false, reason: 'machine must be a short name' };
  const total = typeof ramTotalMb === 'number' ? ramTotalMb : 0;
  const problem = firstProblem([
    inRange('ts', ts, MIN_TS, MAX_TS),
    inRange('cpuPct', cpuPct, 0, 100),
    inRange('ramTotalMb', ramTotalMb, 0, MAX_MB),
    inRange('ramUsedMb', ramUsedMb, 0, total),
    throttleLevel === undefined
      ? ''
      : inRange('throttleLevel', throttleLevel, 0, MAX_THROTTLE_LEVEL, true),
  ]);
  if (problem) return { ok: false, reason: problem };
  let g: ResourceSample['gpu'] = null;
  if (gpu !== null && gpu !== undefined) {
    if (!isDict(gpu)) return { ok: false, reason: 'gpu must be {name, totalMb, usedMb} or null' };
    const gpuTotal = typeof gpu.totalMb === 'number' ? gpu.totalMb : 0;
    const gpuProblem = firstProblem([
      inRange('gpu.totalMb', gpu.totalMb, 0, MAX_MB),
      inRange('gpu.usedMb', gpu.usedMb, 0, gpuTotal),
      gpu.utilPct === undefined ? '' : inRange('gpu.utilPct', gpu.utilPct, 0, 100),
    ]);
    if (gpuProblem) return { ok: false, reason: gpuProblem };
    g = {
      name: sanitise(textOf(gpu.name, 'GPU')).slice(0, 60),
      totalMb: gpu.totalMb as number,
      usedMb: gpu.usedMb as number,
      utilPct: typeof gpu.utilPct === 'number' ? gpu.utilPct : 0,
    };
  }
  if (agents !== undefined && !Array.isArray(agents))
    return { ok: false, reason: 'agents must be a list' };
  const list = (agents ?? []).filter(isDict).slice(0, 2000);
  for (const [i, a] of list.entries()) {
    const agentProblem = firstProblem([
      a.vramMb === undefined ? '' : inRange(`agents[${i}].vramMb`, a.vramMb, 0, MAX_MB),
      a.rssMb === undefined ? '' : inRange(`agents[${i}].rssMb`, a.rssMb, 0, MAX_MB),
    ]);
    if (agentProblem) return { ok: false, reason: agentProblem };
  }
  const { version, uptimeS } = value;
  if (
    version !== undefined &&
    (typeof version !== 'string' || !/^[0-9A-Za-z.+-]{1,40}$/.test(version))
  )
    return { ok: false, reason: 'version must be a short version string' };
  if (uptimeS !== undefined && (!finite(uptimeS) || uptimeS < 0))
    return { ok: false, reason: 'uptimeS must be a number of seconds' };
  return {
    ok: true,
    sample: {
      machine,
      ts: ts as number,
      source: source === 'sim' ? 'sim' : 'agent',
      gpu: g,
      cpuPct: cpuPct as number,
      ramTotalMb: ramTotalMb as number,
      ramUsedMb: ramUsedMb as number,
      throttleLevel: (throttleLevel as ResourceSample['throttleLevel'] | undefined) ?? 0,
      ...(throttle ? { throttle } : {}),
      agents: list.map((a) => ({
        name: sanitise(textOf(a.name, '?')).slice(0, 80),
        status: a.status === 'down' ? 'down' : 'up',
        ...(typeof a.vramMb === 'number' ? { vramMb: a.vramMb } : {}),
        rssMb: typeof a.rssMb === 'number' ? a.rssMb : 0,
        ...(port(a.pid, 1 << 22) ? { pid: a.pid } : {}),
        ...(Array.isArray(a.ports)
          ? { ports: a.ports.filter((p): p is number => port(p, 65535)).slice(0, 64) }
          : {}),
        ...(finite(a.nice) && a.nice >= -20 && a.nice <= 19 ? { nice: a.nice } : {}),
      })),
      ...(version !== undefined ? { version } : {}),
      ...(uptimeS !== undefined ? { uptimeS } : {}),
      ...(exporter ? { exporter } : {}),
    },
  };
}

/** `exporter: {address, agents}`; anything malformed drops it (the sample stays). */
function checkExporter(v: unknown): SampleExporter | undefined {
  if (!isDict(v) || typeof v.address !== 'string' || !/^[\w.:[\]-]{1,100}$/.test(v.address))
    return undefined;
  if (typeof v.agents !== 'number' || !Number.isInteger(v.agents) || v.agents < 0) return undefined;
  return { address: v.address, agents: v.agents };
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const port = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max;

const pct = (v: unknown): v is number => finite(v) && v >= 0 && v <= 100;

/** A part of a reading that is either the machine's error sentence or the values `read` takes. */
function valueOrError<T>(
  v: unknown,
  read: (d: Dict) => T | undefined,
): T | { error: string } | undefined {
  if (!isDict(v)) return undefined;
  return typeof v.error === 'string' ? { error: sanitise(v.error).slice(0, 200) } : read(v);
}

/** The throttle reading, field by field; anything malformed drops the whole reading. */
function checkThrottle(v: unknown): ThrottleReading | undefined {
  if (!isDict(v) || !finite(v.at) || typeof v.summary !== 'string') return undefined;
  const level = v.level === null ? null : isThrottleLevel(v.level) ? v.level : undefined;
  if (level === undefined) return undefined;
  const thresholds: ThrottleReading['thresholds'] | undefined = valueOrError(v.thresholds, (t) =>
    pct(t.cpu) && pct(t.memory) && pct(t.gpu)
      ? { cpu: t.cpu, memory: t.memory, gpu: t.gpu }
      : undefined,
  );
  const nice: ThrottleReading['nice'] | undefined = valueOrError(v.nice, (n) =>
    finite(n.want) && finite(n.at) && finite(n.of)
      ? { want: n.want, at: n.at, of: n.of }
      : undefined,
  );
  if (!thresholds || !nice) return undefined;
  return { level, thresholds, nice, summary: sanitise(v.summary).slice(0, 200), at: v.at };
}
