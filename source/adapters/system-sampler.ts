// Samples this machine: CPU and RAM through systeminformation, the GPU through nvidia-smi run
// asynchronously with a timeout (si.graphics() runs it synchronously and stalls the event loop).
import { execFile } from 'node:child_process';
import si from 'systeminformation';
import { appArgs, gpuArgs, parseGpus, vramByPid, type Gpu } from '../core/resources/nvidia-smi.js';
import type { ResourceSample } from '../core/resources/sample.js';

export type GpuReading =
  | { state: 'ok'; gpus: Gpu[]; /** the per-process query answered too */ apps: boolean }
  | { state: 'absent' }
  | { state: 'error'; reason: string };

function run(
  bin: string,
  args: string[],
  timeoutMs: number,
): Promise<{ ok: true; out: string } | { ok: false; code?: string; reason: string }> {
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve({ ok: true, out: stdout });
        const code = (error as NodeJS.ErrnoException).code;
        const reason = error.killed
          ? `timed out after ${timeoutMs} ms`
          : (stderr || stdout || error.message).trim().split('\n')[0]!;
        resolve({ ok: false, ...(typeof code === 'string' ? { code } : {}), reason });
      },
    );
  });
}

export class GpuSampler {
  private absent = false;

  constructor(
    private readonly bin = 'nvidia-smi',
    private readonly timeoutMs = 2000,
  ) {}

  async read(): Promise<GpuReading> {
    // No nvidia-smi means no GPU here: a fact, not an error, and not worth a spawn every tick.
    if (this.absent) return { state: 'absent' };
    const gpus = await run(this.bin, gpuArgs, this.timeoutMs);
    if (!gpus.ok) {
      if (gpus.code === 'ENOENT') {
        this.absent = true;
        return { state: 'absent' };
      }
      return { state: 'error', reason: gpus.reason };
    }
    const apps = await run(this.bin, appArgs, this.timeoutMs);
    const parsed = parseGpus(gpus.out, apps.ok ? apps.out : '');
    return parsed.ok
      ? { state: 'ok', gpus: parsed.value, apps: apps.ok }
      : { state: 'error', reason: parsed.reason };
  }
}

export async function sampleMachine(
  machine: string,
  gpu: GpuSampler,
  throttleLevel = 0,
): Promise<
  ResourceSample & {
    gpuState: GpuReading['state'];
    gpuError?: string;
    /** VRAM per pid, when nvidia-smi listed its compute processes (absent: not known). */
    vram?: Map<number, number | null>;
  }
> {
  const [load, mem, reading] = await Promise.all([si.currentLoad(), si.mem(), gpu.read()]);
  const first = reading.state === 'ok' ? reading.gpus[0] : undefined;
  const mb = (bytes: number) => Math.round(bytes / 1048576);
  return {
    machine,
    ts: Date.now(),
    source: 'agent',
    gpu: first
      ? {
          name: first.name,
          totalMb: first.totalMb,
          usedMb: first.usedMb,
          utilPct: first.utilPercent ?? 0,
        }
      : null,
    cpuPct: Math.round(load.currentLoad * 10) / 10,
    ramTotalMb: mb(mem.total),
    ramUsedMb: mb(mem.active),
    throttleLevel,
    agents: [],
    gpuState: reading.state,
    ...(reading.state === 'error' ? { gpuError: reading.reason } : {}),
    ...(reading.state === 'ok' && reading.apps ? { vram: vramByPid(reading.gpus) } : {}),
  };
}
