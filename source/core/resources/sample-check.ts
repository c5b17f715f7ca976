// Resource samples arrive from the wire: check every field before the console believes it.
import { sanitise } from '../errors/sanitise.js';
import type { ResourceSample, SampleExporter } from './sample.js';
import { isThrottleLevel, type ThrottleReading } from './throttle.js';

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export type SampleCheck = { ok: true; sample: ResourceSample } | { ok: false; reason: string };

export function checkSample(value: unknown): SampleCheck {
  if (!isDict(value)) return { ok: false, reason: 'not a JSON object' };
  const { machine, ts, source, gpu, cpuPct, ramTotalMb, ramUsedMb, throttleLevel, agents } = value;
  const throttle = checkThrottle(value.throttle);
  const exporter = checkExporter(value.exporter);
  if (typeof machine !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(machine))
    return { ok: false, reason: 'machine must be a short name' };
  for (const [name, v] of Object.entries({ ts, cpuPct, ramTotalMb, ramUsedMb }))
    if (!finite(v)) return { ok: false, reason: `${name} must be a number` };
  let g: ResourceSample['gpu'] = null;
  if (gpu !== null && gpu !== undefined) {
    if (!isDict(gpu) || !finite(gpu.totalMb) || !finite(gpu.usedMb))
      return { ok: false, reason: 'gpu must be {name, totalMb, usedMb, utilPct} or null' };
    g = {
      name: sanitise(String(gpu.name ?? 'GPU')).slice(0, 60),
      totalMb: gpu.totalMb,
      usedMb: gpu.usedMb,
      utilPct: finite(gpu.utilPct) ? gpu.utilPct : 0,
    };
  }
  const list = Array.isArray(agents) ? agents : [];
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
      throttleLevel: finite(throttleLevel) ? throttleLevel : 0,
      ...(throttle ? { throttle } : {}),
      agents: list
        .filter(isDict)
        .slice(0, 2000)
        .map((a) => ({
          name: sanitise(String(a.name ?? '?')).slice(0, 80),
          status: a.status === 'down' ? 'down' : 'up',
          vramMb: finite(a.vramMb) ? a.vramMb : 0,
          rssMb: finite(a.rssMb) ? a.rssMb : 0,
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

const port = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max;

const pct = (v: unknown): v is number => finite(v) && v >= 0 && v <= 100;

/** The throttle reading, field by field; anything malformed drops the whole reading. */
function checkThrottle(v: unknown): ThrottleReading | undefined {
  if (!isDict(v) || !finite(v.at) || typeof v.summary !== 'string') return undefined;
  const level = v.level === null ? null : isThrottleLevel(v.level) ? v.level : undefined;
  if (level === undefined) return undefined;
  const t = v.thresholds;
  const thresholds: ThrottleReading['thresholds'] | undefined = !isDict(t)
    ? undefined
    : typeof t.error === 'string'
      ? { error: sanitise(t.error).slice(0, 200) }
      : pct(t.cpu) && pct(t.memory) && pct(t.gpu)
        ? { cpu: t.cpu, memory: t.memory, gpu: t.gpu }
        : undefined;
  const n = v.nice;
  const nice: ThrottleReading['nice'] | undefined = !isDict(n)
    ? undefined
    : typeof n.error === 'string'
      ? { error: sanitise(n.error).slice(0, 200) }
      : finite(n.want) && finite(n.at) && finite(n.of)
        ? { want: n.want, at: n.at, of: n.of }
        : undefined;
  if (!thresholds || !nice) return undefined;
  return { level, thresholds, nice, summary: sanitise(v.summary).slice(0, 200), at: v.at };
}
