// The `machine/agent` key is built in one place (core/fleet/agent-key.ts); a key spelled by hand
// elsewhere is how lookups start to miss silently, so the source is checked for one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentKey, splitAgentKey } from '../../source/core/fleet/agent-key.js';

const SOURCE = join(import.meta.dirname, '../../source');

describe('agent key', () => {
  test('built and split again', () => {
    assert.equal(agentKey('pc2', 'MemoryHub'), 'pc2/MemoryHub');
    assert.deepEqual(splitAgentKey('pc2/MemoryHub'), { machine: 'pc2', agent: 'MemoryHub' });
    assert.equal(splitAgentKey('MemoryHub'), undefined);
    assert.equal(splitAgentKey('/MemoryHub'), undefined);
  });

  test('no key spelled by hand in source/ (a template that is exactly `${machine}/${agent}`)', () => {
    const bare = /`\$\{[^`{}]*(machine|\.id)[^`{}]*\}\/\$\{[^`{}]*(agent|name)[^`{}]*\}`/gi;
    const found: string[] = [];
    for (const file of readdirSync(SOURCE, { recursive: true, encoding: 'utf8' })) {
      if (!/\.tsx?$/.test(file) || file.endsWith('agent-key.ts')) continue;
      readFileSync(join(SOURCE, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const m of line.matchAll(bare)) found.push(`source/${file}:${i + 1}: ${m[0]}`);
        });
    }
    assert.deepEqual(found, [], 'use agentKey(machine, agent) from core/fleet/agent-key.ts');
  });
});
