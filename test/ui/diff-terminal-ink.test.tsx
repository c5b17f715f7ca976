// The console's real frames through the diff writer: Ink draws the Fleet screen into a
// DiffTerminal at several sizes, with resizes and changing data (latencies, errors, states,
// wide and combining characters in names and messages). After every update the terminal fed only
// what the writer sent shows, cell for cell, the last frame: the same frame drawn alone on a
// fresh terminal of that size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { useSyncExternalStore, type ReactElement } from 'react';
import type { ErrorEvent } from '../../source/core/errors/event.js';
import { cells, FakeTty, feed, text, vt, type Vt } from '../support/vt.js';

// Ink decides once, when it is imported, whether it runs in CI (then it draws only on exit).
for (const key of Object.keys(process.env))
  if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_'))
    delete process.env[key];
const { Box, render, renderToString, Text } = await import('ink');
const { loadConfigText } = await import('../../source/core/fleet/load.js');
const { ErrorPipeline } = await import('../../source/core/errors/pipeline.js');
const { initialHealth, observe } = await import('../../source/core/health/state.js');
const { agentRows } = await import('../../source/core/ui/view.js');
const { Fleet } = await import('../../source/screens/fleet.js');
const { DiffTerminal } = await import('../../source/terminal/diff-terminal.js');
const { useTerminalSize } = await import('../../source/hooks/use-terminal-size.js');

const NOW = 1_750_000_000_000;
const mainpc = loadConfigText(
  `agent_groups:\n  core:\n${Array.from(
    { length: 30 },
    (_, i) =>
      `    ${i === 3 ? 'Wide界Agent' : i === 5 ? 'Café́Agent' : `Agent${i}`}: {script_path: a${i}.py, port: ${7200 + i * 2}}`,
  ).join('\n')}\n`,
  'mainpc.yaml',
  { env: { MAINPC_IP: '127.0.0.1' } },
).machines[0]!;
const pc2 = loadConfigText(
  `pc2_services:\n${Array.from({ length: 12 }, (_, i) => `- {name: Pc2Agent${i}, script_path: b${i}.py, port: ${7100 + i * 2}}`).join('\n')}\n`,
  'pc2.yaml',
  { env: { PC2_IP: '127.0.0.2' } },
).machines[0]!;
const machines = [mainpc, pc2];

/** The data at step n: latencies move, agents fail and recover, errors arrive. */
function data(n: number) {
  const health = new Map();
  for (const m of machines)
    m.agents.forEach((a, i) => {
      let h = initialHealth();
      for (let k = Math.max(0, n - 6); k <= n; k++)
        h = observe(h, {
          kind: 'reply',
          reading: {
            state: (i + k) % 17 === 0 ? 'degraded' : 'healthy',
            reason: 'ok',
            protocol: i % 3 ? 'base-agent' : 'unified',
          },
          latencyMs: 3 + ((i * 7 + k * 13) % 90),
          at: NOW + k * 2000,
        });
      if ((i + n) % 11 === 0)
        h = observe(h, { kind: 'refused', reason: 'refused', at: NOW + n * 2000 });
      health.set(`${m.id}/${a.name}`, h);
    });
  const errors = new ErrorPipeline();
  for (let k = 0; k <= n; k++) {
    const ev: ErrorEvent = {
      machine: k % 2 ? 'pc2' : 'mainpc',
      agent: `Agent${k % 7}`,
      severity: k % 3 ? 'error' : 'warning',
      category: 'TimeoutError',
      message: `call ${k} timed out — 応答なし, naïve retry ${'x'.repeat(k % 40)}`,
      details: {},
      ids: [`id${k}`],
      bus: 'zmq',
      format: 'zmq-a',
      receivedAt: NOW + k * 500,
    };
    errors.add(ev, NOW + k * 500);
  }
  return { health, errors };
}

function Screen({ cols, rows, step }: { cols: number; rows: number; step: number }) {
  const { health, errors } = data(step);
  const width = Math.max(40, cols);
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">{`opsdeck  step ${step}  ${cols}x${rows}`}</Text>
      <Fleet
        machines={machines}
        agentRows={machines.map((m) => agentRows(m, health, ''))}
        resources={{}}
        staleResources={{}}
        zmqLastAt={{}}
        nats="off"
        errors={errors.rows.newest()}
        counters={errors.counters}
        cursors={[step % 30, step % 12, 0]}
        pane={step % 3}
        width={width}
        height={Math.max(10, rows - 2)}
        now={NOW + step * 2000}
        paused={false}
        filters={{ agents: '', errors: '' }}
      />
      <Text wrap="truncate" color="gray">
        {'Tab pane · q quit'}
      </Text>
    </Box>
  );
}

/** The step, as a store the live screen subscribes to. */
class Steps extends EventEmitter {
  step = 0;
  next(): void {
    this.step++;
    this.emit('change');
  }
}

function Live({ steps }: { steps: Steps }) {
  const size = useTerminalSize();
  const step = useSyncExternalStore(
    (on) => {
      steps.on('change', on);
      return () => void steps.off('change', on);
    },
    () => steps.step,
  );
  return <Screen cols={size.columns} rows={size.rows} step={step} />;
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  setRawMode = () => this;
  setEncoding = () => this;
  read = () => null;
  resume = () => this;
  pause = () => this;
  ref = () => this;
  unref = () => this;
}

/** Ink drawing `element` into the writer (as stdout and stderr), every render written at once. */
function drawInto(
  writer: InstanceType<typeof DiffTerminal>,
  element: ReactElement,
  patchConsole: boolean,
) {
  return render(element, {
    stdout: writer as unknown as NodeJS.WriteStream,
    stderr: writer as unknown as NodeJS.WriteStream,
    stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
    patchConsole,
    exitOnCtrlC: false,
    maxFps: 1000,
  });
}

/** The last frame alone, on a fresh terminal of the same size. */
async function alone(step: number, cols: number, rows: number): Promise<Vt> {
  const term = vt(cols, rows);
  const frame = renderToString(<Screen cols={cols} rows={rows} step={step} />, { columns: cols });
  await feed(term, frame.split('\n').slice(0, rows).join('\n'));
  return term;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('the Fleet screen through the diff writer: every update leaves exactly the last frame', async () => {
  const tty = new FakeTty(200, 60);
  const writer = new DiffTerminal(tty);
  writer.enterAlternateScreen();
  const screen = vt(200, 60);
  const steps = new Steps();
  const app = drawInto(writer, <Live steps={steps} />, false);
  let sent = 0;
  const check = async (cols: number, rows: number, what: string) => {
    const marker = `step ${steps.step}  ${cols}x${rows}`;
    await until(`${what} on screen`, () => {
      const chunk = tty.take();
      sent += chunk.length;
      void feed(screen, chunk);
      return text(screen)[0]!.includes(marker);
    });
    await feed(screen, tty.take());
    await new Promise((r) => setTimeout(r, 20)); // a late frame would show up here
    await feed(screen, tty.take());
    const want = await alone(steps.step, cols, rows);
    const got = cells(screen);
    const expected = cells(want);
    const differ: string[] = [];
    for (let y = 0; y < rows; y++)
      for (let x = 0; x < cols; x++)
        if (got[y]![x] !== expected[y]![x])
          differ.push(`(${x},${y}) ${got[y]![x]} != ${expected[y]![x]}`);
    assert.deepEqual(
      differ.slice(0, 6),
      [],
      `${what}: ${differ.length} cells differ; the screen:\n${text(screen).join('\n')}`,
    );
  };
  try {
    await check(200, 60, 'first frame');
    const sizes: Array<[number, number]> = [
      [200, 60],
      [120, 40],
      [80, 24],
      [200, 60],
      [150, 45],
      [100, 30],
      [80, 24],
    ];
    for (const [cols, rows] of sizes) {
      if (cols !== tty.columns || rows !== tty.rows) {
        await feed(screen, tty.take());
        screen.resize(cols, rows);
        tty.columns = cols;
        tty.rows = rows;
        tty.emit('resize');
        await check(cols, rows, `resized to ${cols}x${rows}`);
      }
      for (let i = 0; i < 2; i++) {
        steps.next();
        await check(cols, rows, `step ${steps.step} at ${cols}x${rows}`);
      }
    }
  } finally {
    app.unmount();
    writer.leaveAlternateScreen();
  }
  assert.ok(sent > 0);
});

test("Ink's own writes through the writer: Static output and console output leave what a terminal would show", async () => {
  const { Static } = await import('ink');
  const tty = new FakeTty(40, 8);
  const writer = new DiffTerminal(tty);
  writer.enterAlternateScreen();
  const screen = vt(40, 8);
  // Fed everything Ink wrote, as a terminal without the writer would be.
  const whole = vt(40, 8);
  await feed(whole, '\x1b[?1049h\x1b[H\x1b[2J');
  const raw: string[] = [];
  const write = writer.write.bind(writer) as (chunk: string) => boolean;
  (writer as unknown as { write: (chunk: string) => boolean }).write = (chunk) => {
    raw.push(chunk);
    return write(chunk);
  };
  const steps = new Steps();
  function Log() {
    const n = useSyncExternalStore(
      (on) => {
        steps.on('change', on);
        return () => void steps.off('change', on);
      },
      () => steps.step,
    );
    return (
      <>
        <Static items={Array.from({ length: n }, (_, i) => `done ${i} 界`)}>
          {(item) => (
            <Text key={item} color="green">
              {item}
            </Text>
          )}
        </Static>
        <Text inverse>{`live ${n}`}</Text>
      </>
    );
  }
  const app = drawInto(writer, <Log />, true);
  try {
    for (let i = 0; i < 12; i++) {
      steps.next();
      if (i % 3 === 1) console.log(`console line ${i}`);
      await until(`live ${steps.step}`, () => raw.join('').includes(`live ${steps.step}`));
      await new Promise((r) => setTimeout(r, 20));
      await feed(screen, tty.take());
      await feed(whole, raw.splice(0).join(''));
      assert.deepEqual(cells(screen), cells(whole), `step ${steps.step}`);
    }
    assert.match(text(screen).join('\n'), /live 12/);
  } finally {
    app.unmount();
    writer.leaveAlternateScreen();
  }
});
