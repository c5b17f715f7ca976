// Plan: "AsyncIO Safety". An event loop belongs to one thread. Starting a second one inside a
// thread target (asyncio.run), asking a worker thread for "the" loop (get_event_loop raises
// there unless one was set), or driving a loop created elsewhere (run_until_complete,
// create_task, call_soon from the wrong thread) are the ways the fleet's agents break that.
import type { Finding } from './finding.js';
import {
  enclosingClass,
  enclosingFunction,
  lastName,
  methodsOf,
  nameOf,
  varKey,
  varLabel,
  within,
  type PyCall,
  type PyIndex,
} from './py-index.js';
import { child, textOf, type PyModule, type PyNode } from './py-syntax.js';

const LOOP_MAKERS = new Set(['get_event_loop', 'new_event_loop', 'get_running_loop']);
// Loop methods that must run on the loop's own thread (the *_threadsafe ones are the fix).
const LOOP_THREAD_BOUND = new Set([
  'run_until_complete',
  'run_forever',
  'create_task',
  'call_soon',
  'call_later',
  'call_at',
]);

interface Target {
  /** Function, lambda or Thread.run the thread runs. */
  body: PyNode;
  label: string;
  /** Where the thread is created. */
  start: PyNode;
}

export function checkAsyncioThreads(index: PyIndex): Finding[] {
  const { mod } = index;
  const moduleFns = new Map<string, PyNode>();
  for (const fn of index.functions)
    if (!enclosingFunction(fn) && !enclosingClass(fn)) moduleFns.set(nameOf(mod, fn), fn);

  // Where each loop variable is made: key -> assignment nodes.
  const loopsMade = new Map<string, PyNode[]>();
  for (const a of index.assigns) {
    if (a.value.type !== 'call' || !isAsyncio(mod, child(a.value, 'function'), LOOP_MAKERS))
      continue;
    const key = varKey(mod, a.target);
    if (key) (loopsMade.get(key) ?? loopsMade.set(key, []).get(key)!).push(a.node);
  }

  const findings: Finding[] = [];
  const reported = new Set<number>();
  for (const target of threadTargets(index, moduleFns)) {
    const reach = reachable(mod, target.body, moduleFns);
    const inReach = (n: PyNode) => reach.some((fn) => within(n, fn));
    const calls = index.calls.filter((c) => inReach(c.node));
    const setsLoop = calls.some((c) => c.method === 'set_event_loop');
    const where = `in thread target ${target.label} (thread started at line ${target.start.line})`;
    const add = (c: PyCall, severity: Finding['severity'], message: string, hint: string) => {
      if (reported.has(c.node.from)) return; // one finding per call, even if two threads reach it
      reported.add(c.node.from);
      findings.push({
        rule: 'asyncio-threads',
        severity,
        file: mod.file,
        line: c.node.line,
        col: c.node.col,
        message,
        hint,
      });
    };
    for (const c of calls) {
      const fn = child(c.node, 'function');
      if (c.method === 'run' && isAsyncio(mod, fn, new Set(['run']))) {
        add(
          c,
          'warning',
          `asyncio.run() ${where} starts a second event loop in that thread: futures, queues and locks made on the main loop cannot be awaited from it`,
          'run the coroutine on the main loop with asyncio.run_coroutine_threadsafe(coro, loop) from the thread, or make the worker a task instead of a thread',
        );
      } else if (c.method === 'get_event_loop' && isAsyncio(mod, fn, LOOP_MAKERS) && !setsLoop) {
        add(
          c,
          'error',
          `asyncio.get_event_loop() ${where}: outside the main thread it raises RuntimeError unless the thread set its own loop first`,
          'pass the main loop in and use asyncio.run_coroutine_threadsafe(coro, loop), or give the thread its own loop: loop = asyncio.new_event_loop(); asyncio.set_event_loop(loop)',
        );
      } else if (LOOP_THREAD_BOUND.has(c.method) && c.receiver) {
        const key = varKey(mod, c.receiver);
        const made = key ? loopsMade.get(key) : undefined;
        if (!made || made.some(inReach)) continue; // a loop the thread made itself is its own
        add(
          c,
          'error',
          `${varLabel(mod, c.receiver)}.${c.method}() ${where} drives an event loop made on another thread (line ${made[0]!.line}): event loops are not thread-safe${c.method === 'run_until_complete' ? ', and a loop already running raises "This event loop is already running"' : ''}`,
          `from the thread use asyncio.run_coroutine_threadsafe(coro, ${varLabel(mod, c.receiver)}) or ${varLabel(mod, c.receiver)}.call_soon_threadsafe(...)`,
        );
      }
    }
  }
  return findings;
}

function isAsyncio(mod: PyModule, fn: PyNode | undefined, names: ReadonlySet<string>): boolean {
  if (!fn) return false;
  if (fn.type === 'attribute') {
    const obj = child(fn, 'object');
    return (
      obj !== undefined && textOf(mod, obj) === 'asyncio' && names.has(lastName(mod, fn) ?? '')
    );
  }
  // `from asyncio import run` style: a bare name is taken as asyncio's only for these names
  return fn.type === 'identifier' && names.has(textOf(mod, fn)) && textOf(mod, fn) !== 'run';
}

function threadTargets(index: PyIndex, moduleFns: Map<string, PyNode>): Target[] {
  const { mod } = index;
  const out: Target[] = [];
  for (const c of index.calls) {
    if (c.method !== 'Thread') continue;
    const target = c.kwargs.get('target');
    if (!target) continue;
    const body = resolve(mod, target, c.node, moduleFns);
    if (body) out.push({ body, label: varLabel(mod, target).slice(0, 60), start: c.node });
  }
  // class Worker(threading.Thread): def run(self): ...
  for (const cls of index.classes) {
    const supers = child(cls, 'superclasses');
    if (!supers?.children.some((s) => lastName(mod, s) === 'Thread')) continue;
    const run = methodsOf(mod, cls).get('run');
    if (run) out.push({ body: run, label: `${nameOf(mod, cls)}.run`, start: cls });
  }
  return out;
}

/** The function or lambda a `target=` names: `self.work`, `work`, `lambda: ...`. */
function resolve(
  mod: PyModule,
  target: PyNode,
  at: PyNode,
  moduleFns: Map<string, PyNode>,
): PyNode | undefined {
  if (target.type === 'lambda') return target;
  if (target.type === 'attribute') {
    const obj = child(target, 'object');
    const cls = enclosingClass(at);
    if (obj && textOf(mod, obj) === 'self' && cls)
      return methodsOf(mod, cls).get(lastName(mod, target) ?? '');
    return undefined;
  }
  if (target.type === 'identifier') {
    const name = textOf(mod, target);
    // a def nested in the function that starts the thread, else a module-level function
    const fn = enclosingFunction(at);
    const nested =
      fn &&
      child(fn, 'body')?.children.find(
        (d) => d.type === 'function_definition' && nameOf(mod, d) === name,
      );
    return nested ?? moduleFns.get(name);
  }
  return undefined;
}

/** The target plus what it calls by `self.method()` or a module function name, three deep. */
function reachable(mod: PyModule, body: PyNode, moduleFns: Map<string, PyNode>): PyNode[] {
  const cls = enclosingClass(body);
  const methods = cls ? methodsOf(mod, cls) : new Map<string, PyNode>();
  const seen = new Set<PyNode>([body]);
  let frontier = [body];
  for (let depth = 0; depth < 3 && frontier.length > 0; depth++) {
    const next: PyNode[] = [];
    for (const fn of frontier) {
      const stack = [...fn.children];
      while (stack.length > 0) {
        const n = stack.pop()!;
        stack.push(...n.children);
        if (n.type !== 'call') continue;
        const callee = child(n, 'function');
        let def: PyNode | undefined;
        if (callee?.type === 'attribute' && textOf(mod, child(callee, 'object')!) === 'self')
          def = methods.get(lastName(mod, callee) ?? '');
        else if (callee?.type === 'identifier') def = moduleFns.get(textOf(mod, callee));
        if (def && !seen.has(def)) {
          seen.add(def);
          next.push(def);
        }
      }
    }
    frontier = next;
  }
  return [...seen];
}
