// Issue 12 end to end: the sim's default fleet (the real configs, upstream's behaviour) against
// the console's data plane and the commands. Every verdict is compared with what upstream's own
// client sees (scripts/docker_health_check.py::check_zmq_service: JSON, 5 s, status == "ok").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../source/cli.js';
import type { Io } from '../../source/commands/io.js';
import { readAudit } from '../../source/adapters/audit.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';
import { HealthStore, targetsFor } from '../../source/stores/health-store.js';
import { netProber } from '../../source/adapters/net-prober.js';
import type { Sim } from '../../source/sim/sim.js';
import type { Machine } from '../../source/core/fleet/model.js';
import {
  exampleOverrides,
  fleet,
  NEEDS_NATS,
  RM_HEALTH,
  REAL,
  sim,
  specHealthRequest,
  waitFor,
  zmqAsk,
} from './sim/helpers.js';

const HOSTS = { mainpc: '127.0.90.1', pc2: '127.0.90.2' };
const ENV = { MAINPC_IP: HOSTS.mainpc, PC2_IP: HOSTS.pc2 };
const NO_REAL = existsSync(REAL.mainpc) ? false : `real configs not found at ${REAL.mainpc}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-truth-'));
const audit = join(dir, 'audit.jsonl');
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

function machinesAt(): Machine[] {
  // The fleet as the console loads it, on the sim's addresses.
  return fleet(REAL).map((m) => ({ ...m, host: HOSTS[m.id as 'mainpc' | 'pc2'] }));
}

async function opsdeck(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += `${t}\n`),
    err: (t) => void (err += `${t}\n`),
    env: { ...ENV, OPSDECK_AUDIT: audit, USER: 'tester' },
    cwd: dir,
  };
  return { code: await main(args, io), out, err };
}

describe('the default fleet as it really behaves', { skip: NEEDS_NATS || NO_REAL }, () => {
  let s: Sim;
  let plane: DataPlane;
  before(async () => {
    s = await sim({ machines: fleet(REAL), hosts: HOSTS, overrides: exampleOverrides() });
    plane = startDataPlane({
      machines: machinesAt(),
      nats: s.natsUrl!,
      health: { intervalMs: 500, timeoutMs: 1500 },
      live: false,
    });
    stops.push(() => plane.stop());
    // The agent daemons' samples first: they carry each process and the ports it listens on.
    // Every moved agent's, not one: each is found from its sample only if the sample is there
    // before its configured port's probe gives up (else by a port scan).
    for (const m of s.machines)
      for (const a of m.agents.filter((x) => x.plan.ports.moved))
        await waitFor(() => plane.resources.process(m.plan.id, a.plan.name), 10_000);
    await plane.health.probeAll();
    await plane.health.probeAll();
  });

  test("every agent is in the state upstream's own client reports; exited ones are down", async () => {
    const health = plane.health.flush().agents;
    const problems: string[] = [];
    for (const m of s.machines)
      for (const a of m.agents) {
        if (a.plan.protocol !== 'base-agent' && a.plan.protocol !== 'json-rm') continue;
        const h = health.get(a.key)!;
        const r = await zmqAsk(
          `tcp://${m.plan.host}:${a.plan.ports.health}`,
          specHealthRequest(),
          1500,
        );
        const upstream =
          r.kind !== 'reply'
            ? 'unreachable'
            : (JSON.parse(r.text) as { status: string }).status === 'ok'
              ? 'healthy'
              : 'degraded';
        if (h.state !== upstream)
          problems.push(`${a.key}: opsdeck ${h.state}, upstream ${upstream}`);
      }
    assert.deepEqual(problems, []);
  });

  test('agents off their configured port are MOVED with their real port, found from the process table', () => {
    const health = plane.health.flush().agents;
    for (const m of s.machines)
      for (const a of m.agents.filter((x) => x.plan.ports.moved)) {
        const h = health.get(a.key)!;
        assert.equal(h.state, 'healthy', a.key);
        assert.deepEqual(
          h.moved && { port: h.moved.port, healthPort: h.moved.healthPort },
          { port: a.plan.ports.main, healthPort: a.plan.ports.health },
          a.key,
        );
        assert.match(h.moved!.how, /opsdeck agent sees pid \d+ \(its script\) listening on/);
      }
  });

  test('CentralErrorBus is alive by its PUB; ResourceManager speaks its JSON loop and was never wedged', async () => {
    const health = plane.health.flush().agents;
    const ceb = health.get('pc2/CentralErrorBus')!;
    assert.deepEqual([ceb.state, ceb.protocol], ['healthy', 'pub']);
    assert.match(ceb.via!, /^ZMTP greeting to 127\.90\.0\.2|^ZMTP greeting to 127\.0\.90\.2:7150/);
    const rm = health.get('pc2/ResourceManager')!;
    assert.deepEqual([rm.state, rm.protocol], ['healthy', 'json-rm']);
    const agent = s.machine('pc2')!.byName.get('ResourceManager')!;
    assert.deepEqual([...agent.wedged], [], 'no probe wedged ResourceManager');
    const r = await zmqAsk(`tcp://${HOSTS.pc2}:8113`, specHealthRequest());
    assert.ok(
      r.kind === 'reply' && RM_HEALTH.test(r.text),
      'it still answers the canonical client',
    );
  });

  test("/metrics is judged by its body: upstream's 200 with a 500 page is said as such", () => {
    const sdt = plane.health.flush().agents.get('mainpc/SystemDigitalTwin')!;
    assert.equal(sdt.instrumented, false);
    assert.equal(
      sdt.metricsAnswer,
      'GET /metrics on 8221: 200 with an HTTP 500 error page as its body (not Prometheus text)',
    );
  });

  test('ports check --live reports the drift and exits 1', async () => {
    const r = await opsdeck([
      'ports',
      'check',
      '--live',
      '--mainpc',
      REAL.mainpc,
      '--pc2',
      REAL.pc2,
      '--timeout',
      '1500ms',
    ]);
    assert.equal(r.code, 1);
    for (const agent of [
      'mainpc/ActiveLearningMonitor',
      'mainpc/IntentionValidatorAgent',
      'mainpc/DynamicIdentityAgent',
      'mainpc/ProactiveAgent',
      'pc2/TutoringServiceAgent',
    ])
      assert.match(
        r.out,
        new RegExp(
          `DRIFT moved: ${agent} is configured on \\d+/\\d+ but answers on 50\\d\\d/50\\d\\d`,
        ),
      );
    assert.match(
      r.out,
      /DRIFT wrong-agent: pc2\/SpeechRelayService's health port 8130 answers as AdvancedRouterAgent/,
    );
  });

  test('throttle through a wedged ResourceManager fails (exit 1, audit failed), names it, changes nothing', async () => {
    // One bare string on its main port, as a careless monitor would send: wedged until restart.
    const wedge = await zmqAsk(`tcp://${HOSTS.pc2}:7113`, 'health_check', 500);
    assert.equal(wedge.kind, 'timeout');
    const r = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '2',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--yes',
    ]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out + r.err, /ResourceManager tcp:\/\/127\.0\.90\.2:7113 did not answer/);
    assert.ok(
      s.machine('pc2')!.agents.every((a) => a.nice === 0),
      'no process reniced',
    );
    const last = readAudit(audit).entries.at(-1)!;
    assert.deepEqual([last.action, last.outcome], ['throttle.set', 'refused']);
    assert.ok((await s.control({ fault: 'restart', agent: 'ResourceManager' })).ok);
  });

  test('a level is read back from the machine: a restarted ResourceManager shows the level gone', async () => {
    const ok = await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '2',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--yes',
    ]);
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.equal(readAudit(audit).entries.at(-1)!.outcome, 'ok');
    assert.ok((await s.control({ fault: 'restart', agent: 'ResourceManager' })).ok);
    // Its thresholds are back at upstream's 80/80/80 while the agents stay reniced: no level.
    const sample = await waitFor(() => {
      const t = plane.resources.getSnapshot().machines.pc2?.sample.throttle;
      return t && t.level === null && !('error' in t.thresholds) && t.thresholds.cpu === 80
        ? t
        : undefined;
    }, 10_000);
    assert.match(
      sample.summary,
      /thresholds 80\/80\/80 = level 0; 1\/\d+ agent processes at nice 0/,
    );
    await opsdeck([
      'throttle',
      'pc2',
      '--level',
      '0',
      '--nats',
      s.natsUrl!,
      '--secrets',
      'none',
      '--yes',
    ]);
  });
});

describe('BaseAgents report degraded once their ready key expires', { skip: NO_REAL }, () => {
  test('ready_ttl_s 1: healthy, then degraded with the failing check named', async () => {
    const hosts = { mainpc: '127.0.90.3', pc2: '127.0.90.4' };
    const s = await sim({
      machines: fleet(REAL),
      hosts,
      overrides: { ...exampleOverrides(), ready_ttl_s: 1 },
      nats: { mode: 'off', why: 'not needed' },
    });
    const machines = fleet(REAL).map((m) => ({ ...m, host: hosts[m.id as 'mainpc' | 'pc2'] }));
    const store = new HealthStore(
      targetsFor(machines, { timeoutMs: 1000 }).filter((t) => t.agent === 'ServiceRegistry'),
      netProber(),
      { timeoutMs: 1000, hysteresis: { downAfter: 1, upAfter: 1, historySize: 5 } },
    );
    stops.push(() => store.stop());
    await store.probeAll();
    assert.equal(store.flush().agents.get('mainpc/ServiceRegistry')!.state, 'healthy');
    await new Promise((r) => setTimeout(r, 1200));
    await store.probeAll();
    const h = store.flush().agents.get('mainpc/ServiceRegistry')!;
    assert.deepEqual([h.state, h.reason], ['degraded', 'failing: ready_signal']);
    await s.stop();
  });
});

describe('a probe never wedges a REP that dies on non-JSON', { skip: NO_REAL }, () => {
  test("400 rounds over the default fleet: ResourceManager's loops answered every time", async () => {
    const hosts = { mainpc: '127.0.90.5', pc2: '127.0.90.6' };
    const s = await sim({
      machines: fleet(REAL),
      hosts,
      overrides: exampleOverrides(),
      nats: { mode: 'off', why: 'not needed' },
    });
    const machines = fleet(REAL).map((m) => ({ ...m, host: hosts[m.id as 'mainpc' | 'pc2'] }));
    // Detection from scratch every time: a new prober per round, as every new console is.
    for (let i = 0; i < 20; i++) {
      const store = new HealthStore(
        targetsFor(machines, { timeoutMs: 500 }).filter((t) => t.machine === 'pc2'),
        netProber(),
        { timeoutMs: 500 },
      );
      await store.probeAll();
      store.stop();
    }
    const rm = s.machine('pc2')!.byName.get('ResourceManager')!;
    assert.deepEqual([...rm.wedged], []);
    // The control: the bare string does wedge it, so the test above could fail.
    await zmqAsk(`tcp://${hosts.pc2}:8113`, 'health_check', 300);
    assert.deepEqual([...rm.wedged], ['health']);
    await s.stop();
  });
});
