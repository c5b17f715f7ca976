// The simulated fleet for the logs figure, in its own process: its own nats-server, each
// machine's opsdeck agent serving logs from upstream-format files. IPC: {type:'control', request}.
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { findNatsServer } from '../../source/adapters/nats-server.js';
import { startSim } from '../../source/sim/sim.js';
import type { ControlRequest } from '../../source/sim/control.js';
import { childMain, stopRequested, toParent, type Msg } from '../lib/harness.js';
import type { BenchFleet } from '../lib/fleet.js';

childMain(async () => {
  const fleet = JSON.parse(process.argv[2]!) as BenchFleet;
  const loaded = loadFleet(fleet.files, fleet.env);
  if (!loaded.ok) throw new Error(`fleet: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const bin = findNatsServer();
  if (!bin) throw new Error('nats-server not installed');
  const sim = await startSim({
    machines: loaded.machines,
    hosts: fleet.hosts,
    nats: { mode: 'own', bin },
    controlPort: 0,
    errorRate: 0,
    overrides: fleet.overrides,
  });
  process.on('message', (m: Msg) => {
    if (m.type === 'control')
      void sim
        .control(m.request as ControlRequest, true)
        .then((reply) => toParent({ type: 'reply', reply }));
    if (m.type === 'watches') toParent({ type: 'watches', n: sim.logWatches() });
  });
  toParent({ type: 'ready', nats: sim.natsUrl });
  await stopRequested();
  await sim.stop();
  process.exit(0);
});
