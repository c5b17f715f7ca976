// The GPU parser against recorded nvidia-smi output (no GPU on CI machines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  gpuArgs,
  parseGpus,
  vramByAgent,
  vramByPid,
} from '../../source/core/resources/nvidia-smi.js';
import { parentFromStat } from '../../source/core/fleet/processes.js';

const rec = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../fixtures/nvidia-smi/${name}`, import.meta.url)), 'utf8');

test('RTX 4090 with two python processes', () => {
  const r = parseGpus(rec('mainpc-gpu.csv'), rec('mainpc-apps.csv'));
  assert.ok(r.ok);
  const [gpu] = r.value;
  assert.deepEqual(
    { ...gpu, processes: gpu!.processes.map((p) => `${p.pid}:${p.name}:${p.usedMb}`) },
    {
      index: 0,
      uuid: 'GPU-5f3c2b1e-8a4d-4c2e-9b1f-2d6e8c0a7f31',
      name: 'NVIDIA GeForce RTX 4090',
      totalMb: 24564,
      usedMb: 18231,
      freeMb: 5925,
      utilPercent: 87,
      tempC: 71,
      processes: ['2211:python3:9120', '2290:/usr/bin/python3.10:8766'],
    },
  );
  assert.deepEqual(r.skipped, []);
});

test('[N/A] utilisation is null, not NaN; no processes is fine', () => {
  const r = parseGpus(rec('pc2-gpu.csv'), rec('pc2-apps.csv'));
  assert.ok(r.ok);
  assert.equal(r.value[0]!.utilPercent, null);
  assert.equal(r.value[0]!.usedMb, 11002);
  assert.deepEqual(r.value[0]!.processes, []);
});

test('two GPUs; a process is attached by uuid; [Not Supported] temperature', () => {
  const r = parseGpus(rec('two-gpus.csv'), rec('two-apps.csv'));
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.map((g) => [g.index, g.usedMb, g.tempC, g.processes.length]),
    [
      [0, 1024, 30, 0],
      [1, 40000, null, 1],
    ],
  );
  assert.equal(r.value[1]!.processes[0]!.usedMb, null);
});

test('a driver failure message is a readable refusal', () => {
  const r = parseGpus(rec('driver-fail.txt'));
  assert.equal(r.ok, false);
  assert.match(
    r.ok ? '' : r.reason,
    /nvidia-smi printed no GPU rows \(first line: "NVIDIA-SMI has failed/,
  );
  assert.equal(parseGpus('').ok, false);
});

test('garbage rows are skipped and reported, good rows kept', () => {
  const r = parseGpus(`${rec('mainpc-gpu.csv')}this is not csv\n`, 'GPU-unknown, 1, x, 5\n');
  assert.ok(r.ok);
  assert.equal(r.value.length, 1);
  assert.deepEqual(r.skipped, ['this is not csv', 'GPU-unknown, 1, x, 5']);
});

test('the query asks for the columns the parser reads', () => {
  assert.deepEqual(gpuArgs, [
    '--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,utilization.gpu,temperature.gpu',
    '--format=csv,noheader,nounits',
  ]);
});

test('VRAM per pid: summed over GPUs; [N/A] is unknown (null), not zero', () => {
  const main = parseGpus(rec('mainpc-gpu.csv'), rec('mainpc-apps.csv'));
  assert.ok(main.ok);
  assert.deepEqual(
    [...vramByPid(main.value)],
    [
      [2211, 9120],
      [2290, 8766],
    ],
  );
  const two = parseGpus(rec('two-gpus.csv'), rec('two-apps.csv'));
  assert.ok(two.ok);
  assert.deepEqual([...vramByPid(two.value)], [[77, null]]);
  // One process on both GPUs (a model split across them): its share on each, added.
  const split = parseGpus(
    rec('two-gpus.csv'),
    'GPU-aaaa, 500, python3, 1000\nGPU-bbbb, 500, python3, 30000\n',
  );
  assert.ok(split.ok);
  assert.deepEqual([...vramByPid(split.value)], [[500, 31000]]);
});

test("VRAM per agent: a descendant's counts for its nearest agent ancestor; no agent above it: nobody's", () => {
  // 10 and 20 are agents; 11 is 10's child, 12 its grandchild; 21 is 20's child; 30 has no
  // agent above it; 40's parent is unknown (gone). 50 loops on itself (a bad /proc read).
  const parents = new Map([
    [11, 10],
    [12, 11],
    [21, 20],
    [20, 1],
    [30, 1],
    [50, 50],
  ]);
  const vram = new Map<number, number | null>([
    [10, 100],
    [12, 2000],
    [21, null],
    [30, 500],
    [40, 700],
    [50, 1],
  ]);
  const owned = vramByAgent(vram, new Set([10, 20, 60]), (pid) => parents.get(pid));
  assert.deepEqual(
    [...owned].sort((a, b) => a[0] - b[0]),
    [
      [10, 2100],
      [20, null],
    ],
  );
  // An agent whose processes hold nothing is absent: vramOf says 0 for it.
  assert.equal(owned.has(60), false);
});

test('the parent pid from /proc/<pid>/stat, a command name with spaces and parentheses too', () => {
  assert.equal(parentFromStat('1234 (python3) S 77 1234 1234 0 -1 4194560'), 77);
  assert.equal(parentFromStat('99 (a (b) c) R 5 99 99 0 -1 0'), 5);
  assert.equal(parentFromStat('1 (init) S 0 1 1 0 -1 0'), undefined);
  assert.equal(parentFromStat('garbage'), undefined);
});
