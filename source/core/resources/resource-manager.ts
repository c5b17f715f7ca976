// pc2_code/agents/resource_manager.py::ResourceManager.handle_request as a pure function:
// upstream's actions only (no throttle: `set_throttle` is an unknown action there, as on the
// fleet). Replies use `status` success|error and the key order upstream's dicts have. The
// simulator serves it on ResourceManager's main port.
import { pyFloat, type PyValue } from '../py/json.js';
import { isoformat } from '../py/time.js';
import { textOf } from '../text.js';

export interface RmThresholds {
  cpu: number;
  memory: number;
  gpu: number;
}

export interface RmAllocation {
  type: PyValue;
  amount: PyValue;
  allocated_at: string;
  status: 'active';
}

export interface RmState {
  thresholds: RmThresholds;
  allocated: Record<string, RmAllocation>;
}

export const initialRmState = (): RmState => ({
  thresholds: { cpu: 80, memory: 80, gpu: 80 },
  allocated: {},
});

/** What psutil and the GPU report at the moment of the request. */
export interface RmStats {
  cpuPercent: number;
  memoryPercent: number;
  memoryAvailable: number;
  memoryTotal: number;
  diskPercent: number;
  /**
   * Upstream reads torch.cuda.memory_allocated()/max_memory_allocated() (process-local); the
   * simulator has no process per agent, so it reports the device's used and total VRAM.
   */
  gpuAllocatedBytes: number;
  gpuReservedBytes: number;
  gpuTotalBytes: number;
}

export function currentStats(stats: RmStats, now: number): Record<string, PyValue> {
  return {
    cpu_percent: pyFloat(stats.cpuPercent),
    memory_percent: pyFloat(stats.memoryPercent),
    memory_available: stats.memoryAvailable,
    memory_total: stats.memoryTotal,
    disk_usage: pyFloat(stats.diskPercent),
    timestamp: isoformat(now),
    gpu_memory_percent: pyFloat(
      stats.gpuTotalBytes > 0 ? (stats.gpuAllocatedBytes / stats.gpuTotalBytes) * 100 : 0,
    ),
    gpu_memory_allocated: stats.gpuAllocatedBytes,
    gpu_memory_reserved: stats.gpuReservedBytes,
  };
}

export function resourcesAvailable(state: RmState, stats: RmStats): boolean {
  if (stats.cpuPercent > state.thresholds.cpu) return false;
  if (stats.memoryPercent > state.thresholds.memory) return false;
  const gpuPercent =
    stats.gpuTotalBytes > 0 ? (stats.gpuAllocatedBytes / stats.gpuTotalBytes) * 100 : 0;
  return !(gpuPercent > state.thresholds.gpu);
}

const thresholdsOf = (t: RmThresholds): Record<string, PyValue> => ({
  cpu: t.cpu,
  memory: t.memory,
  gpu: t.gpu,
});

const error = (message: string) => ({ status: 'error', message });

const idOf = (value: unknown): string =>
  typeof value === 'string' ? value : JSON.stringify(value ?? null);
const pyId = (value: unknown): string =>
  typeof value === 'string' ? value : textOf(value, 'None');

export interface RmResult {
  reply: Record<string, PyValue>;
  state: RmState;
}

/**
 * Answers ResourceManager's actions; undefined for anything else (the caller then answers as
 * upstream does: `{"status": "error", "message": "Unknown action: X"}`).
 */
// Long: a flat switch, one case per ResourceManager action, each the upstream method it mirrors.
export function rmHandle(
  request: Record<string, unknown>,
  state: RmState,
  stats: RmStats,
  now: number,
): RmResult | undefined {
  const action = request.action;
  switch (action) {
    case 'get_stats':
      return { reply: { status: 'success', stats: currentStats(stats, now) }, state };
    case 'check_resources':
      return { reply: { status: 'success', available: resourcesAvailable(state, stats) }, state };
    case 'allocate_resources': {
      const id = idOf(request.resource_id);
      if (id in state.allocated)
        return {
          reply: error(`Resource ID ${pyId(request.resource_id)} already allocated`),
          state,
        };
      if (!resourcesAvailable(state, stats))
        return { reply: error('Insufficient system resources'), state };
      const amount = (request.amount ?? pyFloat(1.0)) as PyValue;
      const type = (request.resource_type ?? null) as PyValue;
      const allocated = {
        ...state.allocated,
        [id]: { type, amount, allocated_at: isoformat(now), status: 'active' as const },
      };
      const shown = request.amount === undefined ? '1.0' : pyId(request.amount);
      return {
        reply: {
          status: 'success',
          resource_id: (request.resource_id ?? null) as PyValue,
          message: `Allocated ${shown} ${pyId(request.resource_type)}`,
        },
        state: { ...state, allocated },
      };
    }
    case 'release_resources': {
      const id = idOf(request.resource_id);
      if (!(id in state.allocated))
        return { reply: error(`Resource ID ${pyId(request.resource_id)} not found`), state };
      const { [id]: _released, ...rest } = state.allocated;
      return {
        reply: {
          status: 'success',
          resource_id: (request.resource_id ?? null) as PyValue,
          message: 'Resources released successfully',
        },
        state: { ...state, allocated: rest },
      };
    }
    case 'get_status':
      return {
        reply: {
          status: 'success',
          current_stats: currentStats(stats, now),
          allocated_resources: state.allocated as unknown as PyValue,
          resources_available: resourcesAvailable(state, stats),
          thresholds: thresholdsOf(state.thresholds),
        },
        state,
      };
    case 'set_thresholds': {
      const next = { ...state.thresholds };
      for (const [key, field] of [
        ['cpu_threshold', 'cpu'],
        ['memory_threshold', 'memory'],
        ['gpu_threshold', 'gpu'],
      ] as const) {
        const value = request[key];
        if (value === undefined || value === null) continue;
        // Upstream stores anything and fails later comparing it; refuse it here instead.
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
          return {
            reply: error(`${key} must be a number 0-100, got ${JSON.stringify(value)}`),
            state,
          };
        }
        next[field] = value;
      }
      return {
        reply: { status: 'success', thresholds: thresholdsOf(next) },
        state: { ...state, thresholds: next },
      };
    }
    default:
      return undefined;
  }
}

/** ResourceManager.handle_request's last branch. */
export const rmUnknown = (action: unknown): Record<string, PyValue> => ({
  status: 'error',
  message: `Unknown action: ${action === undefined || action === null ? 'None' : typeof action === 'string' ? action : JSON.stringify(action)}`,
});
