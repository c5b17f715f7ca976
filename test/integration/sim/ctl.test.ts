// `opsdeck sim ctl`: faults from a shell, over the ZMQ control socket and over NATS.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../../source/cli.js';
import type { Io } from '../../../source/commands/io.js';
import type { Sim } from '../../../source/sim/sim.js';
import { EXAMPLES, exampleOverrides, fleet, NEEDS_NATS, sim, tcpOpen } from './helpers.js';

const HOSTS = { mainpc: '127.0.16.1', pc2: '127.0.16.2' };
let s: Sim;

before(async () => {
  if (NEEDS_NATS) return;
  s = await sim({ machines: fleet(EXAMPLES), hosts: HOSTS, overrides: exampleOverrides() });
});

async function ctl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env: {},
    cwd: process.cwd(),
  };
  return { code: await main(['sim', 'ctl', ...args], io), out, err };
}

describe('opsdeck sim ctl', { skip: NEEDS_NATS }, () => {
  test('kill and restart an agent over the control socket', async () => {
    const killed = await ctl(['kill', 'NLUAgent', '--control', s.controlEndpoint]);
    assert.equal(killed.code, 0, killed.err);
    assert.deepEqual(JSON.parse(killed.out), { ok: true, agent: 'mainpc/NLUAgent' });
    assert.equal(await tcpOpen(HOSTS.mainpc, 5709), false);
    const back = await ctl(['restart', 'mainpc/NLUAgent', '--control', s.controlEndpoint]);
    assert.equal(back.code, 0, back.err);
    assert.equal(await tcpOpen(HOSTS.mainpc, 5709), true);
  });

  test('key=value fields with their units, over NATS', async () => {
    const r = await ctl(['slow', 'NLUAgent', 'ms=250ms', '--nats', s.natsUrl!]);
    assert.equal(r.code, 0, r.err);
    assert.equal(s.machine('mainpc')!.byName.get('NLUAgent')!.slowMs, 250);
    await ctl(['clear', '--nats', s.natsUrl!]);
  });

  test('refusals exit 1 with the reason; bad words exit 2 before anything is sent', async () => {
    const nobody = await ctl(['kill', 'Nobody', '--control', s.controlEndpoint]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.err, /no agent "Nobody"/);
    for (const [args, message] of [
      [['explode'], /unknown fault "explode": expected one of kill, restart/],
      [['slow', 'NLUAgent', 'ms=2000'], /ms=2000: "2000" has no unit: write 2000ms or 2000s/],
      [['kill', 'A', 'B'], /"B": one agent only/],
      [['flood', 'NLUAgent', 'speed=3'], /unknown key "speed"/],
      [['status', '--control', 'tcp://10.0.0.1:7999'], /the sim is on loopback/],
    ] as const) {
      const r = await ctl([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
      assert.match(r.err, message);
    }
  });
});
