// Bad input never crashes and never half-loads silently: every case names file, line, column
// and what was expected, and leaves ok=false (or, for PyYAML-compatible quirks, a warning).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../source/core/fleet/load.js';
import { formatDiagnostic, type Diagnostic } from '../../source/core/fleet/model.js';

const load = (text: string, env: Record<string, string> = {}) =>
  loadConfigText(text, 'bad.yaml', { env });
const only = (ds: Diagnostic[], code: string) => {
  const hits = ds.filter((d) => d.code === code);
  assert.equal(hits.length, 1, `expected one ${code}, got: ${ds.map(formatDiagnostic).join('\n')}`);
  return hits[0]!;
};

const agentGroups = (body: string) => `agent_groups:\n  core:\n${body}`;

describe('bad input', () => {
  test('YAML syntax error: file:line:col and nothing loaded', () => {
    const r = load('agent_groups:\n  core:\n    A: {script_path: a.py, port: [1\n  other: 2\n');
    assert.equal(r.ok, false);
    assert.equal(r.machines.length, 0);
    const d = r.diagnostics[0]!;
    assert.equal(d.code, 'yaml-syntax');
    assert.equal(d.loc.file, 'bad.yaml');
    assert.equal(d.loc.line, 4);
    assert.match(formatDiagnostic(d), /^bad\.yaml:4:\d+: error: YAML syntax error: /);
  });

  test('a NUL byte (or any control PyYAML refuses) in a key: refused at file:line:col, nothing loaded', () => {
    const r = load(agentGroups('    A\u0000B: {script_path: a.py, port: 5000}\n'));
    assert.equal(r.ok, false);
    assert.equal(r.machines.length, 0);
    assert.equal(
      formatDiagnostic(only(r.diagnostics, 'yaml-special-character')),
      'bad.yaml:3:6: error: unacceptable character #x0000: special characters are not allowed (PyYAML refuses the file; a double-quoted string may write it as an escape such as "\\x00") [yaml-special-character]',
    );
    const esc = load(agentGroups('    A: {script_path: a.py, port: 5000}\n\u001b[2J\n'));
    assert.equal(only(esc.diagnostics, 'yaml-special-character').loc.line, 4);
  });

  test('tab indentation is a syntax error with its line', () => {
    const r = load('agent_groups:\n\tcore: {}\n');
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]!.code, 'yaml-syntax');
    assert.equal(r.diagnostics[0]!.loc.line, 2);
  });

  test('duplicate mapping key: last wins like PyYAML, warned with both lines', () => {
    const r = load(
      agentGroups('    A:\n      script_path: a.py\n      port: 5000\n      port: 5100\n'),
    );
    assert.equal(r.ok, true);
    assert.equal(r.machines[0]!.agents[0]!.port.value, 5100);
    const d = only(r.diagnostics, 'duplicate-key');
    assert.equal(d.severity, 'warning');
    assert.equal(d.loc.line, 6);
    assert.equal(d.related?.line, 5);
    assert.match(d.message, /duplicate key "port" in agent_groups\.core\.A: the last one wins/);
  });

  test('duplicate agent across groups: reported with both places, the last definition wins', () => {
    const text =
      'agent_groups:\n  a:\n    X: {script_path: x.py, port: 5000}\n  b:\n    X: {script_path: x2.py, port: 5100}\n';
    const r = load(text);
    assert.equal(r.ok, true);
    const d = only(r.diagnostics, 'duplicate-agent');
    assert.equal(d.loc.line, 5);
    assert.equal(d.related?.line, 3);
    assert.match(d.message, /groups "a" and "b"/);
    assert.deepEqual(
      r.machines[0]!.agents.map((a) => `${a.name}:${a.port.value}`),
      ['X:5100'],
    );
  });

  test('alias bomb is refused quickly, nothing loaded', () => {
    let text = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
    let prev = 'a';
    for (const n of 'bcdefghi') {
      text += `${n}: &${n} [${Array(10).fill(`*${prev}`).join(', ')}]\n`;
      prev = n;
    }
    text += 'agent_groups: {g: {A: {script_path: a.py, port: 5000, config: {bomb: *i}}}}\n';
    const started = process.hrtime.bigint();
    const r = load(text);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(r.ok, false);
    assert.equal(r.machines.length, 0);
    assert.match(only(r.diagnostics, 'yaml-alias-bomb').message, /alias bomb/);
    // Expanded, it would take minutes: a generous deadline, not a timing (bench/ has figures).
    assert.ok(ms < 15_000, `refusal took ${ms} ms`);
  });

  test('port given as a list: wrong type with its path and line', () => {
    const r = load(agentGroups('    A:\n      script_path: a.py\n      port: [5000, 5001]\n'));
    assert.equal(r.ok, false);
    const d = only(r.diagnostics, 'wrong-type');
    assert.equal(d.path, 'agent_groups.core.A.port');
    assert.equal(d.loc.line, 5);
    assert.match(d.message, /A: port: expected a port number or expression, got a list/);
  });

  test('agent given as a string inside a group of agents: wrong type with its path', () => {
    const r = load(agentGroups('    A: {script_path: a.py, port: 5000}\n    B: b.py\n'));
    assert.equal(r.ok, false);
    const d = only(r.diagnostics, 'wrong-type');
    assert.equal(d.path, 'agent_groups.core.B');
    assert.equal(d.loc.line, 4);
    assert.match(
      d.message,
      /agent "B" in group "core" must be a mapping with script_path, got a string/,
    );
  });

  test('pc2_services entry that is a string, and one without a name', () => {
    const r = load(
      'pc2_services:\n- CentralErrorBus\n- {script_path: x.py, port: 7150}\n- {name: A, script_path: a.py, port: 7100}\n',
    );
    assert.equal(r.ok, false);
    assert.match(
      only(r.diagnostics, 'wrong-type').message,
      /pc2_services\[0\] must be an agent mapping with name and script_path, got a string/,
    );
    assert.equal(only(r.diagnostics, 'missing-name').loc.line, 3);
  });

  test('group given as a list: wrong type', () => {
    const r = load(
      'agent_groups:\n  core:\n    - {script_path: a.py, port: 5000}\n  other:\n    A: {script_path: a.py, port: 5000}\n',
    );
    assert.equal(r.ok, false);
    assert.match(
      only(r.diagnostics, 'wrong-type').message,
      /group "core" must be a mapping of agents, got a list/,
    );
  });

  test('unresolvable port expression names the agent, field and line', () => {
    const r = load(agentGroups('    A:\n      script_path: a.py\n      port: ${MAINPC_BASE}+5\n'));
    assert.equal(r.ok, false);
    const d = only(r.diagnostics, 'port-unresolvable');
    assert.equal(d.loc.line, 5);
    assert.match(
      d.message,
      /^A: port: "\$\{MAINPC_BASE\}\+5": \$\{MAINPC_BASE\} is not set and has no default/,
    );
  });

  test('unresolvable config port and error bus port', () => {
    const r = load(
      'pc2_services:\n- name: A\n  script_path: a.py\n  port: 7100\n  config:\n    grpc_port: ${GRPC}\nerror_bus_port: nope\n',
    );
    assert.equal(r.ok, false);
    const codes = r.diagnostics.map((d) => `${d.code}@${d.loc.line}`).sort();
    assert.deepEqual(codes, ['port-unresolvable@6', 'port-unresolvable@7']);
  });

  test('missing port, bad required, bad dependencies, bad config, bad host', () => {
    const r = load(
      agentGroups(
        '    A: {script_path: a.py}\n    B: {script_path: b.py, port: 5000, required: maybe, dependencies: C, config: [1], host: 5}\n',
      ),
    );
    assert.equal(r.ok, false);
    const messages = r.diagnostics.map((d) => d.message);
    assert.ok(messages.some((m) => /^A: has no port/.test(m)));
    assert.ok(messages.some((m) => /^B: required must be true or false, got a string/.test(m)));
    assert.ok(
      messages.some((m) => /^B: dependencies must be a list of agent names, got a string/.test(m)),
    );
    assert.ok(messages.some((m) => /^B: config must be a mapping, got a list/.test(m)));
    assert.ok(messages.some((m) => /^B: host must be a string, got a number/.test(m)));
  });

  test('unknown shape: refused with the top-level keys seen', () => {
    const r = load('services:\n  web: {image: nginx}\nversion: "3"\n');
    assert.equal(r.ok, false);
    assert.match(
      only(r.diagnostics, 'unknown-shape').message,
      /unknown config shape: top-level keys seen: services, version; expected agent_groups/,
    );
  });

  test('empty file and non-mapping documents are refused', () => {
    assert.match(only(load('').diagnostics, 'unknown-shape').message, /the file is empty/);
    assert.match(
      only(load('# just a comment\n').diagnostics, 'unknown-shape').message,
      /the file is empty/,
    );
    assert.match(
      only(load('- a\n- b\n').diagnostics, 'unknown-shape').message,
      /the document is a list/,
    );
  });

  test('v3 profile that enables a group with no agents is warned', () => {
    const r = load(
      'version: 3.0\nmachine_profiles:\n  mainpc: {enabled_groups: [core, ghosts]}\nagent_groups:\n  core:\n    A: {script_path: a.py, port: 5000}\n',
    );
    assert.equal(r.ok, true);
    assert.match(only(r.diagnostics, 'unknown-group').message, /enables group "ghosts"/);
  });

  test('YAML 1.1 like PyYAML: yes/no are booleans', () => {
    const r = load(agentGroups('    A: {script_path: a.py, port: 5000, required: yes}\n'));
    assert.equal(r.ok, true);
    assert.equal(r.machines[0]!.agents[0]!.required, true);
  });
});
