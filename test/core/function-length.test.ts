// No function in source/ longer than one screen (LIMIT lines) unless a comment right above it
// says why, starting `Long:` (a flat switch, a table: places where a split would read worse).
// Every function counts: declarations, methods, constructors, accessors, function expressions
// and arrows, measured from the first line of the function to its closing brace. The comment
// may lead the function itself or the statement, property or member that holds it:
//
//     // Long: one case per message kind; split, each case would lose the shared locals.
//     function decode(...) { ... }
//
// KNOWN lists long functions in files other work owns, each with why; the test fails on any
// other, and on a KNOWN entry that is no longer long (delete it: the list only shrinks).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const SOURCE = resolve(import.meta.dirname, '../../source');
const LIMIT = 80;
const MARK = /\bLong:/;

/** `file:name` -> why it is still long without a comment. Empty: keep it so. */
const KNOWN: Record<string, string> = {};

export interface Long {
  file: string;
  name: string;
  line: number;
  length: number;
  commented: boolean;
}

const nameOf = (fn: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string => {
  if (fn.name) return fn.name.getText(sf);
  if (ts.isConstructorDeclaration(fn)) return 'constructor';
  const p = fn.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p)) && p.name)
    return p.name.getText(sf);
  return '<anonymous>';
};

/** The node whose leading comment speaks for a function: its statement, property or member. */
const holderOf = (fn: ts.Node): ts.Node => {
  let n = fn;
  while (
    n.parent &&
    !ts.isSourceFile(n.parent) &&
    !ts.isBlock(n.parent) &&
    !ts.isModuleBlock(n.parent) &&
    !ts.isClassLike(n.parent) &&
    !ts.isObjectLiteralExpression(n.parent) &&
    !ts.isCaseOrDefaultClause(n.parent)
  )
    n = n.parent;
  return n;
};

const marked = (node: ts.Node, text: string): boolean =>
  (ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []).some((c) =>
    MARK.test(text.slice(c.pos, c.end)),
  );

/** Every function over `limit` lines in one file's text. */
export function longFunctions(file: string, text: string, limit = LIMIT): Long[] {
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const found: Long[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const fn = n;
      const first = sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(fn.end).line;
      const length = last - first + 1;
      if (length > limit)
        found.push({
          file,
          name: nameOf(fn, sf),
          line: first + 1,
          length,
          commented: marked(fn, text) || marked(holderOf(fn), text),
        });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

const sourceFiles = (): string[] =>
  readdirSync(SOURCE, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => f.split('\\').join('/'))
    .sort();

describe('function length in source/', () => {
  const all = sourceFiles().flatMap((f) => longFunctions(f, readFileSync(join(SOURCE, f), 'utf8')));
  const show = (l: Long) => `${l.file}:${l.line} ${l.name} (${l.length} lines)`;

  test(`no function over ${LIMIT} lines without a \`Long:\` comment saying why`, () => {
    const listed = KNOWN;
    const bare = all.filter((l) => !l.commented && !(`${l.file}:${l.name}` in listed));
    assert.deepEqual(bare.map(show), [], 'split these, or say above each why it is long');
  });

  test('KNOWN only shrinks: every entry is still a long function', () => {
    const still = new Set(all.filter((l) => !l.commented).map((l) => `${l.file}:${l.name}`));
    const gone = Object.keys(KNOWN).filter((k) => !still.has(k));
    assert.deepEqual(gone, [], 'no longer long (or now commented): remove from KNOWN');
  });

  test('the checker finds long functions of every kind, and reads the comment (a check on it)', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  x(${i});`).join('\n');
    const text = [
      `function plain() {\n${body(4)}\n}`,
      `// Long: a table.\nexport function table() {\n${body(4)}\n}`,
      `/** Does things. */\nconst arrow = () => {\n${body(4)}\n};`,
      `// Long: kept whole.\nconst kept = async () => {\n${body(4)}\n};`,
      `class C {\n  method() {\n${body(4)}\n  }\n  // Long: a switch.\n  other() {\n${body(4)}\n  }\n}`,
      `program.action(async () => {\n${body(4)}\n});`,
      `const o = {\n  // Long: flat.\n  f: function () {\n${body(4)}\n  },\n};`,
      `function short() {\n  x();\n}`,
    ].join('\n');
    const found = longFunctions('a.ts', text, 5).map((l) => [l.name, l.commented, l.length]);
    assert.deepEqual(found, [
      ['plain', false, 6],
      ['table', true, 6],
      ['arrow', false, 6], // a doc comment without `Long:` does not count
      ['kept', true, 6],
      ['method', false, 6],
      ['other', true, 6],
      ['<anonymous>', false, 6],
      ['f', true, 6],
    ]);
  });

  test('it reads the files it should (a sanity check on the reader)', () => {
    assert.ok(sourceFiles().length > 150);
    assert.ok(longFunctions('x.tsx', 'const A = () => <b>{1}</b>;', 0).length === 1);
  });
});
