// How opsdeck agent starts an agent process (adapters/agent-lifecycle.ts): through setpriv, which
// drops the inheritable and ambient capabilities the deployed daemon holds (CAP_SYS_NICE, for
// renicing) so the agents it starts do not inherit them, and a start that dies at once (its
// interpreter missing) is a failure with the reason, not "started, pid N".
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = mkdtempSync(join(tmpdir(), 'opsdeck-spawn-'));
const started: number[] = [];
after(() => {
  for (const pid of started)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  rmSync(dir, { recursive: true, force: true });
});

const STARTER = fileURLToPath(new URL('../fixtures/lifecycle/start-one.ts', import.meta.url));
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;

function checkout(): string {
  const root = join(dir, `root-${started.length}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(join(root, 'main_pc_code/agents'), { recursive: true });
  writeFileSync(join(root, 'main_pc_code/agents/cap_agent.py'), 'import time\ntime.sleep(60)\n');
  return root;
}

/** Runs the starter, optionally with ambient CAP_SYS_NICE as the deployed unit gives it. */
function start(root: string, python: string, ambient: boolean) {
  const node = [process.execPath, '--import', 'tsx', STARTER, root, python];
  const argv = ambient
    ? [SETPRIV!, '--inh-caps=+sys_nice', '--ambient-caps=+sys_nice', '--', ...node]
    : node;
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as
    { ok: true; pid: number; did: string[] } | { ok: false; error: string };
}

const capsOf = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { inh: /^CapInh:\s+(\w+)/m.exec(s)?.[1], amb: /^CapAmb:\s+(\w+)/m.exec(s)?.[1] };
};

describe(
  'starting an agent process',
  { skip: !SETPRIV || !PYTHON ? 'no setpriv or python3' : false },
  () => {
    test(
      'a daemon holding ambient CAP_SYS_NICE starts agents without it',
      { skip: isRoot ? false : 'raising ambient capabilities needs root' },
      () => {
        // The starter itself holds it, as the deployed daemon does.
        const probe = spawnSync(
          SETPRIV!,
          [
            '--inh-caps=+sys_nice',
            '--ambient-caps=+sys_nice',
            '--',
            'grep',
            'CapAmb',
            '/proc/self/status',
          ],
          { encoding: 'utf8' },
        );
        assert.match(probe.stdout, /CapAmb:\s+0000000000800000/);
        const r = start(checkout(), PYTHON!, true);
        assert.ok(r.ok, JSON.stringify(r));
        started.push(r.pid);
        assert.match(readFileSync(`/proc/${r.pid}/cmdline`, 'utf8'), /cap_agent\.py/);
        assert.deepEqual(capsOf(r.pid), { inh: '0000000000000000', amb: '0000000000000000' });
      },
    );

    test('an interpreter that is not there: a failed start with the reason, not a pid', () => {
      const root = checkout();
      const r = start(root, join(dir, 'no-such-python3'), false);
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.match(
        r.ok ? '' : r.error,
        /^starting CapAgent: it exited at once \(code 127\): setpriv: failed to execute .*no-such-python3/,
      );
    });
  },
);
