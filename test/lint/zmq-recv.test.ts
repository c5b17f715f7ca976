import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZmqRecv } from '../../source/core/lint/zmq-recv.js';
import { brief, index, py } from './helpers.js';

const run = async (text: string) => checkZmqRecv(await index(text));

describe('zmq-recv-timeout', () => {
  test('a REQ client without RCVTIMEO is an error at the receive', async () => {
    const findings = await run(py`
      import zmq
      class Client:
          def __init__(self):
              self.context = zmq.Context()
              self.socket = self.context.socket(zmq.REQ)
              self.socket.connect("tcp://localhost:7220")
          def ask(self, msg):
              self.socket.send_json(msg)
              return self.socket.recv_json()
    `);
    assert.deepEqual(brief(findings), ['9:zmq-recv-timeout:error']);
    assert.match(
      findings[0]!.message,
      /self\.socket\.recv_json\(\) on a REQ socket \(created at line 5\)/,
    );
    assert.match(findings[0]!.hint, /RCVTIMEO/);
  });

  test('RCVTIMEO set in another method of the class guards the receive', async () => {
    assert.deepEqual(
      await run(py`
        import zmq
        class Agent:
            def _init_sockets(self):
                self.socket = self.context.socket(zmq.REP)
                self.socket.setsockopt(zmq.RCVTIMEO, 5000)
            def run(self):
                while True:
                    req = self.socket.recv_json()
      `),
      [],
    );
  });

  test('RCVTIMEO of -1 means forever and does not count; the attribute form counts', async () => {
    const findings = await run(py`
      import zmq
      def forever(ctx):
          s = ctx.socket(zmq.SUB)
          s.setsockopt(zmq.RCVTIMEO, -1)
          return s.recv_string()
      def attr(ctx):
          s = ctx.socket(zmq.SUB)
          s.RCVTIMEO = 1000
          return s.recv_string()
    `);
    assert.deepEqual(brief(findings), ['5:zmq-recv-timeout:warning']);
  });

  test('a Poller with a timeout guards; a Poller polled forever does not', async () => {
    const findings = await run(py`
      import zmq
      def guarded(ctx):
          sub = ctx.socket(zmq.SUB)
          poller = zmq.Poller()
          poller.register(sub, zmq.POLLIN)
          if dict(poller.poll(1000)).get(sub):
              return sub.recv_multipart()
      def unguarded(ctx):
          sub = ctx.socket(zmq.SUB)
          poller = zmq.Poller()
          poller.register(sub, zmq.POLLIN)
          events = dict(poller.poll())
          return sub.recv_multipart()
    `);
    assert.deepEqual(brief(findings), ['13:zmq-recv-timeout:warning']);
  });

  test('non-blocking flags, asyncio.wait_for and a context-wide RCVTIMEO are not flagged', async () => {
    assert.deepEqual(
      await run(py`
        import zmq, asyncio
        class H:
            def __init__(self):
                self.ctx = zmq.Context()
                self.ctx.setsockopt(zmq.RCVTIMEO, 2000)
                self.rep = self.ctx.socket(zmq.REP)
                self.pull = zmq.Context().socket(zmq.PULL)
            def once(self):
                self.rep.recv_json()
                self.pull.recv(zmq.NOBLOCK)
                self.pull.recv_string(flags=zmq.DONTWAIT)
            async def later(self, actx):
                s = actx.socket(zmq.DEALER)
                return await asyncio.wait_for(s.recv(), timeout=5)
      `),
      [],
    );
  });

  test('sockets the module does not create, and plain Python sockets, are left alone', async () => {
    assert.deepEqual(
      await run(py`
        import socket, zmq
        class Agent(BaseAgent):
            def run(self):
                msg = self.socket.recv_json()
        def tcp():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            return s.recv(1024)
        def given(sock):
            return sock.recv_json()
      `),
      [],
    );
  });

  test("upstream's pool helpers create typed sockets; their RCVTIMEO counts", async () => {
    const findings = await run(py`
      from common.pools.zmq_pool import get_req_socket, get_rep_socket
      class A:
          def init(self):
              self.socket = get_rep_socket(self.endpoint).socket
              self.socket.setsockopt(zmq.RCVTIMEO, 5000)
              self.client = get_req_socket("tcp://localhost:7200").socket
          def loop(self):
              self.socket.recv_json()
              return self.client.recv_json()
    `);
    assert.deepEqual(brief(findings), ['9:zmq-recv-timeout:error']);
  });

  test('a REQ socket kept after zmq.Again is an error at the handler; closing it in a helper is fine', async () => {
    const findings = await run(py`
      import zmq
      class Caller:
          def __init__(self):
              self.req = zmq.Context().socket(zmq.REQ)
              self.req.setsockopt(zmq.RCVTIMEO, 5000)
          def call(self, msg):
              self.req.send_json(msg)
              try:
                  return self.req.recv_json()
              except zmq.Again:
                  return None
          def call_safe(self, msg):
              self.req.send_json(msg)
              try:
                  return self.req.recv_json()
              except zmq.error.Again:
                  self._reset()
                  return None
          def _reset(self):
              self.req.close()
              self.req = zmq.Context().socket(zmq.REQ)
    `);
    assert.deepEqual(brief(findings), ['10:zmq-recv-timeout:error']);
    assert.match(
      findings[0]!.message,
      /REQ socket self\.req is reused after a receive timeout \(except zmq\.Again/,
    );
  });

  test('a local REQ socket: reused in a loop is flagged; returning out of the loop is not', async () => {
    const findings = await run(py`
      import zmq
      def retry(ctx, msgs):
          s = ctx.socket(zmq.REQ)
          s.RCVTIMEO = 1000
          for m in msgs:
              s.send_json(m)
              try:
                  print(s.recv_json())
              except Exception as e:
                  print("timeout", e)
      def once(ctx, m):
          s = ctx.socket(zmq.REQ)
          s.RCVTIMEO = 1000
          while True:
              s.send_json(m)
              try:
                  return s.recv_json()
              except zmq.Again:
                  return None
    `);
    assert.deepEqual(brief(findings), ['9:zmq-recv-timeout:error']);
  });
});
