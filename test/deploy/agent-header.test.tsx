// The machine header says which opsdeck agent runs there and for how long, and warns when it is
// another version than the console, too old to say, or silent.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import type { ResourceSample } from '../../source/core/resources/sample.js';
import { agentLabel } from '../../source/core/ui/agent-label.js';
import { agentRows } from '../../source/core/ui/view.js';
import { MachinePane } from '../../source/components/machine-pane.js';
import { VERSION } from '../../source/version.js';

const NOW = 1_750_000_000_000;
const sample = (over: Partial<ResourceSample> = {}): ResourceSample => ({
  machine: 'pc2',
  ts: NOW,
  source: 'agent',
  gpu: null,
  cpuPct: 5,
  ramTotalMb: 16384,
  ramUsedMb: 4096,
  throttleLevel: 0,
  agents: [],
  version: VERSION,
  uptimeS: 3 * 3600 + 120,
  ...over,
});

describe('agentLabel', () => {
  test('same version: version and uptime at the time of the frame, no warning', () => {
    assert.deepEqual(agentLabel(sample(), NOW - 2000, NOW, false, VERSION), {
      text: `agent ${VERSION} up 3h`,
      warn: false,
    });
    assert.deepEqual(agentLabel(sample({ uptimeS: 40 }), NOW - 2000, NOW, false, VERSION), {
      text: `agent ${VERSION} up 40s`, // 42 s, in the coarse steps every age takes
      warn: false,
    });
  });

  test('warnings: another version, no version (older agent), silent', () => {
    assert.deepEqual(agentLabel(sample({ version: '0.0.9' }), NOW, NOW, false, '0.1.0'), {
      text: 'agent 0.0.9 (console 0.1.0) up 3h',
      warn: true,
    });
    const { version: _v, uptimeS: _u, ...old } = sample();
    assert.deepEqual(agentLabel(old, NOW, NOW, false, '0.1.0'), {
      text: 'agent older than 0.1.0 (no version)',
      warn: true,
    });
    assert.deepEqual(agentLabel(sample(), NOW - 5 * 60_000, NOW, true, VERSION), {
      text: `agent ${VERSION} silent 5m`,
      warn: true,
    });
  });

  test('nothing for the simulator or before any sample', () => {
    assert.equal(agentLabel(sample({ source: 'sim' }), NOW, NOW, false, VERSION), undefined);
    assert.equal(agentLabel(undefined, undefined, NOW, true, VERSION), undefined);
  });
});

describe('machine header', () => {
  const machine: Machine = loadConfigText(
    'pc2_services:\n- {name: Gamma, script_path: g.py, port: 7110, health_check_port: 8110}\n',
    'pc2.yaml',
    { env: { PC2_IP: '127.0.0.2' } },
  ).machines[0]!;
  const pane = (s: ResourceSample, compact = false) =>
    render(
      <MachinePane
        machine={machine}
        rows={agentRows(machine, new Map(), '')}
        resources={{
          sample: s,
          receivedAt: NOW - 1000,
          history: [],
          auth: { verified: true, kid: 'kid-pc2' },
        }}
        stale={false}
        nats="connected"
        zmqLastAt={undefined}
        cursor={0}
        focused
        width={120}
        height={8}
        now={NOW}
        filter=""
        compact={compact}
      />,
    ).lastFrame()!;

  test('the first header line names the agent; a compact header only when it warns', () => {
    assert.match(
      pane(sample()),
      new RegExp(
        `PC2 127\\.0\\.0\\.2 {2}1 agents 0 ok {3}agent ${VERSION.replaceAll('.', '\\.')} up 3h`,
      ),
    );
    assert.doesNotMatch(pane(sample(), true), /agent \d/);
    assert.match(
      pane(sample({ version: '0.0.1' }), true),
      new RegExp(
        `PC2 0/1 ok agent 0\\.0\\.1 \\(console ${VERSION.replaceAll('.', '\\.')}\\) up 3h VRAM`,
      ),
    );
  });
});
