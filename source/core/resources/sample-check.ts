// Resource samples arrive from the wire: check every field before the console believes it.
import { sanitise } from '../errors/sanitise.js';
import type { ResourceSample } from './sample.js';

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export type SampleCheck = { ok: true; sample: ResourceSample } | { ok: false; reason: string };

export function checkSample(value: unknown): SampleCheck {
  if (!isDict(value)) return { ok: false, reason: 'not a JSON object' };
  const { machine, ts, source, gpu, cpuPct, ramTotalMb, ramUsedMb, throttleLevel, agents } = value;
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
      agents: list
        .filter(isDict)
        .slice(0, 2000)
        .map((a) => ({
          name: sanitise(String(a.name ?? '?')).slice(0, 80),
          status: a.status === 'down' ? 'down' : 'up',
          vramMb: finite(a.vramMb) ? a.vramMb : 0,
          rssMb: finite(a.rssMb) ? a.rssMb : 0,
        })),
      ...(version !== undefined ? { version } : {}),
      ...(uptimeS !== undefined ? { uptimeS } : {}),
    },
  };
}
