// Issue 19, done when: the console on `--health-from agents` shows the same screen as in direct
// mode. On one sim whose machines' opsdeck agents probe their own agents (`sim --agent-health`),
// two data planes: one probing from here, one reading opsdeck.<machine>.health. Every agent's
// state, protocol, MOVED place, cause, via and note agree, and the Fleet panes render the same
// (latency, "last seen" and the sparkline aside: they are moments, not verdicts). When the
// agents stop, the agents-mode rows turn STALE instead of keeping the last green.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { render } from 'ink-testing-library';
import { MachinePane } from '../../source/components/machine-pane.js';
import { NO_COLOR_THEME } from '../../source/components/theme.js';
import { ThemeContext } from '../../source/components/theme.js';
import type { Machine } from '../../source/core/fleet/model.js';
import type { AgentHealth } from '../../source/core/health/state.js';
import { agentRows } from '../../source/core/ui/view.js';
import type { Sim } from '../../source/sim/sim.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';
import { exampleOverrides, fleet, NEEDS_NATS, REAL, sim, waitFor } from './sim/helpers.js';

const HOSTS = { mainpc: '127.0.20.1', pc2: '127.0.20.2' };
const NO_REAL = existsSync(REAL.mainpc) ? false : `real configs not found at ${REAL.mainpc}`;
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
});

const machinesAt = (): Machine[] =>
  fleet(REAL).map((m) => ({ ...m, host: HOSTS[m.id as 'mainpc' | 'pc2'] }));

/**
 * What a verdict is made of; timings (latency, when) are moments of each prober, and so is how a
 * moved agent was found: where its process listens when the machine's sample has come, else by
 * name in a scan (on a loaded machine either prober can find it before the sample comes).
 */
const verdict = (h: AgentHealth | undefined) =>
  h && {
    state: h.state,
    protocol: h.protocol,
    moved: h.moved && { port: h.moved.port, healthPort: h.moved.healthPort },
    cause: h.cause,
    via: h.via,
    note: h.note,
    answeredAs: h.answeredAs,
    reason: h.reason.replace(/\d+ s ago/g, 'N s ago'),
  };

const NOW = Date.now();
function pane(m: Machine, plane: DataPlane, health: DataPlane): string {
  const frame = render(
    <ThemeContext.Provider value={NO_COLOR_THEME}>
      <MachinePane
        machine={m}
        rows={agentRows(m, health.health.getSnapshot().agents, '', 'config')}
        resources={plane.resources.getSnapshot().machines[m.id]}
        stale={false}
        nats="connected"
        zmqLastAt={undefined}
        cursor={0}
        focused
        width={140}
        height={60}
        now={NOW}
        filter=""
      />
    </ThemeContext.Provider>,
  ).lastFrame()!;
  return frame
    .split('\n')
    .map((l) =>
      l
        .replace(/<?\d+(\.\d+)?ms|\b\d+[smh]\b/g, '#')
        .replace(/[▁▂▃▄▅▆▇█]/g, '')
        .replace(/\s+/g, ' ')
        .trimEnd(),
    )
    .join('\n');
}

describe('--health-from agents: the same screen as direct', { skip: NEEDS_NATS || NO_REAL }, () => {
  let s: Sim;
  let direct: DataPlane;
  let agents: DataPlane;
  before(async () => {
    s = await sim({
      machines: fleet(REAL),
      hosts: HOSTS,
      overrides: exampleOverrides(),
      agentHealth: true,
    });
    const common = {
      machines: machinesAt(),
      nats: s.natsUrl!,
      // The sim's daemons probe every second with a 1 s timeout: the same here.
      health: { intervalMs: 1000, timeoutMs: 1000, notifyMs: 20 },
    };
    direct = startDataPlane(common);
    agents = startDataPlane({ ...common, healthFrom: 'agents' });
    stops.push(
      () => direct.stop(),
      () => agents.stop(),
    );
  });

  // Each source probes on its own, and on a loaded machine (CI: 2 cores, and here one process
  // runs the sim's 72 agents, its daemons' probes and both data planes) either can see a reply
  // time out, or have no result for a while (STALE), a round before or after the other. So each
  // agent, and each pane row, is waited for until both sources agree on it while both have a
  // result, not all of them at one moment (which a loaded machine may never offer).
  const settled = (state: string | undefined) => state !== 'unknown' && state !== 'stale';

  test('every agent: state, protocol, MOVED, cause, via and note agree', async () => {
    const agreed = new Map<string, NonNullable<ReturnType<typeof verdict>>>();
    let differ: string[] = [];
    await waitFor(
      () => {
        const a = agents.health.flush().agents;
        const d = direct.health.flush().agents;
        for (const k of d.keys()) {
          const v = verdict(a.get(k));
          if (v && settled(v.state) && JSON.stringify(v) === JSON.stringify(verdict(d.get(k))))
            agreed.set(k, v);
        }
        differ = [...d.keys()].filter((k) => !agreed.has(k));
        return d.size > 0 && differ.length === 0;
      },
      90_000,
      500,
    ).catch(() =>
      assert.fail(
        `never the same:\n${differ
          .slice(0, 5)
          .map(
            (k) =>
              `${k}\n  agents ${JSON.stringify(verdict(agents.health.getSnapshot().agents.get(k)))}\n  direct ${JSON.stringify(verdict(direct.health.getSnapshot().agents.get(k)))}`,
          )
          .join('\n')}`,
      ),
    );
    // The fleet as it behaves, seen through the agents: moved, down, answered as another.
    assert.equal(agreed.get('mainpc/ActiveLearningMonitor')!.moved?.port, 5000);
    assert.equal(agreed.get('mainpc/UnifiedSystemAgent')!.state, 'unreachable');
    assert.equal(agreed.get('pc2/CentralErrorBus')!.protocol, 'pub');
    assert.equal(agents.health.from, 'agents');
    assert.equal(direct.health.from, 'direct');
  });

  test('the Fleet panes of both machines render the same', async () => {
    // Per machine, the row numbers seen the same (rows in config order: a row is one agent).
    const same = new Map<string, Set<number>>();
    let last: [string, string] = ['', ''];
    await waitFor(
      () => {
        agents.health.flush();
        direct.health.flush();
        let done = true;
        for (const m of machinesAt()) {
          last = [pane(m, direct, agents), pane(m, direct, direct)];
          const [mine, theirs] = last.map((t) => t.split('\n'));
          const rows = same.get(m.id) ?? new Set<number>();
          same.set(m.id, rows);
          if (mine!.length !== theirs!.length) {
            done = false;
            continue;
          }
          mine!.forEach((l, i) => {
            if (l === theirs![i] && !/ STALE /.test(l)) rows.add(i);
          });
          if (rows.size < mine!.length || !/MOVED|DOWN/.test(last[0])) done = false;
        }
        return done;
      },
      90_000,
      500,
    ).catch(() =>
      assert.fail(
        `rows never the same: ${[...same].map(([id, rows]) => `${id} ${rows.size} seen`).join(', ')}\nagents:\n${last[0]}\ndirect:\n${last[1]}`,
      ),
    );
  });

  test('the agents stop: their rows turn STALE, not the last green', async () => {
    await s.stop();
    const stale = await waitFor(
      () => {
        const h = agents.health.flush().agents.get('pc2/ResourceManager');
        return h?.state === 'stale' ? h : undefined;
      },
      60_000,
      200,
    );
    assert.match(stale.reason, /no health from pc2's opsdeck agent for \d+ s/);
  });
});
