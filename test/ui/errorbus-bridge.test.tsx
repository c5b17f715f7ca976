// The console's view of the bridge: bridged rows say zmq->nats (and the filter finds them), and
// the scorecard carries the error-bus diagnosis (effective phase, lost publishers, overlaps).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { ErrorPane } from '../../source/components/error-pane.js';
import { diagnose } from '../../source/core/errorbus/doctor.js';
import { phaseValue } from '../../source/core/errorbus/phase.js';
import { buildTopology } from '../../source/core/errorbus/topology.js';
import type { ErrorEvent } from '../../source/core/errors/event.js';
import { ErrorPipeline } from '../../source/core/errors/pipeline.js';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { scorecard } from '../../source/core/ui/scorecard.js';
import { errorRows } from '../../source/core/ui/view.js';
import { Scorecard } from '../../source/screens/scorecard.js';

const NOW = 1_750_000_000_000;
const ev = (over: Partial<ErrorEvent>): ErrorEvent => ({
  machine: 'mainpc',
  agent: 'NLUAgent',
  severity: 'error',
  category: 'network',
  message: 'redis refused',
  details: {},
  ids: [],
  bus: 'nats',
  format: 'nats-errors',
  receivedAt: NOW,
  ...over,
});

describe('bridged errors in the error pane', () => {
  const p = new ErrorPipeline();
  p.add(
    ev({ ids: ['b1'], message: 'bridged one', bridged: { machine: 'mainpc', synthetic: false } }),
    NOW - 2000,
  );
  p.add(ev({ ids: ['n1'], agent: 'Echo', machine: 'pc2', message: 'native one' }), NOW - 1000);

  test('the BUS column says zmq->nats; the header counts them', () => {
    const { lastFrame } = render(
      <ErrorPane
        rows={p.rows.newest()}
        counters={p.counters}
        cursor={0}
        focused
        width={160}
        height={8}
        now={NOW}
        paused={false}
        filter=""
      />,
    );
    const frame = lastFrame()!;
    assert.match(frame, /0s mainpc NLUAgent +ERR +zmq->nats +bridged one/);
    assert.match(frame, /0s pc2 +Echo +ERR +nats +native one/);
    assert.match(frame, /dropped 0 · zmq->nats 1/);
  });

  test('bus:zmq->nats, bus:zmq and bus:nats all find a bridged row; bus:zmq->nats leaves native ones out', () => {
    const rows = p.rows.newest();
    assert.deepEqual(
      errorRows(rows, 'bus:zmq->nats').map((r) => r.event.message),
      ['bridged one'],
    );
    assert.deepEqual(
      errorRows(rows, 'bus:zmq').map((r) => r.event.message),
      ['bridged one'],
    );
    assert.deepEqual(
      errorRows(rows, 'bus:nats').map((r) => r.event.message),
      ['native one', 'bridged one'],
    );
  });
});

describe('the scorecard carries the error-bus diagnosis', () => {
  const env = { MAINPC_IP: '10.0.0.16', PC2_IP: '10.0.0.17', MAINPC_ERROR_BUS_HOST: '10.0.0.16' };
  const main = loadConfigText(
    `agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 5701, health_check_port: 6701}\n    Bravo: {script_path: b.py, port: 5703, health_check_port: 6703}\n`,
    'm.yaml',
    { env, machine: 'mainpc' },
  );
  const pc2 = loadConfigText(
    `pc2_services:\n- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, port: 7150, health_check_port: 8150}\n- {name: Auth, script_path: pc2_code/agents/ForPC2/auth.py, port: 7116, health_check_port: 8116}\nerror_bus_port: 7150\n`,
    'p.yaml',
    { env, machine: 'pc2' },
  );
  const machines = [...main.machines, ...pc2.machines];

  test('effective phase, what the bridge recovers, what it cannot, and the stream overlaps', () => {
    const topology = buildTopology({
      machines,
      env,
      bridges: [],
      probes: { '10.0.0.16:7150': { holder: 'none' }, '10.0.0.17:7150': { holder: 'pub' } },
    });
    const errorbus = diagnose({
      topology,
      machines,
      bridges: {},
      kv: phaseValue(0),
      streams: [
        { name: 'ERRORS', subjects: ['errors.>'], messages: 0 },
        { name: 'AGENT_ERRORS', subjects: ['errors.agents.>'], messages: 0 },
      ],
      publishers: [],
      now: NOW,
      windowMs: 60_000,
    });
    const sections = scorecard({
      machines,
      health: new Map(),
      counters: new ErrorPipeline().counters,
      publishers: [],
      canonical: {},
      portConflicts: 0,
      errorbus,
    });
    const { lastFrame } = render(<Scorecard sections={sections} width={200} />);
    const frame = lastFrame()!;
    assert.match(
      frame,
      /▲ mainpc: effectively in phase +0 zmq {2}— errors of Alpha, Bravo reach no one/,
    );
    assert.match(frame, /mainpc: port 7150 +nothing listens; config: nothing/);
    assert.match(
      frame,
      /✖ mainpc: lost without the bridge +2: Alpha, Bravo {2}— start opsdeck agent --machine mainpc --bridge/,
    );
    assert.match(frame, /✔ mainpc: lost even with the bridge +none/);
    assert.match(frame, /pc2: port 7150 +PUB bound; config: CentralErrorBus's PUB/);
    assert.match(
      frame,
      /✖ pc2: lost even with the bridge +1: Auth {2}— fix: its code fixes PC2_IP:7150/,
    );
    assert.match(frame, /✖ stream subject overlaps +ERRORS\/AGENT_ERRORS/);
  });

  test('not diagnosed yet says how to get it', () => {
    const sections = scorecard({
      machines,
      health: new Map(),
      counters: new ErrorPipeline().counters,
      publishers: [],
      canonical: {},
      portConflicts: 0,
    });
    const { lastFrame } = render(<Scorecard sections={sections} width={160} />);
    assert.match(
      lastFrame()!,
      /\? error-bus topology +not diagnosed yet {2}— the console probes every 15 s; or run `opsdeck errorbus doctor`/,
    );
  });
});
