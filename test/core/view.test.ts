// View helpers that decide what a cell shows (core/ui/view.ts): pure, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fit } from '../../source/core/ui/view.js';
import { columns } from '../../source/core/ui/width.js';

test('fit pads and cuts by terminal columns: a wide character takes two, a combining mark none', () => {
  const cases: Array<[string, number, 'left' | 'right', string]> = [
    ['abc', 5, 'left', 'abc  '],
    ['abc', 5, 'right', '  abc'],
    ['abcdef', 4, 'left', 'abc…'],
    ['abc', 1, 'left', '…'],
    ['abc', 0, 'left', ''],
    ['応答なし', 10, 'left', '応答なし  '],
    ['応答なし', 6, 'left', '応答… '],
    ['応答なし', 4, 'left', '応… '],
    ['a応答', 4, 'left', 'a応…'],
    ['Cafe\u0301', 6, 'left', 'Cafe\u0301  '],
    ['● OK', 6, 'left', '● OK  '],
  ];
  for (const [text, width, align, want] of cases) {
    const got = fit(text, width, align);
    assert.equal(got, want, `fit(${JSON.stringify(text)}, ${width}, ${align})`);
    assert.equal(columns(got), width, `${JSON.stringify(got)} is ${width} columns`);
  }
});
