// opsdeck agent's control handler (core/resources/machine-control.ts) with the machine behind an
// interface: what it asks ResourceManager, what it renices, and that an upstream refusal or a
// failed step is a failure in the reply, never a success.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  machineControl,
  type MachineSide,
  type RmAnswer,
} from '../../source/core/resources/machine-control.js';
import type { AgentProcess } from '../../source/core/fleet/processes.js';

function side(
  answer: (request: Record<string, unknown>) => RmAnswer,
  procs: AgentProcess[] | { error: string } = [],
  renice: (
    pid: number,
    nice: number,
  ) => { ok: true; nice: number } | { ok: false; error: string } = (_pid, nice) => ({
    ok: true,
    nice,
  }),
): MachineSide & { asked: Record<string, unknown>[]; reniced: Array<[number, number]> } {
  const asked: Record<string, unknown>[] = [];
  const reniced: Array<[number, number]> = [];
  return {
    asked,
    reniced,
    rm: { endpoint: 'tcp://127.0.0.2:7113', ask: async (r) => (asked.push(r), answer(r)) },
    processes: async () => procs,
    renice: async (pid, nice) => (reniced.push([pid, nice]), renice(pid, nice)),
  };
}
const proc = (pid: number, agent: string): AgentProcess => ({
  pid,
  argv: ['python', `${agent}.py`],
  ports: [],
  agent,
  script: `${agent}.py`,
});
const open = { mode: 'open' as const };

describe("opsdeck agent's set_throttle", () => {
  test("upstream's set_thresholds with the level's thresholds, then every agent process reniced", async () => {
    const s = side(
      () => ({
        ok: true,
        reply: { status: 'success', thresholds: { cpu: 70, memory: 70, gpu: 55 } },
      }),
      [proc(11, 'A'), proc(12, 'B')],
    );
    const r = await machineControl(
      { action: 'set_throttle', level: 2 },
      { machine: 'pc2', auth: open, side: s },
    );
    assert.deepEqual(s.asked, [
      { action: 'set_thresholds', cpu_threshold: 70, memory_threshold: 70, gpu_threshold: 55 },
    ]);
    assert.deepEqual(s.reniced, [
      [11, 10],
      [12, 10],
    ]);
    assert.equal(r.reply.status, 'success');
    assert.deepEqual(r.reply.did, [
      'ResourceManager tcp://127.0.0.2:7113: set_thresholds cpu 70 / memory 70 / gpu 55 answered success',
      'reniced 2 of 2 agent processes to nice 10',
    ]);
    assert.equal(r.change?.applied, true);
  });

  test('a ResourceManager that refuses is a failure with its reply, and nothing is reniced', async () => {
    const s = side(
      () => ({ ok: true, reply: { status: 'error', message: 'Unknown action: set_thresholds' } }),
      [proc(11, 'A')],
    );
    const r = await machineControl(
      { action: 'set_throttle', level: 1 },
      { machine: 'pc2', auth: open, side: s },
    );
    assert.equal(r.reply.status, 'error');
    assert.match(
      String(r.reply.message),
      /ResourceManager did not apply set_thresholds: .*Unknown action: set_thresholds.*; nothing changed/,
    );
    assert.deepEqual(r.reply.upstream, {
      status: 'error',
      message: 'Unknown action: set_thresholds',
    });
    assert.deepEqual(s.reniced, []);
    assert.equal(r.change?.applied, false);
  });

  test('a process that cannot be reniced makes the level a failure, said per process', async () => {
    const s = side(
      () => ({ ok: true, reply: { status: 'success' } }),
      [proc(11, 'A'), proc(12, 'B')],
      (pid, nice) =>
        pid === 12
          ? {
              ok: false,
              error: "EPERM: lowering another user's process priority needs CAP_SYS_NICE",
            }
          : { ok: true, nice },
    );
    const r = await machineControl(
      { action: 'set_throttle', level: 3 },
      { machine: 'pc2', auth: open, side: s },
    );
    assert.equal(r.reply.status, 'error');
    assert.deepEqual(r.reply.failed, [
      "B (pid 12): EPERM: lowering another user's process priority needs CAP_SYS_NICE",
    ]);
    assert.match(String(r.reply.message), /^level 3 only in part: B \(pid 12\): EPERM/);
  });

  test('no ResourceManager on the machine: read-only and state changes say so', async () => {
    const none: MachineSide = {
      processes: async () => [],
      renice: async (_p, n) => ({ ok: true, nice: n }),
    };
    for (const body of [{ action: 'get_status' }, { action: 'set_throttle', level: 1 }]) {
      const r = await machineControl(body, { machine: 'mainpc', auth: open, side: none });
      assert.equal(r.reply.status, 'error');
      assert.match(String(r.reply.message), /^no ResourceManager on mainpc/);
    }
  });

  test('bad levels and thresholds are refused before anything is asked', async () => {
    const s = side(() => ({ ok: true, reply: { status: 'success' } }));
    const bad = await machineControl(
      { action: 'set_throttle', level: 7 },
      { machine: 'pc2', auth: open, side: s },
    );
    assert.match(String(bad.reply.message), /^level must be an integer 0-3/);
    const t = await machineControl(
      { action: 'set_thresholds', gpu_threshold: 'high' },
      { machine: 'pc2', auth: open, side: s },
    );
    assert.match(String(t.reply.message), /gpu_threshold must be a number 0-100/);
    assert.deepEqual(s.asked, []);
  });
});
