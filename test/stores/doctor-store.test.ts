// DoctorStore (source/stores/doctor-store.ts): the error-bus diagnosis is refreshed only while
// someone listens (the scorecard); a listener arriving to an old one gets a fresh one at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DoctorStore } from '../../source/stores/doctor-store.js';
import type { Diagnosis } from '../../source/core/errorbus/doctor.js';

test('refreshes only while listened to, every everyMs, and at once for a late listener', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let runs = 0;
  const store = new DoctorStore(async () => {
    runs++;
    return {} as Diagnosis;
  });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const stop = store.start(3000, 15_000);
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(runs, 0, 'nobody listens: no refresh');
  const off = store.subscribe(() => {});
  t.mock.timers.tick(0);
  await settle();
  assert.equal(runs, 1, 'a listener gets one at once');
  t.mock.timers.tick(15_000);
  await settle();
  assert.equal(runs, 2, 'then every everyMs');
  off();
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(runs, 2, 'none once it left');
  const again = store.subscribe(() => {});
  t.mock.timers.tick(0);
  await settle();
  assert.equal(runs, 3, 'back to an old one: a fresh one at once');
  again();
  stop();
});
