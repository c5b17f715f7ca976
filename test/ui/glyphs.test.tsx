// The glyph stand-ins (components/glyphs.tsx): a line drawn as Runs is, cell for cell and style
// for style, the line Ink draws from one Text holding the real glyphs.
import '../support/force-color.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Box, Text, renderToString } from 'ink';
import { piecesOf, Runs, type Piece } from '../../source/components/glyphs.js';
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
