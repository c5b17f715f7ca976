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
    const language = await Language.load(
      require.resolve('tree-sitter-python/tree-sitter-python.wasm'),
    );
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
    const root = new Copier(tree.language, text).copy(cursor, null);
    cursor.delete();
    const mod: PyModule = { file, text, root };
    const error = tree.rootNode.hasError ? firstError(tree.rootNode) : emptyBlock(root);
    if (error) mod.syntaxError = error;
    return mod;
  } finally {
    tree.delete();
  }
}

/**
 * Copies the wasm tree with as few calls into wasm as it can: every cursor read crosses the
 * boundary, so the type comes from its id (names and "is it kept" cached per id) and line:col
 * from the start offset, not from separate reads. This is most of lint's time on big trees.
 */
class Copier {
  private readonly lineStarts: number[] = [0];
  private readonly keep: (boolean | undefined)[] = [];

  constructor(
    private readonly language: Language,
    private readonly text: string,
  ) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1))
      this.lineStarts.push(i + 1);
  }

  private kept(typeId: number, type: string): boolean {
    let k = this.keep[typeId];
    if (k === undefined) {
      k = this.language.nodeTypeIsNamed(typeId) || KEYWORDS.has(type);
      this.keep[typeId] = k;
    }
    return k;
  }

  private position(offset: number): { line: number; col: number } {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  }

  copy(cursor: TreeCursor, parent: PyNode | null): PyNode {
    const typeId = cursor.nodeTypeId;
    const from = cursor.startIndex;
    const { line, col } = this.position(from);
    const node: PyNode = {
      type: this.language.types[typeId] ?? 'ERROR',
      field: parent ? (this.language.fields[cursor.currentFieldId] ?? null) : null,
      from,
      to: cursor.endIndex,
      line,
      col,
      children: [],
      parent,
    };
    // A plain string's pieces (quotes, content, escapes) are a third of a module's nodes and
    // say nothing the string's own text does not; only f-strings hold code worth keeping.
    if (node.type === 'string' && !/^[a-eg-z]*f/i.test(this.text.slice(from, from + 3)))
      return node;
    if (cursor.gotoFirstChild()) {
      do {
        const id = cursor.nodeTypeId;
        if (this.kept(id, this.language.types[id] ?? 'ERROR'))
          node.children.push(this.copy(cursor, node));
      } while (cursor.gotoNextSibling());
      cursor.gotoParent();
    }
    return node;
  }
}

function firstError(root: Node): PySyntaxError | undefined {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.isMissing) {
      return {
        line: n.startPosition.row + 1,
        col: n.startPosition.column + 1,
        message: `syntax error: missing "${n.type}"`,
      };
    }
    if (n.isError) {
      const snippet = n.text.split('\n')[0]!.slice(0, 40);
      return {
        line: n.startPosition.row + 1,
        col: n.startPosition.column + 1,
        message: `syntax error near "${snippet}"`,
      };
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
      return {
        line: owner.line,
        col: owner.col,
        message: 'syntax error: expected an indented block',
      };
    }
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return undefined;
}
