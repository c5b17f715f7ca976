// Figure: an agent's log at 10,000 lines/s into the console's log view. The sim's agent writes
// upstream-format JSON lines at 10k/s; its machine's opsdeck agent tails the file and sends the
// watcher its capped rate (200 lines/s) with "N lines skipped" markers; the view (LogStore +
// the Logs screen drawn by Ink) runs in its own process. Reported: lines shown per second, the
// skipped count the view shows, and the view's event-loop delay p99 (target < 50 ms) beside the
// same view on a quiet log.
import { Child, round } from './lib/harness.js';
import { writeFleet } from './lib/fleet.js';
import type { Figure, Row } from './lib/report.js';
import { findNatsServer } from '../source/adapters/nats-server.js';

const HOSTS = { mainpc: '127.0.81.31', pc2: '127.0.81.32' };
const RATE = 10_000;

interface ViewResult {
  linesPerS: number;
  itemsPerS: number;
  skipped: number;
  rate: number;
  frames: number;
  p99: number;
  p50: number;
  max: number;
}

export const logs: Figure = {
  id: 'logs',
  title: 'Log view under a 10k lines/s log',
  async run(ctx): Promise<Row[]> {
    if (!findNatsServer())
      return [
        {
          id: 'logs.loop.p99',
          figure: 'Log view loop delay p99, 10k lines/s',
          unit: 'ms',
          opsdeck: NaN,
          notes: ['skipped: nats-server not installed'],
        },
      ];
    const seconds = ctx.quick ? 3 : 15;
    const fleet = writeFleet(ctx.tmp, 1, HOSTS, 27700);
    const sim = new Child('log-sim.ts', [JSON.stringify(fleet)]);
    const view = async (nats: string): Promise<ViewResult> => {
      const child = new Child('log-view.tsx', [nats, 'mainpc/MainAgent000', String(seconds)]);
      try {
        return (await child.next('result', (seconds + 60) * 1000)) as unknown as ViewResult;
      } finally {
        await child.stop();
      }
    };
    try {
      const ready = (await sim.next('ready', 60_000)) as unknown as { nats: string };
      ctx.log(`logs: quiet baseline (${seconds} s)`);
      const quiet = await view(ready.nats);
      sim.send({
        type: 'control',
        request: { fault: 'log-flood', agent: 'mainpc/MainAgent000', rate: RATE },
      });
      await sim.next('reply');
      ctx.log(`logs: ${RATE} lines/s (${seconds} s)`);
      const flood = await view(ready.nats);
      sim.send({
        type: 'control',
        request: { fault: 'log-flood', agent: 'mainpc/MainAgent000', rate: 0 },
      });
      await sim.next('reply');
      const details = { quiet, flood, seconds, writtenPerS: RATE };
      return [
        {
          id: 'logs.loop.p99',
          figure: 'Log view loop delay p99, 10k lines/s log',
          unit: 'ms',
          opsdeck: round(flood.p99),
          baseline: round(quiet.p99),
          baselineIs: 'the same view on a quiet log (a status line every 5 s)',
          target: '< 50 ms',
          met: flood.p99 < 50,
          details,
        },
        {
          id: 'logs.shown',
          figure: 'Log lines shown per second (the watcher cap)',
          unit: 'lines/s',
          opsdeck: round(flood.linesPerS, 1),
          baseline: flood.rate,
          baselineIs: "the daemon's cap per watcher",
          target: '<= cap',
          met: flood.linesPerS <= flood.rate * 1.1,
          notes: [`${RATE} lines/s written; frames drawn ${flood.frames}`],
        },
        {
          id: 'logs.skipped',
          figure: 'Lines the view says were skipped',
          unit: 'lines',
          opsdeck: flood.skipped,
          baseline: Math.round((RATE - flood.rate) * seconds),
          baselineIs: 'written minus the cap over the window',
          target: 'shown, ~ written - cap',
          met: flood.skipped > 0,
        },
      ];
    } finally {
      await sim.stop();
    }
  },
};
