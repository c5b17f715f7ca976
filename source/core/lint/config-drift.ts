// Config drift: the port an agent's script really binds versus what the fleet config and the
// launcher give it. The launcher expands `${PORT_OFFSET}+N` and passes `--port <int>`
// (system_launcher.py) or sets AGENT_PORT (start_system_v2.py); BaseAgent takes only the
// `port=` keyword (positional arguments are ignored: it then binds the first free port >= 5000).
// A script that reads its port from the YAML instead gets the unexpanded string, or its
// fallback when the key is absent. Read statically, as far as plain Python allows, no further.
import type { Agent } from '../fleet/model.js';
import type { Finding } from './finding.js';
import {
  enclosingClass,
  enclosingFunction,
  lastName,
  methodsOf,
  nameOf,
  type PyCall,
  type PyIndex,
} from './py-index.js';
import {
  child,
  intValue,
  stringValue,
  textOf,
  walk,
  type PyModule,
  type PyNode,
} from './py-syntax.js';

type PortValue =
  | { kind: 'literal'; value: number }
  | { kind: 'launcher' }
  | { kind: 'config'; text: string; fallback?: number }
  | { kind: 'env'; name: string; fallback?: number }
  | { kind: 'string'; text: string }
  | { kind: 'none' }
  | { kind: 'unknown' };

const LAUNCHER_ENV = new Set(['AGENT_PORT']);

const UNKNOWN: PortValue = { kind: 'unknown' };

/**
 * A port expression's value inside one agent class's __init__, as far as plain Python allows:
 * literals, the launcher's --port / AGENT_PORT, config and env lookups with their fallbacks,
 * locals, module globals and the __init__ parameters as the script's __main__ passes them.
 */
class PortEvaluator {
  /** The __init__ parameters' values, as the script's own __main__ block supplies them. */
  readonly params = new Map<string, PortValue>();

  constructor(
    private readonly mod: PyModule,
    private readonly init: PyNode,
    private readonly moduleValues: Map<string, PyNode>,
  ) {}

  evaluate(expr: PyNode, at: PyNode, depth = 0): PortValue {
    if (depth > 8) return UNKNOWN;
    const mod = this.mod;
    switch (expr.type) {
      case 'integer':
      case 'unary_operator': {
        const v = intValue(mod, expr);
        return v === undefined ? UNKNOWN : { kind: 'literal', value: v };
      }
      case 'none':
        return { kind: 'none' };
      case 'string': {
        const s = stringValue(mod, expr);
        if (s === undefined) return UNKNOWN;
        if (/^\d+$/.test(s)) return { kind: 'literal', value: Number(s) };
        return /\$\{|\+/.test(s) ? { kind: 'string', text: s } : UNKNOWN;
      }
      case 'parenthesized_expression':
        return this.next(expr.children[0], at, depth);
      case 'identifier':
        return this.identifier(expr, at, depth);
      case 'attribute':
        // args.port, parsed.port: argparse results are the launcher's --port
        return lastName(mod, expr) === 'port' &&
          /args|parsed|opts|options/i.test(textOf(mod, child(expr, 'object')!))
          ? { kind: 'launcher' }
          : UNKNOWN;
      case 'conditional_expression':
        return this.conditional(expr, at, depth);
      case 'boolean_operator':
        return this.orElse(expr, at, depth);
      case 'subscript':
        return this.subscript(expr);
      case 'call':
        return this.call(expr, at, depth);
    }
    return UNKNOWN;
  }

  /** Whether a condition holds, when that is known statically (`x is None`, `not x`, `x`). */
  truthOf(cond: PyNode): boolean | undefined {
    if (cond.type === 'comparison_operator') {
      const [left, right] = cond.children.filter((c) => c.type !== 'is' && c.type !== 'is not');
      const negated = cond.children.some((c) => c.type === 'is not');
      if (
        !cond.children.some((c) => c.type === 'is' || c.type === 'is not') ||
        right?.type !== 'none' ||
        !left
      )
        return undefined;
      const v = this.evaluate(left, cond);
      if (v.kind === 'unknown') return undefined;
      return (v.kind === 'none') !== negated;
    }
    if (cond.type === 'not_operator') {
      const inner = this.truthOf(child(cond, 'argument')!);
      return inner === undefined ? undefined : !inner;
    }
    const v = this.evaluate(cond, cond);
    if (v.kind === 'none') return false;
    if (v.kind === 'literal') return v.value !== 0;
    return undefined;
  }

  private next(e: PyNode | undefined, at: PyNode, depth: number): PortValue {
    return e ? this.evaluate(e, at, depth + 1) : UNKNOWN;
  }

  /** A parameter, else the last local assignment before `at`, else a module global. */
  private identifier(expr: PyNode, at: PyNode, depth: number): PortValue {
    const name = textOf(this.mod, expr);
    if (this.params.has(name)) return this.params.get(name)!;
    const local = lastLocal(this.mod, this.init, name, at);
    if (local) return this.next(local, at, depth);
    const global = this.moduleValues.get(name);
    return global ? this.next(global, at, depth) : UNKNOWN;
  }

  /** `a if cond else b`, when cond is known. */
  private conditional(expr: PyNode, at: PyNode, depth: number): PortValue {
    const [yes, cond, no] = expr.children.filter((c) => c.type !== 'if' && c.type !== 'else');
    const truth = cond ? this.truthOf(cond) : undefined;
    if (truth === true) return this.next(yes, at, depth);
    if (truth === false) return this.next(no, at, depth);
    return UNKNOWN;
  }

  /** `a or b`: a lookup with a literal fallback, or b when a is None. */
  private orElse(expr: PyNode, at: PyNode, depth: number): PortValue {
    const left = this.next(child(expr, 'left'), at, depth);
    const right = this.next(child(expr, 'right'), at, depth);
    if (!expr.children.some((c) => c.type === 'or')) return UNKNOWN;
    if (left.kind === 'none') return right;
    if ((left.kind === 'config' || left.kind === 'env') && right.kind === 'literal')
      return { ...left, fallback: right.value };
    return left;
  }

  /** `os.environ["X"]`, `config["port"]`. */
  private subscript(expr: PyNode): PortValue {
    const mod = this.mod;
    const key = stringValue(mod, child(expr, 'subscript'));
    const obj = child(expr, 'value');
    if (key === undefined || !obj) return UNKNOWN;
    if (/environ/.test(textOf(mod, obj)))
      return LAUNCHER_ENV.has(key) ? { kind: 'launcher' } : { kind: 'env', name: key };
    return key === 'port' ? { kind: 'config', text: textOf(mod, expr) } : UNKNOWN;
  }

  /** `int(x)`, `parse_agent_args()`, `os.getenv("X", d)`, `config.get("port", d)`. */
  private call(expr: PyNode, at: PyNode, depth: number): PortValue {
    const mod = this.mod;
    const fn = child(expr, 'function');
    const args = (child(expr, 'arguments')?.children ?? []).filter(
      (c) => c.type !== 'comment' && c.type !== 'keyword_argument',
    );
    const name = lastName(mod, fn);
    if (name === 'int' && fn?.type === 'identifier') return this.next(args[0], at, depth);
    if (name === 'parse_agent_args') return { kind: 'launcher' };
    const key = stringValue(mod, args[0]);
    if ((name !== 'get' && name !== 'getenv') || key === undefined) return UNKNOWN;
    const fallback = args[1] ? this.next(args[1], at, depth) : undefined;
    const fb = fallback?.kind === 'literal' ? { fallback: fallback.value } : {};
    const receiver = fn?.type === 'attribute' ? textOf(mod, child(fn, 'object')!) : '';
    if (name === 'getenv' || /environ/.test(receiver))
      return LAUNCHER_ENV.has(key) ? { kind: 'launcher' } : { kind: 'env', name: key, ...fb };
    if (key === 'port') return { kind: 'config', text: textOf(mod, expr), ...fb };
    return UNKNOWN;
  }
}

type Add = (node: PyNode, severity: Finding['severity'], message: string, hint: string) => void;

/** The verdict on the value an agent class passes as BaseAgent's port=. */
function judgePort(
  value: PortValue,
  at: PyNode,
  className: string,
  agents: readonly Agent[],
  readsLauncher: boolean,
  add: Add,
): void {
  if (value.kind === 'string') {
    add(
      at,
      'error',
      `${className} passes the string "${value.text}" as port=: only the launcher expands \${PORT_OFFSET}+N; BaseAgent needs an int`,
      'take the port the launcher passes (--port N, or AGENT_PORT) instead of the raw config expression',
    );
  } else if (value.kind === 'config' && !readsLauncher) {
    add(
      at,
      'warning',
      `${className} takes its port from ${value.text}, and the script never reads the launcher's --port or AGENT_PORT: in the startup config that key holds a "\${PORT_OFFSET}+N" string only the launcher expands${value.fallback !== undefined ? `, and without the key it binds ${value.fallback}` : ''}${drift(agents, value.fallback)}`,
      'read the port the launcher gives: parse_agent_args().port (or argparse --port / os.environ["AGENT_PORT"]), falling back to the config only when run by hand',
    );
  } else if (value.kind === 'literal' || (value.kind === 'env' && value.fallback !== undefined)) {
    const bound = value.kind === 'literal' ? value.value : value.fallback!;
    const text = drift(agents, bound);
    if (text)
      add(
        at,
        'warning',
        `${className} binds ${bound}${value.kind === 'env' ? ` unless ${value.name} is set (the launcher sets only --port / AGENT_PORT)` : ''}${text}`,
        "pass the launcher's port through (--port / AGENT_PORT), or make the config and the code agree",
      );
  }
}

/** One BaseAgent subclass: where its super().__init__ gets the port from, and the verdict. */
function checkClass(
  index: PyIndex,
  cls: PyNode,
  agents: readonly Agent[],
  context: { readsLauncher: boolean; moduleValues: Map<string, PyNode>; add: Add },
): void {
  const { mod } = index;
  const init = methodsOf(mod, cls).get('__init__');
  if (!init) return;
  const isBaseAgent =
    child(cls, 'superclasses')?.children.some((s) => lastName(mod, s) === 'BaseAgent') ?? false;
  const superCall = index.calls.find(
    (c) => isSuperInit(mod, c) && enclosingFunction(c.node) === init,
  );
  if (!superCall || !isBaseAgent) return;
  const className = nameOf(mod, cls);
  const built = construction(index, className);
  const portKw = superCall.kwargs.get('port');
  if (!portKw) {
    if (!built) return; // a base class others extend: its subclasses decide
    const positional = superCall.args.length > 0;
    context.add(
      superCall.node,
      'warning',
      `${className} calls BaseAgent's __init__ ${positional ? `with positional arguments (${superCall.args.map((a) => textOf(mod, a)).join(', ')}), which BaseAgent ignores` : 'without port='}: it binds the first free port >= 5000${drift(agents, undefined)}`,
      'pass the port by keyword: super().__init__(name=..., port=port), with port taken from the launcher (--port / AGENT_PORT)',
    );
    return;
  }
  const evaluator = new PortEvaluator(mod, init, context.moduleValues);
  const portParam = paramDefault(mod, init, 'port');
  if (portParam !== undefined) {
    const passed = built?.kwargs.get('port');
    evaluator.params.set(
      'port',
      passed
        ? evaluator.evaluate(passed, built!.node)
        : portParam === 'required'
          ? UNKNOWN
          : evaluator.evaluate(portParam, portParam),
    );
  }
  const value = evaluator.evaluate(portKw, superCall.node);
  judgePort(value, portKw, className, agents, context.readsLauncher, context.add);
}

export function checkConfigDrift(index: PyIndex, agents: readonly Agent[]): Finding[] {
  const { mod } = index;
  const findings: Finding[] = [];
  const add: Add = (node, severity, message, hint) =>
    findings.push({
      rule: 'config-drift',
      severity,
      file: mod.file,
      line: node.line,
      col: node.col,
      message,
      hint,
    });
  const context = {
    readsLauncher: readsLauncherPort(index),
    moduleValues: moduleAssignments(index),
    add,
  };
  for (const cls of index.classes) checkClass(index, cls, agents, context);
  findings.push(...literalBinds(index, agents));
  return findings;
}

/** `, but the config says 5709 for NLUAgent on mainpc` when the bound port differs. */
function drift(agents: readonly Agent[], bound: number | undefined): string {
  const differ = agents.filter((a) => a.port.value !== bound);
  if (differ.length === 0) return '';
  return `, but the config says ${differ.map((a) => `${a.port.value} for ${a.name} on ${a.machine}`).join(' and ')}`;
}

function isSuperInit(mod: PyModule, c: PyCall): boolean {
  if (c.method !== '__init__' || !c.receiver) return false;
  const r = c.receiver;
  return (
    (r.type === 'call' && textOf(mod, child(r, 'function')!) === 'super') ||
    textOf(mod, r) === 'BaseAgent'
  );
}

/** The `C(...)` call in the script's `if __name__ == "__main__":` block, if any. */
function construction(index: PyIndex, className: string): PyCall | undefined {
  const main = index.mod.root.children.find(
    (n) =>
      n.type === 'if_statement' &&
      /__name__\s*==\s*['"]__main__['"]/.test(textOf(index.mod, child(n, 'condition') ?? n)),
  );
  if (!main) return undefined;
  return index.calls.find(
    (c) =>
      !c.receiver && c.method === className && c.node.from >= main.from && c.node.to <= main.to,
  );
}

/** The default of parameter `name` (its expression node), `required` without one, undefined when absent. */
function paramDefault(mod: PyModule, fn: PyNode, name: string): PyNode | 'required' | undefined {
  const params = child(fn, 'parameters');
  for (const p of params?.children ?? []) {
    if (
      (p.type === 'default_parameter' || p.type === 'typed_default_parameter') &&
      textOf(mod, child(p, 'name')!) === name
    ) {
      return child(p, 'value') ?? 'required';
    }
    if (
      (p.type === 'identifier' || p.type === 'typed_parameter') &&
      textOf(mod, p).split(':')[0]!.trim() === name
    )
      return 'required';
  }
  return undefined;
}

/** The value last assigned to `name` in `fn` before `at` (straight-line reading). */
function lastLocal(mod: PyModule, fn: PyNode, name: string, at: PyNode): PyNode | undefined {
  let found: PyNode | undefined;
  walk(fn, (n) => {
    if (n !== fn && (n.type === 'function_definition' || n.type === 'class_definition'))
      return false;
    if (n.type === 'assignment' && n.to <= at.from) {
      const left = child(n, 'left');
      if (left?.type === 'identifier' && textOf(mod, left) === name) found = child(n, 'right');
    }
  });
  return found;
}

function moduleAssignments(index: PyIndex): Map<string, PyNode> {
  const out = new Map<string, PyNode>();
  for (const a of index.assigns) {
    if (enclosingFunction(a.node) || enclosingClass(a.node) || a.target.type !== 'identifier')
      continue;
    out.set(textOf(index.mod, a.target), a.value);
  }
  return out;
}

function readsLauncherPort(index: PyIndex): boolean {
  const { mod } = index;
  for (const c of index.calls) {
    if (c.method === 'parse_agent_args') return true;
    if (c.method === 'add_argument' && c.args.some((a) => stringValue(mod, a) === '--port'))
      return true;
  }
  let hit = false;
  walk(mod.root, (n) => {
    if (hit) return false;
    if (n.type === 'attribute' && textOf(mod, n) === 'sys.argv') hit = true;
    if (n.type === 'string' && LAUNCHER_ENV.has(stringValue(mod, n) ?? '')) hit = true;
  });
  return hit;
}

/** `sock.bind("tcp://*:5709")` with a literal port that the config does not list for the agent. */
function literalBinds(index: PyIndex, agents: readonly Agent[]): Finding[] {
  const { mod } = index;
  if (agents.length === 0) return [];
  const out: Finding[] = [];
  for (const c of index.calls) {
    if (c.method !== 'bind' || !c.receiver || !c.args[0]) continue;
    const arg = c.args[0];
    const text = arg.type === 'string' ? textOf(mod, arg) : '';
    // literal digits after the last colon, in a plain or f-string with no interpolation there
    const m = /^[a-z]*["'][a-z]+:\/\/[^"']*:(\d+)["']$/i.exec(text);
    if (!m) continue;
    const port = Number(m[1]);
    for (const a of agents) {
      const known = new Set([
        a.port.value,
        a.healthPort.value,
        ...a.implicitPorts.map((p) => p.value),
      ]);
      if (known.has(port)) continue;
      out.push({
        rule: 'config-drift',
        severity: 'warning',
        file: mod.file,
        line: c.node.line,
        col: c.node.col,
        message: `${textOf(mod, c.receiver)}.bind() uses the fixed port ${port}, which the config does not give ${a.name} on ${a.machine} (port ${a.port.value}, health ${a.healthPort.value})`,
        hint: `bind the port from the config / launcher, or add it to ${a.name}'s config{} so the port registry sees it`,
      });
    }
  }
  return out;
}
