// Keys first: with Ink's frame cap at one frame per 100 s (every frame after the first waits for it), a
// key pressed while a burst of errors waits for its notification is on the screen one turn of
// the event loop later, before that notification, while a data change keeps waiting for the cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { useState } from 'react';
import { FakeTty, feed, text, vt } from '../support/vt.js';

// Ink decides once, when it is imported, whether it runs in CI (then it draws only on exit).
for (const key of Object.keys(process.env))
  if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_'))
    delete process.env[key];
const { render, Text, useInput } = await import('ink');
const { DiffTerminal } = await import('../../source/terminal/diff-terminal.js');
const { drawInputAtOnce } = await import('../../source/terminal/key-frames.js');
const { ErrorStore } = await import('../../source/stores/error-store.js');
const { useStore } = await import('../../source/hooks/use-store.js');
const { zmqMessages } = await import('../../source/core/errors/encode.js');
const inkInstances = (await import('../../node_modules/ink/build/instances.js')).default as WeakMap<
  object,
  unknown
>;

class FakeStdin extends EventEmitter {
  isTTY = true;
  private queued: string[] = [];
  setRawMode = () => this;
  setEncoding = () => this;
  read = () => this.queued.shift() ?? null;
  resume = () => this;
  pause = () => this;
  ref = () => this;
  unref = () => this;
  press(key: string): void {
    this.queued.push(key);
    this.emit('readable');
  }
}

function Screen({ errors }: { errors: InstanceType<typeof ErrorStore> }) {
  const [row, setRow] = useState(0);
  const snap = useStore(errors);
  useInput((input) => {
    if (input === 'j') setRow((r) => r + 1);
  });
  return (
    <Text>
      row {row} errors {snap.counters.received.zmq}
    </Text>
  );
}

/** One upstream ErrorPublisher message (variant A), as the bus delivers it. */
const frame = (i: number): Uint8Array[] =>
  zmqMessages('A', {
    id: `e${i}`,
    natsId: `n${i}`,
    at: 1_750_000_000_000 + i,
    machine: 'mainpc',
    agent: 'Agent1',
    errorType: 'TimeoutError',
    severity: 'error',
    message: `call ${i} timed out`,
  })[0]!.frames.map((f) => (typeof f === 'string' ? new TextEncoder().encode(f) : f));

const turn = () => new Promise((r) => setImmediate(r));

async function setup(keysFirst: boolean, o: { maxFps?: number; quietMs?: number } = {}) {
  const tty = new FakeTty(60, 4);
  const writer = new DiffTerminal(tty);
  writer.enterAlternateScreen();
  const screen = vt(60, 4);
  const stdin = new FakeStdin();
  // Notifies long after the test is over: the burst's notification is still queued throughout.
  const errors = new ErrorStore({ notifyMs: 600_000 });
  const app = render(<Screen errors={errors} />, {
    stdout: writer as unknown as NodeJS.WriteStream,
    stderr: writer as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    patchConsole: false,
    exitOnCtrlC: false,
    // One frame per 100 s: however slow the machine, a capped frame is still waiting when looked at.
    maxFps: o.maxFps ?? 0.01,
  });
  const keys = keysFirst ? await drawInputAtOnce(stdin, writer, o.quietMs ?? 0) : undefined;
  const shown = async () => {
    await feed(screen, tty.take());
    return text(screen)[0]!;
  };
  const close = () => {
    keys?.stop();
    // The cap's timer (100 s; unmounting commits once more) would keep the test process alive.
    const ink = inkInstances.get(writer) as { throttledOnRender?: { cancel(): void } } | undefined;
    app.unmount();
    ink?.throttledOnRender?.cancel();
    errors.close();
  };
  return { stdin, errors, shown, close, keys };
}

test('a key pressed during a burst is drawn before the burst is notified and within the frame cap', async () => {
  const s = await setup(true);
  try {
    assert.equal(s.keys?.drawn, true, "Ink's build is what key-frames.ts expects");
    await turn();
    assert.match(await s.shown(), /row 0 errors 0/);
    for (let i = 0; i < 512; i++) s.errors.zmq(frame(i), 'mainpc');
    s.stdin.press('j');
    await turn();
    // The first frame was just drawn: without keys first this one waits up to 100 s for the cap.
    assert.match(await s.shown(), /row 1 errors 0/, 'the key, not the queued notification');
    s.stdin.press('j');
    await turn();
    assert.match(await s.shown(), /row 2 errors 0/);
    s.errors.flush();
  } finally {
    s.close();
  }
});

test('without keys first, the same key waits for the frame cap (what the test above rules out)', async () => {
  const s = await setup(false);
  try {
    await turn();
    assert.match(await s.shown(), /row 0 errors 0/);
    s.stdin.press('j');
    await turn();
    assert.match(await s.shown(), /row 0 errors 0/, 'held back by the cap');
  } finally {
    s.close();
  }
});

test('a data change keeps the frame cap: only input is drawn at once', async () => {
  const s = await setup(true);
  try {
    await turn();
    assert.match(await s.shown(), /row 0 errors 0/);
    s.errors.zmq(frame(1), 'mainpc');
    s.errors.setPaused(false); // notifies now, as the store's timer would
    await turn();
    assert.match(await s.shown(), /row 0 errors 0/, 'the data frame waits for the cap');
    s.stdin.press('j');
    await turn();
    assert.match(await s.shown(), /row 1 errors 1/, 'the key draws, taking the data along');
  } finally {
    s.close();
  }
});

test('after a key, a data frame waits for the next key, whose frame takes it along', async () => {
  // No cap to speak of: what holds the data frame back is the quiet time after input.
  const s = await setup(true, { maxFps: 1000, quietMs: 600_000 });
  try {
    await turn();
    assert.match(await s.shown(), /row 0 errors 0/);
    s.stdin.press('j');
    await turn();
    assert.match(await s.shown(), /row 1 errors 0/);
    s.errors.zmq(frame(1), 'mainpc');
    s.errors.setPaused(false);
    await new Promise((r) => setTimeout(r, 20));
    assert.match(await s.shown(), /row 1 errors 0/, 'the data frame waits while keys come');
    s.stdin.press('j');
    await turn();
    assert.match(await s.shown(), /row 2 errors 1/, "the key's frame draws the data too");
  } finally {
    s.close();
  }
});

test('a data frame held after a key is drawn when the quiet time is up, and on stop', async () => {
  const s = await setup(true, { maxFps: 1000, quietMs: 30 });
  try {
    await turn();
    s.stdin.press('j');
    await turn();
    assert.match(await s.shown(), /row 1 errors 0/);
    s.errors.zmq(frame(1), 'mainpc');
    s.errors.setPaused(false);
    const end = Date.now() + 10_000;
    while (!/errors 1/.test(await s.shown()) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 5));
    assert.match(await s.shown(), /row 1 errors 1/);
  } finally {
    s.close();
  }
  const t = await setup(true, { maxFps: 1000, quietMs: 600_000 });
  await turn();
  t.stdin.press('j');
  await turn();
  t.errors.zmq(frame(2), 'mainpc');
  t.errors.setPaused(false);
  t.keys!.stop();
  // Through Ink's cap (1 ms here): drawn at once, or on the cap's timer.
  const until = Date.now() + 10_000;
  while (!/errors 1/.test(await t.shown()) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 5));
  assert.match(await t.shown(), /row 1 errors 1/, 'stop draws what is owed');
  t.close();
});
