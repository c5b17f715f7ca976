// The error-bus migration end to end against the sim and a real nats-server: a full 0 -> 3 -> 0
// cycle through `opsdeck errorbus` (in-process, the real commands), each preflight blocking when
// it should (split streams block 0 -> 1 until fix-streams; a ZMQ-only agent blocks 1 -> 2 and
// 2 -> 3; a hole in the stream blocks 1 -> 2), two consoles advancing from one revision (one
// wins), 7150 refused on both machines after 2 -> 3, and every change in the audit log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { main } from '../../source/cli.js';
import { Exit, type Io } from '../../source/commands/io.js';
import type { Action } from '../../source/actions/action.js';
import { runAction } from '../../source/actions/run-cli.js';
import {
  errorBusStatus,
  phaseAction,
  type ErrorBusContext,
} from '../../source/actions/errorbus.js';
import { readAudit } from '../../source/adapters/audit.js';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { findNatsServer, NATS_INSTALL_HINT } from '../../source/adapters/nats-server.js';
import { readPhase } from '../../source/adapters/phase-kv.js';
import { probeTcp } from '../../source/adapters/tcp-probe.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';
import { startSim, type Sim } from '../../source/sim/sim.js';
import type { SimOverrides } from '../../source/sim/overrides.js';

const NATS_BIN = findNatsServer();
const BIN = join(import.meta.dirname, '../../bin/opsdeck.js');
const NO_DIST = existsSync(join(import.meta.dirname, '../../dist/cli.js'))
  ? false
  : 'dist/ is not built (npm test builds it)';
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
// Our own loopback addresses: other test files run sims at the same time.
const HOSTS = { mainpc: '127.0.0.51', pc2: '127.0.0.52' };

const MAINPC = `agent_groups:
  core:
    Alpha: {script_path: a.py, port: 17401, health_check_port: 18401}
    Kilo: {script_path: k.py, port: 17403, health_check_port: 18403}
    Mike: {script_path: agents/streaming_tts_agent.py, port: 17405, health_check_port: 18405}
`;
const PC2 = `pc2_services:
- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, host: 0.0.0.0, port: 7150, health_check_port: 8150}
- {name: Bravo, script_path: b.py, host: 0.0.0.0, port: 7121, health_check_port: 8121}
- {name: Delta, script_path: d.py, host: 0.0.0.0, port: 7124, health_check_port: 8124}
error_bus_port: 7150
`;
// Kilo publishes on ZMQ only (no NATS library): the agent the migration must not leave behind.
const overrides: SimOverrides = {
  defaults: { error_variant: 'none', nats_library: 'none' },
  agents: {
    Alpha: { error_variant: 'A', nats_library: 'errors' },
    Kilo: { error_variant: 'A' },
    Mike: { error_variant: 'C', nats_library: 'error-stream' },
    Bravo: { error_variant: 'B', nats_library: 'error-stream' },
    Delta: { error_variant: 'D', nats_library: 'errors' },
  },
  machines: {},
  // One PUB per machine on 7150 that every publisher hands its frames to (not upstream's
  // wiring): this file reads every ZMQ variant from the machines' buses.
  wiring: 'collector',
};
const DUAL = ['Alpha', 'Mike', 'Bravo', 'Delta'];

const dir = mkdtempSync(join(tmpdir(), 'opsdeck-errorbus-'));
const AUDIT = join(dir, 'audit.jsonl');
writeFileSync(join(dir, 'mainpc.yaml'), MAINPC);
writeFileSync(join(dir, 'pc2.yaml'), PC2);
const ENV = { MAINPC_IP: HOSTS.mainpc, PC2_IP: HOSTS.pc2, OPSDECK_AUDIT: AUDIT };

function machines(): Machine[] {
  const f = loadFleet({ mainpc: join(dir, 'mainpc.yaml'), pc2: join(dir, 'pc2.yaml') }, ENV);
  assert.ok(f.ok, f.diagnostics.map((d) => d.message).join('; '));
  return f.machines;
}

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 8000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The real command tree, in-process; `answer` is what the operator types at the confirmation. */
async function opsdeck(args: string[], answer?: string): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: ENV,
    cwd: dir,
    ...(answer !== undefined ? { ask: async () => answer } : {}),
  };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let sim: Sim;
let nc: NatsConnection;
let url: string;
const fleetArgs = () => [
  '--nats',
  url,
  '--mainpc',
  join(dir, 'mainpc.yaml'),
  '--pc2',
  join(dir, 'pc2.yaml'),
];

/** Runs `fn` while the given agents publish one error each every 100 ms. */
async function whilePublishing<T>(agents: string[], fn: () => Promise<T>): Promise<T> {
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const agent of agents) {
        const r = await sim.control({ fault: 'error', agent, severity: 'error' });
        assert.ok(r.ok, String(r.error));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return await fn();
  } finally {
    running = false;
    await loop;
  }
}

const advance = (agents: string[], extra: string[] = []) =>
  whilePublishing(agents, () =>
    opsdeck(['errorbus', 'phase', 'advance', '--yes', '--observe', '2s', ...fleetArgs(), ...extra]),
  );

const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

describe('error-bus phases against the sim', { skip }, () => {
  before(async () => {
    sim = await startSim({
      machines: machines(),
      hosts: HOSTS,
      overrides,
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 0,
    });
    stops.push(() => sim.stop());
    url = sim.natsUrl!;
    nc = await connect({ servers: url });
    stops.push(() => nc.close());
  });

  test('show: a fresh fleet is at phase 0, revision 0', async () => {
    const r = await opsdeck(['errorbus', 'phase', 'show', '--nats', url]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /phase 0 zmq at revision 0 \(never written\)/);
    const j = await opsdeck(['errorbus', 'phase', 'show', '--json', '--nats', url]);
    assert.deepEqual(
      { ...JSON.parse(j.out), server: null },
      {
        schema: 'opsdeck.errorbus-phase/1',
        phase: 0,
        name: 'zmq',
        revision: 0,
        state: 'absent',
        server: null,
      },
    );
  });

  test('usage: no NATS is bad input; an unreachable one is a finding', async () => {
    const none = await main(['errorbus', 'phase', 'show'], {
      out: () => undefined,
      err: () => undefined,
      env: {},
      cwd: dir,
    });
    assert.equal(none, 2);
    const dead = await opsdeck([
      'errorbus',
      'phase',
      'show',
      '--nats',
      'nats://127.0.0.51:1',
      '--connect-timeout',
      '300ms',
    ]);
    assert.equal(dead.code, 1);
    assert.match(dead.err, /not reachable within 300 ms/);
    const bad = await opsdeck([
      'errorbus',
      'phase',
      'advance',
      '--observe',
      'soon',
      ...fleetArgs(),
    ]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.err,
      /option '--observe <duration>' argument 'soon' is invalid\. expected a duration/,
    );
  });

  test('the real binary: show --json; an unreachable NATS exits 1', { skip: NO_DIST }, () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, 'errorbus', 'phase', 'show', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...ENV },
      });
    const shown = run('--json', '--nats', url);
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).phase, 0);
    const dead = run('--nats', 'nats://127.0.0.51:1', '--connect-timeout', '300ms');
    assert.equal(dead.status, 1, dead.stderr);
    assert.match(dead.stderr, /not reachable within 300 ms/);
  });

  test('0 -> 1 is blocked while the errors are split over overlapping streams, until fix-streams', async () => {
    // What upstream leaves when AGENT_ERRORS came first: the server refuses ERRORS and ERROR_STREAM.
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete('ERRORS');
    await jsm.streams.add({ name: 'AGENT_ERRORS', subjects: ['errors.agents.>'] });
    for (const name of ['ERRORS', 'ERROR_STREAM']) {
      await assert.rejects(jsm.streams.add({ name, subjects: ['errors.>'] }), /subjects overlap/);
    }
    // A console that has been running all along: it must follow the fix to the new stream.
    const console = startDataPlane({ machines: machines(), nats: url, live: false });
    stops.push(() => console.stop());
    await until('console consuming AGENT_ERRORS', () =>
      console.natsFeed()?.streams.includes('AGENT_ERRORS'),
    );
    const blocked = await advance(DUAL);
    assert.equal(blocked.code, 1, blocked.out + blocked.err);
    assert.match(blocked.out, /pass {2}NATS reachable from this console/);
    assert.match(
      blocked.out,
      /pass {2}NATS reachable from mainpc: opsdeck\.mainpc\.resources sample/,
    );
    assert.match(blocked.out, /pass {2}NATS reachable from pc2/);
    assert.match(
      blocked.out,
      /FAIL {2}one error stream on errors\.>, no overlapping streams: .*errors\.events.* land in no stream.*ERRORS \(errors\.>\) and ERROR_STREAM \(errors\.>\) overlap AGENT_ERRORS/,
    );
    assert.match(
      blocked.out,
      /stream fix offered.*\n.*retire stream AGENT_ERRORS.*\n.*create stream ERRORS on errors\.>/,
    );
    assert.match(blocked.err, /refused: a preflight check failed/);
    assert.equal((await readPhase(nc)).revision, 0, 'nothing written');

    const dry = await opsdeck(['errorbus', 'fix-streams', '--dry-run', '--nats', url]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(
      dry.out,
      /1\. retire stream AGENT_ERRORS: subjects errors\.agents\.> -> opsdeck\.retired\.AGENT_ERRORS/,
    );
    assert.match(dry.out, /2\. create stream ERRORS on errors\.>/);
    const no = await opsdeck(['errorbus', 'fix-streams', '--nats', url], 'no');
    assert.equal(no.code, 1);
    assert.match(no.err, /not confirmed/);
    assert.deepEqual(
      (await jsm.streams.info('AGENT_ERRORS')).config.subjects,
      ['errors.agents.>'],
      'unchanged until confirmed',
    );

    const kept = (await jsm.streams.info('AGENT_ERRORS')).state.messages;
    const fixed = await opsdeck(['errorbus', 'fix-streams', '--nats', url], 'yes');
    assert.equal(fixed.code, 0, fixed.out + fixed.err);
    assert.match(fixed.out, /done: .*created ERRORS on errors\.>.*re-read: ERRORS \(errors\.>\)/);
    assert.deepEqual((await jsm.streams.info('ERRORS')).config.subjects, ['errors.>']);
    const retired = await jsm.streams.info('AGENT_ERRORS');
    assert.deepEqual(retired.config.subjects, ['opsdeck.retired.AGENT_ERRORS']);
    assert.equal(retired.state.messages, kept, 'the retired stream keeps its messages');
    const again = await opsdeck(['errorbus', 'fix-streams', '--nats', url]);
    assert.equal(again.code, 0);
    assert.match(again.out, /nothing to fix/);

    const ok = await advance(DUAL);
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.match(ok.out, /pass {2}one error stream on errors\.>/);
    assert.match(ok.out, /done: errorbus\.phase: phase 0 zmq -> 1 dual-publish, revision 0 -> 1/);
    assert.deepEqual(await readPhase(nc), {
      value: { phase: 1, name: 'dual-publish' },
      revision: 1,
      state: 'set',
    });
    await until('sim in phase 1', () => sim.phase.phase === 1, 2000);

    await until(
      'the running console consumes ERRORS',
      () => console.natsFeed()?.streams.includes('ERRORS'),
      6000,
    );
    assert.ok((await sim.control({ fault: 'error', agent: 'Delta', message: 'after the fix' })).ok);
    await until(
      'the error through ERRORS',
      () =>
        console
          .natsFeed()!
          .sequences()
          .some((q) => q.stream === 'ERRORS' && q.delivered > 0) &&
        console.errors
          .flush()
          .rows.some((r) => r.event.message.includes('after the fix') && r.bus === 'both'),
    );
    await console.stop();
  });

  test('1 -> 2: a hole in the stream fails the continuity check (console view, replaying history)', async () => {
    for (let i = 0; i < 6; i++)
      assert.ok((await sim.control({ fault: 'error', agent: 'Alpha' })).ok);
    const jsm = await nc.jetstreamManager();
    const info = await until('errors stored', async () => {
      const i = await jsm.streams.info('ERRORS');
      return i.state.messages >= 12 ? i : undefined;
    });
    const hole = info.state.last_seq - 3;
    assert.ok(await jsm.streams.deleteMessage('ERRORS', hole));
    const plane = startDataPlane({
      machines: machines(),
      nats: url,
      live: false,
      errorsReplayMs: 60_000,
      errors: { notifyMs: 10 },
    });
    try {
      const ctx: ErrorBusContext = { plane, windowMs: 60_000 };
      const status = await until('status with deliveries', async () => {
        const s = await errorBusStatus(ctx);
        const delivered =
          plane
            .natsFeed()
            ?.sequences()
            .reduce((n, x) => n + x.delivered, 0) ?? 0;
        return delivered >= 10 ? s : undefined;
      });
      assert.deepEqual(status.phase?.value, { phase: 1, name: 'dual-publish' });
      assert.ok(status.advance && 'checks' in status.advance);
      assert.equal(status.advance.transition.to.phase, 2);
      const continuity = status.advance.checks.find((c) =>
        c.name.startsWith('NATS delivered without gaps'),
      )!;
      assert.equal(continuity.ok, false, continuity.evidence);
      assert.match(continuity.evidence, new RegExp(`1 missing \\(${hole}\\)`));
      assert.equal(status.advance.runnable, false);
      assert.ok(status.rollback && 'to' in status.rollback && status.rollback.to.phase === 0);
    } finally {
      await plane.stop();
    }
  });

  test('1 -> 2 is blocked while an agent publishes on ZMQ only, and names it', async () => {
    const r = await advance([...DUAL, 'Kilo']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(
      r.out,
      /FAIL {2}every agent seen on ZMQ is also seen on NATS: 4\/5 \(80%\) seen on NATS .*; not yet seen on NATS: mainpc\/Kilo/,
    );
    assert.match(
      r.out,
      /pass {2}NATS delivered without gaps \(JetStream sequence continuity\): ERRORS: \d+ delivered, stream seq \d+\.\.\d+, no gap/,
    );
    assert.equal((await readPhase(nc)).revision, 1);
  });

  test('1 -> 2 passes when every ZMQ publisher is on NATS too', async () => {
    const r = await advance(DUAL);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(
      r.out,
      /pass {2}every agent seen on ZMQ is also seen on NATS: 4\/4 agents .* \(100%\)/,
    );
    assert.match(r.out, /done: errorbus\.phase: phase 1 dual-publish -> 2 nats-consumers/);
    assert.equal((await readPhase(nc)).value.phase, 2);
  });

  test('2 -> 3 is blocked by a ZMQ-only publisher', async () => {
    await until('sim in phase 2', () => sim.phase.phase === 2, 2000);
    const r = await advance(['Alpha', 'Kilo']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /FAIL {2}no ZMQ-only publishers: 1\/2 .*mainpc\/Kilo/);
    assert.match(
      r.out,
      /then verify pc2's error bus tcp:\/\/127\.0\.0\.52:7150 refuses a TCP connect/,
    );
    assert.equal((await readPhase(nc)).value.phase, 2);
  });

  test('two consoles advance 2 -> 3 from the same revision: exactly one wins, 7150 is refused on both machines', async () => {
    const planes: DataPlane[] = [0, 1].map(() =>
      startDataPlane({ machines: machines(), nats: url, live: false, errors: { notifyMs: 10 } }),
    );
    try {
      // Both previews (preflight included) read the same revision before either writes.
      let arrived = 0;
      let release!: () => void;
      const bothPreviewed = new Promise<void>((r) => (release = r));
      const gated = (a: Action): Action => ({
        ...a,
        preview: async () => {
          const p = await a.preview();
          if (++arrived === 2) release();
          await bothPreviewed;
          return p;
        },
      });
      const outs: string[][] = [[], []];
      const errs: string[][] = [[], []];
      const runs = await whilePublishing(DUAL, async () => {
        await new Promise((r) => setTimeout(r, 1500));
        return Promise.allSettled(
          planes.map((plane, i) =>
            runAction(
              gated(phaseAction({ plane, verifyTimeoutMs: 5000 }, 'advance')),
              { out: (t) => outs[i]!.push(t), err: (t) => errs[i]!.push(t), env: ENV, cwd: dir },
              { yes: true, auditPath: AUDIT },
            ),
          ),
        );
      });
      const won = runs.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, JSON.stringify({ outs, errs }));
      const loser = runs.findIndex((r) => r.status === 'rejected');
      const winner = 1 - loser;
      for (const i of [0, 1])
        assert.match(
          outs[i]!.join('\n'),
          /target: NATS KV opsdeck\/errorbus\.phase at revision 2 \(phase 2 nats-consumers -> 3 zmq-off\)/,
        );
      assert.match(
        outs[loser]!.join('\n'),
        /refused: NATS KV opsdeck\/errorbus\.phase changed since it was read at revision 2: it is now phase 3 zmq-off at revision 3 \(another console got there first\); nothing was changed/,
      );
      assert.match(
        outs[winner]!.join('\n'),
        /pass {2}mainpc error bus closed: TCP connect to tcp:\/\/127\.0\.0\.51:7150 refused/,
      );
      assert.match(
        outs[winner]!.join('\n'),
        /pass {2}pc2 error bus closed: TCP connect to tcp:\/\/127\.0\.0\.52:7150 refused/,
      );
      assert.deepEqual(await readPhase(nc), {
        value: { phase: 3, name: 'zmq-off' },
        revision: 3,
        state: 'set',
      });
      for (const host of Object.values(HOSTS))
        assert.deepEqual(await probeTcp(host, 7150), { result: 'refused' });
    } finally {
      for (const p of planes) await p.stop();
    }
  });

  test('at phase 3 there is nothing to advance to', async () => {
    const r = await opsdeck([
      'errorbus',
      'phase',
      'advance',
      '--yes',
      '--observe',
      '0s',
      ...fleetArgs(),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}a phase to advance to: already at phase 3 zmq-off, the last one/);
  });

  test('2 -> 3 on a machine whose error bus stays open: the verify fails and says so; phase 3 is left for the operator', async () => {
    // A third machine whose port 7150 something still listens on (a publisher that ignores the phase).
    const listener = createServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(7150, '127.0.0.53', r));
    const [mainpc, pc2] = machines();
    const plane = startDataPlane({
      machines: [mainpc!, pc2!, { ...pc2!, id: 'pc3', host: '127.0.0.53' }],
      nats: url,
      live: false,
    });
    try {
      const ctx: ErrorBusContext = { plane, verifyTimeoutMs: 1000 };
      const term = { out: [] as string[], err: [] as string[] };
      const io: Io = {
        out: (t) => term.out.push(t),
        err: (t) => term.err.push(t),
        env: ENV,
        cwd: dir,
      };
      await runAction(phaseAction(ctx, 'rollback'), io, { yes: true, auditPath: AUDIT });
      assert.equal((await readPhase(nc)).value.phase, 2);
      await until('sim in phase 2', () => sim.phase.phase === 2, 2000);
      const failed = await whilePublishing(DUAL, async () => {
        await new Promise((r) => setTimeout(r, 1500));
        return runAction(phaseAction(ctx, 'advance'), io, { yes: true, auditPath: AUDIT }).then(
          () => 'ok',
          (error: unknown) => (error instanceof Exit ? error.code : error),
        );
      });
      const text = term.out.join('\n');
      assert.equal(failed, 1, text + term.err.join('\n'));
      assert.match(
        text,
        /pass {2}mainpc error bus closed: TCP connect to tcp:\/\/127\.0\.0\.51:7150 refused/,
      );
      assert.match(
        text,
        /FAIL {2}pc3 error bus closed: TCP connect to tcp:\/\/127\.0\.0\.53:7150 succeeded: the port is still open/,
      );
      assert.match(
        text,
        /FAILED: phase is 3 zmq-off \(revision \d+\) but pc3 did not close the error bus; roll back/,
      );
      assert.equal((await readPhase(nc)).value.phase, 3);
      const last = readAudit(AUDIT).entries.at(-1)!;
      assert.deepEqual([last.action, last.outcome], ['errorbus.advance', 'failed']);
    } finally {
      await plane.stop();
      await new Promise((r) => listener.close(r));
    }
  });

  test('rollback one step at a time back to 0, each confirmed; 7150 reopens after 3 -> 2', async () => {
    const declined = await opsdeck(['errorbus', 'phase', 'rollback', ...fleetArgs()], 'no');
    assert.equal(declined.code, 1);
    assert.match(
      declined.out,
      /Roll back the error-bus phase — target: NATS KV opsdeck\/errorbus\.phase at revision \d+ \(phase 3 zmq-off -> 2 nats-consumers\)/,
    );
    assert.equal((await readPhase(nc)).value.phase, 3);

    const down = await opsdeck(['errorbus', 'phase', 'rollback', ...fleetArgs()], 'yes');
    assert.equal(down.code, 0, down.out + down.err);
    assert.match(down.out, /mainpc error bus tcp:\/\/127\.0\.0\.51:7150: open again/);
    assert.match(down.out, /pc2 error bus tcp:\/\/127\.0\.0\.52:7150: open again/);
    assert.deepEqual(await probeTcp(HOSTS.pc2, 7150), { result: 'open' });

    for (const want of [1, 0]) {
      const r = await opsdeck(['errorbus', 'phase', 'rollback', '--yes', '--nats', url]);
      assert.equal(r.code, 0, r.out + r.err);
      assert.equal((await readPhase(nc)).value.phase, want);
    }
    await until('sim in phase 0', () => sim.phase.phase === 0, 2000);
    const none = await opsdeck(['errorbus', 'phase', 'rollback', '--yes', '--nats', url]);
    assert.equal(none.code, 1);
    assert.match(none.out, /already at phase 0 zmq: there is nothing to roll back to/);
  });

  test('every change and refusal is in the audit log, and opsdeck audit shows it', async () => {
    const { entries, bad } = readAudit(AUDIT);
    assert.deepEqual(bad, []);
    const seen = entries.map((e) => `${e.action} ${e.outcome}`);
    for (const want of [
      'errorbus.advance refused',
      'errorbus.fix-streams cancelled',
      'errorbus.fix-streams ok',
      'errorbus.advance ok',
      'errorbus.advance failed',
      'errorbus.rollback cancelled',
      'errorbus.rollback ok',
    ]) {
      assert.ok(seen.includes(want), `${want} in ${seen.join(', ')}`);
    }
    assert.equal(
      entries.filter((e) => e.action === 'errorbus.advance' && e.outcome === 'ok').length,
      3,
    );
    assert.equal(
      entries.filter((e) => e.action === 'errorbus.rollback' && e.outcome === 'ok').length,
      4,
    );
    for (const e of entries) assert.equal(e.machine, 'fleet');
    const shown = await opsdeck(['audit', '--last', '3']);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /^TIME +OPERATOR +MACHINE +ACTION +OUTCOME +ARGS/);
    assert.match(shown.out, /errorbus\.rollback +refused .*direction=rollback/);
    assert.match(shown.out, /\(3 of \d+ entries;/);
  });
});
