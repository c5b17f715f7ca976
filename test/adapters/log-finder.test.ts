// Where `opsdeck agent` finds an agent's log on a real checkout (`--root`): BaseAgent's file and
// log_setup's under <root>/logs, and upstream's launcher capture of its stdout in the folder it
// runs the agent from (main_pc_code/logs/<Name>.log, pc2_code/logs/ on PC2). The newest wins.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileOrDockerFinder } from '../../source/agent/logs.js';

const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-log-finder-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// A docker that is not there: the finder's last resort answers with its error at once.
const NO_DOCKER = join(scratch, 'no-docker');

let n = 0;
function checkout(files: Record<string, number>): string {
  const root = join(scratch, `root-${n++}`);
  mkdirSync(join(root, 'main_pc_code/agents'), { recursive: true });
  mkdirSync(join(root, 'pc2_code/agents'), { recursive: true });
  for (const [path, age] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), 'a line\n');
    const t = new Date(Date.now() - age * 1000);
    utimesSync(join(root, path), t, t);
  }
  return root;
}

const agent = (machine: string) => ({
  name: 'MemoryOrchestrator',
  scriptPath: `${machine === 'pc2' ? 'pc2_code' : 'main_pc_code'}/agents/memory_orchestrator.py`,
  machine,
});

describe('log finder on a real checkout', () => {
  test("only the launcher's capture: main_pc_code/logs/<Name>.log on MainPC", async () => {
    const root = checkout({ 'main_pc_code/logs/MemoryOrchestrator.log': 5 });
    const found = await fileOrDockerFinder(
      root,
      [agent('mainpc')],
      NO_DOCKER,
    )('MemoryOrchestrator');
    assert.deepEqual(found, {
      kind: 'file',
      path: join(root, 'main_pc_code/logs/MemoryOrchestrator.log'),
    });
  });

  test("PC2's launcher writes under pc2_code/logs", async () => {
    const root = checkout({ 'pc2_code/logs/MemoryOrchestrator.log': 5 });
    const found = await fileOrDockerFinder(root, [agent('pc2')], NO_DOCKER)('MemoryOrchestrator');
    assert.deepEqual(found, {
      kind: 'file',
      path: join(root, 'pc2_code/logs/MemoryOrchestrator.log'),
    });
  });

  test("BaseAgent's file and the capture both there: the one written last", async () => {
    const older = checkout({
      'logs/memoryorchestrator.log': 60,
      'main_pc_code/logs/MemoryOrchestrator.log': 5,
    });
    const a = await fileOrDockerFinder(older, [agent('mainpc')], NO_DOCKER)('MemoryOrchestrator');
    assert.deepEqual(a, {
      kind: 'file',
      path: join(older, 'main_pc_code/logs/MemoryOrchestrator.log'),
    });
    const newer = checkout({
      'logs/memoryorchestrator.log': 5,
      'main_pc_code/logs/MemoryOrchestrator.log': 60,
    });
    const b = await fileOrDockerFinder(newer, [agent('mainpc')], NO_DOCKER)('MemoryOrchestrator');
    assert.deepEqual(b, { kind: 'file', path: join(newer, 'logs/memoryorchestrator.log') });
  });

  test('none of them: the error names every path tried, the capture included', async () => {
    const root = checkout({});
    const r = await fileOrDockerFinder(root, [agent('mainpc')], NO_DOCKER)('MemoryOrchestrator');
    assert.ok('error' in r);
    assert.match(
      r.error,
      /no log found for MemoryOrchestrator: no file of .*main_pc_code\/logs\/MemoryOrchestrator\.log/,
    );
  });
});
