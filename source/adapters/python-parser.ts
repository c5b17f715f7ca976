// Loads tree-sitter's Python grammar (WebAssembly, from npm) once and turns source text into the
// plain PyNode tree the lint rules walk. The wasm tree is freed right after the copy, so memory
// stays flat over thousands of files.
import { createRequire } from 'node:module';
import { Language, Parser, type Node, type TreeCursor } from 'web-tree-sitter';
import type { PyModule, PyNode, PySyntaxError } from '../core/lint/py-syntax.js';

let ready: Promise<Parser> | undefined;

/** The one parser of the process; the wasm runtime and grammar load on first use. */
export function pythonParser(): Promise<Parser> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    await Parser.init();
    const language = await Language.load(require.resolve('tree-sitter-python/tree-sitter-python.wasm'));
    return new Parser().setLanguage(language);
  })();
  return ready;
}

// Operator keywords carry meaning (`port is None`); punctuation and statement keywords do not.
const KEYWORDS = new Set(['is', 'is not', 'not', 'in', 'not in', 'and', 'or', 'async']);

export function parsePython(parser: Parser, file: string, text: string): PyModule {
  const tree = parser.parse(text);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${file}`);
  try {
    const cursor = tree.walk();
    const root = copy(cursor, null);
    cursor.delete();
    const mod: PyModule = { file, text, root };
    const error = tree.rootNode.hasError ? firstError(tree.rootNode) : emptyBlock(root);
    if (error) mod.syntaxError = error;
    return mod;
  } finally {
    tree.delete();
  }
}

function copy(cursor: TreeCursor, parent: PyNode | null): PyNode {
  const start = cursor.startPosition;
  const node: PyNode = {
    type: cursor.nodeType,
    field: cursor.currentFieldName,
    from: cursor.startIndex,
    to: cursor.endIndex,
    line: start.row + 1,
    col: start.column + 1,
    children: [],
    parent,
  };
  if (cursor.gotoFirstChild()) {
    do {
      if (cursor.nodeIsNamed || KEYWORDS.has(cursor.nodeType)) node.children.push(copy(cursor, node));
    } while (cursor.gotoNextSibling());
    cursor.gotoParent();
  }
  return node;
}

function firstError(root: Node): PySyntaxError | undefined {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.isMissing) {
      return { line: n.startPosition.row + 1, col: n.startPosition.column + 1, message: `syntax error: missing "${n.type}"` };
    }
    if (n.isError) {
      const snippet = n.text.split('\n')[0]!.slice(0, 40);
      return { line: n.startPosition.row + 1, col: n.startPosition.column + 1, message: `syntax error near "${snippet}"` };
    }
    if (!n.hasError) continue;
    const kids = n.children.filter((c): c is Node => c !== null);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  return { line: 1, col: 1, message: 'syntax error' };
}

// tree-sitter accepts `if x:` followed by only a comment; CPython refuses it with IndentationError.
function emptyBlock(root: PyNode): PySyntaxError | undefined {
  const stack: PyNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.type === 'block' && n.children.every((c) => c.type === 'comment')) {
      const owner = n.parent ?? n;
      return { line: owner.line, col: owner.col, message: 'syntax error: expected an indented block' };
    }
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return undefined;
}
