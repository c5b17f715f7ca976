// Shared by the lint tests: the real tree-sitter parser over inline Python samples.
import { parsePython, pythonParser } from '../../source/adapters/python-parser.js';
import type { Finding } from '../../source/core/lint/finding.js';
import { indexModule, type PyIndex } from '../../source/core/lint/py-index.js';
import type { PyModule } from '../../source/core/lint/py-syntax.js';

/** Dedents a template literal so samples can sit indented in the test source. */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = String.raw({ raw: strings }, ...values).replace(/^\n/, '');
  const lines = raw.split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export async function parse(text: string, file = 'sample.py'): Promise<PyModule> {
  return parsePython(await pythonParser(), file, text);
}

export async function index(text: string, file = 'sample.py'): Promise<PyIndex> {
  return indexModule(await parse(text, file));
}

/** `line:rule:severity` for each finding, sorted, so assertions read like the report. */
export const brief = (findings: readonly Finding[]): string[] =>
  findings
    .map((f) => `${f.line}:${f.rule}:${f.severity}`)
    .sort((a, b) => parseInt(a) - parseInt(b) || a.localeCompare(b));

import { loadParsed } from '../../source/core/fleet/load.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { parseYaml } from '../../source/core/fleet/yaml-source.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A machine from an inline fleet config, through the real loader. */
export function machineFrom(yaml: string, machine: string): Machine {
  const result = loadParsed(
    parseYaml(py([yaml] as unknown as TemplateStringsArray), `${machine}.yaml`),
    { env: {}, machine },
  );
  if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join('; '));
  return result.machines[0]!;
}

export const realDir = fileURLToPath(new URL('../../../shared/fixtures/real/', import.meta.url));
/** Tests over the upstream fixtures skip, visibly, when ../shared is not there (CI has it). */
export const skipReal: string | false = existsSync(realDir)
  ? false
  : `real fixtures not found at ${realDir} (../shared is absent)`;
