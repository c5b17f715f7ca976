// Figure 3: health fan-out. 1,000 agents (500 per machine, the simulator in its own process on
// 127.0.81.3/4) probed per cycle by opsdeck's HealthStore vs a bare request loop with the same
// concurrency. Cycle time p50/p99 and CPU.
import { Child, dist, round, type Dist } from './lib/harness.js';
import { writeFleet } from './lib/fleet.js';
import type { Figure, Row } from './lib/report.js';

interface ProbeResult {
  cycles: { ms: number; cpuMs: number }[];
  wallMs: number;
  cpuMs: number;
  answered: number;
  targets: number;
}

export const HEALTH_HOSTS = { mainpc: '127.0.81.3', pc2: '127.0.81.4' };

export const health: Figure = {
  id: 'health',
  title: 'Health fan-out',
  async run(ctx): Promise<Row[]> {
    const perMachine = ctx.quick ? 100 : 500;
    const cycles = ctx.quick ? 3 : 15;
    const fleet = writeFleet(ctx.tmp, perMachine, HEALTH_HOSTS);
    const sim = new Child('sim.ts', [JSON.stringify(fleet)]);
    try {
      const ready = await sim.next('ready', 120_000);
      ctx.log(
        `health: ${fleet.agents} agents up in the sim (${ready.up} up, ${ready.clashes} clashes, ${ready.startupMs} ms); ${cycles} cycles per run, runs A B A`,
      );
      const runs: { bare: ProbeResult[]; opsdeck: ProbeResult[] } = { bare: [], opsdeck: [] };
      // A B A: the baseline brackets opsdeck's runs, so drift shows on both sides.
      const order: ('bare' | 'opsdeck')[] = [
        'bare',
        ...Array.from({ length: ctx.runs }, () => ['opsdeck', 'bare'] as const).flat(),
      ];
      {
        for (const mode of order) {
          const child = new Child('prober.ts', [mode, JSON.stringify(fleet), String(cycles), '2']);
          try {
            const r = (await child.next('result', 300_000)) as unknown as ProbeResult;
            runs[mode].push(r);
            const d = dist(r.cycles.map((c) => c.ms));
            ctx.log(
              `  ${mode.padEnd(8)} cycle p50 ${d.p50.toFixed(0)} ms p99 ${d.p99.toFixed(0)} ms, CPU ${((r.cpuMs / r.wallMs) * 100).toFixed(0)}% of a core while probing, ${(r.cpuMs / cycles).toFixed(0)} ms CPU per cycle; ${r.answered}/${r.targets} answered`,
            );
          } finally {
            await child.stop(2000);
          }
        }
      }
      // Pool every cycle of every run of a side: p99 over all of them.
      const pool = (rs: ProbeResult[]): Dist => dist(rs.flatMap((r) => r.cycles.map((c) => c.ms)));
      const cpuPerCycle = (rs: ProbeResult[]) =>
        rs.reduce((n, r) => n + r.cpuMs, 0) / rs.reduce((n, r) => n + r.cycles.length, 0);
      const busy = (rs: ProbeResult[]) =>
        (rs.reduce((n, r) => n + r.cpuMs, 0) / rs.reduce((n, r) => n + r.wallMs, 0)) * 100;
      const ops = pool(runs.opsdeck);
      const bare = pool(runs.bare);
      const answered = Math.min(...runs.opsdeck.map((r) => r.answered));
      const notes = [
        `${fleet.agents} agents: ${perMachine} per machine, 85% BaseAgent, 10% UnifiedHealthMixin, 5% HTTP services; opsdeck detects each protocol (after a warm-up of 2 cycles), as the console does`,
        `the simulator answers all of them from one process (on the other core): its reply time is part of both sides' cycle`,
        `opsdeck: agents with a parsed reply after the runs: ${answered}/${fleet.agents}${answered < fleet.agents ? ' (NOT ALL)' : ''}; bare replies per cycle: ${Math.min(...runs.bare.map((r) => r.answered))}/${fleet.agents}`,
      ];
      const rows: Row[] = [
        {
          id: 'health.cycle.p50',
          figure: `Health cycle p50 (${fleet.agents} agents)`,
          unit: 'ms',
          opsdeck: round(ops.p50, 1),
          baseline: round(bare.p50, 1),
          baselineIs:
            'bare REQ/GET loop, same requests, same concurrency (64), no parsing or state',
          ratio: round(ops.p50 / bare.p50, 2),
          ratioIs: 'opsdeck / baseline; lower is better',
          notes,
          details: {
            opsdeck: ops,
            bare,
            cycles: {
              opsdeck: runs.opsdeck.map((r) => r.cycles.map((c) => round(c.ms, 1))),
              bare: runs.bare.map((r) => r.cycles.map((c) => round(c.ms, 1))),
            },
          },
        },
        {
          id: 'health.cycle.p99',
          figure: `Health cycle p99 (${fleet.agents} agents)`,
          unit: 'ms',
          opsdeck: round(ops.p99, 1),
          baseline: round(bare.p99, 1),
          ratio: round(ops.p99 / bare.p99, 2),
          ratioIs: 'opsdeck / baseline; lower is better',
          target: 'p99 < 1000 ms',
          met: ops.p99 < 1000 && answered === fleet.agents,
        },
        {
          id: 'health.cpu',
          figure: 'Health CPU per cycle',
          unit: 'ms',
          opsdeck: round(cpuPerCycle(runs.opsdeck), 1),
          baseline: round(cpuPerCycle(runs.bare), 1),
          ratio: round(cpuPerCycle(runs.opsdeck) / cpuPerCycle(runs.bare), 2),
          ratioIs: 'opsdeck / baseline; lower is better',
          notes: [
            `CPU while probing back to back: opsdeck ${busy(runs.opsdeck).toFixed(0)}% of a core, bare ${busy(runs.bare).toFixed(0)}%; at the console's 2 s interval: opsdeck ${((cpuPerCycle(runs.opsdeck) / 2000) * 100).toFixed(1)}% of a core, bare ${((cpuPerCycle(runs.bare) / 2000) * 100).toFixed(1)}%`,
          ],
          details: {
            busyPct: { opsdeck: round(busy(runs.opsdeck), 1), bare: round(busy(runs.bare), 1) },
            pctOfCoreAt2s: {
              opsdeck: round((cpuPerCycle(runs.opsdeck) / 2000) * 100, 2),
              bare: round((cpuPerCycle(runs.bare) / 2000) * 100, 2),
            },
          },
        },
      ];
      return rows;
    } finally {
      await sim.stop(10_000);
    }
  },
};
