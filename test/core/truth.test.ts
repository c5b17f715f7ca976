// Issue 12's pure rules: what each agent may be sent, how an agent is found by name, how a
// process is matched to an agent, what drift is, what a backlog frame is, two machines on one
// address. Table-driven, no I/O.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newCounters } from '../../source/core/errors/pipeline.js';
import { codeFacts, selfName } from '../../source/core/fleet/upstream-code.js';
import { expectedProtocol, healthRequest } from '../../source/core/health/expect.js';
import { judgeName, placeAnswers } from '../../source/core/health/locate.js';
import {
  JSON_HEALTH_REQUEST,
  rmHealthReply,
  WP07_HEALTH_REQUEST,
} from '../../source/core/health/replies.js';
import {
  listeningInodes,
  matchProcesses,
  niceFromStat,
  runsScript,
} from '../../source/core/fleet/processes.js';
import { sharedAddressWarnings } from '../../source/core/ports/hosts.js';
import { bridgeMessage, bridgeMarkOf, frameAge } from '../../source/core/errors/bridge.js';
import { driftFindings } from '../../source/core/ports/drift.js';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { initialHealth } from '../../source/core/health/state.js';
import { scorecard } from '../../source/core/ui/scorecard.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('what each agent may be sent', () => {
  test('the protocol expected from the script, and the request that allows', () => {
    const cases: Array<[string, string, string]> = [
      ['pc2_code/agents/resource_manager.py', 'json-rm', JSON_HEALTH_REQUEST],
      ['services/central_error_bus/error_bus.py', 'pub', JSON_HEALTH_REQUEST],
      ['services/obs_dashboard_api/server.py', 'http', JSON_HEALTH_REQUEST],
      ['main_pc_code/agents/nlu_agent.py', 'base-agent', JSON_HEALTH_REQUEST],
    ];
    for (const [script, protocol, request] of cases) {
      const p = expectedProtocol({ scriptPath: script });
      assert.equal(p, protocol, script);
      assert.equal(healthRequest(p), request, script);
    }
    // The bare string only once a WP-07 reply proved the mixin: it wedges ResourceManager.
    assert.equal(healthRequest('unified'), WP07_HEALTH_REQUEST);
    assert.equal(healthRequest(undefined), JSON_HEALTH_REQUEST);
  });

  test("ResourceManager's health loop: JSON objects answered, anything else wedges it", () => {
    const s = { initialized: true, port: 7113, healthPort: 8113, now: Date.UTC(2026, 0, 1) };
    const ok = rmHealthReply(enc(JSON_HEALTH_REQUEST), s);
    assert.equal(ok.kind, 'json');
    assert.equal(ok.kind === 'json' && ok.body.service, 'ResourceManager');
    for (const bad of ['health_check', '[1]', '5', '{"action": ', '\u00ff'])
      assert.deepEqual(rmHealthReply(enc(bad), s), { kind: 'wedge' }, bad);
    assert.deepEqual(rmHealthReply(enc('{"action": "ping"}'), s), {
      kind: 'json',
      body: { status: 'unknown_action', message: 'Unknown action: ping' },
    });
  });

  test('facts by script: movers, self-names, no health port', () => {
    assert.match(
      codeFacts({ scriptPath: 'main_pc_code/agents/IntentionValidatorAgent.py' }).freePort!,
      /positionally/,
    );
    assert.match(
      codeFacts({ scriptPath: 'pc2_code/agents/TutoringServiceAgent.py' }).freePort!,
      /int\(\) refuses it/,
    );
    assert.equal(
      selfName({ name: 'TaskScheduler', scriptPath: 'pc2_code/agents/task_scheduler.py' }),
      'TaskSchedulerAgent',
    );
    assert.equal(
      selfName({ name: 'NLUAgent', scriptPath: 'main_pc_code/agents/nlu_agent.py' }),
      'NLUAgent',
    );
  });
});

describe('an agent found by the name its replies carry', () => {
  test("a BaseAgent on the first free ports answers on main and main+1: the pair's lower is main", () => {
    const places = placeAnswers([
      { port: 5000, name: 'ActiveLearningMonitor' },
      { port: 5001, name: 'ActiveLearningMonitor' },
      { port: 5004, name: 'IntentionValidatorAgent' },
    ]);
    assert.deepEqual(places.get('ActiveLearningMonitor'), { port: 5000, healthPort: 5001 });
    assert.deepEqual(places.get('IntentionValidatorAgent'), { port: 5003, healthPort: 5004 });
  });

  test("a reply carrying another fleet agent's name is the wrong process; an unknown name is a note", () => {
    const names = new Map([
      ['Alpha', ['mainpc/Alpha']],
      ['Bravo', ['pc2/Bravo']],
      ['BravoAgent', ['pc2/Bravo']],
    ]);
    const bravo = { key: 'pc2/Bravo', names: ['Bravo', 'BravoAgent'] };
    assert.deepEqual(judgeName('BravoAgent', bravo, names), { kind: 'match' });
    assert.deepEqual(judgeName('Alpha', bravo, names), {
      kind: 'other-agent',
      who: 'mainpc/Alpha',
    });
    assert.deepEqual(judgeName('Zed', bravo, names), { kind: 'unknown', name: 'Zed' });
  });
});

describe('the process that runs an agent', () => {
  test('argv naming its script (plain, or under a container prefix)', () => {
    assert.ok(
      runsScript(
        ['python3', 'main_pc_code/agents/nlu_agent.py', '--port', '5709'],
        'main_pc_code/agents/nlu_agent.py',
      ),
    );
    assert.ok(
      runsScript(
        ['python', '/app/main_pc_code/agents/nlu_agent.py'],
        'main_pc_code/agents/nlu_agent.py',
      ),
    );
    assert.ok(
      !runsScript(
        ['python', '/app/main_pc_code/agents/nlu_agent.pyc'],
        'main_pc_code/agents/nlu_agent.py',
      ),
    );
    assert.ok(!runsScript(['python', 'other_nlu_agent.py'], 'nlu_agent.py'));
  });

  test('one process per agent, duplicates named', () => {
    const rows = [
      { pid: 9, argv: ['python', 'a.py'], ports: [5000, 5001, 5002] },
      { pid: 7, argv: ['python', 'a.py'], ports: [] },
      { pid: 8, argv: ['python', 'b.py'], ports: [7100] },
    ];
    const { found, duplicates } = matchProcesses(
      [
        { name: 'A', scriptPath: 'a.py' },
        { name: 'B', scriptPath: 'b.py' },
        { name: 'C', scriptPath: 'c.py' },
      ],
      rows,
    );
    assert.deepEqual(
      found.map((p) => `${p.agent}:${p.pid}`),
      ['A:7', 'B:8'],
    );
    assert.deepEqual(
      duplicates.map((p) => `${p.agent}:${p.pid}`),
      ['A:9'],
    );
  });

  test('/proc/net/tcp LISTEN sockets by inode, and the nice field of /proc/<pid>/stat', () => {
    const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 0100007F:1389 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0 20 4 30 10 -1
`;
    assert.deepEqual([...listeningInodes(table)], [['4242', 5000]]);
    assert.equal(
      niceFromStat(
        '1234 (python3 a (b).py) S 1 1234 1234 0 -1 4194560 500 0 0 0 5 3 0 0 30 10 4 0 99 0 0',
      ),
      10,
    );
  });
});

describe('drift between the config and where agents answer', () => {
  const loaded = loadConfigText(
    `agent_groups:\n  core:\n    Iva: {script_path: main_pc_code/agents/IntentionValidatorAgent.py, port: 5701, health_check_port: 6701}\n    Ok: {script_path: ok.py, port: 5703, health_check_port: 6703}\n    Held: {script_path: held.py, port: 5705, health_check_port: 6705}\n`,
    'm.yaml',
    { env: {}, machine: 'mainpc' },
  );
  assert.ok(loaded.ok);
  const health = new Map([
    [
      'mainpc/Iva',
      {
        ...initialHealth(),
        state: 'healthy' as const,
        moved: { port: 5000, healthPort: 5001, how: 'its name answered on 5001' },
      },
    ],
    ['mainpc/Ok', { ...initialHealth(), state: 'healthy' as const }],
    [
      'mainpc/Held',
      {
        ...initialHealth(),
        state: 'unreachable' as const,
        note: '6705 is held by something that is not a ZMQ REP (not ZMQ: an HTTP server (it answered "HTTP/1.1 400"))',
      },
    ],
  ]);
  test('moved and held ports are findings; a healthy agent where configured is not', () => {
    const d = driftFindings(loaded.machines, health);
    assert.deepEqual(
      d.map((f) => `${f.kind} ${f.agent}`),
      ['moved Iva', 'port-held Held'],
    );
    assert.match(d[0]!.message, /configured on 5701\/6701 but answers on 5000\/5001/);
  });
});

describe('two machines on one address', () => {
  test('by name, by loopback, by what a name resolved to', () => {
    assert.equal(
      sharedAddressWarnings([
        { id: 'mainpc', host: 'localhost' },
        { id: 'pc2', host: 'localhost' },
      ]).length,
      1,
    );
    assert.equal(
      sharedAddressWarnings([
        { id: 'mainpc', host: '127.0.0.1' },
        { id: 'pc2', host: '127.0.0.2' },
      ]).length,
      0,
    );
    const w = sharedAddressWarnings(
      [
        { id: 'mainpc', host: 'mainpc.lan' },
        { id: 'pc2', host: 'pc2.lan' },
      ],
      new Map([
        ['mainpc.lan', ['192.168.1.5']],
        ['pc2.lan', ['192.168.1.5']],
      ]),
    );
    assert.match(
      w[0]!,
      /mainpc \(mainpc\.lan\) and pc2 \(pc2\.lan\) resolve to one address \(192\.168\.1\.5\)/,
    );
  });
});

describe('backlog: frames a connecting PUB queued, not fresh errors', () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 30);
  const frameA = (ts: string) => [
    enc(
      `ERROR:{"message_type": "error_report", "source": "MainPC.Alpha", "timestamp": "${ts}", "error_data": {"error_id": "e-1", "error_type": "x", "severity": "high", "details": "boom"}}`,
    ),
  ];
  test('A and D stamp utcnow(): their age is known; other naive stamps are not judged', () => {
    assert.equal(
      frameAge({ sentAt: '2026-12-06T12:00:10.123456', format: 'zmq-a' }, now),
      20_000 - 123,
    );
    assert.equal(frameAge({ sentAt: '2026-12-06T12:00:10', format: 'zmq-b' }, now), undefined);
    assert.equal(frameAge({ sentAt: '2026-12-06T12:00:10+00:00', format: 'zmq-b' }, now), 20_000);
    assert.equal(frameAge({ format: 'zmq-c' }, now), undefined);
  });
  test('the bridge marks an old frame, and the console reads the mark back', () => {
    const old = bridgeMessage(
      frameA('2026-12-06T12:00:10'),
      'mainpc',
      'tcp://x:7150',
      now,
      () => 'h',
    );
    assert.equal(old.kind, 'publish');
    if (old.kind !== 'publish') return;
    assert.equal(old.headers['Opsdeck-Backlog'], '20000');
    const mark = bridgeMarkOf({ get: (k: string) => old.headers[k] ?? '' });
    assert.equal(mark?.backlogMs, 20_000);
    const fresh = bridgeMessage(
      frameA('2026-12-06T12:00:29'),
      'mainpc',
      'tcp://x:7150',
      now,
      () => 'h',
    );
    assert.ok(fresh.kind === 'publish' && fresh.headers['Opsdeck-Backlog'] === undefined);
  });
});

describe('the scorecard counts protocols by what answered', () => {
  const loaded = loadConfigText(
    `agent_groups:\n  core:\n    A: {script_path: a.py, port: 5701, health_check_port: 6701}\n    B: {script_path: b.py, port: 5703, health_check_port: 6703}\n`,
    'm.yaml',
    { env: {}, machine: 'mainpc' },
  );
  assert.ok(loaded.ok);
  test('an agent reached only over HTTP is counted as HTTP, not BaseAgent ZMQ health', () => {
    const sections = scorecard({
      machines: loaded.machines,
      health: new Map([
        [
          'mainpc/A',
          { ...initialHealth(), state: 'healthy' as const, protocol: 'base-agent' as const },
        ],
        ['mainpc/B', { ...initialHealth(), state: 'healthy' as const, protocol: 'http' as const }],
      ]),
      counters: newCounters(),
      publishers: [],
      canonical: {},
      portConflicts: 0,
    });
    const p12 = sections.find((s) => s.plan === 'P1.2')!.metrics;
    assert.equal(
      p12.find((m) => m.label === 'answering over BaseAgent ZMQ health')!.value,
      '1 (50%)',
    );
    assert.equal(p12.find((m) => m.label === 'answering over HTTP /health')!.value, '1 (50%)');
  });
});
