// The simulated agents against clients written from the upstream spec (upstream-protocols b1-b3,
// e): every agent of the example fleet, every health protocol, HTTP, /metrics, ResourceManager.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sim } from '../../../source/sim/sim.js';
import {
  baseAgentReply,
  EXAMPLES,
  fleet,
  httpGet,
  probeEveryAgent,
  protocolOverrides,
  RM_HEALTH,
  sim,
  specHealthRequest,
  zmqAsk,
} from './helpers.js';

const HOSTS = { mainpc: '127.0.11.1', pc2: '127.0.11.2' };
let s: Sim;

before(async () => {
  s = await sim({
    machines: fleet(EXAMPLES),
    hosts: HOSTS,
    overrides: protocolOverrides(),
    nats: { mode: 'off', why: 'not needed here' },
  });
});

describe('every simulated agent answers a client written from the spec', () => {
  test('REQ, LINGER 0, 5 s timeout, {"action":"health_check","timestamp":...}', async () => {
    const { checked, problems } = await probeEveryAgent(s);
    assert.deepEqual(problems, []);
    assert.equal(
      checked,
      s.machines.reduce((n, m) => n + m.agents.length, 0),
    );
  });

  test('UnifiedHealthMixin: plain-string health_check and detailed_health, WP-07 schema', async () => {
    const cot = s.machine('mainpc')!.byName.get('ChainOfThoughtAgent')!;
    assert.equal(cot.plan.protocol, 'unified');
    const endpoint = `tcp://${HOSTS.mainpc}:${cot.plan.model.healthPort.value}`;
    const basic = await zmqAsk(endpoint, 'health_check');
    assert.equal(basic.kind, 'reply');
    const body = JSON.parse((basic as { text: string }).text);
    assert.deepEqual(Object.keys(body), ['agent_name', 'health_metrics', 'version', 'schema']);
    assert.equal(body.schema, 'WP-07-unified-health');
    assert.equal(body.agent_name, 'ChainOfThoughtAgent');
    assert.deepEqual(Object.keys(body.health_metrics), [
      'timestamp',
      'status',
      'uptime_seconds',
      'cpu_percent',
      'memory_percent',
      'zmq_connections',
      'active_threads',
      'error_count',
      'last_error',
      'dependencies_status',
      'custom_metrics',
    ]);
    assert.match(body.health_metrics.status, /^(healthy|degraded|unhealthy)$/);
    const detailed = await zmqAsk(endpoint, 'detailed_health');
    const d = JSON.parse((detailed as { text: string }).text);
    assert.deepEqual(Object.keys(d.system_info), [
      'python_version',
      'platform',
      'disk_usage',
      'network_connections',
    ]);
    assert.deepEqual(Object.keys(d.system_info.disk_usage), [
      'total_gb',
      'used_gb',
      'free_gb',
      'percent',
    ]);
    const other = await zmqAsk(endpoint, 'status please');
    assert.equal((other as { text: string }).text, 'Unknown health request');
  });
});

describe('BaseAgent main socket', () => {
  const ask = (payload: string | Uint8Array) =>
    zmqAsk(`tcp://${HOSTS.mainpc}:7220`, payload).then((r) =>
      r.kind === 'reply' ? r.text : 'timeout',
    );

  test('ping, health and health_check give the health JSON', async () => {
    for (const action of ['ping', 'health', 'health_check']) {
      assert.match(
        await ask(`{"action": "${action}"}`),
        baseAgentReply('SystemDigitalTwin', 7220, false),
      );
    }
  });

  test("upstream's error replies, word for word", async () => {
    assert.equal(
      await ask('{"action": "get_metrics"}'),
      '{"status": "error", "error": "Unknown action: get_metrics"}',
    );
    assert.equal(
      await ask('{"no_action": 1}'),
      '{"status": "error", "error": "Unknown action: None"}',
    );
    assert.equal(await ask('{"action": 5}'), '{"status": "error", "error": "Unknown action: 5"}');
    assert.equal(await ask('health_check'), '{"status": "error", "error": "Invalid JSON request"}');
    assert.equal(await ask('{"action": '), '{"status": "error", "error": "Invalid JSON request"}');
    assert.equal(
      await ask(new Uint8Array([0xff, 0xfe, 0x00])),
      '{"status": "error", "error": "Invalid UTF-8 request"}',
    );
    assert.equal(
      await ask('[1, 2]'),
      `{"status": "error", "error": "'list' object has no attribute 'get'"}`,
    );
  });

  test('the health socket answers anything, even bytes that are not text', async () => {
    const r = await zmqAsk(`tcp://${HOSTS.mainpc}:8220`, new Uint8Array([0x00, 0xff, 0x1b]));
    assert.match((r as { text: string }).text, baseAgentReply('SystemDigitalTwin', 7220, false));
  });
});

describe('BaseAgent HTTP on health+1', () => {
  const base = `http://${HOSTS.mainpc}:8221`; // SystemDigitalTwin: health 8220

  test('/health is the same JSON, always 200', async () => {
    const r = await httpGet(`${base}/health`);
    assert.ok('status' in r && r.status === 200 && r.type === 'application/json');
    assert.match(r.body, baseAgentReply('SystemDigitalTwin', 7220, false));
  });

  test("/metrics is Prometheus text with upstream's metric names", async () => {
    await zmqAsk(`tcp://${HOSTS.mainpc}:7220`, '{"action": "ping"}'); // something to count
    const r = await httpGet(`${base}/metrics`);
    assert.ok('status' in r && r.status === 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    for (const [name, type] of [
      ['agent_requests_total', 'counter'],
      ['agent_request_duration_seconds', 'histogram'],
      ['agent_health_status', 'gauge'],
      ['agent_uptime_seconds', 'gauge'],
      ['agent_errors_total', 'counter'],
      ['agent_active_connections', 'gauge'],
      ['agent_queue_size', 'gauge'],
      ['agent_info_info', 'gauge'],
      ['agent_cpu_usage_percent', 'gauge'],
      ['agent_memory_usage_bytes', 'gauge'],
      ['agent_disk_io_bytes_total', 'counter'],
      ['agent_network_bytes_total', 'counter'],
      ['agent_open_file_descriptors', 'gauge'],
    ]) {
      assert.ok(r.body.includes(`# TYPE ${name} ${type}\n`), `missing ${name} ${type}`);
    }
    assert.match(
      r.body,
      /^agent_requests_total\{agent="SystemDigitalTwin",method="zmq",endpoint="main",status="success"\} [1-9]\d*\.0$/m,
    );
    assert.match(
      r.body,
      /^agent_health_status\{agent="SystemDigitalTwin",agent_health_status="healthy"\} 1\.0$/m,
    );
    assert.match(
      r.body,
      /^agent_request_duration_seconds_bucket\{agent="SystemDigitalTwin",method="zmq",endpoint="main",le="\+Inf"\} \d+\.0$/m,
    );
    // Every sample line parses as `name{labels} float`.
    for (const line of r.body
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('#'))) {
      assert.match(line, /^[a-z_]+(\{[^}]*\})? (-?\d+(\.\d+)?(e[+-]\d+)?|\+Inf|NaN)$/, line);
    }
  });

  test('/metrics/summary, 404 elsewhere, 501 for other methods', async () => {
    const summary = await httpGet(`${base}/metrics/summary`);
    assert.ok('body' in summary);
    assert.deepEqual(Object.keys(JSON.parse(summary.body)), [
      'agent_name',
      'agent_port',
      'uptime_seconds',
      'prometheus_available',
      'metrics_enabled',
      'system_metrics_enabled',
      'timestamp',
      'cpu_percent',
      'memory_rss_mb',
      'memory_vms_mb',
    ]);
    const missing = await httpGet(`${base}/nope`);
    assert.ok(
      'status' in missing && missing.status === 404 && missing.body.includes('Error code: 404'),
    );
    const post = await fetch(`${base}/health`, { method: 'POST' });
    assert.equal(post.status, 501);
    await post.text();
  });
});

describe("PC2 ResourceManager's real actions and set_throttle", () => {
  const rm = (request: unknown) =>
    zmqAsk(`tcp://${HOSTS.pc2}:7113`, JSON.stringify(request)).then((r) => {
      assert.equal(r.kind, 'reply');
      return JSON.parse((r as { text: string }).text) as Record<string, unknown>;
    });

  test('get_stats, check_resources, set_thresholds, get_status, unknown action', async () => {
    const stats = await rm({ action: 'get_stats' });
    assert.equal(stats.status, 'success');
    assert.deepEqual(Object.keys(stats.stats as object), [
      'cpu_percent',
      'memory_percent',
      'memory_available',
      'memory_total',
      'disk_usage',
      'timestamp',
      'gpu_memory_percent',
      'gpu_memory_allocated',
      'gpu_memory_reserved',
    ]);
    assert.equal((stats.stats as { memory_total: number }).memory_total, 32768 * 1024 * 1024);
    assert.deepEqual(await rm({ action: 'check_resources' }), {
      status: 'success',
      available: true,
    });
    assert.deepEqual(await rm({ action: 'set_thresholds', cpu_threshold: 1 }), {
      status: 'success',
      thresholds: { cpu: 1, memory: 80, gpu: 80 },
    });
    assert.deepEqual(
      await rm({ action: 'check_resources' }),
      { status: 'success', available: false },
      'CPU is always above 1%',
    );
    assert.deepEqual(
      await rm({ action: 'set_thresholds', cpu_threshold: 80, gpu_threshold: 'high' }),
      { status: 'error', message: 'gpu_threshold must be a number 0-100, got "high"' },
    );
    const status = await rm({ action: 'get_status' });
    assert.deepEqual(
      status.thresholds,
      { cpu: 1, memory: 80, gpu: 80 },
      'a refused request changes nothing',
    );
    await rm({ action: 'set_thresholds', cpu_threshold: 80 });
    assert.deepEqual(
      await rm({
        action: 'allocate_resources',
        resource_id: 'job-1',
        resource_type: 'gpu',
        amount: 2,
      }),
      { status: 'success', resource_id: 'job-1', message: 'Allocated 2 gpu' },
    );
    assert.deepEqual(await rm({ action: 'allocate_resources', resource_id: 'job-1' }), {
      status: 'error',
      message: 'Resource ID job-1 already allocated',
    });
    assert.deepEqual(await rm({ action: 'release_resources', resource_id: 'job-1' }), {
      status: 'success',
      resource_id: 'job-1',
      message: 'Resources released successfully',
    });
    assert.deepEqual(await rm({ action: 'defragment' }), {
      status: 'error',
      message: 'Unknown action: defragment',
    });
  });

  test("set_throttle is an unknown action, as upstream's handle_request answers it", async () => {
    assert.deepEqual(await rm({ action: 'set_throttle', level: 3 }), {
      status: 'error',
      message: 'Unknown action: set_throttle',
    });
    const status = await rm({ action: 'get_status' });
    assert.equal('throttle' in status, false, 'get_status carries no throttle level upstream');
  });

  test("its health socket is its own JSON-only loop; its HTTP mirror is BaseAgent's", async () => {
    const r = await zmqAsk(`tcp://${HOSTS.pc2}:8113`, specHealthRequest());
    assert.match((r as { text: string }).text, RM_HEALTH);
    const other = await zmqAsk(`tcp://${HOSTS.pc2}:8113`, '{"action": "ping"}');
    assert.equal(
      (other as { text: string }).text,
      '{"status": "unknown_action", "message": "Unknown action: ping"}',
    );
    const http = await httpGet(`http://${HOSTS.pc2}:8114/health`);
    assert.ok('body' in http);
    assert.match(http.body, baseAgentReply('ResourceManager', 7113, true));
  });
});
