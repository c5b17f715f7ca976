// Fuzz: random and boundary resource samples, health replies (served by real ZMQ REP sockets
// the health store probes) and error frames, through the real stores into the whole console
// (App, ink-testing-library frames). After every round the console must still draw its screen
// (no Ink crash overview, no pane lost to its error boundary) and the keys must still work: one
// negative `usedMb` once replaced the screen with `ERROR Invalid count value` and `q` died.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { Reply } from 'zeromq';
import { App } from '../../source/app.js';
import { COLOR_THEME } from '../../source/components/theme.js';
import { PaneBoundary } from '../../source/components/pane-boundary.js';
import { checkPorts } from '../../source/core/ports/rules.js';
import { rng } from '../../source/core/seeded.js';
import { checkSample } from '../../source/core/resources/sample-check.js';
import { ActionRunner } from '../../source/stores/action-runner.js';
import { auditLog } from '../../source/adapters/audit.js';
import { startDataPlane, type DataPlane } from '../../source/wiring/data-plane.js';
import { PhaseStore } from '../../source/stores/phase-store.js';
import { host, sleep, tempDir, until, writeFleet } from './helpers.js';
import { Text } from 'ink';

const SEED = Number(process.env.FUZZ_SEED ?? 20260113);
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 80);
const HOSTS = { mainpc: host(41), pc2: host(42) };
const AGENTS: Record<string, [number, number]> = { Alpha: [17931, 18931], Beta: [17932, 18932] };
const PC2_AGENTS: Record<string, [number, number]> = { Gamma: [7131, 8131] };

const random = rng(SEED);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (p: number) => random() < p;

/** Numbers at and past every edge a field has. */
const EDGES = [
  -5000,
  -50,
  -1,
  -0,
  0,
  0.5,
  1,
  3,
  4,
  99.9,
  100,
  101,
  1e6,
  2 ** 31,
  2 ** 53,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
  1.7e12,
  9.9e12,
  1e13,
  1e14,
];
const STRINGS = [
  '',
  'x'.repeat(5000),
  '\u001b]0;pwned\u0007\u001b[2J',
  '\u202eLAHPLA',
  '12',
  'NaN',
  '\u0000',
  '😀'.repeat(40),
];
const anyValue = (depth = 0): unknown => {
  switch (Math.floor(random() * (depth > 2 ? 5 : 8))) {
    case 0:
      return pick(EDGES);
    case 1:
      return pick(STRINGS);
    case 2:
      return null;
    case 3:
      return chance(0.5);
    case 4:
      return random() * 200 - 100;
    case 5:
      return [anyValue(depth + 1), anyValue(depth + 1)];
    case 6:
      return { a: anyValue(depth + 1), usedMb: anyValue(depth + 1) };
    default:
      return undefined;
  }
};

const validSample = (machine: string, now: number): Record<string, unknown> => ({
  machine,
  ts: now,
  source: 'agent',
  gpu: { name: 'RTX 3060', totalMb: 12288, usedMb: 6000, utilPct: 40 },
  cpuPct: 20,
  ramTotalMb: 32768,
  ramUsedMb: 9000,
  throttleLevel: 1,
  agents: [{ name: 'Gamma', status: 'up', vramMb: 800, rssMb: 300 }],
});

/** Every numeric field of a valid sample at every edge, one field at a time. */
function boundarySamples(now: number): unknown[] {
  const out: unknown[] = [];
  const fields = ['ts', 'cpuPct', 'ramTotalMb', 'ramUsedMb', 'throttleLevel'];
  const gpuFields = ['totalMb', 'usedMb', 'utilPct'];
  const agentFields = ['vramMb', 'rssMb'];
  for (const [n, edge] of [...EDGES, ...STRINGS, null, true, [], {}].entries()) {
    const machine = n % 2 === 0 ? 'pc2' : 'mainpc';
    for (const f of fields) out.push({ ...validSample(machine, now), [f]: edge });
    for (const f of gpuFields) {
      const s = validSample(machine, now);
      out.push({ ...s, gpu: { ...(s.gpu as object), [f]: edge } });
    }
    for (const f of agentFields) {
      const s = validSample(machine, now);
      out.push({ ...s, agents: [{ ...(s.agents as object[])[0], [f]: edge }] });
    }
  }
  return out;
}

/** A valid sample for `machine`, then each field replaced by an edge with some chance. */
function sample(machine: string, now: number): unknown {
  const s = validSample(machine, now);
  for (const key of Object.keys(s)) if (chance(0.1)) s[key] = anyValue();
  const gpu = s.gpu as Record<string, unknown> | null;
  if (gpu && typeof gpu === 'object' && !Array.isArray(gpu))
    for (const key of ['totalMb', 'usedMb', 'utilPct', 'name'])
      if (chance(0.1)) gpu[key] = anyValue();
  if (Array.isArray(s.agents) && chance(0.1))
    s.agents = [{ name: anyValue(), vramMb: anyValue(), rssMb: anyValue(), status: anyValue() }];
  if (chance(0.1)) return anyValue();
  return s;
}

/** A health reply: BaseAgent-like dicts with edge values, other JSON, or bytes that are none. */
function healthReply(): string | Buffer {
  switch (Math.floor(random() * 6)) {
    case 0:
      return JSON.stringify({
        status: pick(['ok', 'degraded', 'error', 'healthy', anyValue()]),
        ready: anyValue(),
        uptime: pick(EDGES),
        active_threads: anyValue(),
        message: pick(STRINGS),
        timestamp: anyValue(),
      });
    case 1:
      return JSON.stringify({ status: 'ok', uptime: pick(EDGES), health_status: anyValue() });
    case 2:
      return JSON.stringify(anyValue());
    case 3:
      return Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256)));
    case 4:
      return pick(STRINGS);
    default:
      return JSON.stringify({ status: 'ok', ready: true, uptime: 12.5 });
  }
}

/** An error frame of one of the upstream variants, with edge values in every field. */
function errorFrames(): Buffer[] {
  const data = {
    error_id: pick([anyValue(), `id-${Math.floor(random() * 1e6)}`]),
    error_type: pick([anyValue(), 'TimeoutError', 'ConnectionError']),
    severity: pick([anyValue(), 'critical', 'error', 'warning']),
    details: { message: pick(STRINGS), count: pick(EDGES), nested: anyValue() },
  };
  const body = { source: pick([anyValue(), 'Alpha', 'Gamma']), timestamp: anyValue(), ...data };
  switch (Math.floor(random() * 5)) {
    case 0:
      return [Buffer.from(`ERROR:${JSON.stringify({ ...body, error_data: data })}`)];
    case 1:
      return [Buffer.from('ERROR'), Buffer.from(JSON.stringify(body))];
    case 2:
      return [Buffer.from('ERROR:'), Buffer.from(JSON.stringify(anyValue()) ?? 'undefined')];
    case 3:
      return [Buffer.from(`PC2_ERROR:${pick(['TIMEOUT', 'X'])}:${JSON.stringify(body)}`)];
    default:
      return [Buffer.from(pick(STRINGS))];
  }
}

const tmp = tempDir('fuzz');
const fleet = writeFleet(tmp.dir, { ...HOSTS, agents: AGENTS, pc2Agents: PC2_AGENTS });
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  tmp.remove();
});

/** A REP socket per agent's health port, answering whatever `next` holds. */
async function healthSockets(next: { reply: () => string | Buffer }): Promise<void> {
  const ends = [
    ...Object.values(AGENTS).map(([, h]) => `tcp://${HOSTS.mainpc}:${h}`),
    ...Object.values(PC2_AGENTS).map(([, h]) => `tcp://${HOSTS.pc2}:${h}`),
  ];
  for (const endpoint of ends) {
    const rep = new Reply({ linger: 0 });
    await rep.bind(endpoint);
    cleanups.push(() => rep.close());
    void (async () => {
      try {
        for await (const _request of rep) await rep.send(next.reply());
      } catch {
        /* closed */
      }
    })();
  }
}

// Ink's crash overview (its own error boundary: ` ERROR  Invalid count value…`) and ours.
const CRASHED = / ERROR (?!STREAM)|could not be drawn/;

describe('fuzzed samples, health replies and error frames into the console', () => {
  let plane: DataPlane;
  const next = { reply: (): string | Buffer => healthReply() };

  before(async () => {
    await healthSockets(next);
    plane = startDataPlane({
      machines: fleet.machines,
      live: false,
      health: { timeoutMs: 150, hysteresis: { downAfter: 1, upAfter: 1, historySize: 30 } },
      errors: { notifyMs: 0 },
    });
    cleanups.push(() => plane.stop());
  });

  test(`${ROUNDS} rounds (seed ${SEED}): every frame drawn, every key answered`, async () => {
    let exited = 0;
    const runner = new ActionRunner(auditLog());
    const phase = new PhaseStore();
    cleanups.push(() => phase.close());
    const { lastFrame, stdin, unmount } = render(
      <App
        plane={plane}
        phase={phase}
        runner={runner}
        actions={{ entries: [], make: () => undefined }}
        ports={checkPorts(fleet.machines, { env: fleet.env })}
        theme={COLOR_THEME}
        intervalMs={1000}
        onExit={() => exited++}
      />,
    );
    cleanups.push(() => unmount());
    const frame = () => lastFrame() ?? '';
    const shows = (what: string, test: (f: string) => boolean) =>
      until(
        what,
        () => test(frame()),
        5000,
        () => frame(),
      );
    await shows('the fleet screen', (f) => /MAINPC/.test(f) && /PC2/.test(f));
    let refused = 0;
    let accepted = 0;
    const feed = (s: unknown, machine: string, asBytes: boolean) => {
      if (checkSample(s).ok) accepted++;
      else refused++;
      // As bytes off the wire, or as an object (a local sampler: NaN and Infinity too).
      if (asBytes)
        plane.resources.accept(
          Buffer.from(JSON.stringify(s) ?? 'undefined'),
          `opsdeck.${machine}.resources`,
        );
      else plane.resources.accept(s as never, `opsdeck.${machine}.resources`);
    };
    // Every edge drawn on its own: React draws only the last of several stored in one turn.
    for (const [n, s] of boundarySamples(Date.now()).entries()) {
      feed(s, (s as { machine: string }).machine, n % 2 === 0);
      await sleep(2);
      assert.doesNotMatch(frame(), CRASHED, `edge sample ${JSON.stringify(s)}:\n${frame()}`);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const now = Date.now();
      for (let i = 0; i < 5; i++) plane.errors.zmq(errorFrames(), pick(['mainpc', 'pc2']));
      for (let i = 0; i < 3; i++)
        plane.errors.nats(
          `errors.agents.${pick(['Alpha', 'Gamma', 'x'])}`,
          Buffer.from(
            JSON.stringify({ agent_name: anyValue(), message: anyValue(), id: anyValue() }),
          ),
          pick(['mainpc', 'pc2', 'any']),
        );
      if (round % 2 === 0) await plane.health.probeAll();
      plane.health.flush();
      plane.errors.flush();
      // Last, so that they are what the frame draws.
      for (const machine of ['mainpc', 'pc2']) feed(sample(machine, now), machine, chance(0.5));
      if (chance(0.3))
        feed(
          { ...validSample('pc2', now), cpuPct: pick([NaN, Infinity, -Infinity]) },
          'pc2',
          false,
        );
      // A key every round, across the screens that draw what was just fed in.
      const key = pick(['1', '3', '4', 'j', 'k', '\t', '\r', '\u001b', '2', 's']);
      stdin.write(key);
      await sleep(5);
      const text = frame();
      assert.doesNotMatch(text, CRASHED, `round ${round}, key ${JSON.stringify(key)}:\n${text}`);
    }
    assert.ok(refused > 10 && accepted > 10, `${refused} refused, ${accepted} accepted`);
    // The keys still work: every screen, then quit.
    stdin.write('\u001b');
    stdin.write('1');
    await shows('fleet', (f) => /MAINPC/.test(f) && /PC2/.test(f));
    stdin.write('3');
    await shows('errors screen', (f) => /ERROR STREAM/.test(f));
    stdin.write('1');
    await shows('fleet again', (f) => /MAINPC/.test(f));
    assert.doesNotMatch(frame(), CRASHED);
    stdin.write('q');
    await until('q quits', () => exited === 1, 2000);
  });

  test('a refused sample is said in its machine pane, with the field and the value', async () => {
    const plane = startDataPlane({ machines: fleet.machines, live: false });
    cleanups.push(() => plane.stop());
    const { lastFrame, unmount } = render(
      <App
        plane={plane}
        phase={new PhaseStore()}
        runner={new ActionRunner(auditLog())}
        actions={{ entries: [], make: () => undefined }}
        ports={checkPorts(fleet.machines, { env: fleet.env })}
        theme={COLOR_THEME}
        intervalMs={1000}
        onExit={() => undefined}
      />,
    );
    cleanups.push(() => unmount());
    plane.resources.accept(
      Buffer.from(JSON.stringify({ ...validSample('pc2', Date.now()), cpuPct: -50 })),
      'opsdeck.pc2.resources',
    );
    await until(
      'the refusal on screen',
      () => /PC2 [\s\S]*?\d+ samples? refused: cpuPct/.test(lastFrame() ?? ''),
      3000,
      () => lastFrame() ?? '',
    );
    const { count: _count, at: _at, ...said } = plane.resources.getSnapshot().refused.pc2!;
    assert.deepEqual(said, { reason: 'cpuPct -50 is out of range (0-100)' });
  });
});

describe('the pane boundary', () => {
  const Broken = (): never => {
    throw new RangeError('Invalid count value: -4');
  };
  test('a pane that throws is replaced by what broke it; its neighbour is drawn', () => {
    const { lastFrame, unmount } = render(
      <>
        <PaneBoundary name="PC2 pane" width={80} data={{ gpu: { usedMb: -5000 } }}>
          <Broken />
        </PaneBoundary>
        <Text>neighbour</Text>
      </>,
    );
    const f = lastFrame() ?? '';
    unmount();
    assert.match(f, /PC2 pane could not be drawn: Invalid count value: -4/);
    assert.match(f, /its data: \{"gpu":\{"usedMb":-5000\}\}/);
    assert.match(f, /neighbour/);
  });
});
