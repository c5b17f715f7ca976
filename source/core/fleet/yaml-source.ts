// The one YAML reader with positions: parses a text and keeps a location for every key, so that
// every later finding can name file:line:col. Two dialects, because the files have two upstream
// readers: the fleet config is read by PyYAML (YAML 1.1: `off` is false, `010` is octal) and
// compose files by docker compose (YAML 1.2: a service called `off` stays "off"). Everything
// else is shared: merge keys (both upstreams accept `<<`), the refusal of non-printable
// characters (PyYAML and go-yaml both refuse them), the alias-bomb limit and its message,
// duplicate keys as warnings (last one wins), messages cut to one short line.
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
} from 'yaml';
import type { Diagnostic, SourceLoc } from './model.js';

export type PathPart = string | number;

/** Whose reading of YAML to follow: PyYAML's (YAML 1.1) or docker compose's (YAML 1.2). */
export type YamlDialect = 'pyyaml' | 'compose';

interface DialectRules {
  version: '1.1' | '1.2';
  /** Who refuses a file with a non-printable character. */
  reader: string;
  /** What a duplicate key means, here and to the upstream reader. */
  duplicates: string;
}

const DIALECTS: Record<YamlDialect, DialectRules> = {
  pyyaml: {
    version: '1.1',
    reader: 'PyYAML',
    duplicates: "the last one wins (as upstream's PyYAML does)",
  },
  // go-yaml v3, under compose-go, refuses a duplicate key ("mapping key already defined").
  compose: {
    version: '1.2',
    reader: 'docker compose',
    duplicates: 'the last one wins here (docker compose refuses the file)',
  },
};

export interface ParsedSource {
  file: string;
  /** The document as plain data; undefined when parsing failed. */
  data: unknown;
  diagnostics: Diagnostic[];
  /** Location of the key at `path`, or of its nearest ancestor that has one. */
  locate(path: readonly PathPart[]): SourceLoc;
  /** Every key's location by its path (`pathKey`): what `locate` reads (kept by the parse cache). */
  index?: ReadonlyMap<string, SourceLoc>;
}

/** `locate` over an index of key locations: the nearest ancestor's, else the file's start. */
export function locator(
  file: string,
  index: ReadonlyMap<string, SourceLoc>,
): ParsedSource['locate'] {
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const hit = index.get(pathKey(path.slice(0, n)));
      if (hit) return hit;
    }
    return { file, line: 1, col: 1 };
  };
}

/** Aliases allowed before a document counts as an alias bomb (yaml's default, made explicit). */
export const MAX_ALIAS_COUNT = 100;

export const pathKey = (path: readonly PathPart[]): string =>
  path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.');

/**
 * What PyYAML's reader refuses before it parses anything (reader.py NON_PRINTABLE): C0 controls
 * other than tab, LF and CR, DEL, C1 controls other than NEL. A NUL in a key, an escape sequence
 * typed raw, a binary file: upstream's launcher would not start on it, so neither loads here.
 */
const NON_PRINTABLE =
  // eslint-disable-next-line no-control-regex
  /[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** The longest message a diagnostic quotes from the file (a token can be megabytes of garbage). */
const MAX_MESSAGE = 300;

/** Line and column (1-based, in characters) of `offset` in `text`. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

export function parseYaml(
  text: string,
  file: string,
  dialect: YamlDialect = 'pyyaml',
): ParsedSource {
  const { version, reader, duplicates } = DIALECTS[dialect];
  const refused = refuseNonPrintable(text, file, reader);
  if (refused) return refused;
  const lines = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const index = new Map<string, SourceLoc>();
  const at = (offset: number): SourceLoc => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const locate = locator(file, index);

  const doc = parseDocument(text, {
    lineCounter: lines,
    version,
    merge: true,
    uniqueKeys: false,
    prettyErrors: false,
    keepSourceTokens: false,
  });
  for (const error of doc.errors) {
    diagnostics.push({
      severity: 'error',
      code: 'yaml-syntax',
      message: `YAML syntax error: ${firstLine(error.message)}`,
      loc: at(error.pos[0]),
    });
  }
  if (diagnostics.length > 0) return { file, data: undefined, diagnostics, locate };

  indexKeys(doc.contents, index, diagnostics, at, locate, duplicates);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    diagnostics.push(buildError(error, file));
    return { file, data: undefined, diagnostics, locate };
  }
  return { file, data, diagnostics, locate, index };
}

/** The file refused, at its first non-printable character; undefined when it has none. */
function refuseNonPrintable(text: string, file: string, reader: string): ParsedSource | undefined {
  const bad = NON_PRINTABLE.exec(text);
  if (!bad) return undefined;
  const code = bad[0].codePointAt(0)!;
  const loc = { file, ...lineCol(text, bad.index) };
  return {
    file,
    data: undefined,
    diagnostics: [
      {
        severity: 'error',
        code: 'yaml-special-character',
        message: `unacceptable character #x${code.toString(16).padStart(4, '0')}: special characters are not allowed (${reader} refuses the file; a double-quoted string may write it as an escape such as "\\x${code.toString(16).padStart(2, '0')}")`,
        loc,
      },
    ],
    locate: () => loc,
  };
}

/**
 * Every key's and item's location into `index`, in one walk of the parsed tree; duplicate keys
 * as warnings (`duplicates` says what they mean in the dialect). Aliases are not followed.
 */
function indexKeys(
  root: unknown,
  index: Map<string, SourceLoc>,
  diagnostics: Diagnostic[],
  at: (offset: number) => SourceLoc,
  locate: ParsedSource['locate'],
  duplicates: string,
): void {
  const walk = (node: unknown, path: PathPart[]): void => {
    if (isAlias(node)) return; // never expand aliases here: that is what alias bombs exploit
    if (isMap(node)) {
      const seen = new Map<string, SourceLoc>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined || key === '<<') continue;
        const keyNode = pair.key as YamlNode;
        const loc = keyNode.range ? at(keyNode.range[0]) : locate(path);
        const first = seen.get(key);
        const childPath = [...path, key];
        if (first) {
          diagnostics.push({
            severity: 'warning',
            code: 'duplicate-key',
            message: `duplicate key "${key}" in ${pathKey(path) || 'the top level'}: ${duplicates}, the one at line ${first.line} is ignored`,
            loc,
            related: first,
            path: pathKey(childPath),
          });
        }
        seen.set(key, loc);
        index.set(pathKey(childPath), loc);
        walk(pair.value, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const range = (item as YamlNode | null)?.range;
        if (range) index.set(pathKey([...path, i]), at(range[0]));
        walk(item, [...path, i]);
      });
    }
  };
  walk(root, []);
}

/** Why the document could not become plain data: an alias bomb, or whatever yaml threw. */
function buildError(error: unknown, file: string): Diagnostic {
  const bomb = error instanceof ReferenceError && /alias/i.test(error.message);
  return {
    severity: 'error',
    code: bomb ? 'yaml-alias-bomb' : 'yaml-build',
    message: bomb
      ? `refused: more than ${MAX_ALIAS_COUNT} alias expansions (an alias bomb); nothing was loaded`
      : `could not build the document: ${firstLine(String((error as Error).message ?? error))}`,
    loc: { file, line: 1, col: 1 },
  };
}

function firstLine(message: string): string {
  const line = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}…` : line;
}
