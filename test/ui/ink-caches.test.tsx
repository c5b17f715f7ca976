// Ink's frames with the shared caches and per-row composition (source/components/ink-caches.ts)
// must be exactly what Ink builds without them: same panes, drawn before and after, compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Box, Text } from 'ink';
import { render } from 'ink-testing-library';
import { loadConfigText } from '../../source/core/fleet/load.js';
import type { ErrorEvent } from '../../source/core/errors/event.js';
import { ErrorPipeline } from '../../source/core/errors/pipeline.js';
import { initialHealth, observe } from '../../source/core/health/state.js';
import { agentRows } from '../../source/core/ui/view.js';
import { ErrorPane } from '../../source/components/error-pane.js';
import { MachinePane } from '../../source/components/machine-pane.js';
import { HelpOverlay } from '../../source/components/overlays.js';
import { shareInkCaches } from '../../source/components/ink-caches.js';

const NOW = 1_750_000_000_000;
const machine = loadConfigText(
  `agent_groups:\n  core:\n    ServiceRegistry: {script_path: a.py, port: 7200, health_check_port: 8200}\n    NLUAgent: {script_path: c.py, port: 5709}\n    Wide界Agent: {script_path: d.py, port: 5711}\n`,
  'mainpc.yaml',
  { env: { MAINPC_IP: '127.0.0.1' } },
).machines[0]!;
const health = new Map([
  [
    'mainpc/ServiceRegistry',
    observe(initialHealth(), {
      kind: 'reply',
      reading: { state: 'healthy', reason: 'ok', protocol: 'base-agent' },
      latencyMs: 3,
      at: NOW - 2000,
    }),
  ],
]);
const ev = (i: number): ErrorEvent => ({
  machine: 'mainpc',
  agent: `Agent${i}`,
  severity: i % 2 ? 'error' : 'warning',
  category: 'TimeoutError',
  message: `call ${i} timed out ✖ after a long wait that does not fit in the column at all`,
  details: {},
  ids: [`id${i}`],
  bus: 'zmq',
  format: 'zmq-a',
  receivedAt: NOW,
});

function Screen({ cursor, errors }: { cursor: number; errors: number }) {
  const p = new ErrorPipeline();
  for (let i = 0; i < errors; i++) p.add(ev(i), NOW - i * 1000);
  return (
    <Box flexDirection="column" width={120}>
      <Text>{'top line ● with a symbol\nand a second line'}</Text>
      <Box>
        <MachinePane
          machine={machine}
          rows={agentRows(machine, health, '')}
          resources={undefined}
          stale
          nats="off"
          zmqLastAt={undefined}
          cursor={cursor}
          focused
          width={70}
          height={8}
          now={NOW}
          filter=""
        />
        <HelpOverlay width={50} />
      </Box>
      <ErrorPane
        rows={p.rows.newest()}
        counters={p.counters}
        cursor={cursor}
        focused={false}
        width={120}
        height={8}
        now={NOW}
        paused={false}
        filter=""
      />
    </Box>
  );
}

test('frames are the same with the shared caches as without, changed or not', async () => {
  const cases = [
    { cursor: 0, errors: 3 },
    { cursor: 1, errors: 3 },
    { cursor: 1, errors: 9 },
    { cursor: 0, errors: 0 },
  ];
  const draw = () => cases.map((c) => render(<Screen {...c} />).lastFrame());
  const before = draw();
  assert.equal(await shareInkCaches(), true, "Ink's Output was not found: the caches are off");
  assert.deepEqual(draw(), before);
  assert.deepEqual(draw(), before, 'the second time, from the caches');
});
