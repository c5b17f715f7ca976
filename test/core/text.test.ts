import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonObject, textOf } from '../../source/core/text.js';

test('textOf: a wire value as text, never "[object Object]"', () => {
  assert.equal(textOf('up'), 'up');
  assert.equal(textOf(0), '0');
  assert.equal(textOf(false), 'false');
  assert.equal(textOf(12n), '12');
  assert.equal(textOf(undefined), '');
  assert.equal(textOf(null, '-'), '-');
  assert.equal(textOf({ state: 'ok' }), '{"state":"ok"}');
  assert.equal(textOf(['a', 1]), '["a",1]');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.equal(textOf(cycle, '?'), '?');
  assert.equal(textOf(Symbol('s')), 'Symbol(s)');
  assert.equal(
    textOf(() => 1, 'fn'),
    'fn',
  );
});

test('jsonObject: only a JSON object, never a throw', () => {
  assert.deepEqual(jsonObject('{"a":1}'), { a: 1 });
  assert.equal(jsonObject('[1]'), undefined);
  assert.equal(jsonObject('null'), undefined);
  assert.equal(jsonObject('"s"'), undefined);
  assert.equal(jsonObject('{bad'), undefined);
});
