// The simulated fleet for the health, render and idle figures, in its own process (startSim,
// NATS off). IPC: {type:'control', request} applies a fault (floods for the render figure).
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { startSim } from '../../source/sim/sim.js';
import type { ControlRequest } from '../../source/sim/control.js';
import { childMain, stopRequested, toParent, type Msg } from '../lib/harness.js';
import type { BenchFleet } from '../lib/fleet.js';

childMain(async () => {
  const fleet = JSON.parse(process.argv[2]!) as BenchFleet;
  const loaded = loadFleet(fleet.files, fleet.env);
  if (!loaded.ok) throw new Error(`fleet: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const sim = await startSim({
    machines: loaded.machines,
    hosts: fleet.hosts,
    nats: { mode: 'off', why: 'bench' },
    controlPort: 0,
    errorRate: 0,
    overrides: fleet.overrides,
  });
  const summary = sim.summary();
  const clashes = summary.reduce((n, m) => n + m.clashes.length, 0);
  process.on('message', (m: Msg) => {
    if (m.type === 'control')
      void sim
        .control(m.request as ControlRequest, true)
        .then((reply) => toParent({ type: 'reply', reply }));
  });
  toParent({
    type: 'ready',
    startupMs: sim.startupMs,
    up: summary.reduce((n, m) => n + m.up, 0),
    clashes,
    warnings: sim.warnings,
  });
  await stopRequested();
  await sim.stop();
  process.exit(0);
});
