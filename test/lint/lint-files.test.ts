import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findLintFiles, runLint } from '../../source/adapters/lint-files.js';
import { RULE_IDS } from '../../source/core/lint/finding.js';

const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-lint-files-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const write = (rel: string, text = 'pass\n') => {
  mkdirSync(dirname(join(scratch, rel)), { recursive: true });
  writeFileSync(join(scratch, rel), text);
};

describe('lint file discovery and runs', () => {
  test('finds *.py and compose files; skips vendored, cached and hidden folders', () => {
    for (const f of [
      'a.py',
      'pkg/b.py',
      'docker-compose.yml',
      'docker/x/docker-compose.pc2.yaml',
      'compose.yml',
      'compose-dev.yaml',
      'notcompose.yml',
      'docker-compose.txt',
      'node_modules/m.py',
      'venv/v.py',
      '.git/g.py',
      '__pycache__/c.py',
      '.hidden/h.py',
    ])
      write(`find/${f}`);
    const found = findLintFiles(join(scratch, 'find'));
    const rel = (paths: string[]) =>
      paths.map((p) => p.slice(join(scratch, 'find').length + 1)).sort();
    assert.deepEqual(rel(found.python), ['a.py', 'pkg/b.py']);
    assert.deepEqual(rel(found.compose), [
      'compose-dev.yaml',
      'compose.yml',
      'docker-compose.yml',
      'docker/x/docker-compose.pc2.yaml',
    ]);
    assert.deepEqual(findLintFiles(join(scratch, 'find/a.py')).python, [
      join(scratch, 'find/a.py'),
    ]);
  });

  test('worker threads report exactly what one thread reports', async () => {
    const client =
      'import zmq\ndef f(ctx):\n    s = ctx.socket(zmq.REQ)\n    return s.recv_json()\n';
    for (let i = 0; i < 12; i++)
      write(`many/m${i}.py`, i % 3 === 0 ? client : i % 3 === 1 ? 'def broken(:\n' : 'x = 1\n');
    const root = join(scratch, 'many');
    const base = { root, cwd: root, rules: new Set(RULE_IDS), machines: [], env: {} };
    const one = await runLint({ ...base, workers: 1 });
    const two = await runLint({ ...base, workers: 2 });
    assert.equal(one.findings.length, 8);
    assert.deepEqual(two.findings, one.findings);
  });
});
