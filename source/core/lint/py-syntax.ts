// A Python syntax tree as plain data. The adapter builds it from tree-sitter's tree (the wasm
// load and parse are I/O-ish and live in source/adapters/python-parser.ts) and frees the wasm
// tree at once, so the rules here walk ordinary objects and never touch tree-sitter.

export interface PyNode {
  /** tree-sitter-python node type: `call`, `attribute`, `identifier`, ... or a keyword (`is`, `not`). */
  type: string;
  /** Field name in the parent (`function`, `arguments`, `left`, ...), if any. */
  field: string | null;
  /** Offsets into the module text (UTF-16 code units, as JS strings index). */
  from: number;
  to: number;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
  children: PyNode[];
  parent: PyNode | null;
}

export interface PySyntaxError {
  line: number;
  col: number;
  message: string;
}

export interface PyModule {
  /** Path as reported in findings. */
  file: string;
  text: string;
  root: PyNode;
  /** The first syntax error tree-sitter recovered from; the tree is still usable around it. */
  syntaxError?: PySyntaxError;
}

export const textOf = (mod: PyModule, node: PyNode): string => mod.text.slice(node.from, node.to);

export const child = (node: PyNode, field: string): PyNode | undefined =>
  node.children.find((c) => c.field === field);

export const childrenOf = (node: PyNode, field: string): PyNode[] =>
  node.children.filter((c) => c.field === field);

export const ofType = (node: PyNode, type: string): PyNode | undefined =>
  node.children.find((c) => c.type === type);

/** Depth-first, pre-order; `visit` returning false skips the node's subtree. */
export function walk(node: PyNode, visit: (n: PyNode) => boolean | void): void {
  const stack: PyNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (visit(n) === false) continue;
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
}

/** Nodes of the given types under `node`, in source order. */
export function collect(
  node: PyNode,
  types: ReadonlySet<string>,
  stopAt?: ReadonlySet<string>,
): PyNode[] {
  const out: PyNode[] = [];
  walk(node, (n) => {
    if (n !== node && stopAt?.has(n.type)) return false;
    if (types.has(n.type)) out.push(n);
  });
  return out;
}

export function ancestor(node: PyNode, types: ReadonlySet<string>): PyNode | undefined {
  for (let p = node.parent; p; p = p.parent) if (types.has(p.type)) return p;
  return undefined;
}

/**
 * The value of a plain string literal (quotes and prefix removed, escapes left as written);
 * undefined for f-strings with interpolations and for anything that is not one string token.
 * The adapter keeps no children for non-f strings, so this reads the token's own text.
 */
export function stringValue(mod: PyModule, node: PyNode | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  if (node.children.some((c) => c.type === 'interpolation')) return undefined;
  const raw = textOf(mod, node);
  const prefix = /^[a-zA-Z]*/.exec(raw)![0];
  const body = raw.slice(prefix.length);
  const quote =
    body.startsWith('"""') || body.startsWith("'''") ? body.slice(0, 3) : body.slice(0, 1);
  if (!quote || !body.endsWith(quote) || body.length < quote.length * 2) return undefined;
  return body.slice(quote.length, body.length - quote.length);
}

export function intValue(mod: PyModule, node: PyNode | undefined): number | undefined {
  if (!node) return undefined;
  if (node.type === 'integer') {
    const n = Number(textOf(mod, node).replace(/_/g, ''));
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (node.type === 'unary_operator' && textOf(mod, node).trim().startsWith('-')) {
    const inner = child(node, 'argument');
    const v = intValue(mod, inner);
    return v === undefined ? undefined : -v;
  }
  if (node.type === 'parenthesized_expression') return intValue(mod, node.children[0]);
  return undefined;
}
