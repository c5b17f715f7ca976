// The console's panes with an agent whose name, group and script path carry an OSC title change,
// a screen wipe and a bidi override (legal YAML escapes): the frames hold none of it. The loader
// makes config text inert (and warns), as the wire's is made inert where it is decoded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { checkPorts } from '../../source/core/ports/rules.js';
import { agentRows } from '../../source/core/ui/view.js';
import { MachinePane } from '../../source/components/machine-pane.js';
import { AgentDetail } from '../../source/screens/agent-detail.js';
import { Ports } from '../../source/screens/ports.js';

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;
// Ink's own colour codes are the only escapes a frame may carry.
// eslint-disable-next-line no-control-regex
const withoutInkColour = (frame: string) => frame.replace(/\x1b\[[0-9;]*m/g, '');

const YAML = String.raw`agent_groups:
  "core\e[31m":
    "Evil\e]0;pwned\a\e[2J\u202eXnamE": {script_path: "evil\e]52;c;b3Bz\a.py", port: 7200, health_check_port: 8200, dependencies: ["Other\u202e"]}
    Other: {script_path: o.py, port: 7200, health_check_port: 8201}
`;
const loaded = loadConfigText(YAML, 'mainpc\u001b]0;file\u0007.yaml', { env: {} });
const machine = loaded.machines[0]!;

describe('config text in the console panes', () => {
  test('the loader warns, with the line, and keeps the text inert', () => {
    const warning = loaded.diagnostics.find((d) => d.code === 'unsafe-text');
    assert.ok(warning, JSON.stringify(loaded.diagnostics));
    assert.equal(warning.loc.line, 3);
    assert.deepEqual(
      machine.agents.map((a) => [a.name, a.group, a.scriptPath]),
      [
        ['EvilXnamE', 'core', 'evil.py'],
        ['Other', 'core', 'o.py'],
      ],
    );
  });

  const frames = {
    'machine pane': () => (
      <MachinePane
        machine={machine}
        rows={agentRows(machine, new Map(), '')}
        resources={undefined}
        stale
        nats="off"
        zmqLastAt={undefined}
        cursor={0}
        focused
        width={160}
        height={10}
        now={0}
        filter=""
      />
    ),
    'agent detail': () => (
      <AgentDetail
        agentKey={`mainpc/${machine.agents[0]!.name}`}
        machines={[machine]}
        health={new Map()}
        errors={[]}
        resources={{}}
        width={160}
        height={40}
        now={0}
      />
    ),
    'ports screen': () => {
      const check = checkPorts([machine], { env: {} });
      return <Ports check={check} findings={check.findings} cursor={0} width={160} height={30} />;
    },
  };
  for (const [name, tree] of Object.entries(frames)) {
    test(`${name}: no escape, no bidi override; the name shown`, () => {
      const { lastFrame, unmount } = render(tree());
      const frame = withoutInkColour(lastFrame() ?? '');
      unmount();
      assert.doesNotMatch(frame, UNSAFE, frame);
      assert.match(frame, /EvilXnamE/);
    });
  }
});
