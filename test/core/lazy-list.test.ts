// lazyList (core/ui/lazy-list.ts): read as the keys read a pane's rows, it is the array it stands for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lazyList } from '../../source/core/ui/lazy-list.js';

test('a lazy list reads as the array of its items, making only the items read', () => {
  const made: number[] = [];
  const list = lazyList(4, (i) => (made.push(i), `row${i}`));
  assert.equal(list.length, 4);
  assert.equal(list[2], 'row2');
  assert.deepEqual(made, [2]);
  assert.equal(list[4], undefined);
  assert.equal(list[-1], undefined);
  assert.equal(list.indexOf('row3'), 3);
  assert.ok(list.includes('row0'));
  assert.ok(2 in list && !(4 in list));
  assert.deepEqual([...list], ['row0', 'row1', 'row2', 'row3']);
  assert.deepEqual(list.slice(1, 3), ['row1', 'row2']);
  assert.deepEqual(lazyList(0, () => 'x').length, 0);
});
