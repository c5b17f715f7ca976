// The phase preflight with `opsdeck agent --bridge` at work: phase 1 reachable without agent
// changes, bridged copies covering phase 2, phase 3 still needing native NATS publishers and
// naming who is not there yet. Table-driven; without a bridge the preflight is unchanged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PublisherStats } from '../../source/core/errors/pipeline.js';
import { bridgedCoverage } from '../../source/core/errorbus/bridge-coverage.js';
import {
  nextTransition,
  preflight,
  type Observation,
} from '../../source/core/errorbus/preflight.js';
import type { PhaseNumber } from '../../source/core/errorbus/phase.js';
import { newSeqTrack, noteSeq } from '../../source/core/errorbus/sequence.js';

const NOW = 5_000_000;
type Seen = { zmq?: number; nats?: number; bridged?: number };
const pub = (machine: string, agent: string, ago: Seen): PublisherStats => ({
  machine,
  agent,
  zmq: ago.zmq === undefined ? 0 : 1,
  nats: ago.nats === undefined ? 0 : 1,
  ...(ago.bridged === undefined ? {} : { bridged: 1, lastBridged: NOW - ago.bridged }),
  ...(ago.zmq === undefined ? {} : { lastZmq: NOW - ago.zmq }),
  ...(ago.nats === undefined ? {} : { lastNats: NOW - ago.nats }),
});

const obs = (publishers: PublisherStats[]): Observation => ({
  now: NOW,
  windowMs: 60_000,
  since: NOW - 30_000,
  freshMs: 10_000,
  nats: { connected: true, detail: 'connected' },
  machines: [
    { id: 'mainpc', errorBus: 'tcp://127.0.0.1:7150', resourcesAt: NOW - 1000 },
    { id: 'pc2', errorBus: 'tcp://127.0.0.2:7150', resourcesAt: NOW - 1000 },
  ],
  streams: [{ name: 'ERRORS', subjects: ['errors.>'], messages: 3 }],
  publishers,
  consumer: {
    mode: 'jetstream',
    sequences: [{ stream: 'ERRORS', tracked: true, ...[1, 2, 3].reduce(noteSeq, newSeqTrack()) }],
  },
});

const advance = (from: PhaseNumber) => {
  const r = nextTransition(from, 'advance');
  assert.ok(r.ok);
  return r.transition;
};

interface Case {
  name: string;
  from: PhaseNumber;
  publishers: PublisherStats[];
  /** name -> ok */
  checks: Record<string, boolean>;
  evidence?: RegExp;
}

const P1 =
  'every ZMQ publisher reaches NATS, natively or through the bridge (phase 1 without agent changes)';
const P2 = 'every agent seen on ZMQ is also seen on NATS';
const P3 = 'no ZMQ-only publishers';

const cases: Case[] = [
  {
    name: '0 -> 1 without a bridge: unchanged (no reach check; agents must dual-publish once KV says 1)',
    from: 0,
    publishers: [pub('mainpc', 'Alpha', { zmq: 1000 })],
    checks: { 'NATS reachable from this console': true },
  },
  {
    name: '0 -> 1 with the bridge carrying every ZMQ publisher: passes with no agent change',
    from: 0,
    publishers: [
      pub('mainpc', 'Alpha', { bridged: 1000 }),
      pub('mainpc', 'Bravo', { bridged: 500 }),
      pub('pc2', 'Obs', { zmq: 100, bridged: 90 }),
    ],
    checks: { [P1]: true },
    evidence:
      /3\/3 publishers seen in the last 30 s reach NATS \(0 natively, 3 only through the bridge, 0 ZMQ only\)/,
  },
  {
    name: "0 -> 1 with a bridge on MainPC only: PC2's ZMQ-only publisher blocks and is named",
    from: 0,
    publishers: [pub('mainpc', 'Alpha', { bridged: 1000 }), pub('pc2', 'Obs', { zmq: 100 })],
    checks: { [P1]: false },
    evidence:
      /1\/2 reach NATS \(0 natively, 1 only through the bridge, 1 ZMQ only\); ZMQ only: pc2\/Obs/,
  },
  {
    name: '1 -> 2 with the bridge: bridged copies cover (consumers on NATS see them)',
    from: 1,
    publishers: [
      pub('mainpc', 'Alpha', { bridged: 1000, nats: 900 }),
      pub('mainpc', 'Bravo', { bridged: 500 }),
    ],
    checks: { [P2]: true, 'NATS delivered without gaps (JetStream sequence continuity)': true },
    evidence: /2\/2 publishers .* reach NATS \(1 natively, 1 only through the bridge, 0 ZMQ only\)/,
  },
  {
    name: '2 -> 3 with the bridge: bridged-only publishers block and are named; native ones pass',
    from: 2,
    publishers: [
      pub('mainpc', 'Alpha', { bridged: 1000, nats: 900 }),
      pub('mainpc', 'Bravo', { bridged: 500 }),
      pub('pc2', 'Obs', { zmq: 300 }),
    ],
    checks: { [P3]: false },
    evidence:
      /1\/3 publish natively on NATS .*; not natively on NATS yet: only through the bridge \(lost once ZMQ is off\): mainpc\/Bravo; ZMQ only: pc2\/Obs/,
  },
  {
    name: '2 -> 3 with every publisher native (and still bridged): passes',
    from: 2,
    publishers: [
      pub('mainpc', 'Alpha', { bridged: 1000, nats: 900 }),
      pub('any', 'Bravo', { nats: 100 }),
      pub('mainpc', 'Bravo', { bridged: 100 }),
    ],
    checks: { [P3]: true },
    evidence: /2\/2 publishers seen .* publish natively on NATS/,
  },
  {
    name: 'bridged copies older than the window do not count as a bridge at work',
    from: 1,
    publishers: [pub('mainpc', 'Bravo', { bridged: 120_000, zmq: 100 })],
    checks: { [P2]: false },
    evidence: /not yet seen on NATS: mainpc\/Bravo/, // the preflight without a bridge
  },
];

describe('phase preflight with the bridge', () => {
  for (const c of cases) {
    test(c.name, () => {
      const checks = preflight(advance(c.from), obs(c.publishers));
      for (const [name, ok] of Object.entries(c.checks)) {
        const check = checks.find((x) => x.name === name);
        assert.ok(check, `${name} missing; got ${checks.map((x) => x.name).join(' | ')}`);
        assert.equal(check.ok, ok, `${name}: ${check.evidence}`);
      }
      if (c.from === 0 && !c.publishers.some((p) => p.lastBridged))
        assert.equal(
          checks.find((x) => x.name === P1),
          undefined,
        );
      if (c.evidence) assert.match(checks.map((x) => x.evidence).join('\n'), c.evidence);
    });
  }

  test('coverage splits native, bridged only and ZMQ only per machine/agent', () => {
    const c = bridgedCoverage(
      [
        pub('mainpc', 'A', { bridged: 1 }),
        pub('any', 'B', { nats: 1 }),
        pub('mainpc', 'B', { zmq: 1 }),
        pub('pc2', 'C', { zmq: 1 }),
      ],
      NOW,
      60_000,
    );
    assert.deepEqual(
      [c.native, c.bridgedOnly, c.zmqOnly].map((l) => l.map((p) => `${p.machine}/${p.agent}`)),
      [['mainpc/B'], ['mainpc/A'], ['pc2/C']],
    );
  });
});
