// The glyph stand-ins (components/glyphs.tsx): a line drawn as Runs is, cell for cell and style
// for style, the line Ink draws from one Text holding the real glyphs.
import '../support/force-color.js';
import type React from 'react';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Box, Text, renderToString } from 'ink';
import { Line, piecesOf, Runs, type Piece } from '../../source/components/glyphs.js';
import { STATE_LOOK } from '../../source/components/theme.js';

const lines: Array<Array<[string, string | undefined]>> = [
  [
    ['›', undefined],
    ['● OK     ', 'green'],
    [' ServiceRegistry core  7200', undefined],
  ],
  [
    [' ', undefined],
    ['▁▂▃  ▅▆▇█ ▁', 'green'],
    ['  ', undefined],
  ],
  [
    ['·', undefined],
    [' call 3 timed out ✖ after a long wai…', 'red'],
    [' x2', 'yellow'],
  ],
  [['Enter open · l log · ? help · q quit', 'gray']],
  [
    ['Wide界Agent ◌ STALE 👍 é', 'cyan'],
    [' ○ DOWN ▲ DEGR', 'red'],
  ],
  [
    [
      Object.values(STATE_LOOK)
        .map((l) => `${l.symbol} ${l.word}`)
        .join(' | '),
      'blue',
    ],
  ],
  [['ABCDEFGHIJ lower and UPPER letters around … a glyph', 'white']],
];

test('a line drawn through the stand-ins is the line drawn with the glyphs', () => {
  for (const line of lines) {
    const pieces: Piece[] = line.flatMap(([text, color]) => piecesOf(text, color));
    assert.equal(pieces.map((p) => p.text).join(''), line.map(([t]) => t).join(''));
    for (const [inverse, bold] of [
      [false, false],
      [true, true],
    ] as const) {
      const got = renderToString(
        <Box>
          <Runs pieces={pieces} inverse={inverse} bold={bold} />
        </Box>,
        { columns: 120 },
      );
      const want = renderToString(
        <Box>
          <Text wrap="truncate" inverse={inverse} bold={bold}>
            {line.map(([text, color], i) => (
              <Text key={i} color={color}>
                {text}
              </Text>
            ))}
          </Text>
        </Box>,
        { columns: 120 },
      );
      assert.equal(got, want, JSON.stringify(line));
      const one = renderToString(
        <Box>
          <Line pieces={pieces} inverse={inverse} bold={bold} />
        </Box>,
        { columns: 120 },
      );
      assert.equal(one, want, `one Text: ${JSON.stringify(line)}`);
    }
  }
});

test('table rows as one Text each draw the frame the rows of Texts drew, colours and all', () => {
  const rows = lines.map((line) => line.flatMap(([text, color]) => piecesOf(text, color)));
  const table = (row: (pieces: Piece[], i: number) => React.ReactNode) =>
    renderToString(
      <Box flexDirection="column" width={90}>
        <Text bold>header</Text>
        {rows.map(row)}
      </Box>,
      { columns: 100 },
    );
  // Row 1 selected in a focused table, row 3 selected in an unfocused one: every style at once.
  const look = (i: number) => ({ inverse: i === 1, bold: i === 1 || i === 3 });
  const before = table((pieces, i) => (
    <Box key={i}>
      <Runs pieces={pieces} {...look(i)} />
    </Box>
  ));
  const after = table((pieces, i) => <Line key={i} pieces={pieces} {...look(i)} />);
  assert.ok(before.includes('\x1b[32m') && before.includes('\x1b[7m'), 'the frame has colours');
  assert.equal(after, before);
});

test('a line wider than its box is cut as Ink cuts a Text of coloured Texts', () => {
  for (const line of lines) {
    const pieces = line.flatMap(([text, color]) => piecesOf(text, color));
    for (const width of [5, 12, 21]) {
      const want = renderToString(
        <Box width={width}>
          <Text wrap="truncate" inverse bold>
            {line.map(([text, color], i) => (
              <Text key={i} color={color}>
                {text}
              </Text>
            ))}
          </Text>
        </Box>,
        { columns: 40 },
      );
      const got = renderToString(
        <Box width={width}>
          <Line pieces={pieces} inverse bold />
        </Box>,
        { columns: 40 },
      );
      assert.equal(got, want, `${width}: ${JSON.stringify(line)}`);
    }
  }
});

test('glyph runs are cut from the rest; other non-ASCII text keeps its own piece', () => {
  assert.deepEqual(
    piecesOf('a ▁▂ ▃b界…', 'red').map((p) => [p.kind, p.text]),
    [
      ['plain', 'a '],
      ['glyphs', '▁▂ ▃'],
      ['other', 'b界'],
      ['glyphs', '…'],
    ],
  );
});
