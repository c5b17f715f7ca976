// An HTTP agent's /health is looked for on health+1 (BaseAgent's mirror) before its health port,
// but not when another agent's config declares health+1: a 200 there is that agent's. On the
// real fleet ObservabilityDashboardAPI (health 9007) was shown healthy from 9008, which is
// SelfHealingSupervisor's, while nothing answered on its own port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Prober } from '../../source/core/seams/prober.js';
import { HealthStore, type HealthTarget } from '../../source/stores/health-store.js';

const HOST = '127.0.0.9';

/** ZMQ refused everywhere; HTTP /health answers only on `answering`. */
function prober(answering: number, asked: number[]): Prober {
  return {
    zmq: (endpoint) => ({
      request: () => Promise.resolve({ kind: 'refused', reason: `refused on ${endpoint}` }),
      close: () => undefined,
    }),
    http: (_host, port, path) => {
      if (path === '/health') asked.push(port);
      return Promise.resolve(
        port === answering && path === '/health'
          ? { kind: 'reply', status: 200, text: '{"status":"ok"}', latencyMs: 1 }
          : { kind: 'refused', reason: `refused on ${port}` },
      );
    },
    zmtp: () => Promise.resolve({ holder: 'none', detail: 'refused' }),
    scan: (host, from, count) =>
      Promise.resolve({ host, from, count, open: [], answers: [], at: 0, ms: 0 }),
    close: () => undefined,
  };
}

const target = (agent: string, healthPort: number): HealthTarget => ({
  key: `mainpc/${agent}`,
  machine: 'mainpc',
  agent,
  host: HOST,
  port: healthPort - 1000,
  healthPort,
  expect: 'http',
  intervalMs: 1000,
  timeoutMs: 100,
});

const run = async (targets: HealthTarget[], answering: number) => {
  const asked: number[] = [];
  const store = new HealthStore(targets, prober(answering, asked), { scanEveryMs: 0 });
  await store.probeAll();
  await store.probeAll();
  const h = store.flush().agents.get('mainpc/ObservabilityDashboardAPI')!;
  store.stop();
  return { h, asked };
};

test("health+1 declared by another agent is not asked: its 200 is not this agent's health", async () => {
  const { h } = await run(
    [target('ObservabilityDashboardAPI', 9007), target('SelfHealingSupervisor', 9008)],
    9008,
  );
  assert.notEqual(h.state, 'healthy', JSON.stringify(h));
  assert.doesNotMatch(h.via ?? '', /9008/);
});

test('a health+1 nobody declares is still read as the mirror', async () => {
  const { h } = await run([target('ObservabilityDashboardAPI', 9007)], 9008);
  assert.equal(h.state, 'healthy', JSON.stringify(h));
  assert.match(h.via ?? '', /9008/);
});

test('its own health port answering: healthy there, whoever declares health+1', async () => {
  const { h } = await run(
    [target('ObservabilityDashboardAPI', 9007), target('SelfHealingSupervisor', 9008)],
    9007,
  );
  assert.equal(h.state, 'healthy', JSON.stringify(h));
  assert.match(h.via ?? '', /9007/);
});

test("/metrics on a health+1 another agent declares is not asked, and not counted as 'not instrumented'", async () => {
  const reply = JSON.stringify({ status: 'ok', health_status: 'healthy', health_checks: {} });
  const asked: string[] = [];
  const base = (agent: string, healthPort: number): HealthTarget => ({
    ...target(agent, healthPort),
    expect: undefined,
    protocol: 'base-agent',
    intervalMs: 120_000,
  });
  const store = new HealthStore(
    [base('TranslationService', 9007), base('SelfHealingSupervisor', 9008)],
    {
      ...prober(0, []),
      zmq: () => ({
        request: () => Promise.resolve({ kind: 'reply', text: reply, latencyMs: 1 }),
        close: () => undefined,
      }),
      http: (_host, port, path) => {
        asked.push(`${port}${path}`);
        return Promise.resolve({ kind: 'reply', status: 200, text: 'up 1\n', latencyMs: 1 });
      },
    },
    { scanEveryMs: 0, metricsEvery: 1 },
  );
  await store.probeAll();
  const h = store.flush().agents.get('mainpc/TranslationService')!;
  store.stop();
  assert.equal(h.state, 'healthy');
  assert.equal(h.instrumented, undefined, 'nothing was checked');
  assert.match(
    h.metricsAnswer ?? '',
    /GET \/metrics on 9008: not asked \(9008 is mainpc\/SelfHealingSupervisor's port/,
  );
  // SelfHealingSupervisor's own mirror (9009) is asked; 9008/metrics is never asked for anyone.
  assert.ok(asked.includes('9009/metrics'), asked.join(' '));
  assert.ok(!asked.includes('9008/metrics'), asked.join(' '));
});
