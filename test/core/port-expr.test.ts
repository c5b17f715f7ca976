import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindAddressPort, resolvePort } from '../../source/core/fleet/port-expr.js';

const ok: Array<[unknown, Record<string, string>, number]> = [
  [7200, {}, 7200],
  ['7200', {}, 7200],
  ['${PORT_OFFSET}+7200', {}, 7200],
  ['${PORT_OFFSET}+7200', { PORT_OFFSET: '' }, 7200],
  ['${PORT_OFFSET}+7200', { PORT_OFFSET: '1000' }, 8200],
  [' ${PORT_OFFSET} + 7200 ', { PORT_OFFSET: '5' }, 7205],
  ['${BASE}', { BASE: '5000' }, 5000],
  ['${BASE:-5000}+1', {}, 5001],
  ['${BASE:5000}', {}, 5000],
  ['${BASE:-5000}', { BASE: '6000' }, 6000],
  ['${A}+${B}+1', { A: '10', B: '20' }, 31],
];

for (const [raw, env, value] of ok) {
  test(`resolves ${JSON.stringify(raw)} with ${JSON.stringify(env)} to ${value}`, () => {
    assert.deepEqual(resolvePort(raw, env), { ok: true, value });
  });
}

const bad: Array<[unknown, Record<string, string>, RegExp]> = [
  ['${MAINPC_PORT_BASE}+10', {}, /\$\{MAINPC_PORT_BASE\} is not set and has no default/],
  ['${PORT_OFFSET}+abc', {}, /does not evaluate to a number/],
  ['7200-1', {}, /does not evaluate to a number/],
  ['${PORT_OFFSET}+7200', { PORT_OFFSET: 'x' }, /got "x\+7200"/],
  [[7200, 7201], {}, /got a list/],
  [{ a: 1 }, {}, /got object/],
  [null, {}, /got null/],
  [true, {}, /got boolean/],
  [70000, {}, /outside the port range/],
  [0, {}, /outside the port range/],
  [7200.5, {}, /outside the port range/],
  ['${PORT_OFFSET}+65536', {}, /outside the port range/],
];

for (const [raw, env, reason] of bad) {
  test(`refuses ${JSON.stringify(raw)}`, () => {
    const result = resolvePort(raw, env);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, reason);
  });
}

test('bind addresses name the ports an agent binds; connect addresses do not', () => {
  assert.equal(bindAddressPort('tcp://*:5560'), 5560);
  assert.equal(bindAddressPort('tcp://0.0.0.0:5561'), 5561);
  assert.equal(bindAddressPort('tcp://mainpc:5560'), undefined);
  assert.equal(bindAddressPort('ipc:///tmp/agent_errors'), undefined);
  assert.equal(bindAddressPort(5560), undefined);
});
