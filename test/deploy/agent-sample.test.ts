// The host agent's version and uptime ride on its resource samples (opsdeck.<machine>.resources):
// what the console accepts from the wire and what it refuses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSample } from '../../source/core/resources/sample-check.js';

const base = {
  machine: 'pc2',
  ts: 1_700_000_000_000,
  source: 'agent',
  gpu: null,
  cpuPct: 12,
  ramTotalMb: 32000,
  ramUsedMb: 8000,
  throttleLevel: 0,
  agents: [],
};

describe('agent version and uptime in a sample', () => {
  test('kept when well formed; absent when the publisher (the sim, an older agent) sends none', () => {
    const r = checkSample({ ...base, version: '0.2.0-rc.1', uptimeS: 10_800 });
    assert.ok(r.ok);
    assert.equal(r.sample.version, '0.2.0-rc.1');
    assert.equal(r.sample.uptimeS, 10_800);
    const old = checkSample(base);
    assert.ok(old.ok);
    assert.equal('version' in old.sample, false);
    assert.equal('uptimeS' in old.sample, false);
  });

  test('refused with a reason: a version that is not a short version string, a negative or odd uptime', () => {
    for (const [patch, reason] of [
      [{ version: '\u001b[2J0.1.0' }, /version must be a short version string/],
      [{ version: 7 }, /version must be/],
      [{ version: 'x'.repeat(41) }, /version must be/],
      [{ uptimeS: -1 }, /uptimeS must be a number of seconds/],
      [{ uptimeS: '3h' }, /uptimeS must be/],
      [{ uptimeS: Number.NaN }, /uptimeS must be/],
    ] as const) {
      const r = checkSample({ ...base, ...patch });
      assert.equal(r.ok, false, JSON.stringify(patch));
      assert.match(r.ok ? '' : r.reason, reason);
    }
  });

  test("the exporter's address and coverage (agent --metrics) ride along; a malformed one is dropped, the sample kept", () => {
    const r = checkSample({ ...base, exporter: { address: '192.168.100.17:9470', agents: 23 } });
    assert.ok(r.ok);
    assert.deepEqual(r.sample.exporter, { address: '192.168.100.17:9470', agents: 23 });
    for (const exporter of [
      { address: '\u001b[2J:9470', agents: 1 },
      { address: 'x:1', agents: -1 },
      { address: 'x:1', agents: 1.5 },
      'here',
    ]) {
      const bad = checkSample({ ...base, exporter });
      assert.ok(bad.ok, JSON.stringify(exporter));
      assert.equal('exporter' in bad.sample, false, JSON.stringify(exporter));
    }
  });
});
