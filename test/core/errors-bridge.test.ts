// The bridge's re-encoding (every ZMQ variant -> nats_error_bus.py body, stable message id, the
// mark) and how the console's pipeline shows bridged copies (zmq->nats, deduped with twins).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  BRIDGE_DETAIL,
  BRIDGE_HEADER,
  BRIDGE_KEY_HEADER,
  bridgeMarkOf,
  bridgeMessage,
} from '../../source/core/errors/bridge.js';
import { decodeNats, decodeZmq } from '../../source/core/errors/decode.js';
import {
  natsMessages,
  zmqMessages,
  type SimError,
  type ZmqVariant,
} from '../../source/core/errors/encode.js';
import type { ErrorEvent } from '../../source/core/errors/event.js';
import { ErrorPipeline, rowBusOf } from '../../source/core/errors/pipeline.js';

const te = new TextEncoder();
const frames = (fs: (string | Uint8Array)[]) =>
  fs.map((f) => (typeof f === 'string' ? te.encode(f) : f));
const hash = (fs: readonly Uint8Array[]) => {
  const h = createHash('sha256');
  for (const f of fs) h.update(f);
  return h.digest('hex').slice(0, 16);
};

const err = (over: Partial<SimError> = {}): SimError => ({
  id: 'e-1111',
  natsId: 'n-2222',
  at: Date.UTC(2025, 7, 19, 10, 0, 0, 250),
  machine: 'mainpc',
  agent: 'NLUAgent',
  errorType: 'ConnectionError',
  severity: 'critical',
  message: 'redis refused',
  ...over,
});

describe('bridgeMessage: every variant becomes one nats_error_bus.py message', () => {
  const cases: Array<{
    variant: ZmqVariant;
    machine: string;
    idKey: 'id' | 'content';
    format: string;
  }> = [
    { variant: 'A', machine: 'mainpc', idKey: 'id', format: 'zmq-a' },
    { variant: 'B', machine: 'pc2', idKey: 'content', format: 'zmq-b' },
    { variant: 'C', machine: 'mainpc', idKey: 'content', format: 'zmq-c' },
    { variant: 'D', machine: 'pc2', idKey: 'id', format: 'zmq-d' },
    { variant: 'central', machine: 'pc2', idKey: 'id', format: 'zmq-central' },
  ];
  for (const c of cases) {
    test(`variant ${c.variant}`, () => {
      const e = err({ machine: c.machine });
      const [msg] = zmqMessages(c.variant, e);
      const v = bridgeMessage(frames(msg!.frames), c.machine, 'tcp://10.0.0.1:7150', e.at, hash);
      assert.equal(v.kind, 'publish');
      if (v.kind !== 'publish') return;
      assert.equal(v.subject, 'errors.agents.NLUAgent');
      assert.equal(v.headers['Nats-Msg-Id'], v.msgId);
      assert.equal(v.headers[BRIDGE_HEADER], c.machine);
      assert.equal(v.headers[BRIDGE_KEY_HEADER], c.idKey);
      assert.equal(v.headers.machine, c.machine);
      if (c.idKey === 'id') assert.equal(v.msgId, e.id, "the frame's own error id");
      else assert.match(v.msgId, /^zmq-[0-9a-f]{16}$/);
      // The body is nats_error_bus.py's: the console's NATS decoder reads it as that library.
      const body = JSON.parse(v.body) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), [
        'id',
        'timestamp',
        'agent_name',
        'severity',
        'category',
        'message',
        'details',
        'stack_trace',
        'correlation_id',
        'resolved',
        'resolution_notes',
      ]);
      assert.equal(body.id, v.msgId);
      assert.equal(body.correlation_id, c.idKey === 'id' ? e.id : null);
      assert.equal(body.category, 'network', 'ConnectionError maps as UnifiedErrorHandler maps it');
      assert.equal(
        body.severity,
        c.variant === 'B' ? 'error' : 'critical',
        'ForPC2 always says ERROR',
      );
      const d = decodeNats(v.subject, te.encode(v.body), c.machine, 0);
      assert.ok(d.ok);
      assert.equal(d.event.format, 'nats-errors');
      assert.equal(d.event.agent, 'NLUAgent');
      assert.equal(d.event.message, 'redis refused');
      assert.deepEqual((d.event.details[BRIDGE_DETAIL] as { format: string }).format, c.format);
    });
  }

  test('the same frame twice has the same message id (JetStream drops the re-send); different frames differ', () => {
    const [b1] = zmqMessages('B', err({ machine: 'pc2' }));
    const [b2] = zmqMessages('B', err({ machine: 'pc2', at: err().at + 1 }));
    const one = bridgeMessage(frames(b1!.frames), 'pc2', 'x', 0, hash);
    const again = bridgeMessage(frames(b1!.frames), 'pc2', 'x', 99, hash);
    const other = bridgeMessage(frames(b2!.frames), 'pc2', 'x', 0, hash);
    assert.ok(one.kind === 'publish' && again.kind === 'publish' && other.kind === 'publish');
    assert.equal(one.msgId, again.msgId);
    assert.notEqual(one.msgId, other.msgId);
  });

  test("D's local copy and its CROSS_MACHINE_ERROR copy (two bridges) share one message id", () => {
    const [own, cross] = zmqMessages('D', err({ machine: 'pc2' }));
    const a = bridgeMessage(frames(own!.frames), 'pc2', 'x', 0, hash);
    const b = bridgeMessage(frames(cross!.frames), 'mainpc', 'y', 0, hash);
    assert.ok(a.kind === 'publish' && b.kind === 'publish');
    assert.equal(a.msgId, b.msgId);
    assert.equal(b.headers.machine, 'pc2', "the cross copy is still PC2's error");
  });

  test('malformed frames are reported, not published; our own mark is a loop, not published', () => {
    assert.equal(
      bridgeMessage(frames(['ERROR:{not json']), 'mainpc', 'x', 0, hash).kind,
      'malformed',
    );
    const v = bridgeMessage(frames(zmqMessages('A', err())[0]!.frames), 'mainpc', 'x', 0, hash);
    assert.ok(v.kind === 'publish');
    // Something re-sent a bridged body onto ZMQ (CentralErrorBus would wrap it as JSON): refuse.
    const looped = bridgeMessage(frames([v.body]), 'pc2', 'x', 0, hash);
    assert.equal(looped.kind, 'loop');
  });

  test('bridgeMarkOf reads the headers', () => {
    const h = (m: Record<string, string>) => ({ get: (k: string) => m[k] ?? '' });
    assert.deepEqual(bridgeMarkOf(h({ [BRIDGE_HEADER]: 'pc2', [BRIDGE_KEY_HEADER]: 'content' })), {
      machine: 'pc2',
      synthetic: true,
    });
    assert.deepEqual(bridgeMarkOf(h({ [BRIDGE_HEADER]: 'mainpc', [BRIDGE_KEY_HEADER]: 'id' })), {
      machine: 'mainpc',
      synthetic: false,
    });
    assert.equal(bridgeMarkOf(h({ agent: 'x' })), undefined);
    assert.equal(bridgeMarkOf(undefined), undefined);
  });
});

describe('pipeline: bridged copies are zmq->nats and dedup with their twins', () => {
  const bridged = (variant: ZmqVariant, e: SimError, machine = e.machine): ErrorEvent => {
    const v = bridgeMessage(frames(zmqMessages(variant, e)[0]!.frames), machine, 'x', 0, hash);
    assert.ok(v.kind === 'publish');
    const d = decodeNats(v.subject, te.encode(v.body), machine, 0);
    assert.ok(d.ok);
    return { ...d.event, bridged: bridgeMarkOf({ get: (k) => v.headers[k] ?? '' })! };
  };
  const zmq = (variant: ZmqVariant, e: SimError): ErrorEvent => {
    const d = decodeZmq(frames(zmqMessages(variant, e)[0]!.frames), e.machine, 0);
    assert.ok(d.ok);
    return d.event;
  };
  const native = (e: SimError): ErrorEvent => {
    const m = natsMessages('errors', e)[0]!;
    const d = decodeNats(m.subject, te.encode(m.data as string), e.machine, 0);
    assert.ok(d.ok);
    return d.event;
  };

  // Table: the order copies arrive in -> the one row's bus, and the counters that move.
  const rows: Array<{
    name: string;
    variant: ZmqVariant;
    arrive: Array<'zmq' | 'bridge' | 'native'>;
    bus: string;
  }> = [
    {
      name: 'bridged only (nobody saw the ZMQ copy)',
      variant: 'A',
      arrive: ['bridge'],
      bus: 'zmq->nats',
    },
    { name: 'ZMQ copy then bridged', variant: 'A', arrive: ['zmq', 'bridge'], bus: 'zmq->nats' },
    { name: 'bridged then native', variant: 'A', arrive: ['bridge', 'native'], bus: 'both' },
    { name: 'native then bridged', variant: 'A', arrive: ['native', 'bridge'], bus: 'both' },
    { name: 'all three', variant: 'D', arrive: ['zmq', 'native', 'bridge'], bus: 'both' },
    {
      name: 'id-less B: ZMQ then bridged (content match)',
      variant: 'B',
      arrive: ['zmq', 'bridge'],
      bus: 'zmq->nats',
    },
    {
      name: 'id-less C: bridged then ZMQ',
      variant: 'C',
      arrive: ['bridge', 'zmq'],
      bus: 'zmq->nats',
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const e = err({ machine: r.variant === 'B' || r.variant === 'D' ? 'pc2' : 'mainpc' });
      const p = new ErrorPipeline();
      let t = 1000;
      for (const what of r.arrive)
        p.add(
          what === 'zmq'
            ? zmq(r.variant, e)
            : what === 'bridge'
              ? bridged(r.variant, e)
              : native(e),
          t++,
        );
      const shown = p.rows.newest();
      assert.equal(shown.length, 1, 'shown once');
      assert.equal(shown[0]!.bus, r.bus);
      assert.equal(p.counters.bridged, r.arrive.filter((a) => a === 'bridge').length);
      assert.equal(p.counters.matched, r.arrive.length - 1);
      const pub = p.publishers.get(`${e.machine}|NLUAgent`)!;
      assert.equal(pub.bridged, r.arrive.includes('bridge') ? 1 : 0);
      assert.equal(
        pub.nats,
        r.arrive.includes('native') ? 1 : 0,
        'bridged never counts as native NATS',
      );
    });
  }

  test('a bridged-only error that expires counts as ZMQ-only (its publisher is not on NATS)', () => {
    const p = new ErrorPipeline({ dedupWindowMs: 100 });
    p.add(bridged('A', err()), 0);
    p.add(bridged('A', err({ id: 'e-2', message: 'other' })), 500);
    assert.equal(p.counters.zmqOnly, 1);
    assert.equal(p.counters.natsOnly, 0);
  });

  test('rowBusOf', () => {
    assert.equal(rowBusOf(new Set(['zmq'])), 'zmq');
    assert.equal(rowBusOf(new Set(['nats'])), 'nats');
    assert.equal(rowBusOf(new Set(['bridge'])), 'zmq->nats');
    assert.equal(rowBusOf(new Set(['zmq', 'nats'])), 'both');
    assert.equal(rowBusOf(new Set(['bridge', 'nats'])), 'both');
  });
});
