// Health reply parsers per protocol, and the hysteresis reducer, table-driven.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  judgeMetrics,
  parseHttpHealth,
  parseZmqHealth,
  type Parsed,
} from '../../source/core/health/parse.js';
import { lateErrorResponse } from '../../source/core/health/replies.js';
import {
  initialHealth,
  markStale,
  observe,
  type AgentHealth,
  type ProbeOutcome,
} from '../../source/core/health/state.js';

// Byte-for-byte shapes from upstream-protocols b1-b3 (Python json.dumps spacing).
const baseOk =
  '{"status": "ok", "ready": true, "initialized": true, "message": "NLUAgent is healthy", "timestamp": "2025-08-19T10:00:00.000001", "uptime": 12.5, "active_threads": 4, "health_checks": {"port_accessible": true, "redis_connected": true, "ready_signal": true}, "health_details": {"port": 5709, "redis_host": "localhost:6379", "ready_signal": {}}, "health_status": "healthy"}';
const baseDegraded = baseOk
  .replace('"status": "ok"', '"status": "degraded"')
  .replace('"ready_signal": true}', '"ready_signal": false}')
  .replace('is healthy', 'is degraded');
const baseError =
  '{"status": "error", "ready": false, "initialized": false, "message": "X is unhealthy", "health_checks": {"port_accessible": false, "redis_connected": false, "ready_signal": false}, "health_status": "unhealthy"}';
const unified = (status: string, extra = '') =>
  `{"agent_name": "TutorAgent", "health_metrics": {"timestamp": 1755597600.0, "status": "${status}", "uptime_seconds": 300.0, "cpu_percent": 95.0, "memory_percent": 40.0, "zmq_connections": 1, "active_threads": 3, "error_count": 0, "last_error": null, "dependencies_status": {}, "custom_metrics": {}${extra}}, "version": "1.0", "schema": "WP-07-unified-health"}`;

const zmq: Array<[string, string, Parsed | RegExp]> = [
  [
    'BaseAgent ok',
    baseOk,
    {
      ok: true,
      reading: {
        state: 'healthy',
        reason: 'NLUAgent is healthy',
        protocol: 'base-agent',
        uptimeSec: 12.5,
        name: 'NLUAgent',
      },
    },
  ],
  [
    'BaseAgent degraded names the failing check',
    baseDegraded,
    {
      ok: true,
      reading: {
        state: 'degraded',
        reason: 'failing: ready_signal',
        protocol: 'base-agent',
        uptimeSec: 12.5,
        name: 'NLUAgent',
      },
    },
  ],
  [
    'BaseAgent error',
    baseError,
    {
      ok: true,
      reading: {
        state: 'unhealthy',
        reason: 'failing: port_accessible, redis_connected, ready_signal',
        protocol: 'base-agent',
        name: 'X',
      },
    },
  ],
  [
    'main-socket error reply',
    '{"status": "error", "error": "Invalid JSON request"}',
    {
      ok: true,
      reading: {
        state: 'unhealthy',
        reason: 'error reply: Invalid JSON request',
        protocol: 'base-agent',
      },
    },
  ],
  [
    'ResourceManager initializing',
    '{"status": "initializing", "service": "ResourceManager", "initialization_status": {}, "port": 7113, "health_port": 8113, "timestamp": "x"}',
    // Its own JSON-only loop: the protocol says so, and the reply names the service.
    {
      ok: true,
      reading: {
        state: 'degraded',
        reason: 'initializing',
        protocol: 'json-rm',
        name: 'ResourceManager',
      },
    },
  ],
  [
    'WP-07 healthy',
    unified('healthy'),
    {
      ok: true,
      reading: {
        state: 'healthy',
        reason: 'healthy',
        protocol: 'unified',
        uptimeSec: 300,
        name: 'TutorAgent',
      },
    },
  ],
  [
    'WP-07 unhealthy says why',
    unified('unhealthy'),
    {
      ok: true,
      reading: {
        state: 'unhealthy',
        reason: 'cpu 95%, mem 40%',
        protocol: 'unified',
        uptimeSec: 300,
        name: 'TutorAgent',
      },
    },
  ],
  [
    'WP-07 unknown request',
    'Unknown health request',
    {
      ok: true,
      reading: {
        state: 'unhealthy',
        reason: 'WP-07 agent did not understand the request',
        protocol: 'unified',
      },
    },
  ],
  ['garbage', '\x1b[2Jnot json', /^not JSON: not json$/],
  ['JSON without status', '{"hello": 1}', /no status in reply/],
  ['unknown status', '{"status": "purple"}', /unknown status "purple"/],
];

describe('ZMQ health replies', () => {
  for (const [name, text, want] of zmq) {
    test(name, () => {
      const got = parseZmqHealth(text);
      if (want instanceof RegExp) {
        assert.equal(got.ok, false);
        assert.match(got.ok ? '' : got.reason, want);
      } else assert.deepEqual(got, want);
    });
  }
});

describe('HTTP health replies', () => {
  const http: Array<[string, number, string, string, string]> = [
    ['FastAPI ok', 200, '{"status":"ok"}', 'healthy', 'http'],
    // Read as BaseAgent's reply, but reached over HTTP: the protocol used is `http`, never `base`.
    ['BaseAgent HTTP mirror (always 200, body decides)', 200, baseDegraded, 'degraded', 'http'],
    [
      'ModelOps 503',
      503,
      '{"status":"unhealthy","kernel_healthy":false,"worker_healthy":true,"uptime_seconds":12}',
      'unhealthy',
      'http',
    ],
    ['plain 500', 500, 'Internal Server Error', 'unhealthy', 'http'],
    ['plain 200 text', 200, 'OK', 'healthy', 'http'],
  ];
  for (const [name, status, body, state, protocol] of http) {
    test(name, () => {
      const got = parseHttpHealth(status, body);
      assert.ok(got.ok);
      assert.equal(got.reading.state, state);
      assert.equal(got.reading.protocol, protocol);
    });
  }
  test('503 reason names what is false', () => {
    const got = parseHttpHealth(
      503,
      '{"status":"unhealthy","kernel_healthy":false,"worker_healthy":true}',
    );
    assert.deepEqual(got.ok && got.reading.reason, 'HTTP 503 unhealthy: kernel_healthy false');
  });
  test('404 is not a health endpoint', () =>
    assert.equal(parseHttpHealth(404, 'not found').ok, false));
  test("BaseAgent's mirror is marked as such and keeps the agent's name", () => {
    const got = parseHttpHealth(200, baseOk);
    assert.ok(got.ok);
    assert.equal(got.reading.baseAgentMirror, true);
    assert.equal(got.reading.name, 'NLUAgent');
    const plain = parseHttpHealth(200, '{"status":"ok"}');
    assert.ok(plain.ok && plain.reading.baseAgentMirror === undefined);
  });
});

describe('GET /metrics judged by its body', () => {
  test('Prometheus text is instrumented, and says how many samples', () => {
    const j = judgeMetrics(200, '# HELP a x\n# TYPE a gauge\na 1\nb{c="d"} 2\n');
    assert.deepEqual(j, { instrumented: true, answer: '200 with Prometheus text (2 samples)' });
  });
  test("upstream's bug: 200 with an HTTP 500 page as the body is not instrumented, and is said", () => {
    const j = judgeMetrics(200, lateErrorResponse(Date.UTC(2026, 11, 6, 20, 0, 0)));
    assert.deepEqual(j, {
      instrumented: false,
      answer: '200 with an HTTP 500 error page as its body (not Prometheus text)',
    });
  });
  test('503 and anything else say what they answered', () => {
    assert.equal(
      judgeMetrics(503, 'Prometheus metrics not enabled or available').answer,
      'HTTP 503: Prometheus metrics not enabled or available',
    );
    assert.match(judgeMetrics(200, '{"a": 1}').answer, /^200 but not Prometheus text/);
  });
});

describe('hysteresis', () => {
  const reply = (state: 'healthy' | 'degraded' | 'unhealthy', at: number): ProbeOutcome => ({
    kind: 'reply',
    reading: { state, reason: state, protocol: 'base-agent' },
    latencyMs: 3,
    at,
  });
  const timeout = (at: number): ProbeOutcome => ({ kind: 'timeout', timeoutMs: 1000, at });
  const refused = (at: number): ProbeOutcome => ({
    kind: 'refused',
    reason: 'connection refused',
    at,
  });
  const run = (outcomes: ProbeOutcome[], h: AgentHealth = initialHealth()) =>
    outcomes.reduce((acc, o) => observe(acc, o), h);

  const table: Array<[string, ProbeOutcome[], string]> = [
    ['first result applies at once', [reply('degraded', 1)], 'degraded'],
    ['one timeout does not flap a healthy agent', [reply('healthy', 1), timeout(2)], 'healthy'],
    ['two timeouts in a row do', [reply('healthy', 1), timeout(2), timeout(3)], 'unreachable'],
    ['a refused connection is definitive', [reply('healthy', 1), refused(2)], 'unreachable'],
    [
      'alternating results never settle',
      [reply('healthy', 1), timeout(2), reply('healthy', 3), timeout(4)],
      'healthy',
    ],
    ['recovery also needs two answers', [refused(1), reply('healthy', 2)], 'unreachable'],
    ['... and gets them', [refused(1), reply('healthy', 2), reply('healthy', 3)], 'healthy'],
    [
      'a streak must be of one state',
      [reply('healthy', 1), reply('degraded', 2), reply('unhealthy', 3)],
      'healthy',
    ],
    [
      'garbled replies count as unhealthy',
      [
        reply('healthy', 1),
        { kind: 'bad-reply', reason: 'x', latencyMs: 1, at: 2 },
        { kind: 'bad-reply', reason: 'x', latencyMs: 1, at: 3 },
      ],
      'unhealthy',
    ],
  ];
  for (const [name, outcomes, want] of table)
    test(name, () => assert.equal(run(outcomes).state, want));

  test('keeps reason, since, latency, protocol and a bounded history', () => {
    let h = run([reply('healthy', 1000)]);
    assert.deepEqual(
      [h.state, h.since, h.latencyMs, h.protocol, h.lastReplyAt],
      ['healthy', 1000, 3, 'base-agent', 1000],
    );
    h = run([refused(2000)], h);
    assert.deepEqual(
      [h.state, h.reason, h.since, h.lastReplyAt],
      ['unreachable', 'connection refused', 2000, 1000],
    );
    for (let i = 0; i < 100; i++) h = observe(h, reply('healthy', 3000 + i));
    assert.equal(h.history.length, 30);
    assert.equal(h.state, 'healthy');
    assert.equal(h.since, 3001, 'state changed when the second healthy reply confirmed it');
    assert.equal(h.pending, undefined);
  });

  test('thresholds are configurable', () => {
    const h = [reply('healthy', 1), timeout(2)].reduce(
      (acc, o) => observe(acc, o, { downAfter: 1, upAfter: 3, historySize: 5 }),
      initialHealth(),
    );
    assert.equal(h.state, 'unreachable');
  });

  test('stale after silence, not before', () => {
    const h = run([reply('healthy', 1000)]);
    assert.equal(markStale(h, 5000, 5000).state, 'healthy');
    const stale = markStale(h, 7000, 5000);
    assert.deepEqual([stale.state, stale.reason], ['stale', 'no probe result for 6 s']);
    assert.equal(markStale(initialHealth(), 99_999, 1).state, 'unknown');
  });
});
