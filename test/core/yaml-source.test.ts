// The one YAML reader with positions, through both of its callers: the fleet loader (PyYAML's
// dialect, YAML 1.1) and the compose lint (docker compose's dialect, YAML 1.2). What the dialects
// share must behave the same from both sides; what they do not share is the YAML version.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { formatDiagnostic, type Diagnostic } from '../../source/core/fleet/model.js';
import { parseYaml } from '../../source/core/fleet/yaml-source.js';
import { parseCompose } from '../../source/core/lint/compose.js';

const only = (ds: Diagnostic[], code: string) => {
  const hits = ds.filter((d) => d.code === code);
  assert.equal(hits.length, 1, `expected one ${code}, got: ${ds.map(formatDiagnostic).join('\n')}`);
  return hits[0]!;
};

/** Nine levels of ten aliases each: 10^9 nodes expanded, refused long before. */
function aliasBomb(tail: string): string {
  let text = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
  let prev = 'a';
  for (const n of 'bcdefghi') {
    text += `${n}: &${n} [${Array(10).fill(`*${prev}`).join(', ')}]\n`;
    prev = n;
  }
  return text + tail;
}

describe('one YAML reader, two callers', () => {
  test('alias bomb: the same refusal from the fleet loader and the compose lint', () => {
    const fleet = loadConfigText(
      aliasBomb('agent_groups: {g: {A: {script_path: a.py, port: 5000, config: {b: *i}}}}\n'),
      'fleet.yaml',
      { env: {} },
    );
    const compose = parseCompose(
      aliasBomb('services: {web: {image: x, environment: {B: *i}}}\n'),
      'compose.yaml',
    );
    const a = only(fleet.diagnostics, 'yaml-alias-bomb');
    const b = only(compose.diagnostics, 'yaml-alias-bomb');
    assert.equal(a.message, b.message);
    assert.match(b.message, /more than 100 alias expansions \(an alias bomb\); nothing was loaded/);
    assert.equal(b.severity, 'error');
    assert.equal(fleet.ok, false);
    assert.deepEqual(compose.services, []);
  });

  test('a control character: refused at file:line:col by both, naming the reader that refuses', () => {
    const fleet = loadConfigText(
      'agent_groups:\n  g:\n    A\u0001: {script_path: a.py}\n',
      'f.yaml',
      {
        env: {},
      },
    );
    const compose = parseCompose('services:\n  web:\n    image: a\u001bb\n', 'c.yaml');
    assert.match(
      formatDiagnostic(only(fleet.diagnostics, 'yaml-special-character')),
      /^f\.yaml:3:6: error: unacceptable character #x0001: .*\(PyYAML refuses the file;/,
    );
    assert.match(
      formatDiagnostic(only(compose.diagnostics, 'yaml-special-character')),
      /^c\.yaml:3:13: error: unacceptable character #x001b: .*\(docker compose refuses the file;/,
    );
    assert.deepEqual(compose.services, []);
  });

  test('duplicate keys: warned with both lines by both, each saying what its upstream does', () => {
    const fleet = parseYaml('a: 1\nb: 2\na: 3\n', 'f.yaml');
    const compose = parseCompose(
      'services:\n  web:\n    image: one\n    image: two\n',
      'compose.yaml',
    );
    const f = only(fleet.diagnostics, 'duplicate-key');
    const c = only(compose.diagnostics, 'duplicate-key');
    assert.equal(f.loc.line, 3);
    assert.equal(f.related?.line, 1);
    assert.equal(c.loc.line, 4);
    assert.equal(c.related?.line, 3);
    assert.equal(c.path, 'services.web.image');
    assert.match(f.message, /the last one wins \(as upstream's PyYAML does\)/);
    assert.match(c.message, /the last one wins here \(docker compose refuses the file\)/);
    assert.equal(compose.services[0]!.image, 'two');
  });

  test('the YAML version is the dialect: 1.1 for PyYAML, 1.2 for compose', () => {
    const text = 'off: on\nmode: 010\n';
    assert.deepEqual(parseYaml(text, 'f.yaml').data, { false: true, mode: 8 });
    assert.deepEqual(parseYaml(text, 'c.yaml', 'compose').data, { off: 'on', mode: 10 });
    const compose = parseCompose('services:\n  off:\n    image: x\n', 'compose.yaml');
    assert.deepEqual(
      compose.services.map((s) => s.name),
      ['off'],
    );
  });

  test('merge keys in both dialects, located at the merging key', () => {
    const text =
      'x-health: &h\n  interval: 5s\nservices:\n  web:\n    <<: *h\n    image: w\n  db:\n    healthcheck:\n      <<: *h\n      test: [CMD, true]\n';
    const compose = parseCompose(text, 'compose.yaml');
    assert.deepEqual(compose.diagnostics, []);
    const web = compose.services.find((s) => s.name === 'web')!;
    assert.equal(web.data.interval, '5s');
    assert.equal(web.loc.line, 4);
    const fleet = parseYaml('base: &b {port: 1}\nA:\n  <<: *b\n  name: a\n', 'f.yaml');
    assert.deepEqual(fleet.data, { base: { port: 1 }, A: { port: 1, name: 'a' } });
    assert.equal(fleet.locate(['A', 'name']).line, 4);
  });

  test('syntax errors: the same one-line message with its line from both', () => {
    const fleet = parseYaml('a: [1\nb: 2\n', 'f.yaml');
    const compose = parseCompose('services: [1\nb: 2\n', 'c.yaml');
    const f = only(fleet.diagnostics, 'yaml-syntax');
    const c = only(compose.diagnostics, 'yaml-syntax');
    assert.equal(f.loc.line, c.loc.line);
    assert.equal(f.message, c.message);
    assert.doesNotMatch(c.message, /\n/);
  });
});
