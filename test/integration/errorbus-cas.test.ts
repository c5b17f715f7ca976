// Two operators each ask for one step of the error-bus migration at the same time: two real
// `opsdeck errorbus phase advance --yes` processes against a real nats-server KV, the second
// started while the first observes. Exactly one step is taken; the other run says another
// console got there first and stops. It once read the KV after the winner wrote it and went on
// to the next step's preflight (in 4 of 6 runs): the fleet moved two phases.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { encodePhase, PHASE_BUCKET, PHASE_KEY } from '../../source/core/errorbus/phase.js';
import { readPhase } from '../../source/adapters/phase-kv.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import {
  BIN,
  host,
  NATS_BIN,
  NEEDS_NATS,
  sleep,
  tempDir,
  until,
  writeFleet,
} from '../fault/helpers.js';

const HOSTS = { mainpc: host(81), pc2: host(82) };
const tmp = tempDir('cas');
const fleet = writeFleet(tmp.dir, {
  ...HOSTS,
  agents: { Alpha: [17481, 18481] },
  pc2Agents: { Bravo: [7181, 8181] },
  busPort: 7180,
});
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});

interface Run {
  code: number | null;
  out: string;
}
function advance(url: string): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'errorbus',
      'phase',
      'advance',
      '--yes',
      '--observe',
      '1s',
      '--nats',
      url,
      '--mainpc',
      fleet.files.mainpc,
      '--pc2',
      fleet.files.pc2,
    ],
    {
      env: { ...process.env, ...fleet.env, OPSDECK_AUDIT: join(tmp.dir, 'audit.jsonl') },
    },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('two consoles advance the error-bus phase at once', { skip: NEEDS_NATS }, () => {
  let sim: Sim;
  let nc: NatsConnection;
  before(async () => {
    sim = await startSim({
      machines: fleet.machines,
      hosts: HOSTS,
      overrides: {
        defaults: { error_variant: 'A', nats_library: 'errors' },
        agents: {},
        machines: {},
      },
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 0,
    });
    cleanups.push(() => sim.stop());
    nc = await connect({ servers: sim.natsUrl! });
    cleanups.push(() => nc.close());
  });

  for (let round = 1; round <= 3; round++) {
    test(`round ${round}: one step is taken, the other run stops and says why`, async () => {
      const kv = await nc.jetstream().views.kv(PHASE_BUCKET, { history: 10 });
      await kv.put(PHASE_KEY, encodePhase(0));
      await until('the sim at phase 0', () => sim.phase.phase === 0);
      const first = advance(sim.natsUrl!);
      await sleep(400); // the second operator asks while the first run observes
      const second = advance(sim.natsUrl!);
      const runs = await Promise.all([first, second]);
      const won = runs.filter((r) =>
        /^done: errorbus\.phase: phase 0 zmq -> 1 dual-publish/m.test(r.out),
      );
      assert.equal(won.length, 1, runs.map((r) => r.out).join('\n-----\n'));
      const lost = runs.find((r) => r !== won[0])!;
      assert.equal(lost.code, 1, lost.out);
      assert.match(lost.out, /another console got there first/);
      assert.doesNotMatch(lost.out, /1 dual-publish -> 2|phase 1 -> 2|nats-consumers/);
      const now = await readPhase(nc);
      assert.equal(now.value.phase, 1, 'one step: the fleet is at phase 1, not 2');
    });
  }
});
