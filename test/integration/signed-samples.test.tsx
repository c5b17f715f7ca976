// Resource samples that drive an action must come from the machine. Anyone who can publish on
// opsdeck.pc2.resources once raised PC2's throttle level with a forged VRAM 99% and had a forged
// `throttleLevel: 0` "followed". With a real nats-server and the sim signing its samples as
// `opsdeck agent --sample-key` does: forged, tampered, misattributed and replayed samples move
// nothing and are said in auto-throttle's output; the console marks them unverified.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type MsgHdrs, type NatsConnection } from 'nats';
import { render } from 'ink-testing-library';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import {
  newSampleKey,
  readSampleKeys,
  SAMPLE_SIG_HEADER,
  signerFor,
} from '../../source/adapters/sample-sign.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import { startDataPlane } from '../../source/wiring/data-plane.js';
import { MachinePane } from '../../source/components/machine-pane.js';
import { host, NATS_BIN, NEEDS_NATS, sleep, tempDir, until, writeFleet } from '../fault/helpers.js';
import { levelOfThresholds } from '../../source/core/resources/throttle.js';

const HOSTS = { mainpc: host(71), pc2: host(72) };
const tmp = tempDir('signed');
const fleet = writeFleet(tmp.dir, {
  ...HOSTS,
  agents: { Alpha: [27311, 28311] },
  pc2Agents: { ResourceManager: [7113, 8113], VisionA: [27111, 28111] },
});
const keys = { mainpc: newSampleKey('mainpc'), pc2: newSampleKey('pc2') };
const KEYS_FILE = join(tmp.dir, 'sample-keys.json');
writeFileSync(KEYS_FILE, JSON.stringify({ keys: [keys.mainpc.public, keys.pc2.public] }));
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});

async function opsdeck(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env: { OPSDECK_AUDIT: join(tmp.dir, 'audit.jsonl'), USER: 'tester' },
    cwd: tmp.dir,
  };
  return { code: await main(args, io), out, err };
}

const enc = new TextEncoder();
/** A sample as PC2 would send it, VRAM and level as given. */
const forged = (usedMb: number, throttleLevel: number, ts = Date.now()) => ({
  machine: 'pc2',
  ts,
  source: 'agent',
  gpu: { name: 'RTX 3060', totalMb: 12288, usedMb, utilPct: 99 },
  cpuPct: 50,
  ramTotalMb: 32768,
  ramUsedMb: 9000,
  throttleLevel,
  agents: [],
});

describe('signed resource samples', { skip: NEEDS_NATS }, () => {
  let sim: Sim;
  let nc: NatsConnection;
  /** The genuine PC2 samples as they went by: bytes and signature header. */
  const genuine: Array<{ data: Uint8Array; headers: MsgHdrs | undefined }> = [];

  before(async () => {
    sim = await startSim({
      machines: fleet.machines,
      hosts: HOSTS,
      overrides: {
        defaults: { error_variant: 'none', nats_library: 'none' },
        agents: { VisionA: { vram_mb: 6000 } },
        machines: {},
      },
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 0,
      sampleSigners: {
        mainpc: signerFor('mainpc', keys.mainpc.key),
        pc2: signerFor('pc2', keys.pc2.key),
      },
    });
    cleanups.push(() => sim.stop());
    nc = await connect({ servers: sim.natsUrl! });
    cleanups.push(() => nc.close());
    nc.subscribe('opsdeck.pc2.resources', {
      callback: (_e, m) => {
        if (m.headers?.get(SAMPLE_SIG_HEADER)) genuine.push({ data: m.data, headers: m.headers });
      },
    });
  });

  /** Every way to fake a PC2 sample short of stealing its key. */
  const forgeries = (n: number): Array<[string, Uint8Array, MsgHdrs | undefined]> => {
    const high = enc.encode(JSON.stringify(forged(12100, 1)));
    const stranger = signerFor('pc2', newSampleKey('pc2').key);
    const asMainpc = signerFor('mainpc', keys.mainpc.key);
    const last = genuine.at(-1)!;
    const tampered = enc.encode(
      JSON.stringify({
        ...JSON.parse(new TextDecoder().decode(last.data)),
        gpu: forged(12100, 1).gpu,
      }),
    );
    const out: Array<[string, Uint8Array, MsgHdrs | undefined]> = [];
    for (let i = 0; i < n; i++) {
      out.push(['unsigned', high, undefined]);
      out.push(['stranger', high, stranger.headers(high)]);
      out.push(["mainpc's key", high, asMainpc.headers(high)]);
      out.push(['tampered', tampered, last.headers]);
      out.push(['replayed', last.data, last.headers]);
      const zero = enc.encode(JSON.stringify(forged(3000, 0)));
      out.push(['level 0', zero, undefined]);
    }
    return out;
  };

  const autoOn = (...args: string[]) =>
    opsdeck(['throttle', 'pc2', '--auto', 'on', '--nats', sim.natsUrl!, ...args]);

  test('auto-throttle: forged VRAM 99% and throttleLevel 0 do not move it; each kind is said', async () => {
    const set = await opsdeck(['throttle', 'pc2', '--level', '1', '--nats', sim.natsUrl!, '--yes']);
    assert.equal(set.code, 0, set.out + set.err);
    const running = autoOn(
      '--raise-above',
      '90',
      '--lower-below',
      '2',
      '--samples',
      '2',
      '--sample-keys',
      KEYS_FILE,
      '--duration',
      '8s',
    );
    await until('the runner', async () => {
      const r = await nc
        .request('opsdeck.pc2.throttle.auto', enc.encode('{"auto":"status"}'), { timeout: 500 })
        .catch(() => undefined);
      return r && (JSON.parse(new TextDecoder().decode(r.data)) as { level: unknown }).level === 1;
    });
    // Bursts between genuine samples: two forged in a row would have raised it on the old code.
    for (let round = 0; round < 4; round++) {
      for (const [, data, h] of forgeries(3))
        nc.publish('opsdeck.pc2.resources', data, h ? { headers: h } : undefined);
      await nc.flush();
      await sleep(700);
    }
    const ran = await running;
    assert.equal(ran.code, 0, ran.err);
    assert.equal(levelOfThresholds(sim.machine('pc2')!.rm.thresholds), 1, 'the level did not move');
    assert.match(ran.out, /acts only on samples signed by pc2's key/);
    for (const reason of [
      'unsigned',
      'signed by an unknown key',
      "signed with mainpc's key on pc2's subject",
      'bad signature',
      'replayed: not newer than the last signed one',
    ])
      assert.ok(
        ran.out.includes(`ignored an unverified sample (${reason})`),
        `${reason} said:\n${ran.out}`,
      );
    assert.doesNotMatch(ran.out, /level 1 -> 2|following it/);
    assert.match(
      ran.out,
      /auto-throttle pc2 stopped \(--duration 8s\); pc2 shows: thresholds 75\/75\/70 = level 1/,
    );
  });

  test('auto-throttle without sample keys refuses to start (exit 2), nothing sent', async () => {
    const r = await autoOn('--secrets', join(tmp.dir, 'no-secrets'));
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(
      r.err,
      /no sample keys at .*samples\/keys\.json: auto-throttle acts only on resources samples signed by the machine/,
    );
  });

  test('the console: signed samples verified, forged ones shown unverified with the reason', async () => {
    const plane = startDataPlane({
      machines: fleet.machines,
      nats: sim.natsUrl!,
      live: false,
      sampleKeys: readSampleKeys(KEYS_FILE),
    });
    cleanups.push(() => plane.stop());
    const pc2 = () => plane.resources.getSnapshot().machines.pc2;
    await until('a signed sample', () => pc2()?.auth.verified === true, 10_000);
    // Every sample the store takes, as it takes it (a genuine one follows within a second).
    const unverified: string[] = [];
    let frames = 0;
    let last = pc2();
    const stop = plane.resources.subscribe(() => {
      const m = pc2();
      // Called for every machine's samples: only a new PC2 one counts.
      if (!m || m === last) return;
      last = m;
      if (m.auth.verified) return;
      unverified.push(m.auth.reason);
      const frame = render(
        <MachinePane
          machine={fleet.machines[1]!}
          rows={[]}
          resources={m}
          stale={false}
          nats="connected"
          zmqLastAt={undefined}
          cursor={0}
          focused={false}
          width={140}
          height={6}
          now={Date.now()}
          filter=""
        />,
      );
      if (/VRAM .* unverified/.test(frame.lastFrame() ?? '')) frames++;
      frame.unmount();
    });
    cleanups.push(stop);
    const sent = forgeries(1);
    for (const [, data, h] of sent) {
      nc.publish('opsdeck.pc2.resources', data, h ? { headers: h } : undefined);
      await nc.flush();
    }
    await until(
      'every forgery taken',
      () => unverified.length >= sent.length,
      5000,
      () => unverified.join('; '),
    );
    assert.deepEqual(unverified.sort(), [
      'bad signature',
      'replayed: not newer than the last signed one',
      'signed by an unknown key',
      "signed with mainpc's key on pc2's subject",
      'unsigned',
      'unsigned',
    ]);
    assert.equal(frames, sent.length, 'each one drawn as unverified');
    await until('signed again', () => pc2()?.auth.verified === true, 5000);
    const m = pc2()!;
    assert.equal(m.sample.throttleLevel, levelOfThresholds(sim.machine('pc2')!.rm.thresholds));
  });
});
