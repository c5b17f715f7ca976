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

/** What a verdict is made of; timings (latency, when) are moments of each prober. */
const verdict = (h: AgentHealth | undefined) =>
  h && {
    state: h.state,
    protocol: h.protocol,
    moved: h.moved && { port: h.moved.port, healthPort: h.moved.healthPort, how: h.moved.how },
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

  test('every agent: state, protocol, MOVED, cause, via and note agree', async () => {
    let differ: string[] = [];
    await waitFor(
      () => {
        const a = agents.health.flush().agents;
        const d = direct.health.flush().agents;
        differ = [...d.keys()].filter(
          (k) => JSON.stringify(verdict(a.get(k))) !== JSON.stringify(verdict(d.get(k))),
        );
        return differ.length === 0 && ![...a.values()].some((h) => h.state === 'unknown');
      },
      90_000,
      500,
    ).catch(() =>
      assert.fail(
        `still different:\n${differ
          .slice(0, 5)
          .map(
            (k) =>
              `${k}\n  agents ${JSON.stringify(verdict(agents.health.getSnapshot().agents.get(k)))}\n  direct ${JSON.stringify(verdict(direct.health.getSnapshot().agents.get(k)))}`,
          )
          .join('\n')}`,
      ),
    );
    const a = agents.health.getSnapshot().agents;
    // The fleet as it behaves, seen through the agents: moved, down, answered as another.
    assert.equal(a.get('mainpc/ActiveLearningMonitor')!.moved?.port, 5000);
    assert.equal(a.get('mainpc/UnifiedSystemAgent')!.state, 'unreachable');
    assert.equal(a.get('pc2/CentralErrorBus')!.protocol, 'pub');
    assert.equal(agents.health.from, 'agents');
    assert.equal(direct.health.from, 'direct');
  });

  test('the Fleet panes of both machines render the same', () => {
    for (const m of machinesAt()) {
      const viaAgents = pane(m, direct, agents);
      const viaDirect = pane(m, direct, direct);
      assert.equal(viaAgents, viaDirect);
      assert.match(viaAgents, /MOVED|DOWN/);
    }
  });

  test('the agents stop: their rows turn STALE, not the last green', async () => {
    await s.stop();
    const stale = await waitFor(
      () => {
        const h = agents.health.flush().agents.get('pc2/ResourceManager');
        return h?.state === 'stale' ? h : undefined;
      },
      30_000,
      200,
    );
    assert.match(stale.reason, /no health from pc2's opsdeck agent for \d+ s/);
  });
});
