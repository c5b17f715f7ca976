// `opsdeck agent --bridge` and `opsdeck errorbus doctor` as commands: bad input refused with exit 2
// before anything connects; the doctor without NATS (config and probes only) still explains.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';

const dir = mkdtempSync(join(tmpdir(), 'opsdeck-bridge-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const mainpc = join(dir, 'mainpc.yaml');
const pc2 = join(dir, 'pc2.yaml');
writeFileSync(
  mainpc,
  'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17701, health_check_port: 18701}\n',
);
writeFileSync(
  pc2,
  'pc2_services:\n- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, port: 7150, health_check_port: 8150}\n- {name: Auth, script_path: pc2_code/agents/ForPC2/auth.py, port: 7116, health_check_port: 8116}\nerror_bus_port: 7150\n',
);
// Addresses nothing listens on (loopback, our own).
const env = {
  MAINPC_IP: '127.0.0.106',
  PC2_IP: '127.0.0.107',
  MAINPC_ERROR_BUS_HOST: '127.0.0.106',
  PATH: process.env.PATH,
};

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env, cwd: dir };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('opsdeck agent --bridge: bad input', () => {
  test('a machine the fleet does not have', async () => {
    const r = await run([
      'agent',
      '--machine',
      'pc3',
      '--bridge',
      '--mainpc',
      mainpc,
      '--pc2',
      pc2,
      '--nats',
      'nats://127.0.0.1:1',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--bridge: no machine "pc3" in the fleet config \(machines: mainpc, pc2\)/);
  });
  test('a buffer that is not a positive integer', async () => {
    const r = await run([
      'agent',
      '--machine',
      'mainpc',
      '--bridge',
      '--bridge-buffer',
      '0',
      '--mainpc',
      mainpc,
      '--nats',
      'nats://127.0.0.1:1',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--bridge-buffer 0: expected a positive integer/);
  });
  test('no fleet config to plan from', async () => {
    const r = await run([
      'agent',
      '--machine',
      'mainpc',
      '--bridge',
      '--root',
      dir,
      '--nats',
      'nats://127.0.0.1:1',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /no fleet config found/);
  });
});

describe('opsdeck errorbus doctor without NATS', () => {
  test('config and probes only: MainPC publishers connect where nothing listens; CentralErrorBus down on PC2', async () => {
    const r = await run([
      'errorbus',
      'doctor',
      '--mainpc',
      mainpc,
      '--pc2',
      pc2,
      '--observe',
      '0s',
    ]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /^phase in KV: unknown \(no NATS\)$/m);
    assert.match(
      r.out,
      /^mainpc \(127\.0\.0\.106\): effectively phase 0 zmq: errors of Alpha reach no one$/m,
    );
    assert.match(
      r.out,
      /^ {2}port 7150: config: nothing; probe: none \(refused: nothing listens\)$/m,
    );
    assert.match(r.out, /^ {2}lost without the bridge \(1\): Alpha$/m);
    assert.match(
      r.out,
      /MISMATCH: config expects CentralErrorBus's PUB \(tcp:\/\/\*:7150\); the probe found nothing listens/,
    );
    assert.match(
      r.out,
      /bridge: connect a SUB \(CentralErrorBus's PUB \(tcp:\/\/\*:7150\) binds here \(now: nothing \(probe\)\): the bridge never takes the port/,
    );
  });
  test('--json has the schema; --no-probe leaves the ports unprobed', async () => {
    const r = await run([
      'errorbus',
      'doctor',
      '--json',
      '--no-probe',
      '--mainpc',
      mainpc,
      '--pc2',
      pc2,
      '--observe',
      '0s',
    ]);
    const json = JSON.parse(r.out) as {
      schema: string;
      machines: Array<{ id: string; ports: Array<{ probe?: unknown }> }>;
    };
    assert.equal(json.schema, 'opsdeck.errorbus-doctor/1');
    assert.deepEqual(
      json.machines.map((m) => [m.id, m.ports.map((p) => p.probe ?? 'unprobed')]),
      [
        ['mainpc', ['unprobed']],
        ['pc2', ['unprobed']],
      ],
    );
  });
  test('a bad duration is bad input', async () => {
    const r = await run(['errorbus', 'doctor', '--observe', 'soon', '--mainpc', mainpc]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /option '--observe <duration>' argument 'soon' is invalid\. expected a duration/,
    );
  });
});
