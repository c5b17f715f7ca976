// Every upstream error format, byte for byte as upstream-protocols c1/c2 describe them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeNats,
  decodeZmq,
  MAX_FRAME_BYTES,
  type Decoded,
} from '../../source/core/errors/decode.js';
import { normaliseSeverity } from '../../source/core/errors/event.js';
import { sanitise, sanitiseValue } from '../../source/core/errors/sanitise.js';

const enc = new TextEncoder();
const frames = (...parts: string[]) => parts.map((p) => enc.encode(p));
const ok = (d: Decoded) => {
  assert.ok(d.ok, d.ok ? '' : `${d.reason}: ${d.sample}`);
  return d.event;
};
const T = 1_700_000_000_000;

const variantA = {
  message_type: 'error_report',
  source: 'MainPC.NLUAgent',
  timestamp: '2025-08-19T10:00:00Z',
  error_data: {
    error_id: 'e-a-1',
    error_type: 'TimeoutError',
    severity: 'high',
    details: { message: 'model call timed out after 30s' },
  },
};
const variantB = {
  timestamp: 1755597600.5,
  agent: 'AuthenticationAgent',
  type: 'LoginFailure',
  message: 'bad password for admin',
  severity: 'ERROR',
};
const variantC = {
  error_type: 'AudioDeviceError',
  message: 'no /dev/snd',
  severity: 'critical',
  context: { agent_name: 'StreamingTTSAgent', device: 'hw:0' },
};
const variantD = {
  message_type: 'error_report',
  source: 'VisionProcessingAgent',
  source_machine: 'PC2',
  timestamp: '2025-08-19T10:00:01Z',
  error_data: {
    error_id: 'e-d-1',
    error_type: 'CUDAOutOfMemory',
    severity: 'critical',
    category: 'resource',
    details: { message: 'CUDA out of memory: tried to allocate 2.00 GiB' },
    machine_context: { host: 'pc2', current_machine: 'PC2', runtime_env: 'docker' },
  },
};

describe('ZMQ variants', () => {
  test('A: one frame "ERROR:"+json from ErrorPublisher', () => {
    const e = ok(decodeZmq(frames(`ERROR:${JSON.stringify(variantA)}`), 'mainpc', T));
    assert.deepEqual(
      {
        agent: e.agent,
        severity: e.severity,
        category: e.category,
        message: e.message,
        ids: e.ids,
        format: e.format,
        bus: e.bus,
        machine: e.machine,
        sentAt: e.sentAt,
      },
      {
        agent: 'NLUAgent',
        severity: 'error',
        category: 'TimeoutError',
        message: 'model call timed out after 30s',
        ids: ['e-a-1'],
        format: 'zmq-a',
        bus: 'zmq',
        machine: 'mainpc',
        sentAt: '2025-08-19T10:00:00Z',
      },
    );
  });

  test('B: two frames [ERROR, json] from ForPC2 agents', () => {
    const e = ok(decodeZmq(frames('ERROR', JSON.stringify(variantB)), 'pc2', T));
    assert.deepEqual(
      [e.agent, e.severity, e.category, e.message, e.format, e.ids],
      ['AuthenticationAgent', 'error', 'LoginFailure', 'bad password for admin', 'zmq-b', []],
    );
  });

  test('C: two frames [ERROR:, json] from the streaming agents', () => {
    const e = ok(decodeZmq(frames('ERROR:', JSON.stringify(variantC)), 'mainpc', T));
    assert.deepEqual(
      [e.agent, e.severity, e.category, e.message, e.format],
      ['StreamingTTSAgent', 'critical', 'AudioDeviceError', 'no /dev/snd', 'zmq-c'],
    );
    assert.equal(e.details.device, 'hw:0');
  });

  test('D: "PC2_ERROR:<CAT>:"+json and its cross-machine copy', () => {
    const e = ok(decodeZmq(frames(`PC2_ERROR:RESOURCE:${JSON.stringify(variantD)}`), 'pc2', T));
    assert.deepEqual(
      [e.agent, e.severity, e.category, e.message, e.format, e.ids],
      [
        'VisionProcessingAgent',
        'critical',
        'resource',
        'CUDA out of memory: tried to allocate 2.00 GiB',
        'zmq-d',
        ['e-d-1'],
      ],
    );
    assert.deepEqual(e.details.machine_context, variantD.error_data.machine_context);
    const cross = { ...variantD, cross_machine_alert: true, originating_machine: 'PC2' };
    const c = ok(
      decodeZmq(frames(`CROSS_MACHINE_ERROR:PC2:${JSON.stringify(cross)}`), 'mainpc', T),
    );
    assert.equal(c.format, 'zmq-d-cross');
    assert.equal(c.machine, 'pc2', "arrived on MainPC's bus, but it is PC2's error");
    assert.equal(e.machine, 'pc2');
    assert.deepEqual(
      c.ids,
      ['e-d-1'],
      'the cross-machine copy carries the same id, so it can be matched',
    );
  });

  test('CentralErrorBus: single JSON frame re-published as is', () => {
    const e = ok(
      decodeZmq(
        frames(
          JSON.stringify({
            agent: 'TieredResponder',
            error_type: 'QueueFull',
            message: 'queue at 1000',
            severity: 'WARNING',
          }),
        ),
        'pc2',
        T,
      ),
    );
    assert.deepEqual(
      [e.agent, e.severity, e.category, e.format],
      ['TieredResponder', 'warning', 'QueueFull', 'zmq-central'],
    );
  });

  test('CentralErrorBus {"raw": ...}: an ERROR:-prefixed frame inside is recovered', () => {
    const wrapped = JSON.stringify({ raw: `ERROR:${JSON.stringify(variantA)}` });
    const e = ok(decodeZmq(frames(wrapped), 'pc2', T));
    assert.equal(e.format, 'zmq-a');
    assert.deepEqual(e.ids, ['e-a-1']);
    const opaque = ok(decodeZmq(frames(JSON.stringify({ raw: 'segfault in worker 3' })), 'pc2', T));
    assert.deepEqual(
      [opaque.format, opaque.message, opaque.agent],
      ['zmq-raw', 'segfault in worker 3', 'unknown'],
    );
  });

  const bad: Array<[string, Uint8Array[], RegExp]> = [
    ['A with bad JSON', frames('ERROR:{not json'), /variant A/],
    ['B with bad JSON', frames('ERROR', '{"agent":'), /variant B/],
    ['C with a JSON list', frames('ERROR:', '[1,2]'), /variant C/],
    ['D without a category separator', frames('PC2_ERROR:RESOURCE{}'), /variant D/],
    ['plain text', frames('hello'), /no known prefix/],
    ['unknown topic', frames('METRICS', '{}'), /unknown topic "METRICS"/],
    ['three frames', frames('a', 'b', 'c'), /3 frames/],
    ['binary', [Uint8Array.from([0xff, 0xfe, 0x00, 0x01])], /no known prefix/],
    [
      'oversize',
      [new Uint8Array(MAX_FRAME_BYTES + 1).fill(0x41)],
      /oversize message: 262145 bytes/,
    ],
  ];
  for (const [name, input, reason] of bad) {
    test(`malformed: ${name}`, () => {
      const d = decodeZmq(input, 'pc2', T);
      assert.equal(d.ok, false);
      if (!d.ok) {
        assert.match(d.reason, reason);
        assert.ok(d.sample.length <= 161);
        assert.doesNotMatch(d.sample, /\p{Cc}/u, 'sample is sanitised');
      }
    });
  }
});

describe('NATS libraries', () => {
  test('nats_error_bus.py body on errors.agents.<agent>', () => {
    const body = {
      id: 'n-1',
      timestamp: '2025-08-19T10:00:02Z',
      agent_name: 'NLUAgent',
      severity: 'fatal',
      category: 'network',
      message: 'redis unreachable',
      details: { host: 'redis' },
      stack_trace: 'Traceback...',
      correlation_id: 'e-a-1',
      resolved: false,
      resolution_notes: null,
    };
    const e = ok(
      decodeNats('errors.agents.NLUAgent', enc.encode(JSON.stringify(body)), 'mainpc', T),
    );
    assert.deepEqual(
      [e.agent, e.severity, e.category, e.message, e.format, e.bus, e.ids],
      [
        'NLUAgent',
        'critical',
        'network',
        'redis unreachable',
        'nats-errors',
        'nats',
        ['n-1', 'e-a-1'],
      ],
    );
    assert.equal(e.details.stack_trace, 'Traceback...');
  });

  test('nats_client.py (WP-10) body on errors.<severity>.<agent>', () => {
    const body = {
      error_id: 'w-1',
      timestamp: '2025-08-19T10:00:03Z',
      source_agent: 'ModelOpsCoordinator',
      error_type: 'MemoryError',
      severity: 'CRITICAL',
      message: 'VRAM exhausted',
      stack_trace: null,
      context: { gpu: 0 },
      correlation_id: null,
      retry_count: 2,
    };
    const e = ok(
      decodeNats(
        'errors.critical.ModelOpsCoordinator',
        enc.encode(JSON.stringify(body)),
        'mainpc',
        T,
      ),
    );
    assert.deepEqual(
      [e.agent, e.severity, e.category, e.message, e.format, e.ids],
      [
        'ModelOpsCoordinator',
        'critical',
        'MemoryError',
        'VRAM exhausted',
        'nats-error-stream',
        ['w-1'],
      ],
    );
    assert.equal(e.details.gpu, 0);
  });

  test('malformed NATS bodies are reported with the subject', () => {
    const d = decodeNats('errors.events', enc.encode('oops'), 'mainpc', T);
    assert.equal(d.ok, false);
    assert.match(d.ok ? '' : d.reason, /errors\.events: body is not a JSON object/);
  });
});

describe('severity vocabularies', () => {
  const table: Array<[unknown, string]> = [
    ['critical', 'critical'],
    ['high', 'error'],
    ['medium', 'warning'],
    ['low', 'info'],
    [undefined, 'error'],
    ['ERROR', 'error'],
    ['fatal', 'critical'],
    ['debug', 'debug'],
    ['WARNING', 'warning'],
    ['INFO', 'info'],
    ['CRITICAL', 'critical'],
    [42, 'error'],
  ];
  for (const [raw, want] of table)
    test(`${String(raw)} -> ${want}`, () => assert.equal(normaliseSeverity(raw), want));
});

describe('sanitise', () => {
  const cases: Array<[string, string]> = [
    ['plain text', 'plain text'],
    ['\x1b[2J\x1b[Hwiped', 'wiped'],
    ['red \x1b[31malert\x1b[0m', 'red alert'],
    ['clip\x1b]52;c;ZXZpbA==\x07board', 'clipboard'],
    ['title\x1b]0;pwned\x1b\\ok', 'titleok'],
    ['dcs\x1bPq#0;2;0;0;0\x1b\\done', 'dcsdone'],
    ['c1 \x9b31mcsi', 'c1 csi'],
    ['multi\nline\r\n\ttext', 'multi line text'],
    ['bell\x07 and nul\x00', 'bell and nul'],
    ['Agent\u202eLNU', 'AgentLNU'],
    ['lone esc \x1b', 'lone esc '],
  ];
  for (const [input, want] of cases)
    test(JSON.stringify(input), () => assert.equal(sanitise(input), want));

  test('decoded fields never carry escapes', () => {
    const body = {
      ...variantB,
      agent: 'Auth\x1b[2JAgent',
      message: '\x1b]52;c;AAAA\x07boom\nnext',
    };
    const e = ok(decodeZmq(frames('ERROR', JSON.stringify(body)), 'pc2', T));
    assert.equal(e.agent, 'AuthAgent');
    assert.equal(e.message, 'boom next');
  });

  test('sanitiseValue stringifies and truncates', () => {
    assert.equal(sanitiseValue({ a: '\x1b[1mx' }), '{"a":"\\u001b[1mx"}');
    assert.equal(sanitiseValue('y'.repeat(10), 4), 'yyyy…');
  });
});
