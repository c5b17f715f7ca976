// config.migrate as an Action through the shared action path (runAction): the preview is the
// unified diff, the confirmation names the exact file, the result carries the backup path, and
// every real run leaves an audit line. On copies of the shape fixtures in temp folders.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { confirmText } from '../../source/actions/action.js';
import { configMigrateAction } from '../../source/actions/config-migrate.js';
import { runAction } from '../../source/actions/run-cli.js';
import { auditLog, readAudit } from '../../source/adapters/audit.js';
import { lockPathOf } from '../../source/adapters/atomic-file.js';
import { ActionRunner } from '../../source/stores/action-runner.js';
import { loadConfigFile } from '../../source/adapters/fleet-files.js';
import { Exit, type Io } from '../../source/commands/io.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');
const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-migrate-action-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const AUDIT = join(scratch, 'audit.jsonl');

let n = 0;
function copy(fixture: string): { dir: string; file: string } {
  const dir = join(scratch, `case-${n++}`);
  mkdirSync(dir);
  const file = join(dir, 'startup_config.yaml');
  copyFileSync(join(FIXTURES, fixture), file);
  return { dir, file };
}

function io(answer?: string): Io & { text: () => string } {
  const lines: string[] = [];
  return {
    out: (t) => lines.push(t),
    err: (t) => lines.push(t),
    env: {},
    cwd: scratch,
    ...(answer !== undefined ? { ask: async (q: string) => (lines.push(q), answer) } : {}),
    text: () => lines.join('\n'),
  };
}

const agents = (file: string) => {
  const r = loadConfigFile(file, { env: {} });
  assert.ok(r.ok);
  return r.machines[0]!.agents.map((a) => [a.name, a.port.value, a.healthPort.value]);
};

describe('config.migrate action', () => {
  test('preview is the diff on the exact path; a confirmed run writes, keeps a backup, verifies and audits', async () => {
    const { dir, file } = copy('migrate/list-era.yaml');
    const original = readFileSync(file, 'utf8');
    const before = agents(file);
    const action = configMigrateAction({ file: 'startup_config.yaml', env: {}, cwd: dir });
    const preview = await action.preview();
    assert.equal(preview.target, file);
    assert.equal(preview.runnable, true);
    assert.match(
      preview.lines.join('\n'),
      new RegExp(`^--- ${file}\\n\\+\\+\\+ ${file}\\n@@ `, 'm'),
    );
    assert.ok(preview.lines.some((l) => l.startsWith('+agent_groups:')));
    assert.deepEqual(
      preview.checks?.map((c) => [c.name, c.ok]),
      [['file migrates', true]],
    );
    assert.equal(
      confirmText(action, preview),
      `Migrate the fleet config to the agent_groups schema on ${file}`,
    );
    assert.equal(readFileSync(file, 'utf8'), original, 'the preview writes nothing');

    const term = io('yes');
    const outcome = await runAction(action, term, { auditPath: AUDIT });
    assert.ok(outcome?.ok, term.text());
    const backups = readdirSync(join(dir, 'backup'));
    assert.equal(backups.length, 1);
    const backup = join(dir, 'backup', backups[0]!);
    assert.deepEqual(outcome.lines, [
      `backup: ${backup}`,
      `undo: opsdeck config migrate ${file} --rollback`,
    ]);
    assert.match(outcome.detail, /re-read: canonical/);
    assert.equal(readFileSync(backup, 'utf8'), original);
    assert.notEqual(readFileSync(file, 'utf8'), original);
    assert.deepEqual(agents(file), before, 'the same agents, ports and health ports');
    const mine = readAudit(AUDIT).entries.filter(
      (e) => e.action === 'config.migrate' && e.args.file === 'startup_config.yaml',
    );
    // `started` went down before the rename (a run killed right after it left a trace).
    assert.deepEqual(
      mine.map((e) => e.outcome),
      ['started', 'ok'],
    );
    const entry = mine[1]!;
    assert.match(entry.detail!, new RegExp(`backup ${backup.replace(/\./g, '\\.')}`));

    // Already canonical: nothing to run, and the refusal is audited.
    const again = configMigrateAction({ file, env: {}, cwd: dir });
    const p2 = await again.preview();
    assert.equal(p2.runnable, false);
    assert.match(p2.checks!.find((c) => !c.ok)!.evidence, /already canonical/);
    await assert.rejects(runAction(again, io('yes'), { auditPath: AUDIT }), Exit);
    assert.equal(readdirSync(join(dir, 'backup')).length, 1);
  });

  test('in the console (ActionRunner): `started` before the rename, then `ok`; a stale lock is audited `interrupted`', async () => {
    const { dir, file } = copy('migrate/list-era.yaml');
    const audit = join(dir, 'audit.jsonl');
    // A lock left by a run that was killed: a pid that is not running on this host.
    writeFileSync(
      lockPathOf(file),
      JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), since: '2026-01-01T00:00:00.000Z' }),
    );
    const runner = new ActionRunner(auditLog(audit));
    await runner.start(configMigrateAction({ file, env: {}, cwd: dir }));
    assert.equal(runner.getSnapshot().step?.phase, 'confirm');
    await runner.confirm();
    const step = runner.getSnapshot().step;
    assert.equal(step?.phase, 'done');
    assert.ok(step.phase === 'done' && step.outcome.ok, JSON.stringify(step));
    const lines = readAudit(audit).entries;
    assert.deepEqual(
      lines.map((e) => e.outcome),
      ['interrupted', 'started', 'ok'],
    );
    assert.match(lines[0]!.detail!, /recovered the stale lock .*never half-written/);
    const backup = readdirSync(join(dir, 'backup'))[0]!;
    assert.match(lines[1]!.detail!, new RegExp(`^migrating ${file}; backup .*${backup}$`));
    assert.ok(lines.every((e) => e.action === 'config.migrate' && e.machine === 'mainpc'));
  });

  test('not confirmed: nothing written, audited as cancelled', async () => {
    const { dir, file } = copy('migrate/one-off.yaml');
    const original = readFileSync(file);
    const term = io('no');
    await assert.rejects(
      runAction(configMigrateAction({ file, env: {}, cwd: dir }), term, { auditPath: AUDIT }),
      Exit,
    );
    assert.match(
      term.text(),
      new RegExp(
        `Type "yes" to run: Migrate the fleet config to the agent_groups schema on ${file}`,
      ),
    );
    assert.deepEqual(readFileSync(file), original);
    assert.equal(existsSync(join(dir, 'backup')), false);
    assert.equal(
      readAudit(AUDIT)
        .entries.filter((e) => e.args.file === file)
        .at(-1)?.outcome,
      'cancelled',
    );
  });

  test('the file changed after the preview: refused, the newer content kept, no backup', async () => {
    const { dir, file } = copy('migrate/pc2-pr-flow.yaml');
    const action = configMigrateAction({ file, env: {}, cwd: dir });
    const preview = await action.preview();
    assert.equal(preview.runnable, true);
    appendFileSync(file, '# edited by someone else\n');
    const edited = readFileSync(file);
    const outcome = await action.execute(preview);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.refused, true, 'audited refused, as the CLI does, not failed');
    assert.match(outcome.detail, /changed since the preview; nothing was written/);
    assert.deepEqual(readFileSync(file), edited);
    assert.equal(existsSync(join(dir, 'backup')), false);
    assert.deepEqual(readdirSync(dir), ['startup_config.yaml'], 'no lock or temp file left');
  });

  test('v3 unified: not in place; --out for one machine writes a new file (no backup needed)', async () => {
    const dir = join(scratch, `case-${n++}`);
    mkdirSync(dir);
    const file = join(dir, 'startup_config.v3.yaml');
    copyFileSync(join(FIXTURES, 'shapes/v3.yaml'), file);
    const inPlace = await configMigrateAction({ file, env: {}, cwd: dir }).preview();
    assert.equal(inPlace.runnable, false);
    assert.match(inPlace.checks![0]!.evidence, /v3 unified config describing several machines/);

    const out = join(dir, 'pc2.yaml');
    const action = configMigrateAction({
      file,
      out: 'pc2.yaml',
      machine: 'pc2',
      env: {},
      cwd: dir,
    });
    const preview = await action.preview();
    assert.equal(preview.target, out);
    assert.ok(preview.lines.includes('--- /dev/null'));
    const outcome = await runAction(action, io(), { yes: true, auditPath: AUDIT });
    assert.ok(outcome?.ok);
    assert.deepEqual(outcome.lines, []);
    assert.ok(agents(out).length > 0);
  });

  test('a file that does not parse: not runnable, the reason shown, nothing written', async () => {
    const dir = join(scratch, `case-${n++}`);
    mkdirSync(dir);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'agent_groups:\n  core: [unclosed\n');
    const preview = await configMigrateAction({ file, env: {}, cwd: dir }).preview();
    assert.equal(preview.runnable, false);
    assert.match(preview.lines.join('\n'), /bad\.yaml:\d+:\d+/);
    assert.deepEqual(readdirSync(dir), ['bad.yaml']);
  });
});
