// 1,000 agents in one process: start-up time, resident memory and file descriptors, measured
// and printed; a sample of agents must still answer the spec client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { loadConfigText } from '../../../source/core/fleet/load.js';
import { fdBudget, openFileLimit } from '../../../source/sim/sim.js';
import { planSim } from '../../../source/sim/plan.js';
import { baseAgentReply, sim, specHealthRequest, tcpOpen, zmqAsk } from './helpers.js';

const N = 1000;
const HOST = '127.0.16.1';

// A MainPC with 1,000 BaseAgent agents: port, implicit health port+1, HTTP port+2.
function bigFleet() {
  const lines = ['agent_groups:', '  scale:'];
  for (let i = 0; i < N; i++) {
    lines.push(
      `    Agent${i}:`,
      `      script_path: main_pc_code/agents/agent_${i}.py`,
      `      port: ${20000 + 3 * i}`,
      '      required: false',
      '      dependencies: []',
    );
  }
  const loaded = loadConfigText(lines.join('\n'), 'scale.yaml', { env: {}, machine: 'mainpc' });
  assert.ok(loaded.ok);
  return loaded.machines;
}

test(`${N} agents in one process`, async (t) => {
  const machines = bigFleet();
  const budget = fdBudget(planSim(machines, { mainpc: HOST }));
  const limit = openFileLimit();
  if (limit !== undefined && budget.need > limit) {
    t.skip(
      `needs ~${budget.need} file descriptors, the soft limit is ${limit}: run with ulimit -n ${budget.need * 2}`,
    );
    return;
  }
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const fdsBefore = readdirSync('/proc/self/fd').length;
  const s = await sim({
    machines,
    hosts: { mainpc: HOST },
    nats: { mode: 'off', why: 'scale test' },
  });
  const rss = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  const fds = readdirSync('/proc/self/fd').length - fdsBefore;
  const bound = s.summary()[0]!;
  t.diagnostic(
    `${N} agents: ${bound.portsBound} ports bound in ${s.startupMs} ms, +${rss.toFixed(0)} MB RSS (${((rss * 1024) / N).toFixed(0)} KB per agent), +${fds} fds (estimate ${budget.need})`,
  );
  assert.equal(bound.up, N);
  // Upstream wiring: one machine without CentralErrorBus binds nothing on its bus port.
  assert.equal(bound.portsBound, 3 * N, 'three per agent');
  assert.equal(bound.clashes.length, 0);
  assert.ok(fds <= budget.need, `the estimate (${budget.need}) covers what was used (${fds})`);
  for (const i of [0, 1, 499, 998, 999]) {
    const r = await zmqAsk(`tcp://${HOST}:${20000 + 3 * i + 1}`, specHealthRequest());
    assert.ok(
      r.kind === 'reply' && baseAgentReply(`Agent${i}`, 20000 + 3 * i, false).test(r.text),
      `Agent${i}`,
    );
  }
  await s.stop();
  assert.equal(await tcpOpen(HOST, 20000 + 3 * 500), false);
  assert.equal(await tcpOpen(HOST, 20000 + 3 * 999 + 2), false);
});
