import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffLines, unifiedDiff } from '../../source/core/diff.js';

/** Applies a unified diff the way patch does, to check that hunks are numbered and complete. */
function applyPatch(before: string, patch: string): string {
  // Each line with whether it ends in a newline.
  const lines =
    before === ''
      ? []
      : before.split(/(?<=\n)/).map((l) => ({ text: l.replace(/\n$/, ''), nl: l.endsWith('\n') }));
  const out: Array<{ text: string; nl: boolean }> = [];
  let cursor = 0;
  const body = patch.split('\n').slice(2);
  if (body.at(-1) === '') body.pop();
  for (let i = 0; i < body.length; i++) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(body[i]!);
    assert.ok(header, `expected a hunk header, got ${body[i]}`);
    const start = Number(header[1]) - (header[2] === '0' ? 0 : 1);
    assert.ok(start >= cursor, 'hunks overlap or go backwards');
    while (cursor < start) out.push(lines[cursor++]!);
    while (i + 1 < body.length && !body[i + 1]!.startsWith('@@')) {
      const line = body[++i]!;
      const nl = body[i + 1] !== '\\ No newline at end of file';
      if (!nl) i++;
      const text = line.slice(1);
      if (line[0] === ' ' || line[0] === '-') {
        assert.deepEqual(
          lines[cursor],
          { text, nl },
          `context/removal mismatch at line ${cursor + 1}`,
        );
        cursor++;
      }
      if (line[0] === ' ' || line[0] === '+') out.push({ text, nl });
    }
  }
  while (cursor < lines.length) out.push(lines[cursor++]!);
  return out.map((l) => l.text + (l.nl ? '\n' : '')).join('');
}

describe('unified diff', () => {
  test('equal texts give no diff', () => {
    assert.equal(unifiedDiff('a\nb\n', 'a\nb\n', { fromFile: 'x', toFile: 'x' }), '');
  });

  test('matches diff -u for a one-line change in a long file', () => {
    const before = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const after = before.replace('line 6\n', 'line six\n');
    assert.equal(
      unifiedDiff(before, after, { fromFile: 'a/cfg.yaml', toFile: 'b/cfg.yaml' }),
      [
        '--- a/cfg.yaml',
        '+++ b/cfg.yaml',
        '@@ -3,7 +3,7 @@',
        ' line 3',
        ' line 4',
        ' line 5',
        '-line 6',
        '+line six',
        ' line 7',
        ' line 8',
        ' line 9',
        '',
      ].join('\n'),
    );
  });

  test('separate changes far apart make separate hunks; near ones merge', () => {
    const before = Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n') + '\n';
    const far = before.replace('l2\n', 'X\n').replace('l25\n', 'Y\n');
    assert.equal(
      (unifiedDiff(before, far, { fromFile: 'a', toFile: 'b' }).match(/^@@/gm) ?? []).length,
      2,
    );
    const near = before.replace('l2\n', 'X\n').replace('l8\n', 'Y\n');
    assert.equal(
      (unifiedDiff(before, near, { fromFile: 'a', toFile: 'b' }).match(/^@@/gm) ?? []).length,
      1,
    );
  });

  test('a missing final newline is marked as diff marks it', () => {
    const patch = unifiedDiff('a\nb', 'a\nb\n', { fromFile: 'a', toFile: 'b' });
    assert.equal(
      patch,
      [
        '--- a',
        '+++ b',
        '@@ -1,2 +1,2 @@',
        ' a',
        '-b',
        '\\ No newline at end of file',
        '+b',
        '',
      ].join('\n'),
    );
  });

  test('from and to an empty file', () => {
    assert.equal(
      unifiedDiff('', 'x\n', { fromFile: '/dev/null', toFile: 'b' }),
      '--- /dev/null\n+++ b\n@@ -0,0 +1 @@\n+x\n',
    );
    assert.equal(
      unifiedDiff('x\ny\n', '', { fromFile: 'a', toFile: 'b' }),
      '--- a\n+++ b\n@@ -1,2 +0,0 @@\n-x\n-y\n',
    );
  });

  test('the edit script is minimal: only the changed lines are not kept', () => {
    const edits = diffLines(['a', 'b', 'c', 'd'], ['a', 'c', 'd', 'e']);
    assert.deepEqual(
      edits.filter((e) => e.op !== ' ').map((e) => e.op + e.line),
      ['-b', '+e'],
    );
  });

  test('random edits: applying the diff to the old text gives the new text', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let t = 0; t < 400; t++) {
      const a = Array.from({ length: Math.floor(rnd() * 25) }, () => `l${Math.floor(rnd() * 5)}`);
      const b = a
        .filter(() => rnd() > 0.25)
        .map((l) => (rnd() < 0.15 ? `x${Math.floor(rnd() * 3)}` : l));
      if (rnd() < 0.4) b.splice(Math.floor(rnd() * (b.length + 1)), 0, 'new');
      const before = a.join('\n') + (a.length && rnd() < 0.8 ? '\n' : '');
      const after = b.join('\n') + (b.length && rnd() < 0.8 ? '\n' : '');
      const patch = unifiedDiff(before, after, {
        fromFile: 'a',
        toFile: 'b',
        context: Math.floor(rnd() * 4),
      });
      assert.equal(
        patch === '' ? before : applyPatch(before, patch),
        after,
        `case ${t}: ${JSON.stringify([before, after])}\n${patch}`,
      );
    }
  });
});
