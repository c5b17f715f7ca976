// The error-bus phase machine and preflight rules, table-driven: subjects, streams and their fix,
// sequence continuity, coverage, each transition's checks, and the port-closed verdict.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subjectsOverlap, subjectWithin } from '../../source/core/errorbus/subjects.js';
import { judgeStreams, planStreamFix, type StreamObs } from '../../source/core/errorbus/streams.js';
import {
  ackSeq,
  advanceSeq,
  newSeqTrack,
  noteSeq,
  type SeqTrack,
} from '../../source/core/errorbus/sequence.js';
import {
  coverage,
  effects,
  nextTransition,
  portClosedCheck,
  preflight,
  type Observation,
  type Transition,
} from '../../source/core/errorbus/preflight.js';
import type { PublisherStats } from '../../source/core/errors/pipeline.js';
import type { PhaseNumber } from '../../source/core/errorbus/phase.js';

describe('subjects', () => {
  const overlap: Array<[string, string, boolean]> = [
    ['errors.>', 'errors.agents.>', true],
    ['errors.>', 'errors', false],
    ['errors.>', 'errors.events', true],
    ['errors.*', 'errors.agents.x', false],
    ['errors.*.x', 'errors.agents.*', true],
    ['errors.events', 'errors.system', false],
    ['>', 'anything.at.all', true],
    ['errors.agents.>', 'errors.*.*', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.b.c', false],
  ];
  for (const [a, b, want] of overlap) {
    test(`${a} ${want ? 'overlaps' : 'does not overlap'} ${b}`, () => {
      assert.equal(subjectsOverlap(a, b), want);
      assert.equal(subjectsOverlap(b, a), want, 'symmetric');
    });
  }
  const within: Array<[string, string, boolean]> = [
    ['errors.agents.*', 'errors.>', true],
    ['errors.>', 'errors.>', true],
    ['errors.>', 'errors.agents.>', false],
    ['errors.agents.>', 'errors.>', true],
    ['errors.events', 'errors.*', true],
    ['errors.*', 'errors.events', false],
    ['errors.>', '>', true],
    ['errors', 'errors.>', false],
    ['errors.a.b', 'errors.*', false],
    ['errors.*.x', 'errors.*.*', true],
  ];
  for (const [inner, outer, want] of within) {
    test(`${inner} ${want ? 'is' : 'is not'} within ${outer}`, () =>
      assert.equal(subjectWithin(inner, outer), want));
  }
});

const s = (name: string, subjects: string[], messages = 0): StreamObs => ({
  name,
  subjects,
  messages,
});

describe('error streams: verdict and fix', () => {
  const cases: Array<{
    name: string;
    streams: StreamObs[];
    ok: boolean;
    evidence: RegExp;
    fix: string[];
  }> = [
    {
      name: 'one ERRORS on errors.>',
      streams: [s('ERRORS', ['errors.>'], 12), s('KV_opsdeck', ['$KV.opsdeck.>'])],
      ok: true,
      evidence: /ERRORS \(errors\.>\) holds 12 messages/,
      fix: [],
    },
    {
      name: 'ERROR_STREAM on errors.> is as good',
      streams: [s('ERROR_STREAM', ['errors.>'])],
      ok: true,
      evidence: /ERROR_STREAM/,
      fix: [],
    },
    {
      name: 'no error stream',
      streams: [s('MEMORY', ['memory.*'])],
      ok: false,
      evidence: /no stream captures errors/,
      fix: ['create ERRORS errors.>'],
    },
    {
      name: 'AGENT_ERRORS kept by the server, the declared others refused',
      streams: [s('AGENT_ERRORS', ['errors.agents.>'], 40)],
      ok: false,
      evidence:
        /errors\.events, errors\.system, errors\.system\.critical, errors\.critical\.\*.* land in no stream.*ERRORS \(errors\.>\) and ERROR_STREAM \(errors\.>\) overlap AGENT_ERRORS/,
      fix: ['retire AGENT_ERRORS opsdeck.retired.AGENT_ERRORS', 'create ERRORS errors.>'],
    },
    {
      name: 'split over two streams, one of them named ERRORS',
      streams: [
        s('ERRORS', ['errors.events', 'errors.system.>']),
        s('AGENT_ERRORS', ['errors.agents.>', 'other.x']),
      ],
      ok: false,
      evidence: /split over several streams/,
      fix: ['retire AGENT_ERRORS other.x', 'widen ERRORS errors.>'],
    },
    {
      name: 'overlapping streams (a server that allowed it)',
      streams: [s('ERRORS', ['errors.>']), s('AGENT_ERRORS', ['errors.agents.>'])],
      ok: false,
      evidence: /ERRORS and AGENT_ERRORS claim overlapping subjects/,
      fix: ['retire AGENT_ERRORS opsdeck.retired.AGENT_ERRORS'],
    },
    {
      name: 'ERRORS on unrelated subjects only',
      streams: [s('ERRORS', ['foo.>'])],
      ok: false,
      evidence: /no stream captures/,
      fix: ['widen ERRORS foo.>,errors.>'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const v = judgeStreams(c.streams);
      assert.equal(v.ok, c.ok, v.evidence);
      assert.match(v.evidence, c.evidence);
      const fix = planStreamFix(c.streams).map((f) =>
        f.kind === 'create'
          ? `create ${f.stream} ${f.subjects.join(',')}`
          : `${f.kind} ${f.stream} ${f.to.join(',')}`,
      );
      assert.deepEqual(fix, c.fix);
      assert.deepEqual(v.fix.length, c.ok ? 0 : c.fix.length);
      // Applying the plan gives a passing verdict.
      if (!c.ok) {
        let after = c.streams.map((x) => ({ ...x }));
        for (const f of planStreamFix(c.streams)) {
          if (f.kind === 'create') after.push(s(f.stream, f.subjects));
          else after = after.map((x) => (x.name === f.stream ? { ...x, subjects: f.to } : x));
        }
        assert.equal(judgeStreams(after).ok, true, judgeStreams(after).evidence);
      }
    });
  }
});

describe('sequence continuity', () => {
  const cases: Array<{
    seqs: number[];
    delivered: number;
    gaps: number;
    missing: Array<[number, number]>;
    redelivered: number;
  }> = [
    { seqs: [], delivered: 0, gaps: 0, missing: [], redelivered: 0 },
    { seqs: [5, 6, 7], delivered: 3, gaps: 0, missing: [], redelivered: 0 },
    {
      seqs: [5, 7, 8, 12],
      delivered: 4,
      gaps: 4,
      missing: [
        [6, 6],
        [9, 11],
      ],
      redelivered: 0,
    },
    { seqs: [5, 6, 6, 4, 7], delivered: 3, gaps: 0, missing: [], redelivered: 2 },
  ];
  for (const c of cases) {
    test(`seqs ${c.seqs.join(',') || '(none)'}`, () => {
      const t = c.seqs.reduce(noteSeq, newSeqTrack());
      assert.equal(t.delivered, c.delivered);
      assert.equal(t.gaps, c.gaps);
      assert.deepEqual(t.missing, c.missing);
      assert.equal(t.redelivered, c.redelivered);
    });
  }

  test('advanceSeq writes what noteSeq returns, and never changes a list a copy shares', () => {
    let seed = 3;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let k = 0; k < 200; k++) {
      let pure = newSeqTrack();
      let kept: SeqTrack | undefined;
      let seq = 1 + Math.floor(next() * 5);
      for (let i = 0; i < 40; i++) {
        // mostly the next one; now and then a jump (a gap) or a step back (a redelivery)
        const r = next();
        seq = r < 0.7 ? seq + 1 : r < 0.85 ? seq + 2 + Math.floor(next() * 4) : seq - 1;
        pure = noteSeq(pure, seq);
        if (kept === undefined) kept = noteSeq(newSeqTrack(), seq);
        else {
          const copy = { ...kept };
          const list = [...kept.missing];
          advanceSeq(kept, seq);
          assert.deepEqual(copy.missing, list);
        }
        assert.deepEqual(kept, pure);
        assert.deepEqual(Object.keys(kept), Object.keys(pure));
      }
    }
  });

  // The reply subjects nats-server sends, and what nats.js's JsMsg.seq reads from them.
  const replies: Array<[string, number | undefined]> = [
    ['$JS.ACK.ERRORS.bench_1.1.4217.4217.1764000000000000000.99', 4217],
    ['$JS.ACK._.ABCD.ERRORS.OC_x.2.17.3.1764000000000000000.0.rnd', 17],
    ['$JS.ACK.dom.ABCD.ERRORS.c.1.9007199254740991.1.1.0', 9007199254740991],
    ['$JS.ACK.ERRORS.c.1.x.1.1.0', undefined],
    ['$JS.ACK.ERRORS.c.1.2', undefined],
    ['_INBOX.abc.def', undefined],
    ['', undefined],
  ];
  for (const [reply, seq] of replies)
    test(`ackSeq ${reply || '(empty)'}`, () => assert.equal(ackSeq(reply), seq));
});

describe('transitions', () => {
  const cases: Array<[PhaseNumber, 'advance' | 'rollback', number | RegExp]> = [
    [0, 'advance', 1],
    [1, 'advance', 2],
    [2, 'advance', 3],
    [3, 'advance', /the last one/],
    [3, 'rollback', 2],
    [1, 'rollback', 0],
    [0, 'rollback', /nothing to roll back/],
  ];
  for (const [from, dir, want] of cases) {
    test(`${dir} from ${from}`, () => {
      const r = nextTransition(from, dir);
      if (typeof want === 'number') {
        assert.ok(r.ok);
        assert.equal(r.transition.to.phase, want);
        assert.ok(effects(r.transition).length > 0);
      } else {
        assert.ok(!r.ok);
        assert.match(r.reason, want);
      }
    });
  }
});

const NOW = 1_000_000;
const pub = (
  machine: string,
  agent: string,
  zmqAgo?: number,
  natsAgo?: number,
  bridgedAgo?: number,
): PublisherStats => ({
  machine,
  agent,
  zmq: zmqAgo === undefined ? 0 : 1,
  nats: natsAgo === undefined ? 0 : 1,
  bridged: bridgedAgo === undefined ? 0 : 1,
  ...(zmqAgo === undefined ? {} : { lastZmq: NOW - zmqAgo }),
  ...(natsAgo === undefined ? {} : { lastNats: NOW - natsAgo }),
  ...(bridgedAgo === undefined ? {} : { lastBridged: NOW - bridgedAgo }),
});

const obs = (patch: Partial<Observation> = {}): Observation => ({
  now: NOW,
  windowMs: 60_000,
  since: NOW - 30_000,
  freshMs: 10_000,
  nats: { connected: true, detail: 'connected to nats://127.0.0.1:4222' },
  machines: [
    { id: 'mainpc', errorBus: 'tcp://127.0.0.1:7150', resourcesAt: NOW - 1000 },
    { id: 'pc2', errorBus: 'tcp://127.0.0.2:7150', resourcesAt: NOW - 500 },
  ],
  streams: [s('ERRORS', ['errors.>'], 10)],
  publishers: [pub('mainpc', 'Alpha', 1000, 900), pub('pc2', 'Bravo', 2000, 2100)],
  consumer: {
    mode: 'jetstream',
    sequences: [{ stream: 'ERRORS', tracked: true, ...[3, 4, 5].reduce(noteSeq, newSeqTrack()) }],
  },
  ...patch,
});

const step = (from: PhaseNumber, dir: 'advance' | 'rollback' = 'advance'): Transition => {
  const r = nextTransition(from, dir);
  assert.ok(r.ok);
  return r.transition;
};

describe('coverage', () => {
  test('a ZMQ publisher counts as seen on NATS from its machine or from "any", within the window only', () => {
    const c = coverage(
      [
        pub('mainpc', 'A', 10, 10),
        pub('pc2', 'B', 10),
        pub('any', 'B', undefined, 5),
        pub('pc2', 'C', 10),
        pub('mainpc', 'C', undefined, 5),
        pub('mainpc', 'Old', 10, 120_000),
        pub('mainpc', 'Gone', 120_000),
      ],
      NOW,
      60_000,
    );
    assert.deepEqual(
      c.zmq.map((p) => p.agent),
      ['A', 'B', 'C', 'Old'],
    );
    assert.deepEqual(
      c.missing.map((p) => `${p.machine}/${p.agent}`),
      ['pc2/C', 'mainpc/Old'],
    );
  });
  test('an agent whose errors reach NATS only through a ZMQ->NATS bridge is a ZMQ publisher not on NATS', () => {
    const c = coverage(
      [pub('pc2', 'Bridged', undefined, undefined, 10), pub('pc2', 'Native', undefined, 10, 10)],
      NOW,
      60_000,
    );
    assert.deepEqual(
      c.zmq.map((p) => p.agent),
      ['Bridged', 'Native'],
    );
    assert.deepEqual(
      c.missing.map((p) => p.agent),
      ['Bridged'],
    );
  });
});

describe('preflight per step', () => {
  const cases: Array<{
    name: string;
    t: Transition;
    o: Observation;
    failing: string[];
    evidence?: RegExp;
  }> = [
    { name: '0 -> 1 all good', t: step(0), o: obs(), failing: [] },
    {
      name: '0 -> 1 console not connected',
      t: step(0),
      o: obs({ nats: { connected: false, detail: 'reconnecting' } }),
      failing: ['NATS reachable from this console'],
    },
    {
      name: '0 -> 1 no sample from pc2, stale from mainpc',
      t: step(0),
      o: obs({
        machines: [
          { id: 'mainpc', errorBus: 'x', resourcesAt: NOW - 20_000 },
          { id: 'pc2', errorBus: 'y' },
        ],
      }),
      failing: ['NATS reachable from mainpc', 'NATS reachable from pc2'],
      evidence: /opsdeck\.pc2\.resources/,
    },
    {
      name: '0 -> 1 overlapping/fragmented streams',
      t: step(0),
      o: obs({ streams: [s('AGENT_ERRORS', ['errors.agents.>'])] }),
      failing: ['one error stream on errors.>, no overlapping streams'],
      evidence: /fix \(opsdeck errorbus fix-streams\)/,
    },
    {
      name: '0 -> 1 streams unlistable',
      t: step(0),
      o: obs({ streams: { error: 'JetStream not enabled' } }),
      failing: ['one error stream on errors.>, no overlapping streams'],
      evidence: /JetStream not enabled/,
    },
    { name: '1 -> 2 all good', t: step(1), o: obs(), failing: [] },
    {
      name: '1 -> 2 an agent publishing on ZMQ only',
      t: step(1),
      o: obs({ publishers: [pub('mainpc', 'Alpha', 1000, 900), pub('pc2', 'Zulu', 1000)] }),
      failing: ['every agent seen on ZMQ is also seen on NATS'],
      evidence: /1\/2 \(50%\).*not yet seen on NATS: pc2\/Zulu/,
    },
    {
      name: '1 -> 2 nothing on ZMQ at all',
      t: step(1),
      o: obs({ publishers: [pub('pc2', 'B', undefined, 10)] }),
      failing: ['every agent seen on ZMQ is also seen on NATS'],
      evidence: /nothing to compare/,
    },
    {
      name: '1 -> 2 a gap in the stream',
      t: step(1),
      o: obs({
        consumer: {
          mode: 'jetstream',
          sequences: [
            { stream: 'ERRORS', tracked: true, ...[3, 4, 9].reduce(noteSeq, newSeqTrack()) },
          ],
        },
      }),
      failing: ['NATS delivered without gaps (JetStream sequence continuity)'],
      evidence: /4 missing \(5-8\)/,
    },
    {
      name: '1 -> 2 core subscription only',
      t: step(1),
      o: obs({ consumer: { mode: 'core', sequences: [] } }),
      failing: ['NATS delivered without gaps (JetStream sequence continuity)'],
    },
    {
      name: '1 -> 2 nothing delivered',
      t: step(1),
      o: obs({
        consumer: {
          mode: 'jetstream',
          sequences: [{ stream: 'ERRORS', tracked: true, ...newSeqTrack() }],
        },
      }),
      failing: ['NATS delivered without gaps (JetStream sequence continuity)'],
      evidence: /unproven/,
    },
    { name: '2 -> 3 all good', t: step(2), o: obs(), failing: [] },
    {
      name: '2 -> 3 ZMQ-only publisher',
      t: step(2),
      o: obs({ publishers: [pub('mainpc', 'Alpha', 1000)] }),
      failing: ['no ZMQ-only publishers'],
      evidence: /mainpc\/Alpha/,
    },
    {
      name: 'rollback has no preflight, whatever was seen',
      t: step(3, 'rollback'),
      o: obs({ nats: { connected: false, detail: '' }, publishers: [] }),
      failing: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const checks = preflight(c.t, c.o);
      assert.deepEqual(
        checks.filter((x) => !x.ok).map((x) => x.name),
        c.failing,
        JSON.stringify(checks, null, 1),
      );
      if (c.evidence)
        assert.match(
          checks
            .filter((x) => !x.ok)
            .map((x) => x.evidence)
            .join(' | '),
          c.evidence,
        );
      for (const x of checks) assert.ok(x.evidence.length > 0, `${x.name} has evidence`);
    });
  }
});

describe('port closed after 2 -> 3', () => {
  const cases: Array<[Parameters<typeof portClosedCheck>[2], boolean, RegExp]> = [
    [{ result: 'refused' }, true, /refused/],
    [{ result: 'open' }, false, /still open/],
    [{ result: 'timeout', ms: 1000 }, false, /cannot tell/],
    [{ result: 'error', code: 'EHOSTUNREACH', message: 'no route' }, false, /EHOSTUNREACH/],
  ];
  for (const [probe, ok, evidence] of cases) {
    test(probe.result, () => {
      const c = portClosedCheck('pc2', 'tcp://127.0.0.2:7150', probe);
      assert.equal(c.ok, ok);
      assert.match(c.evidence, evidence);
    });
  }
});
