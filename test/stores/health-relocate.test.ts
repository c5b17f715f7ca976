// A moved agent that the store loses track of (found where its process listens, silent there
// once, not found by name either) is asked at its configured port next, as the result says: the
// store once kept the connection to the place it had just given up, and showed the agent
// healthy "via" its configured port, where nothing listens (seen on a loaded machine as
// health-from-agents verdicts that never agreed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Prober, ZmqProbeResult } from '../../source/core/seams/prober.js';
import { HealthStore } from '../../source/stores/health-store.js';

const HOST = '127.0.0.9';
const reply = JSON.stringify({
  status: 'ok',
  ready: true,
  initialized: true,
  message: 'ok',
  uptime: 1,
  health_checks: {},
  health_status: 'healthy',
});

test('a moved place given up is not asked under the configured port', async () => {
  const asked: string[] = [];
  // Where the agent really is: silent the first time (a loaded machine), answering after that.
  let atMovedPlace = 0;
  const prober: Prober = {
    zmq: (endpoint) => ({
      request: (): Promise<ZmqProbeResult> => {
        asked.push(endpoint);
        if (endpoint.endsWith(':5001'))
          return Promise.resolve(
            atMovedPlace++ === 0
              ? { kind: 'timeout' }
              : { kind: 'reply', text: reply, latencyMs: 1 },
          );
        return Promise.resolve({ kind: 'refused', reason: `connection refused on ${endpoint}` });
      },
      close: () => undefined,
    }),
    http: () => Promise.resolve({ kind: 'refused', reason: 'no HTTP here' }),
    zmtp: () => Promise.resolve({ holder: 'none', detail: 'refused' }),
    scan: (host, from, count) =>
      Promise.resolve({ host, from, count, open: [], answers: [], at: 0, ms: 0 }),
    close: () => undefined,
  };
  const store = new HealthStore(
    [
      {
        key: 'mainpc/Mover',
        machine: 'mainpc',
        agent: 'Mover',
        host: HOST,
        healthPort: 6638,
        protocol: 'base-agent',
        intervalMs: 1000,
        timeoutMs: 100,
      },
    ],
    prober,
    {
      scanEveryMs: 0,
      evidence: { process: () => ({ pid: 42, ports: [5000, 5001, 5002] }) },
    },
  );
  const health = () => store.flush().agents.get('mainpc/Mover')!;

  // The configured port refuses; its process listens on 5000-5002, silent there this time; no
  // name answers a scan: the place is given up.
  await store.probeAll();
  assert.deepEqual(asked, [`tcp://${HOST}:6638`, `tcp://${HOST}:5001`]);
  assert.equal(health().moved, undefined);

  // Next round: asked where it says it asks, then found again where its process listens.
  asked.length = 0;
  await store.probeAll();
  assert.equal(asked[0], `tcp://${HOST}:6638`, `asked ${asked.join(', ')}`);
  const h = health();
  assert.equal(h.moved?.healthPort, 5001);
  assert.match(h.via ?? '', new RegExp(`to ${HOST}:5001$`));
  store.stop();
});
