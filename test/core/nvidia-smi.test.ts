// The GPU parser against recorded nvidia-smi output (no GPU on CI machines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gpuArgs, parseGpus, vramByPid } from '../../source/core/resources/nvidia-smi.js';

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
