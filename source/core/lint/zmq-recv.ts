// Plan blind spot: "AST scan for recv_json() without timeout". A blocking receive on a socket
// with no RCVTIMEO and no Poller timeout hangs its thread forever when the peer dies; a REQ
// socket that did time out is stuck in its state machine until it is closed and recreated
// (docs/architecture.md, "Known traps": Lazy Pirate).
import type { Finding } from './finding.js';
import {
  enclosingClass,
  enclosingFunction,
  lastName,
  methodsOf,
  varKey,
  varLabel,
  within,
  type PyCall,
  type PyIndex,
} from './py-index.js';
import { child, intValue, textOf, walk, type PyModule, type PyNode } from './py-syntax.js';

const SOCKET_TYPES = new Set([
  'REQ',
  'REP',
  'DEALER',
  'ROUTER',
  'PUB',
  'SUB',
  'XPUB',
  'XSUB',
  'PUSH',
  'PULL',
  'PAIR',
  'STREAM',
]);
const RECVS = new Set([
  'recv',
  'recv_json',
  'recv_string',
  'recv_multipart',
  'recv_pyobj',
  'recv_serialized',
]);
// Upstream's pool helpers (common/pools/zmq_pool.py) hand out sockets by type.
const POOL_HELPER = /^get_(req|rep|dealer|router|pub|sub|push|pull|pair)_socket$/;
// Exceptions a receive timeout surfaces as (zmq.Again subclasses ZMQError).
const TIMEOUT_CATCHES = new Set(['Again', 'ZMQError', 'Exception', 'BaseException']);
const CLIENT_TYPES = new Set(['REQ', 'DEALER']);

interface Socket {
  key: string;
  type: string;
  /** Key of the context it came from, when it came from a named context. */
  context?: string;
  node: PyNode;
}

export function checkZmqRecv(index: PyIndex): Finding[] {
  const { mod } = index;
  const sockets = socketsOf(index);
  const guarded = guardsOf(index);
  const findings: Finding[] = [];
  for (const c of index.calls) {
    if (!RECVS.has(c.method) || !c.receiver) continue;
    const key = varKey(mod, c.receiver);
    const sock = key ? sockets.get(key) : undefined;
    if (!sock) continue; // not a socket this module creates: cannot tell, so say nothing
    const label = varLabel(mod, c.receiver);
    if (!nonBlocking(mod, c) && !insideWaitFor(mod, c.node) && !guarded(sock))
      findings.push(unguardedRecv(mod, c, sock, label));
    if (sock.type === 'REQ') {
      const reuse = reusedAfterTimeout(index, c, sock, label);
      if (reuse) findings.push(reuse);
    }
  }
  return findings;
}

/** Whether an assignment sets RCVTIMEO as an attribute: `sock.RCVTIMEO = 5000` (pyzmq). */
const setsTimeoutAttr = (mod: PyModule, target: PyNode): boolean =>
  target.type === 'attribute' && lastName(mod, target)?.toUpperCase() === 'RCVTIMEO';

/** The sockets the module creates, by variable key: assigned, or bound by `with ... as s:`. */
function socketsOf(index: PyIndex): Map<string, Socket> {
  const { mod } = index;
  const sockets = new Map<string, Socket>();
  for (const a of index.assigns) {
    if (setsTimeoutAttr(mod, a.target)) continue;
    const key = varKey(mod, a.target);
    if (!key) continue;
    const made = creation(mod, a.value);
    if (made && !sockets.has(key)) sockets.set(key, { key, ...made, node: a.node });
  }
  // `with ctx.socket(zmq.REQ) as s:`
  walk(mod.root, (n) => {
    if (n.type !== 'as_pattern') return;
    const value = n.children[0];
    const alias = child(n, 'alias');
    const target = alias?.children[0];
    if (!value || !target) return;
    const made = creation(mod, value);
    const key = varKey(mod, target);
    if (made && key && !sockets.has(key)) sockets.set(key, { key, ...made, node: n });
  });
  return sockets;
}

/** The socket type (and context) a value creates: `ctx.socket(zmq.REQ)`, a pool helper. */
function creation(mod: PyModule, value: PyNode): { type: string; context?: string } | undefined {
  let v = value;
  // get_rep_socket(endpoint).socket: the pool wrapper's raw socket
  if (v.type === 'attribute' && lastName(mod, v) === 'socket') v = child(v, 'object') ?? v;
  if (v.type !== 'call') return undefined;
  const fn = child(v, 'function');
  const name = lastName(mod, fn);
  if (!name) return undefined;
  const pool = POOL_HELPER.exec(name);
  if (pool) return { type: pool[1]!.toUpperCase() };
  if (name !== 'socket' || fn?.type !== 'attribute') return undefined;
  const first = child(v, 'arguments')?.children.find((c) => c.type !== 'comment');
  const kind = lastName(mod, first);
  if (!kind || !SOCKET_TYPES.has(kind)) return undefined;
  const ctx = varKey(mod, child(fn, 'object'));
  return ctx ? { type: kind, context: ctx } : { type: kind };
}

/**
 * Whether a socket's receives are bounded: a finite RCVTIMEO on it or on its context, or a
 * Poller it is registered with that polls with a timeout.
 */
function guardsOf(index: PyIndex): (s: Socket) => boolean {
  const { mod } = index;
  const timeouts = new Map<string, boolean>(); // key -> has a finite RCVTIMEO
  const pollers = new Map<string, Set<string>>(); // socket key -> poller keys
  const timedPollers = new Set<string>();
  const finite = (value: PyNode | undefined): boolean => {
    const v = intValue(mod, value);
    return v === undefined || v >= 0; // a computed value is taken as a timeout; -1 means "forever"
  };
  for (const a of index.assigns) {
    if (!setsTimeoutAttr(mod, a.target)) continue;
    const owner = varKey(mod, child(a.target, 'object'));
    if (owner) timeouts.set(owner, finite(a.value));
  }
  for (const c of index.calls) {
    const key = varKey(mod, c.receiver);
    if (!key) continue;
    if (
      (c.method === 'setsockopt' || c.method === 'set') &&
      lastName(mod, c.args[0])?.toUpperCase() === 'RCVTIMEO'
    ) {
      timeouts.set(key, finite(c.args[1]));
    } else if (c.method === 'register') {
      const sock = varKey(mod, c.args[0]);
      if (sock) (pollers.get(sock) ?? pollers.set(sock, new Set()).get(sock)!).add(key);
    } else if (c.method === 'poll') {
      const timeout = c.args[0] ?? c.kwargs.get('timeout');
      if (timeout && timeout.type !== 'none' && intValue(mod, timeout) !== -1)
        timedPollers.add(key);
    }
  }
  return (s) =>
    timeouts.get(s.key) === true ||
    (s.context !== undefined && timeouts.get(s.context) === true) ||
    [...(pollers.get(s.key) ?? [])].some((p) => timedPollers.has(p));
}

function nonBlocking(mod: PyModule, c: PyCall): boolean {
  const flags = [...c.args, ...(c.kwargs.has('flags') ? [c.kwargs.get('flags')!] : [])];
  return flags.some((f) => /\b(NOBLOCK|DONTWAIT)\b/.test(textOf(mod, f)));
}

// await asyncio.wait_for(sock.recv(), timeout=...)
function insideWaitFor(mod: PyModule, node: PyNode): boolean {
  for (let p = node.parent; p && p.type !== 'function_definition'; p = p.parent) {
    if (p.type === 'call' && lastName(mod, child(p, 'function')) === 'wait_for') return true;
  }
  return false;
}

/** A blocking receive with no timeout: an error on a client socket (REQ, DEALER), else a warning */
function unguardedRecv(mod: PyModule, c: PyCall, sock: Socket, label: string): Finding {
  const client = CLIENT_TYPES.has(sock.type);
  return {
    rule: 'zmq-recv-timeout',
    severity: client ? 'error' : 'warning',
    file: mod.file,
    line: c.node.line,
    col: c.node.col,
    message: `${label}.${c.method}() on a ${sock.type} socket (created at line ${sock.node.line}) has no timeout: no RCVTIMEO is set and no Poller with a timeout guards it, so it ${client ? 'hangs forever when the peer is down' : 'blocks its thread forever if nothing arrives'}`,
    hint: `after creating the socket, set ${label}.setsockopt(zmq.RCVTIMEO, 5000) and LINGER 0, or poll it with a timeout before receiving${client ? '; on zmq.Again close and recreate it (Lazy Pirate)' : ''}`,
  };
}

/**
 * A REQ receive inside `try` whose timeout handler neither closes nor recreates the socket,
 * when the socket is used again: always for `self.x` (it outlives the call), for a local only
 * when the receive sits in a loop that began after the socket was made.
 */
function reusedAfterTimeout(
  index: PyIndex,
  recv: PyCall,
  sock: Socket,
  label: string,
): Finding | undefined {
  const { mod } = index;
  let tryNode: PyNode | undefined;
  for (let p = recv.node.parent; p && p.type !== 'function_definition'; p = p.parent) {
    if (p.type === 'try_statement' && child(p, 'body') && within(recv.node, child(p, 'body')!)) {
      tryNode = p;
      break;
    }
  }
  if (!tryNode) return undefined;
  const handler = tryNode.children.find((c) => c.type === 'except_clause' && catchesTimeout(c));
  if (!handler) return undefined;
  if (resets(handler)) return undefined;
  const isMember = sock.key.startsWith('class@');
  if (!isMember) {
    const loop = loopAround(tryNode);
    if (!loop || sock.node.from >= loop.from || leavesLoop(handler)) return undefined;
  }
  const caught = handler.children.find((c) => c.type !== 'block' && c.type !== 'comment');
  return {
    rule: 'zmq-recv-timeout',
    severity: 'error',
    file: mod.file,
    line: handler.line,
    col: handler.col,
    message: `REQ socket ${label} is reused after a receive timeout (${caught ? `except ${textOf(mod, caught)}` : 'bare except'} for the ${recv.method}() at line ${recv.node.line}) without being closed: a timed-out REQ socket stays stuck waiting for its reply, and the next send fails`,
    hint: `in the handler close ${label} (setsockopt(zmq.LINGER, 0); close()) and create a new socket before the next request (Lazy Pirate)`,
  };

  function catchesTimeout(clause: PyNode): boolean {
    const types = clause.children.filter((c) => c.type !== 'block' && c.type !== 'comment');
    if (types.length === 0) return true; // bare except
    let hit = false;
    walk(clause, (n) => {
      if (n.type === 'block') return false;
      if (n.type === 'as_pattern_target') return false;
      if (
        (n.type === 'identifier' || n.type === 'attribute') &&
        TIMEOUT_CATCHES.has(lastName(mod, n) ?? '')
      )
        hit = true;
    });
    return hit;
  }
  function resets(clause: PyNode): boolean {
    const cls = enclosingClass(recv.node);
    const methods = cls ? methodsOf(mod, cls) : new Map<string, PyNode>();
    const seen = new Set<PyNode>();
    const touches = (body: PyNode, depth: number): boolean => {
      let hit = false;
      walk(body, (n) => {
        if (hit) return false;
        if (n.type === 'assignment' && varKey(mod, child(n, 'left')) === sock.key) hit = true;
        if (n.type !== 'call') return;
        const fn = child(n, 'function');
        if (fn?.type !== 'attribute') return;
        const method = lastName(mod, fn);
        const obj = child(fn, 'object');
        if (method === 'close' && varKey(mod, obj) === sock.key) hit = true;
        // self._reset_socket(): a method of this class that closes or recreates the socket
        if (obj && textOf(mod, obj) === 'self' && method && depth < 3) {
          const def = methods.get(method);
          if (def && !seen.has(def)) {
            seen.add(def);
            if (touches(def, depth + 1)) hit = true;
          }
        }
      });
      return hit;
    };
    return touches(clause, 0);
  }
}

function loopAround(node: PyNode): PyNode | undefined {
  const fn = enclosingFunction(node);
  for (let p = node.parent; p && p !== fn; p = p.parent)
    if (p.type === 'while_statement' || p.type === 'for_statement') return p;
  return undefined;
}

function leavesLoop(handler: PyNode): boolean {
  let out = false;
  walk(handler, (n) => {
    if (
      n.type === 'function_definition' ||
      n.type === 'while_statement' ||
      n.type === 'for_statement'
    )
      return false;
    if (
      n.type === 'break_statement' ||
      n.type === 'return_statement' ||
      n.type === 'raise_statement'
    )
      out = true;
  });
  return out;
}
