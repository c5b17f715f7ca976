// The 20k/s error flood the render and key figures measure under: four of the sim's agents, two
// per machine, each publishing a quarter of it on its machine's ZMQ error bus.
import type { Child } from './harness.js';

export const FLOODERS = [
  'mainpc/MainAgent001',
  'mainpc/MainAgent002',
  'pc2/Pc2Agent001',
  'pc2/Pc2Agent002',
];
export const FLOOD_RATE = 20_000;

/** A fault for the sim child (bench/procs/sim.ts), and its reply; a refusal throws. */
export async function control(
  sim: Child,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  sim.send({ type: 'control', request });
  const m = await sim.next('reply', 10_000);
  const reply = m.reply as Record<string, unknown>;
  if (!reply.ok) throw new Error(`sim refused ${JSON.stringify(request)}: ${String(reply.error)}`);
  return reply;
}

/** Starts the flood (for `seconds` at the most), or stops it with rate 0. */
export async function floodErrors(sim: Child, rate: number, seconds?: number): Promise<void> {
  for (const agent of FLOODERS)
    await control(sim, {
      fault: 'flood',
      agent,
      rate: rate / FLOODERS.length,
      ...(seconds !== undefined ? { seconds } : {}),
    });
}
