// One pass over a module that the Python rules share: calls, assignments, scopes. Names are
// resolved the way the rules need them, and no further: `self.x` belongs to its class, a plain
// name to its function (or the module).
import { child, textOf, type PyModule, type PyNode } from './py-syntax.js';

export interface PyCall {
  node: PyNode;
  /** `self.socket.recv_json` -> receiver `self.socket`, method `recv_json`; `Thread(...)` -> method `Thread`. */
  receiver?: PyNode;
  method: string;
  args: PyNode[];
  kwargs: Map<string, PyNode>;
}

export interface PyAssign {
  node: PyNode;
  target: PyNode;
  value: PyNode;
}

export interface PyIndex {
  mod: PyModule;
  calls: PyCall[];
  assigns: PyAssign[];
  classes: PyNode[];
  functions: PyNode[];
}

const SCOPES = new Set(['function_definition', 'class_definition', 'lambda']);

export function indexModule(mod: PyModule): PyIndex {
  const index: PyIndex = { mod, calls: [], assigns: [], classes: [], functions: [] };
  const stack: PyNode[] = [mod.root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    switch (n.type) {
      case 'call':
        index.calls.push(toCall(mod, n));
        break;
      case 'assignment': {
        const target = child(n, 'left');
        const value = child(n, 'right');
        if (target && value) index.assigns.push({ node: n, target, value });
        break;
      }
      case 'class_definition':
        index.classes.push(n);
        break;
      case 'function_definition':
        index.functions.push(n);
        break;
    }
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return index;
}

function toCall(mod: PyModule, node: PyNode): PyCall {
  const fn = child(node, 'function');
  const argList = child(node, 'arguments');
  const args: PyNode[] = [];
  const kwargs = new Map<string, PyNode>();
  for (const a of argList?.children ?? []) {
    if (a.type === 'keyword_argument') {
      const name = child(a, 'name');
      const value = child(a, 'value');
      if (name && value) kwargs.set(textOf(mod, name), value);
    } else if (a.type !== 'comment') {
      args.push(a);
    }
  }
  if (fn?.type === 'attribute') {
    const attr = child(fn, 'attribute');
    return {
      node,
      receiver: child(fn, 'object'),
      method: attr ? textOf(mod, attr) : '',
      args,
      kwargs,
    };
  }
  return { node, method: fn ? textOf(mod, fn) : '', args, kwargs };
}

/** The innermost function, class or lambda around `node`. */
export function scopeOf(node: PyNode): PyNode | undefined {
  for (let p = node.parent; p; p = p.parent) if (SCOPES.has(p.type)) return p;
  return undefined;
}

export function enclosingFunction(node: PyNode): PyNode | undefined {
  for (let p = node.parent; p; p = p.parent) if (p.type === 'function_definition') return p;
  return undefined;
}

/** The class a method (or a function nested in a method) belongs to. */
export function enclosingClass(node: PyNode): PyNode | undefined {
  for (let p = node.parent; p; p = p.parent) if (p.type === 'class_definition') return p;
  return undefined;
}

export const nameOf = (mod: PyModule, def: PyNode): string => {
  const name = child(def, 'name');
  return name ? textOf(mod, name) : '';
};

/** Methods of a class by name (direct children of its body). */
export function methodsOf(mod: PyModule, cls: PyNode): Map<string, PyNode> {
  const out = new Map<string, PyNode>();
  const body = child(cls, 'body');
  for (const item of body?.children ?? []) {
    const def = item.type === 'decorated_definition' ? child(item, 'definition') : item;
    if (def?.type === 'function_definition') out.set(nameOf(mod, def), def);
  }
  return out;
}

/**
 * A stable key for a variable as the rules follow it: `self.x` (any attribute chain on self)
 * is keyed by its class, a bare name by its function or the module. Anything else (subscripts,
 * calls) has no key: the rules cannot follow it and stay silent rather than guess.
 */
export function varKey(mod: PyModule, expr: PyNode | undefined): string | undefined {
  if (!expr) return undefined;
  if (expr.type === 'identifier') {
    const fn = enclosingFunction(expr);
    return `${fn ? `fn@${fn.from}` : 'module'}:${textOf(mod, expr)}`;
  }
  if (expr.type === 'attribute' && isSelfChain(mod, expr)) {
    const cls = enclosingClass(expr);
    return cls ? `class@${cls.from}:${textOf(mod, expr).replace(/\s+/g, '')}` : undefined;
  }
  return undefined;
}

function isSelfChain(mod: PyModule, expr: PyNode): boolean {
  let n: PyNode | undefined = expr;
  while (n?.type === 'attribute') n = child(n, 'object');
  return n?.type === 'identifier' && textOf(mod, n) === 'self';
}

/** Human name of a variable for messages. */
export const varLabel = (mod: PyModule, expr: PyNode): string =>
  textOf(mod, expr).replace(/\s+/g, '');

/** The last name of a dotted reference: `zmq.RCVTIMEO` -> `RCVTIMEO`, `REQ` -> `REQ`. */
export function lastName(mod: PyModule, node: PyNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'identifier') return textOf(mod, node);
  if (node.type === 'attribute') {
    const attr = child(node, 'attribute');
    return attr ? textOf(mod, attr) : undefined;
  }
  return undefined;
}

/** True when `inner` lies inside `outer` (or is it). */
export const within = (inner: PyNode, outer: PyNode): boolean =>
  inner.from >= outer.from && inner.to <= outer.to;
