// What the operator sees, pane by pane (ink-testing-library frames at a fixed size).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import type { MachineResources } from '../../source/core/resources/machine.js';
import type { ErrorEvent } from '../../source/core/errors/event.js';
import { ErrorPipeline } from '../../source/core/errors/pipeline.js';
import { initialHealth, observe, type AgentHealth } from '../../source/core/health/state.js';
import { checkPorts } from '../../source/core/ports/rules.js';
import { KEYMAP } from '../../source/core/ui/keymap.js';
import { scorecard } from '../../source/core/ui/scorecard.js';
import { agentRows, errorRows } from '../../source/core/ui/view.js';
import { ActionFlow } from '../../source/components/action-flow.js';
import { ErrorPane } from '../../source/components/error-pane.js';
import { MachinePane } from '../../source/components/machine-pane.js';
import { HelpOverlay } from '../../source/components/overlays.js';
import { Table } from '../../source/components/table.js';
import { COLOR_THEME, NO_COLOR_THEME, themeFor } from '../../source/components/theme.js';
import { AgentDetail } from '../../source/screens/agent-detail.js';
import { Ports } from '../../source/screens/ports.js';
import { Scorecard } from '../../source/screens/scorecard.js';

const NOW = 1_750_000_000_000;
const YAML = `agent_groups:
  core:
    ServiceRegistry: {script_path: a.py, port: 7200, health_check_port: 8200, dependencies: []}
    UnifiedSystemAgent: {script_path: b.py, port: 7201, health_check_port: 8201, dependencies: [ServiceRegistry, Ghost]}
    NLUAgent: {script_path: c.py, port: 5709}
`;
const machine: Machine = loadConfigText(YAML, 'mainpc.yaml', { env: { MAINPC_IP: '127.0.0.1' } })
  .machines[0]!;

const healthy = (at: number): AgentHealth =>
  observe(initialHealth(), {
    kind: 'reply',
    reading: { state: 'healthy', reason: 'ok', protocol: 'base-agent', uptimeSec: 42 },
    latencyMs: 3.2,
    at,
    raw: '{"status": "ok"}',
  });
const down = (at: number): AgentHealth =>
  observe(healthy(at - 1000), {
    kind: 'refused',
    reason: 'connection refused on 127.0.0.1:8201',
    at,
  });
const health = new Map<string, AgentHealth>([
  ['mainpc/ServiceRegistry', healthy(NOW - 2000)],
  ['mainpc/UnifiedSystemAgent', down(NOW - 1000)],
]);

const ev = (over: Partial<ErrorEvent>): ErrorEvent => ({
  machine: 'mainpc',
  agent: 'NLUAgent',
  severity: 'error',
  category: 'TimeoutError',
  message: 'model call timed out',
  details: {},
  ids: [],
  bus: 'zmq',
  format: 'zmq-a',
  receivedAt: NOW,
  ...over,
});

describe('machine pane', () => {
  test('header with address, links, resources; rows with state word, ports and protocol', () => {
    const rows = agentRows(machine, health, '');
    const { lastFrame } = render(
      <MachinePane
        machine={machine}
        rows={rows}
        resources={{
          sample: {
            machine: 'mainpc',
            ts: NOW,
            source: 'sim',
            gpu: { name: 'RTX 4090', totalMb: 24576, usedMb: 18432, utilPct: 70 },
            cpuPct: 41,
            ramTotalMb: 65536,
            ramUsedMb: 32768,
            throttleLevel: 0,
            agents: [],
          },
          receivedAt: NOW,
          history: [],
          auth: { verified: true, kid: 'kid-mainpc' },
        }}
        stale={false}
        nats="connected"
        zmqLastAt={NOW - 3000}
        cursor={0}
        focused
        width={100}
        height={12}
        now={NOW}
        filter=""
      />,
    );
    const frame = lastFrame()!;
    assert.match(frame, /MAINPC 127\.0\.0\.1 {2}3 agents 1 ok 1 down/);
    assert.match(
      frame,
      /VRAM ████████░░ 18\.0\/24G {2}CPU 41% {2}RAM 32\.0\/64G {2}NATS ok {2}ZMQ 0s/,
    );
    assert.match(frame, /›● OK +ServiceRegistry +core +7200 +8200 base +<5ms +0s/);
    assert.match(frame, /○ DOWN +UnifiedSystemAgent/);
    assert.match(frame, /· \.\.\.\. +NLUAgent +core +5709 +5710 -/);
  });

  test('compact (short stacked panes, 80x24): one header line with counts and links, no bottom border, two more agent rows', () => {
    const rows = agentRows(machine, health, '');
    const props = {
      machine,
      rows,
      resources: undefined,
      stale: true,
      nats: 'connected' as const,
      zmqLastAt: NOW - 3000,
      cursor: 0,
      focused: true,
      width: 80,
      height: 7,
      now: NOW,
      filter: '',
    };
    const full = render(<MachinePane {...props} />).lastFrame()!;
    const compact = render(<MachinePane {...props} compact />).lastFrame()!;
    assert.match(
      compact,
      /^╭─+╮\n│MAINPC 1\/3 ok 1 down VRAM - +\(no sample yet\) {2}NATS ok {2}ZMQ 0s/,
    );
    assert.doesNotMatch(compact, /╰/, 'the next pane draws the separator');
    // Samples that came and were refused: none accepted yet, and why is said beside it.
    const refused = render(
      <MachinePane
        {...props}
        compact
        refused={{ count: 2, reason: 'cpuPct out of range', at: NOW - 1000 }}
      />,
    ).lastFrame()!;
    assert.match(refused, /\(no accepted sample yet\) {2}2 samples refused: cpu/);
    const agentLines = (frame: string) => frame.split('\n').filter((l) => /[●○·] /.test(l)).length;
    assert.deepEqual([agentLines(full), agentLines(compact)], [1, 3]);
  });

  test('stale resources, no GPU and an unsigned sample are said, not hidden; the filter is shown', () => {
    const rows = agentRows(machine, health, 'nlu');
    const { lastFrame } = render(
      <MachinePane
        machine={machine}
        rows={rows}
        resources={{
          sample: {
            machine: 'mainpc',
            ts: NOW,
            source: 'agent',
            gpu: null,
            cpuPct: 5,
            ramTotalMb: 1024,
            ramUsedMb: 512,
            throttleLevel: 2,
            throttle: {
              level: 2,
              thresholds: { cpu: 70, memory: 70, gpu: 55 },
              nice: { want: 10, at: 3, of: 3 },
              summary: 'thresholds 70/70/55 = level 2; 3/3 agent processes at nice 10',
              at: NOW,
            },
            agents: [],
          },
          receivedAt: NOW - 60_000,
          history: [],
          auth: { verified: false, reason: 'unsigned' },
        }}
        stale
        nats="reconnecting"
        zmqLastAt={undefined}
        cursor={0}
        focused={false}
        width={110}
        height={8}
        now={NOW}
        filter="nlu"
      />,
    );
    const frame = lastFrame()!;
    assert.match(frame, /filter "nlu"/);
    assert.match(frame, /NATS reconnecting {2}ZMQ quiet/);
    assert.match(
      frame,
      /VRAM no GPU unverified {2}throttle L2 {2}CPU 5% {2}RAM 0\.5\/1G {2}\(resources stale\)/,
    );
    assert.equal(rows.length, 1);
  });

  test('throttle: the level read back from the machine, who set it and when (audit), and the VRAM curve', () => {
    const history = [9000, 9000, 9000, 6000, 5800].map((vramMb, i) => ({
      ts: NOW - (5 - i) * 2000,
      vramMb,
      cpuPct: 30,
    }));
    const { lastFrame } = render(
      <MachinePane
        machine={machine}
        rows={[]}
        resources={{
          sample: {
            machine: 'pc2',
            ts: NOW,
            source: 'sim',
            gpu: { name: 'RTX 3060', totalMb: 12288, usedMb: 5800, utilPct: 40 },
            cpuPct: 30,
            ramTotalMb: 32768,
            ramUsedMb: 8192,
            throttleLevel: 2,
            throttle: {
              level: 2,
              thresholds: { cpu: 70, memory: 70, gpu: 55 },
              nice: { want: 10, at: 3, of: 3 },
              summary: 'thresholds 70/70/55 = level 2; 3/3 agent processes at nice 10',
              at: NOW,
            },
            agents: [],
          },
          receivedAt: NOW,
          history,
          auth: { verified: true, kid: 'kid-pc2' },
        }}
        stale={false}
        nats="connected"
        zmqLastAt={NOW}
        cursor={0}
        focused
        width={120}
        height={6}
        now={NOW}
        filter=""
        throttleBy={{
          level: 2,
          operator: 'ops@10.0.0.5',
          time: new Date(NOW - 120_000).toISOString(),
          auto: false,
        }}
      />,
    );
    assert.match(
      lastFrame()!,
      /VRAM █████░░░░░ 5\.7\/12G ▆▆▆▄▄ {2}throttle L2 set by ops@10\.0\.0\.5 2m ago/,
    );
  });

  test('a probe round the eye cannot use draws nothing new: latency jitter, ages between replies', () => {
    // Every agent answered 30 rounds (the history is full), latencies jittering by a few ms.
    const round = (n: number) => {
      const h = new Map<string, AgentHealth>();
      machine.agents.forEach((a, i) => {
        let s = initialHealth();
        for (let k = 0; k <= n; k++)
          s = observe(s, {
            kind: 'reply',
            reading: { state: 'healthy', reason: 'ok', protocol: 'base-agent' },
            latencyMs: 20 + i * 40 + ((k * 7) % 9) - 4,
            at: NOW + k * 2000,
          });
        h.set(`mainpc/${a.name}`, s);
      });
      return h;
    };
    const frame = (n: number, now: number) =>
      render(
        <MachinePane
          machine={machine}
          rows={agentRows(machine, round(n), '')}
          resources={undefined}
          stale
          nats="off"
          zmqLastAt={undefined}
          cursor={0}
          focused
          width={100}
          height={8}
          now={now}
          filter=""
        />,
      ).lastFrame()!;
    const first = frame(40, NOW + 40 * 2000 + 300);
    assert.match(first, /ServiceRegistry .* 20ms +0s/);
    for (let n = 41; n < 50; n++)
      assert.equal(frame(n, NOW + n * 2000 + 1700), first, `round ${n}`);
  });
});

describe('agent order', () => {
  test('worst state first keeps config order within a state; by name sorts names', () => {
    assert.deepEqual(
      agentRows(machine, health, '', 'state').map((r) => r.agent.name),
      ['UnifiedSystemAgent', 'NLUAgent', 'ServiceRegistry'],
    );
    assert.deepEqual(
      agentRows(machine, health, '', 'name').map((r) => r.agent.name),
      ['NLUAgent', 'ServiceRegistry', 'UnifiedSystemAgent'],
    );
    assert.deepEqual(
      agentRows(machine, health, '').map((r) => r.agent.name),
      ['ServiceRegistry', 'UnifiedSystemAgent', 'NLUAgent'],
    );
  });
});

describe('error pane', () => {
  test('newest first, counters, bus and flood count', () => {
    const p = new ErrorPipeline({ flood: { rateCount: 2, rateWindowMs: 10_000, rules: [] } });
    p.add(ev({ ids: ['a'], message: 'first' }), NOW - 5000);
    p.add(ev({ ids: ['a'], bus: 'nats', format: 'nats-errors', message: 'first' }), NOW - 4990);
    for (let i = 0; i < 6; i++)
      p.add(
        ev({ agent: 'Executor', severity: 'critical', message: `disk full ${i}`, ids: [`f${i}`] }),
        NOW - 1000 + i,
      );
    const { lastFrame } = render(
      <ErrorPane
        rows={p.rows.newest()}
        counters={p.counters}
        cursor={0}
        focused
        width={100}
        height={10}
        now={NOW}
        paused={false}
        filter=""
      />,
    );
    const frame = lastFrame()!;
    assert.match(
      frame,
      /in 8 \(zmq 7 nats 1\) = rows 4 \+ collapsed 3 \+ twins 1 \+ copies 0 \+ malformed 0 \+ dropped 0/,
    );
    assert.match(frame, /0s mainpc Executor +CRIT zmq +x4 disk full 2 \(flood: rate>2\/10s\)/);
    assert.match(frame, /5s mainpc NLUAgent +ERR +both +first/);
    p.openGap('pc2', 'zmq', 'tcp://127.0.0.2:7150', NOW);
    const gapped = render(
      <ErrorPane
        rows={p.rows.newest()}
        counters={p.counters}
        cursor={0}
        focused
        width={120}
        height={10}
        now={NOW}
        paused={false}
        filter=""
      />,
    ).lastFrame()!;
    assert.match(gapped, /dropped 0 · gaps 1│/, 'a gap is counted where the other losses are');
    const full = render(
      <ErrorPane
        rows={[]}
        counters={{ ...p.counters, dedupEvicted: 12 }}
        cursor={0}
        focused
        width={140}
        height={6}
        now={NOW}
        paused={false}
        filter=""
      />,
    ).lastFrame()!;
    assert.match(
      full,
      /gaps 1 · dedup full 12/,
      'entries pushed out of a full dedup window are said',
    );
  });

  test('the filter narrows by machine, severity, bus and text; paused is shown', () => {
    const p = new ErrorPipeline();
    p.add(
      ev({
        ids: ['1'],
        machine: 'pc2',
        agent: 'TieredResponder',
        severity: 'warning',
        message: 'queue full',
      }),
      NOW,
    );
    p.add(ev({ ids: ['2'], message: 'timeout talking to SDT' }), NOW);
    const rows = errorRows(p.rows.newest(), 'machine:pc2 sev:warn queue');
    assert.equal(rows.length, 1);
    const { lastFrame } = render(
      <ErrorPane
        rows={rows}
        counters={p.counters}
        cursor={0}
        focused
        width={100}
        height={8}
        now={NOW}
        paused
        filter="machine:pc2 sev:warn queue"
      />,
    );
    assert.match(lastFrame()!, /PAUSED \(p to follow\) filter "machine:pc2 sev:warn queue"/);
    assert.doesNotMatch(lastFrame()!, /timeout talking/);
    assert.equal(errorRows(p.rows.newest(), 'bus:nats').length, 0);
  });
});

describe('table', () => {
  test('a long list shows a window around the cursor and where it is', () => {
    const rows = Array.from({ length: 50 }, (_, i) => `row-${i}`);
    const { lastFrame } = render(
      <Table
        rows={rows}
        columns={[{ title: 'NAME', width: 10, cell: (r: string) => ({ text: r }) }]}
        rowKey={(r) => r}
        cursor={30}
        focused
        height={6}
      />,
    );
    const frame = lastFrame()!;
    assert.match(frame, /›row-30/);
    assert.doesNotMatch(frame, /row-0\b/);
    assert.match(frame, /29-32 of 50/);
    assert.equal(frame.split('\n').length, 6, 'never taller than its height');
  });
});

describe('overlays and screens', () => {
  test('the help overlay lists every keymap entry', () => {
    const { lastFrame } = render(<HelpOverlay width={100} height={60} scroll={0} />);
    const frame = lastFrame()!;
    for (const b of KEYMAP)
      assert.ok(frame.includes(b.help.slice(0, 40)), `help misses: ${b.help}`);
  });

  test('the help on a short terminal: its title and states stay, the keys scroll', () => {
    const { lastFrame, rerender } = render(<HelpOverlay width={80} height={22} scroll={0} />);
    let frame = lastFrame()!;
    assert.equal(frame.split('\n').length, 22, 'no taller than the body');
    assert.match(frame, /opsdeck keys/);
    assert.match(frame, /States: /);
    // Every word a row can show, TIMEOUT and MOVED too.
    for (const word of ['OK', 'DEGR', 'FAIL', 'MOVED', 'DOWN', 'TIMEOUT', 'STALE', '....'])
      assert.ok(frame.includes(` ${word} `), `the states miss ${word}`);
    assert.match(frame, /1-16 of \d+ · ↑↓ PgUp\/PgDn scroll/);
    rerender(<HelpOverlay width={80} height={22} scroll={999} />);
    frame = lastFrame()!;
    assert.match(frame, /click +focus the pane/, 'the end reached');
    assert.match(frame, /opsdeck keys/);
  });

  test('agent detail: definition site, every port, dependencies with health, last reply', () => {
    const { lastFrame } = render(
      <AgentDetail
        agentKey="mainpc/UnifiedSystemAgent"
        machines={[machine]}
        health={health}
        errors={[]}
        resources={{}}
        width={100}
        height={30}
        now={NOW}
      />,
    );
    const frame = lastFrame()!;
    assert.match(
      frame,
      /UnifiedSystemAgent on mainpc \(127\.0\.0\.1\) {2}○ DOWN connection refused on 127\.0\.0\.1:8201/,
    );
    assert.match(frame, /defined at mainpc\.yaml:4:5 \(agent-groups\)/);
    assert.match(frame, /http +8202 +\(health_check_port\+1/);
    assert.match(frame, /ServiceRegistry +● OK/);
    assert.match(frame, /Ghost +not in the fleet/);
  });

  test('agent detail: VRAM says it counts the children, RSS the process; unknown VRAM says why', () => {
    const res = (vramMb?: number): Record<string, MachineResources> => ({
      mainpc: {
        sample: {
          machine: 'mainpc',
          ts: NOW,
          source: 'sim',
          gpu: null,
          cpuPct: 1,
          ramTotalMb: 1024,
          ramUsedMb: 512,
          throttleLevel: 0,
          agents: [
            {
              name: 'UnifiedSystemAgent',
              status: 'up' as const,
              rssMb: 310,
              ...(vramMb === undefined ? {} : { vramMb }),
            },
          ],
        },
        receivedAt: NOW,
        history: [],
        auth: { verified: true, kid: 'kid-mainpc' },
      },
    });
    const frame = (vramMb?: number) =>
      render(
        <AgentDetail
          agentKey="mainpc/UnifiedSystemAgent"
          machines={[machine]}
          health={health}
          errors={[]}
          resources={res(vramMb)}
          width={120}
          height={30}
          now={NOW}
        />,
      ).lastFrame()!;
    assert.match(frame(7000), /VRAM 7000 MB with its children · RSS 310 MB \(up\) · sample signed/);
    assert.match(frame(), /VRAM not known \(no per-process GPU reading\) · RSS 310 MB/);
  });

  test('agent detail of an unknown agent says so', () => {
    const { lastFrame } = render(
      <AgentDetail
        agentKey="mainpc/Nobody"
        machines={[machine]}
        health={health}
        errors={[]}
        resources={{}}
        width={100}
        height={30}
        now={NOW}
      />,
    );
    assert.match(lastFrame()!, /No agent mainpc\/Nobody in the fleet/);
  });

  test('ports: conflicts listed, the selected one explained with both owners and places', () => {
    const clash = loadConfigText(
      'agent_groups:\n  g:\n    A: {script_path: a.py, port: 7000, health_check_port: 7100}\n    B: {script_path: b.py, port: 7101, health_check_port: 7200}\n',
      'm.yaml',
      { env: {} },
    ).machines;
    const check = checkPorts(clash);
    const { lastFrame } = render(
      <Ports check={check} findings={check.findings} cursor={0} width={100} height={20} />,
    );
    const frame = lastFrame()!;
    assert.match(frame, /1 conflicts/);
    assert.match(frame, /ERR +7101 machine-clash mainpc +derived A http vs B port/);
    assert.match(frame, /mainpc\/B port = 7101 .* at m\.yaml:4:\d+/);
  });

  test('scorecard: measured where it can be, "not probed" where it cannot', () => {
    const sections = scorecard({
      machines: [machine],
      health,
      counters: new ErrorPipeline().counters,
      publishers: [],
      canonical: { mainpc: true },
      portConflicts: 0,
    });
    const { lastFrame } = render(<Scorecard sections={sections} width={100} />);
    const frame = lastFrame()!;
    assert.match(frame, /✔ mainpc config canonical \(agent_groups\) +yes/);
    assert.match(frame, /agents answering health probes +1\/3 \(33%\)/);
    assert.match(frame, /control auth enforced +not probed {2}— run `opsdeck security probe`/);
    assert.match(frame, /✔ conflicts \(ports check\) +0/);
  });

  test("scorecard P2.2: agents' own /metrics beside what opsdeck's exporters cover", () => {
    const withMetrics = new Map(health);
    withMetrics.set('mainpc/ServiceRegistry', { ...healthy(NOW), instrumented: false });
    const row = (exporters?: Record<string, { address: string; agents: number } | undefined>) => {
      const sections = scorecard({
        machines: [machine],
        health: withMetrics,
        counters: new ErrorPipeline().counters,
        publishers: [],
        canonical: {},
        portConflicts: 0,
        ...(exporters ? { exporters } : {}),
      });
      return render(<Scorecard sections={sections} width={140} />).lastFrame()!;
    };
    const none = row();
    assert.match(none, /agents whose \/metrics serves Prometheus text +0\/1 checked \(0%\)/);
    assert.match(
      none,
      /agents opsdeck exports as Prometheus metrics +no exporter seen {2}— run `opsdeck agent --metrics ADDR:PORT` on each machine/,
    );
    const all = row({ mainpc: { address: '127.0.0.1:9470', agents: 3 } });
    assert.match(
      all,
      /✔ agents opsdeck exports as Prometheus metrics +3\/3 \(100%\) {2}— mainpc at 127\.0\.0\.1:9470/,
    );
    // An agent without the fleet config exports the machine only: its agents are not covered.
    const bare = row({ mainpc: { address: '127.0.0.1:9470', agents: 0 } });
    assert.match(bare, /agents opsdeck exports as Prometheus metrics +0\/3 \(0%\)/);
  });

  test('action flow: preview, exact target, checks, confirmation words', () => {
    const run = {
      action: { id: 'errorbus.advance', title: 'Advance the error bus 0 -> 1', machine: 'fleet' },
      step: {
        phase: 'confirm' as const,
        preview: {
          target: 'KV opsdeck/errorbus.phase @ revision 7',
          lines: ['put {"phase":1,"name":"dual-publish"}'],
          checks: [{ name: 'NATS reachable from mainpc', ok: true, evidence: 'sample 1s old' }],
          runnable: true,
          destructive: false,
        },
      },
      confirm: 'Advance the error bus 0 -> 1 on KV opsdeck/errorbus.phase @ revision 7',
    };
    const { lastFrame } = render(<ActionFlow run={run} width={100} height={20} />);
    const frame = lastFrame()!;
    assert.match(frame, /target: KV opsdeck\/errorbus\.phase @ revision 7/);
    assert.match(frame, /pass NATS reachable from mainpc: sample 1s old/);
    assert.match(
      frame,
      /Run "Advance the error bus 0 -> 1 on KV opsdeck\/errorbus\.phase @ revision 7"\?/,
    );
    assert.match(frame, /y = yes · n \/ Esc = cancel/);
  });

  test('action flow: a long preview shows where it is and scrolls', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `+ line ${i + 1}`);
    const run = {
      action: { id: 'config.migrate', title: 'Migrate the MainPC config', machine: 'mainpc' },
      step: {
        phase: 'confirm' as const,
        preview: { target: 'mainpc.yaml', lines, checks: [], runnable: true, destructive: true },
      },
      confirm: 'Migrate mainpc.yaml',
    };
    const top = render(<ActionFlow run={run} width={100} height={20} />).lastFrame()!;
    assert.match(top, /\+ line 1\b/);
    assert.doesNotMatch(top, /\+ line 13\b/);
    assert.match(top, /lines 1-12 of 40 · ↑↓ \/ PgUp PgDn scroll/);
    const down = render(<ActionFlow run={run} width={100} height={20} scroll={25} />).lastFrame()!;
    assert.doesNotMatch(down, /\+ line 25\b/);
    assert.match(down, /\+ line 26\b[\s\S]*\+ line 37\b/);
    assert.match(down, /lines 26-37 of 40/);
    const past = render(<ActionFlow run={run} width={100} height={20} scroll={99} />).lastFrame()!;
    assert.match(past, /lines 29-40 of 40/, 'clamped to the last page');
  });

  test('NO_COLOR turns every colour token off', () => {
    assert.equal(themeFor({ NO_COLOR: '1' }), NO_COLOR_THEME);
    assert.equal(themeFor({}), COLOR_THEME);
    assert.deepEqual(Object.values(NO_COLOR_THEME).filter(Boolean), []);
  });
});
