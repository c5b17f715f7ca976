// readErrorHeaders against nats.js's own decoder: for every block it answers, the same three
// values nats.js's header map gives; it declines every block nats.js refuses (throws on).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgHdrsImpl } from 'nats/lib/nats-base-client/headers.js';
import { readErrorHeaders, type ErrorHeaders } from '../../source/core/errorbus/headers.js';

const enc = new TextEncoder();

/** What the feed read from nats.js's map before: exact names, first values; or 'throws'. */
function natsReads(block: string): ErrorHeaders | 'throws' {
  let headers;
  try {
    headers = MsgHdrsImpl.decode(enc.encode(block));
  } catch {
    return 'throws';
  }
  const out: ErrorHeaders = { machine: '', agent: '', bridged: false };
  for (const [name, values] of headers) {
    if (name === 'machine') out.machine = values[0] ?? '';
    else if (name === 'agent') out.agent = values[0] ?? '';
    else if (name === 'Opsdeck-Bridge') out.bridged = true;
  }
  return out;
}

const BLOCKS = [
  'NATS/1.0\r\n\r\n',
  'NATS/1.0\r\nagent: MainAgent07\r\nseverity: error\r\n\r\n',
  'NATS/1.0\r\nmachine: pc2\r\nagent: Pc2Agent01\r\n\r\n',
  'NATS/1.0\r\nNats-Msg-Id: e-1\r\nOpsdeck-Bridge: mainpc\r\nOpsdeck-Bridge-Key: id\r\nagent: A\r\nseverity: error\r\nmachine: mainpc\r\n\r\n',
  'NATS/1.0 503\r\n\r\n',
  'NATS/1.0 408 Request Timeout\r\nagent: x\r\n\r\n',
  'NATS/1.0',
  'NATS/1.0\r\nagent:x',
  'NATS/1.0\r\nagent:   padded value \t\r\n\r\n',
  'NATS/1.0\r\nagent:\r\nmachine:\r\n\r\n',
  'NATS/1.0\r\nagent: first\r\nagent: second\r\nmachine: one\r\nmachine: two\r\n\r\n',
  'NATS/1.0\r\nAgent: canonical\r\nMACHINE: upper\r\n\r\n',
  'NATS/1.0\r\nopsdeck-bridge: lower\r\n\r\n',
  'NATS/1.0\r\nOpsdeck-Bridge:\r\n\r\n',
  'NATS/1.0\r\nno colon here\r\nagent: after\r\n\r\n',
  'NATS/1.0\r\n: empty name\r\nagent: y\r\n\r\n',
  'NATS/1.0\r\nagent: a:b:c\r\n\r\n',
  'NATS/1.0\r\nbad name: v\r\nagent: z\r\n\r\n',
  'NATS/1.0\r\nagent\t: tab in name\r\n\r\n',
  'NATS/1.0\r\nagënt: non-ascii name\r\n\r\n',
  'NATS/1.0\r\nagent: non-ascii välue ✓\r\n\r\n',
  'NATS/1.0\r\nagent: inner\rcr\r\n\r\n',
  'NATS/1.0\r\nagent: inner\nlf\r\n\r\n',
  'NATS/1.0\r\nagent: trailing cr\r\r\n\r\n',
  'NATS/1.0\r\nagent: x\nmachine: y\r\n\r\n',
  'NATS/1.0\r\nlone\rline\r\nagent: q\r\n\r\n',
  'NATS/1.0\r\n\r\nagent: after the blank line\r\n\r\n',
  '\uFEFFNATS/1.0\r\nagent: bom\r\n\r\n',
  'NATS/1.0\r\nmachine : spaced\r\n\r\n',
];

describe('readErrorHeaders', () => {
  test('answers as nats.js reads a block, or declines', () => {
    for (const block of BLOCKS) {
      const expected = natsReads(block);
      const out: ErrorHeaders = { machine: '?', agent: '?', bridged: true };
      // decoded as the feed decodes it (TextDecoder drops a leading BOM, as nats.js's does)
      const answered = readErrorHeaders(new TextDecoder().decode(enc.encode(block)), out);
      if (!answered) {
        assert.deepEqual(out, { machine: '?', agent: '?', bridged: true }, 'untouched');
        continue; // the feed asks nats.js, whatever it answers
      }
      assert.notEqual(
        expected,
        'throws',
        `answered a block nats.js refuses: ${JSON.stringify(block)}`,
      );
      assert.deepEqual(out, expected, JSON.stringify(block));
    }
  });

  test('random blocks: the same answer as nats.js, or declined', () => {
    // Pieces the fleet's names are made of, and the characters that decide a block's fate.
    const pieces = [
      'machine',
      'agent',
      'Opsdeck-Bridge',
      'x',
      ':',
      ' ',
      '\t',
      '\r',
      '\n',
      '\r\n',
      'é',
      '\u00a0',
      'pc2',
    ];
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let answered = 0;
    for (let k = 0; k < 5000; k++) {
      let block = 'NATS/1.0\r\n';
      const n = Math.floor(next() * 12);
      for (let i = 0; i < n; i++) block += pieces[Math.floor(next() * pieces.length)];
      const expected = natsReads(block);
      const out: ErrorHeaders = { machine: '', agent: '', bridged: false };
      if (!readErrorHeaders(block, out)) continue;
      answered++;
      assert.deepEqual(out, expected, JSON.stringify(block));
    }
    assert.ok(answered > 1000, `answered ${answered}`);
  });

  test('answers the blocks the fleet sends', () => {
    for (const block of BLOCKS.slice(0, 4)) {
      const out: ErrorHeaders = { machine: '', agent: '', bridged: false };
      assert.equal(readErrorHeaders(block, out), true, JSON.stringify(block));
    }
  });
});
