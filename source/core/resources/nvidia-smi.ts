// Parses nvidia-smi's CSV query output (the only GPU source: si.graphics() blocks the event
// loop). Queries are fixed here so the adapter and the parser cannot drift apart.

export const GPU_QUERY = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'temperature.gpu',
] as const;
export const APP_QUERY = ['gpu_uuid', 'pid', 'process_name', 'used_memory'] as const;

export const gpuArgs = [`--query-gpu=${GPU_QUERY.join(',')}`, '--format=csv,noheader,nounits'];
export const appArgs = [
  `--query-compute-apps=${APP_QUERY.join(',')}`,
  '--format=csv,noheader,nounits',
];

export interface GpuProcess {
  pid: number;
  name: string;
  usedMb: number | null;
}

export interface Gpu {
  index: number;
  uuid: string;
  name: string;
  totalMb: number;
  usedMb: number;
  freeMb: number;
  /** null where the driver says [N/A] / [Not Supported]. */
  utilPercent: number | null;
  tempC: number | null;
  processes: GpuProcess[];
}

export type ParseResult<T> =
  { ok: true; value: T; skipped: string[] } | { ok: false; reason: string };

// "[N/A]", "[Not Supported]", "N/A" and the like.
const number = (field: string | undefined): number | null => {
  if (field === undefined) return null;
  const n = Number(field.trim());
  return field.trim() !== '' && Number.isFinite(n) ? n : null;
};

const split = (line: string) => line.split(',').map((f) => f.trim());

export function parseGpus(gpuCsv: string, appCsv = ''): ParseResult<Gpu[]> {
  const gpus: Gpu[] = [];
  const skipped: string[] = [];
  for (const line of gpuCsv.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const f = split(line);
    const [index, total, used, free] = [number(f[0]), number(f[3]), number(f[4]), number(f[5])];
    if (f.length !== GPU_QUERY.length || index === null || total === null || used === null) {
      skipped.push(line);
      continue;
    }
    gpus.push({
      index,
      uuid: f[1]!,
      name: f[2]!,
      totalMb: total,
      usedMb: used,
      freeMb: free ?? total - used,
      utilPercent: number(f[6]),
      tempC: number(f[7]),
      processes: [],
    });
  }
  if (gpus.length === 0) {
    const first = gpuCsv.trim().split(/\r?\n/)[0] ?? '';
    return {
      ok: false,
      reason: first
        ? `nvidia-smi printed no GPU rows (first line: "${first.slice(0, 120)}")`
        : 'nvidia-smi printed nothing',
    };
  }
  for (const line of appCsv.split(/\r?\n/)) {
    if (line.trim() === '' || /No running/i.test(line)) continue;
    const f = split(line);
    const gpu = gpus.find((g) => g.uuid === f[0]);
    const pid = number(f[1]);
    if (f.length !== APP_QUERY.length || !gpu || pid === null) {
      skipped.push(line);
      continue;
    }
    gpu.processes.push({ pid, name: f[2]!, usedMb: number(f[3]) });
  }
  return { ok: true, value: gpus, skipped };
}

/**
 * VRAM per process over every GPU (MB): what a process holds on two GPUs is summed. A process
 * whose used_memory the driver does not report ([N/A], e.g. under WDDM) maps to null: unknown,
 * not zero. A pid that is not in the map holds no VRAM (nvidia-smi lists every compute app).
 */
export function vramByPid(gpus: readonly Gpu[]): Map<number, number | null> {
  const by = new Map<number, number | null>();
  for (const g of gpus)
    for (const p of g.processes) {
      const had = by.get(p.pid);
      by.set(p.pid, had === null || p.usedMb === null ? null : (had ?? 0) + p.usedMb);
    }
  return by;
}

/** How far up the process tree a GPU process is followed to find its agent. */
const MAX_DEPTH = 32;

/**
 * VRAM per agent process, counting what its descendants hold: an agent often runs its model in a
 * child (multiprocessing, a server it spawned), and nvidia-smi lists the child's pid, so matching
 * the agent's own pid alone said 0 MB for an agent whose child held gigabytes. Each GPU process
 * goes to its nearest ancestor that is one of `agents` (itself first); one with none is nobody's.
 * A null (the driver did not say) makes its agent's total unknown, as in vramByPid.
 */
export function vramByAgent(
  vram: ReadonlyMap<number, number | null>,
  agents: ReadonlySet<number>,
  parentOf: (pid: number) => number | undefined,
): Map<number, number | null> {
  const by = new Map<number, number | null>();
  for (const [pid, mb] of vram) {
    let at: number | undefined = pid;
    for (let depth = 0; at !== undefined && depth <= MAX_DEPTH && !agents.has(at); depth++)
      at = parentOf(at);
    if (at === undefined || !agents.has(at)) continue;
    const had = by.get(at);
    by.set(at, had === null || mb === null ? null : (had ?? 0) + mb);
  }
  return by;
}
