// The pure wire encoders the simulator (and later the console's tests) share: Python json.dumps
// bytes, Prometheus floats, error frames per upstream variant, the phase KV codec,
// ResourceManager's actions. Expected bytes were produced by Python 3 itself.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { floatRepr, pyDumps, pyFloat } from '../../source/core/py/json.js';
import { isoformat } from '../../source/core/py/time.js';
import { goFloat } from '../../source/core/health/metrics.js';
import {
  baseAgentMainReply,
  parsePyRequest,
  unifiedReply,
  unifiedStatus,
  type HealthState,
} from '../../source/core/health/replies.js';
import {
  malformedZmq,
  natsMessages,
  zmqMessages,
  type SimError,
} from '../../source/core/errors/encode.js';
import { decodeNats, decodeZmq } from '../../source/core/errors/decode.js';
import {
  decodePhase,
  encodePhase,
  phaseValue,
  publishTargets,
} from '../../source/core/errorbus/phase.js';
import {
  initialRmState,
  rmUnknown,
  rmHandle,
  type RmStats,
} from '../../source/core/resources/resource-manager.js';
import { uuidFrom } from '../../source/core/seeded.js';

describe('Python json.dumps', () => {
  test('separators, ensure_ascii escapes, float repr: byte for byte', () => {
    const value = {
      f: [
        pyFloat(12),
        0.1,
        1e-5,
        pyFloat(1.5e16),
        123456789.125,
        pyFloat(-0),
        3.0e-4,
        pyFloat(1e22),
        2.5,
      ],
      i: [0, -7, 65536],
      s: 'tab\tnl\nq"b\\ é € 😀 \u001b[2J \u007f \u0000',
      n: null,
      b: [true, false],
      e: {},
      l: [],
    };
    assert.equal(
      pyDumps(value),
      '{"f": [12.0, 0.1, 1e-05, 1.5e+16, 123456789.125, -0.0, 0.0003, 1e+22, 2.5], "i": [0, -7, 65536], "s": "tab\\tnl\\nq\\"b\\\\ \\u00e9 \\u20ac \\ud83d\\ude00 \\u001b[2J \\u007f \\u0000", "n": null, "b": [true, false], "e": {}, "l": []}',
    );
  });

  test('float repr and prometheus_client floatToGoString', () => {
    assert.deepEqual(
      [0.1 + 0.2, 1 / 3, 1e100, 123456789].map((x) => floatRepr(x)),
      ['0.30000000000000004', '0.3333333333333333', '1e+100', '123456789.0'],
    );
    assert.deepEqual(
      [1732412345.123, 3, 0.005, 10, 1e6, 12345678, 1e20, 0.25, Infinity].map(goFloat),
      [
        '1.732412345123e+09',
        '3.0',
        '0.005',
        '10.0',
        '1e+06',
        '1.2345678e+07',
        '1e+20',
        '0.25',
        '+Inf',
      ],
    );
  });

  test('isoformat: naive, microseconds only when non-zero', () => {
    assert.equal(
      isoformat(Date.UTC(2025, 7, 19, 10, 0, 0, 123), 'utc'),
      '2025-08-19T10:00:00.123000',
    );
    assert.equal(isoformat(Date.UTC(2025, 7, 19, 10, 0, 0, 0), 'utc'), '2025-08-19T10:00:00');
  });
});

describe('BaseAgent and WP-07 replies', () => {
  const s: HealthState = {
    name: 'NLUAgent',
    port: 5709,
    healthPort: 6709,
    startedAt: 0,
    now: 12_500,
    degraded: false,
    activeThreads: 4,
  };
  const enc = (t: string | number[]) =>
    typeof t === 'string' ? new TextEncoder().encode(t) : new Uint8Array(t);

  test('request parsing follows json.loads(message.decode())', () => {
    assert.deepEqual(parsePyRequest(enc([0xc3, 0x28])), { ok: false, failed: 'utf8' });
    assert.deepEqual(parsePyRequest(enc('{')), { ok: false, failed: 'json' });
    assert.deepEqual(parsePyRequest(enc('"x"')), { ok: true, value: 'x' });
  });

  test('main socket: str() of odd actions, AttributeError for non-dicts', () => {
    const cases: [string, string][] = [
      ['{"action": null}', 'Unknown action: None'],
      ['{"action": true}', 'Unknown action: True'],
      ['{"action": 1.5}', 'Unknown action: 1.5'],
      ['{"action": ["a", "it\'s"]}', `Unknown action: ['a', "it's"]`],
      ['{"action": {"k": 1}}', "Unknown action: {'k': 1}"],
      ['"ping"', "'str' object has no attribute 'get'"],
      ['null', "'NoneType' object has no attribute 'get'"],
      ['3', "'int' object has no attribute 'get'"],
    ];
    for (const [request, error] of cases)
      assert.deepEqual(baseAgentMainReply(enc(request), s), { status: 'error', error }, request);
    assert.equal(
      pyDumps(baseAgentMainReply(enc('{"action": "ping"}'), s)).slice(0, 35),
      '{"status": "ok", "ready": true, "in',
    );
  });

  test('WP-07 status thresholds and replies', () => {
    const table: [number, number, number, string][] = [
      [10, 10, 0, 'healthy'],
      [71, 10, 0, 'degraded'],
      [10, 70.5, 0, 'degraded'],
      [10, 10, 11, 'degraded'],
      [91, 10, 0, 'unhealthy'],
      [10, 95, 50, 'unhealthy'],
    ];
    for (const [cpuPercent, memoryPercent, errorCount, want] of table)
      assert.equal(unifiedStatus({ cpuPercent, memoryPercent, errorCount }), want);
    const u = {
      name: 'X',
      startedAt: 0,
      now: 1000,
      cpuPercent: 5,
      memoryPercent: 5,
      activeThreads: 3,
      zmqConnections: 0,
      errorCount: 0,
      lastError: null,
    };
    assert.deepEqual(unifiedReply(enc('{"action": "health_check"}'), u), {
      kind: 'string',
      body: 'Unknown health request',
    });
    assert.deepEqual(unifiedReply(enc([0xff]), u), { kind: 'wedge' });
    const ok = unifiedReply(enc('health_check'), u);
    assert.equal(ok.kind, 'json');
  });
});

describe('error frames per upstream variant', () => {
  const e: SimError = {
    id: '11111111-2222-4333-8444-555555555555',
    natsId: '66666666-7777-4888-9999-000000000000',
    at: Date.UTC(2025, 7, 19, 10, 0, 0, 123),
    machine: 'mainpc',
    agent: 'NLUAgent',
    errorType: 'ConnectionError',
    severity: 'error',
    message: 'Connection refused é',
    details: { host: '127.0.0.1' },
  };

  test('variant A is ErrorPublisher.publish_error byte for byte (Python output)', () => {
    assert.deepEqual(zmqMessages('A', e), [
      {
        frames: [
          'ERROR:{"message_type": "error_report", "source": "MainPC.NLUAgent", "timestamp": "2025-08-19T10:00:00.123000", "error_data": {"error_id": "11111111-2222-4333-8444-555555555555", "error_type": "ConnectionError", "severity": "high", "details": {"message": "Connection refused \\u00e9", "host": "127.0.0.1"}}}',
        ],
        to: 'own',
      },
    ]);
  });

  test('variant D: category topic upper-cased; critical and high also cross to MainPC', () => {
    const pc2 = { ...e, machine: 'pc2', agent: 'TieredResponder', host: '127.0.0.2' };
    const [local, cross] = zmqMessages('D', pc2);
    assert.match(
      local!.frames[0] as string,
      /^PC2_ERROR:PC2_SERVICE:\{"message_type": "error_report", "source": "TieredResponder", "source_machine": "PC2", /,
    );
    assert.match(
      local!.frames[0] as string,
      /"machine_context": \{"host": "127\.0\.0\.2", "current_machine": "pc2", "runtime_env": "development"\}\}\}$/,
    );
    assert.equal(cross!.to, 'mainpc');
    assert.match(
      cross!.frames[0] as string,
      /^CROSS_MACHINE_ERROR:PC2:\{.*, "cross_machine_alert": true, "originating_machine": "PC2"\}$/,
    );
    assert.equal(
      zmqMessages('D', { ...pc2, severity: 'warning' }).length,
      1,
      'medium stays on PC2',
    );
  });

  test('every variant and library decodes with the console decoder, ids intact', () => {
    for (const variant of ['A', 'B', 'C', 'D', 'central'] as const) {
      for (const msg of zmqMessages(variant, e)) {
        const frames = msg.frames.map((f) =>
          typeof f === 'string' ? Buffer.from(f) : Buffer.from(f),
        );
        const d = decodeZmq(frames, 'mainpc', 0);
        assert.ok(d.ok, `${variant}: ${d.ok ? '' : d.reason}`);
        assert.equal(d.event.agent, 'NLUAgent');
        assert.equal(d.event.message, 'Connection refused é');
      }
    }
    for (const library of ['errors', 'error-stream'] as const) {
      for (const msg of natsMessages(library, e)) {
        const d = decodeNats(msg.subject, Buffer.from(msg.data as string), 'mainpc', 0);
        assert.ok(d.ok && d.event.ids.includes(e.id) && d.event.ids.includes(e.natsId), library);
      }
    }
    assert.deepEqual(
      natsMessages('error-stream', { ...e, severity: 'critical' }).map((m) => m.subject),
      ['errors.critical.NLUAgent'],
    );
    assert.deepEqual(
      natsMessages('errors', { ...e, agent: 'bad.name *>' }).map((m) => m.subject)[1],
      'errors.agents.bad_name___',
    );
  });

  test('malformed frames keep the variant framing but break the body', () => {
    for (const variant of ['A', 'B', 'C', 'D', 'central'] as const) {
      for (const kind of ['bad-json', 'binary'] as const) {
        const msg = malformedZmq(kind, variant, e);
        const d = decodeZmq(
          msg.frames.map((f) => Buffer.from(f as string)),
          'mainpc',
          0,
        );
        // CentralErrorBus wraps what it cannot parse as {"raw": ...}: that decodes, as raw.
        if (variant === 'central' && kind === 'bad-json')
          assert.ok(d.ok && d.event.format === 'zmq-raw');
        else assert.equal(d.ok, false, `${variant} ${kind}`);
      }
    }
  });

  test('ids are uuid4-shaped and stable per seed', () => {
    assert.match(
      uuidFrom('a'),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(uuidFrom('a'), uuidFrom('a'));
    assert.notEqual(uuidFrom('a'), uuidFrom('b'));
  });
});

describe('error-bus phase KV value', () => {
  test('encode, decode, and what publishers do per phase', () => {
    assert.equal(encodePhase(1), '{"phase":1,"name":"dual-publish"}');
    const ok: [string, number][] = [
      ['{"phase":1,"name":"dual-publish"}', 1],
      ['{"phase": 3}', 3],
      ['{"name": "zmq"}', 0],
      ['2', 2],
      ['"zmq-off"', 3],
      ['nats-consumers', 2],
    ];
    for (const [text, phase] of ok)
      assert.deepEqual(
        decodePhase(text),
        { ok: true, value: phaseValue(phase as 0 | 1 | 2 | 3) },
        text,
      );
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['{"phase": 4}', /not 0-3/],
      ['{"phase": 1, "name": "zmq"}', /disagree/],
      ['purple', /neither JSON nor a phase name/],
      ['[1]', /expected/],
      ['{"name": "x"}', /not a phase/],
    ];
    for (const [text, why] of bad) {
      const d = decodePhase(text);
      assert.ok(!d.ok && why.test(d.reason), `${text}: ${JSON.stringify(d)}`);
    }
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => publishTargets(p as 0 | 1 | 2 | 3)),
      [
        { zmq: true, nats: false },
        { zmq: true, nats: true },
        { zmq: true, nats: true },
        { zmq: false, nats: true },
      ],
    );
  });
});

describe('ResourceManager actions', () => {
  const stats: RmStats = {
    cpuPercent: 30,
    memoryPercent: 50,
    memoryAvailable: 1,
    memoryTotal: 2,
    diskPercent: 40,
    gpuAllocatedBytes: 9 * 2 ** 30,
    gpuReservedBytes: 10 * 2 ** 30,
    gpuTotalBytes: 12 * 2 ** 30,
  };
  test('check_resources follows the thresholds; set_throttle is not an action upstream has', () => {
    const s0 = initialRmState();
    assert.deepEqual(rmHandle({ action: 'check_resources' }, s0, stats, 0)!.reply, {
      status: 'success',
      available: true,
    });
    const s1 = rmHandle({ action: 'set_thresholds', gpu_threshold: 70 }, s0, stats, 0)!.state;
    assert.deepEqual(
      rmHandle({ action: 'check_resources' }, s1, stats, 0)!.reply,
      { status: 'success', available: false },
      'GPU at 75% > 70%',
    );
    assert.equal(s0.thresholds.gpu, 80, 'states are not mutated');
    // Upstream answers it with its last branch: {"status": "error", "message": "Unknown action: set_throttle"}.
    assert.equal(rmHandle({ action: 'set_throttle', level: 2 }, s0, stats, 0), undefined);
    assert.deepEqual(rmUnknown('set_throttle'), {
      status: 'error',
      message: 'Unknown action: set_throttle',
    });
    assert.equal(rmHandle({ action: 'ping' }, s0, stats, 0), undefined);
  });
});
