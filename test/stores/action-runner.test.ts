// The console's action runner when the audit log cannot be written after the action ran: the
// flow ends failed, saying so and what happened (it was shown as done, the record silently
// missing, once the failure line was overwritten by the outcome).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionRunner } from '../../source/stores/action-runner.js';
import { countingAction } from '../support/app-rig.js';

test('an outcome whose audit line cannot be written ends failed, naming the outcome', async () => {
  const lines: string[] = [];
  const runner = new ActionRunner({
    append(line) {
      if (line.outcome === 'ok') throw new Error('EROFS: read-only file system');
      lines.push(line.outcome);
    },
  });
  const a = countingAction('alpha');
  await runner.start(a);
  assert.equal(runner.getSnapshot().step?.phase, 'confirm');
  await runner.confirm();
  const step = runner.getSnapshot().step;
  assert.equal(a.executed, 1);
  assert.equal(step?.phase, 'failed');
  assert.match(
    step?.phase === 'failed' ? step.error : '',
    /^audit log not writable: EROFS: read-only file system \(the action's outcome, not recorded: ok: alpha ran\)$/,
  );
  assert.equal(step?.phase === 'failed' && step.preview?.target, 'target-of-alpha');
});

test('a written outcome is shown done', async () => {
  const lines: string[] = [];
  const runner = new ActionRunner({ append: (line) => void lines.push(line.outcome) });
  await runner.start(countingAction('beta'));
  await runner.confirm();
  assert.equal(runner.getSnapshot().step?.phase, 'done');
  assert.deepEqual(lines, ['ok']);
});
