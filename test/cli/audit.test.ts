// `opsdeck audit`: the table, --json, --last, damaged lines reported by number with the rest
// still shown, and nothing from a log line reaching the terminal as an escape sequence.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../source/cli.js';
import { appendAudit } from '../../source/adapters/audit.js';
import type { Io } from '../../source/commands/io.js';

const dir = mkdtempSync(join(tmpdir(), 'opsdeck-audit-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function audit(path: string, ...args: string[]) {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env: { OPSDECK_AUDIT: path },
    cwd: dir,
  };
  const code = await main(['audit', ...args], io);
  return { code, out, err };
}

function log(name: string): string {
  const path = join(dir, name);
  appendAudit(
    {
      time: '2026-01-02T03:04:05.000Z',
      operator: 'ana@10.0.0.9',
      machine: 'fleet',
      action: 'errorbus.advance',
      args: { direction: 'advance', window: '10m' },
      outcome: 'ok',
      detail: 'errorbus.phase: phase 0 zmq -> 1 dual-publish',
    },
    path,
  );
  appendAudit(
    {
      time: '2026-01-02T03:05:00.000Z',
      operator: 'ben',
      machine: 'pc2',
      action: 'throttle.set',
      args: { level: 'hard', token: 'eyJ-secret' },
      outcome: 'refused',
      detail: 'preflight failed',
    },
    path,
  );
  appendAudit(
    {
      time: '2026-01-02T03:06:00.000Z',
      operator: 'ana',
      machine: 'mainpc-host',
      action: 'config.migrate',
      args: { file: '/srv/x\u001b]52;c;aGk=\u0007.yaml' },
      outcome: 'ok',
      detail: 'migrated; backup /srv/backup/x',
    },
    path,
  );
  return path;
}

describe('opsdeck audit', () => {
  test('a table of time, operator, machine, action, outcome, args and detail; secrets redacted when written', async () => {
    const r = await audit(log('a.jsonl'));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^TIME +OPERATOR +MACHINE +ACTION +OUTCOME +ARGS/);
    assert.match(
      lines[1]!,
      /^2026-01-02T03:04:05\.000Z +ana@10\.0\.0\.9 +fleet +errorbus\.advance +ok +direction=advance window=10m +— errorbus\.phase: phase 0 zmq -> 1 dual-publish$/,
    );
    assert.match(lines[2]!, /throttle\.set +refused +level=hard token=\[redacted\]/);
    assert.doesNotMatch(r.out, /eyJ-secret/);
    // The OSC 52 clipboard write in a file name is inert text on the way out.
    assert.ok(
      !r.out.includes('\u001b') && !r.out.includes('\u0007'),
      'no ESC or BEL in the output',
    );
    assert.match(lines[3]!, /file=\/srv\/x.*\.yaml/);
  });

  test('--last N keeps the newest N; --json has every field', async () => {
    const path = log('b.jsonl');
    const r = await audit(path, '--last', '1');
    assert.equal(r.code, 0);
    assert.equal(r.out.split('\n').filter((l) => l.includes('config.migrate')).length, 1);
    assert.doesNotMatch(r.out, /errorbus\.advance/);
    assert.match(r.out, /\(1 of 3 entries; /);
    const j = await audit(path, '--json', '--last', '2');
    const doc = JSON.parse(j.out);
    assert.equal(doc.schema, 'opsdeck.audit/1');
    assert.equal(doc.path, path);
    assert.equal(doc.total, 3);
    assert.deepEqual(
      doc.entries.map((e: { action: string }) => e.action),
      ['throttle.set', 'config.migrate'],
    );
    assert.deepEqual(Object.keys(doc.entries[0]).sort(), [
      'action',
      'args',
      'detail',
      'machine',
      'operator',
      'outcome',
      'time',
    ]);
    assert.deepEqual(doc.damaged, []);
  });

  test('damaged lines are reported with their numbers, the rest shown, exit 1', async () => {
    const path = log('c.jsonl');
    appendFileSync(
      path,
      '{"time":"2026-01-02T03:07:00.000Z","operator":"ana","machine":"fleet","action":"errorbus.rollback","args":{},"outc\n',
    );
    appendFileSync(path, '[1,2,3]\n');
    appendFileSync(
      path,
      '{"time":"yesterday","operator":"x","machine":"y","action":"z","args":{},"outcome":"ok"}\n',
    );
    appendFileSync(
      path,
      '{"time":"2026-01-02T03:08:00.000Z","operator":"x","machine":"y","action":"z","args":{},"outcome":"maybe"}\n',
    );
    appendAudit({ machine: 'fleet', action: 'errorbus.rollback', args: {}, outcome: 'ok' }, path);
    const r = await audit(path);
    assert.equal(r.code, 1);
    assert.equal(r.out.split('\n').filter((l) => /^\d{4}-/.test(l)).length, 4, r.out);
    assert.match(r.err, /c\.jsonl line 4 damaged: /);
    assert.match(r.err, /line 5 damaged: not a JSON object/);
    assert.match(r.err, /line 6 damaged: time "yesterday" is not a date/);
    assert.match(
      r.err,
      /line 7 damaged: outcome "maybe" is not one of ok, refused, failed, cancelled/,
    );
    const j = await audit(path, '--json');
    assert.equal(j.code, 1);
    assert.deepEqual(
      JSON.parse(j.out).damaged.map((d: { line: number }) => d.line),
      [4, 5, 6, 7],
    );
  });

  test('no log yet is not an error; a bad --last is bad input', async () => {
    const r = await audit(join(dir, 'none.jsonl'));
    assert.equal(r.code, 0);
    assert.match(r.out, /no audit entries in .*none\.jsonl/);
    for (const bad of ['0', '-2', 'ten', '1.5'])
      assert.equal((await audit(join(dir, 'none.jsonl'), '--last', bad)).code, 2, bad);
    writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
    assert.equal((await audit(join(dir, 'empty.jsonl'))).code, 0);
  });
});
