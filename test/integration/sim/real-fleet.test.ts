// The one test over the real configs: both machines up in under 3 s, every running agent
// answering the spec client, each clash reported per agent (and the BaseAgents it kills), the
// agents that bind the first free ports, ports released on stop, a port held by another process
// reported while the rest carries on.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { exampleOverrides, fleet, probeEveryAgent, REAL, sim, tcpOpen } from './helpers.js';

const HOSTS = { mainpc: '127.0.14.1', pc2: '127.0.14.2' };
const NO_REAL =
  existsSync(REAL.mainpc) && existsSync(REAL.pc2)
    ? false
    : `real configs not found at ${REAL.mainpc}`;

describe('the real MainPC and PC2 configs', { skip: NO_REAL }, () => {
  test('start, every agent answers, clashes reported per agent, ports released on stop', async (t) => {
    const machines = fleet(REAL);
    const first = await sim({ machines, hosts: HOSTS, overrides: exampleOverrides() });
    // Start-up time is a bench figure (bounds: 1,000 agents under 3 s), not a bound here.
    t.diagnostic(`started in ${first.startupMs} ms`);
    const lines = first.summaryLines();
    const machineLines = lines.filter((l) => /^(mainpc|pc2) /.test(l));
    assert.equal(machineLines.length, 2, lines.join('\n'));
    assert.match(
      machineLines[0]!,
      // Six MainPC BaseAgents lose their health port to a neighbour's HTTP and exit, as
      // BaseAgent._init_sockets does; nothing binds MainPC's 7150 (no CentralErrorBus there).
      /^mainpc 127\.0\.14\.1: 43\/49 agents up \(\d+ with port clashes\), \d+ ports bound, \d+ clashes; error bus tcp:\/\/127\.0\.14\.1:7150 closed; nats (on, phase 0 zmq|off); ready in \d+ ms$/,
    );
    assert.match(machineLines[1]!, /^pc2 127\.0\.14\.2: 18\/23 agents up/);
    const down = lines.filter((l) => l.startsWith('  down ')).map((l) => l.split(':')[0]);
    assert.deepEqual(down, [
      '  down mainpc UnifiedSystemAgent',
      '  down mainpc AdvancedCommandHandler',
      '  down mainpc Responder',
      '  down mainpc TTSService',
      '  down mainpc FusedAudioPreprocessor',
      '  down mainpc HumanAwarenessAgent',
      '  down pc2 AsyncProcessor',
      '  down pc2 AuthenticationAgent',
      '  down pc2 ProactiveContextMonitor',
      '  down pc2 FileSystemAssistantAgent',
      '  down pc2 DreamingModeAgent',
    ]);
    // The five scripts whose code never hands BaseAgent its port (upstream-code.ts).
    assert.deepEqual(
      lines.filter((l) => l.startsWith('  moved ')).map((l) => l.split(' (')[0]),
      [
        '  moved mainpc ActiveLearningMonitor: on 5000/5001',
        '  moved mainpc IntentionValidatorAgent: on 5003/5004',
        '  moved mainpc DynamicIdentityAgent: on 5006/5007',
        '  moved mainpc ProactiveAgent: on 5009/5010',
        '  moved pc2 TutoringServiceAgent: on 5000/5001',
      ],
    );

    // The hazards upstream-protocols f lists, as this simulator binds them (BaseAgent HTTP on
    // health+1 only for BaseAgent agents), each naming the holder.
    const clashes = lines.filter((l) => l.startsWith('  clash '));
    for (const want of [
      '  clash mainpc UnifiedSystemAgent health 8201: held by ServiceRegistry http',
      '  clash mainpc AdvancedCommandHandler health 6710: held by NLUAgent http',
      '  clash mainpc VoiceProfilingAgent http 6709: held by NLUAgent health',
      '  clash mainpc MemoryFusionHub config.zmq_port 5713: held by MemoryFusionHub main',
      '  clash mainpc ModelOpsCoordinator config.grpc_port 7212: held by ModelOpsCoordinator main',
      '  clash mainpc AffectiveProcessingCenter config.pub_address 5560: held by AffectiveProcessingCenter main',
      '  clash pc2 AsyncProcessor health 8101: held by TieredResponder http',
      '  clash pc2 SpeechRelayService health 8130: held by AdvancedRouter http',
      '  clash pc2 UnifiedObservabilityCenter config.prometheus_port 9100: held by UnifiedObservabilityCenter main',
    ]) {
      assert.ok(clashes.includes(want), `missing: ${want}`);
    }
    assert.ok(!clashes.some((l) => l.includes('another process')), clashes.join('\n'));
    const pc2Http = clashes
      .filter((l) => l.startsWith('  clash pc2 ') && / health \d+: held by \w+ http$/.test(l))
      .map((l) => /health (\d+)/.exec(l)![1]);
    // Of the ports upstream-protocols f names (8101, 8102, 8116, 8119, 8123, 8124, 8127, 8130),
    // those whose would-be holder did not exit first.
    assert.deepEqual(pc2Http.sort(), ['8101', '8116', '8119', '8123', '8127', '8130']);

    const { checked, problems } = await probeEveryAgent(first);
    assert.deepEqual(problems, []);
    assert.equal(checked, 72, 'every agent checked, the exited ones holding nothing');

    await first.stop();
    for (const [host, port] of [
      [HOSTS.mainpc, 7200],
      [HOSTS.mainpc, 8201],
      [HOSTS.mainpc, 7150],
      [HOSTS.pc2, 7113],
      [HOSTS.pc2, 9100],
    ] as const) {
      assert.equal(await tcpOpen(host, port), false, `${host}:${port} released`);
    }
    const second = await sim({
      machines,
      hosts: HOSTS,
      overrides: exampleOverrides(),
      nats: { mode: 'off', why: 'second start' },
    });
    assert.deepEqual(
      second.summary().map((m) => m.clashes.length),
      first.summary().map((m) => m.clashes.length),
      'a second start binds the same',
    );
    await second.stop();
  });

  test('a port held by another process is reported for its agent and the rest carries on', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) =>
      holder.listen({ host: HOSTS.mainpc, port: 7220, exclusive: true }, resolve),
    );
    try {
      const s = await sim({
        machines: fleet(REAL),
        hosts: HOSTS,
        nats: { mode: 'off', why: 'not needed' },
      });
      const lines = s.summaryLines();
      // Its main port taken, SystemDigitalTwin's BaseAgent gives up and exits; the rest runs.
      assert.ok(
        lines.includes('  clash mainpc SystemDigitalTwin main 7220: held by another process'),
        lines.join('\n'),
      );
      assert.match(lines[0]!, /^mainpc 127\.0\.14\.1: 42\/49 agents up/);
      assert.match(
        s.machine('mainpc')!.byName.get('SystemDigitalTwin')!.exited ?? '',
        /main port 7220/,
      );
      assert.equal(await tcpOpen(HOSTS.mainpc, 8220), false, 'its health socket closed with it');
      assert.equal(await tcpOpen(HOSTS.mainpc, 7200), true, 'ServiceRegistry carries on');
      await s.stop();
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});
