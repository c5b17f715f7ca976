import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAsyncioThreads } from '../../source/core/lint/asyncio-threads.js';
import { brief, index, py } from './helpers.js';

const run = async (text: string) => checkAsyncioThreads(await index(text));

describe('asyncio-threads', () => {
  test('asyncio.run inside a Thread target method is a warning naming the thread', async () => {
    const findings = await run(py`
      import asyncio, threading
      class Agent:
          def start(self):
              self.t = threading.Thread(target=self._worker, daemon=True)
              self.t.start()
          def _worker(self):
              asyncio.run(self._main())
          async def _main(self):
              pass
    `);
    assert.deepEqual(brief(findings), ['7:asyncio-threads:warning']);
    assert.match(
      findings[0]!.message,
      /in thread target self\._worker \(thread started at line 4\)/,
    );
  });

  test('get_event_loop().run_until_complete in a thread is an error, also through a helper method', async () => {
    const findings = await run(py`
      import asyncio
      from threading import Thread
      class Agent:
          def __init__(self):
              Thread(target=self._loop).start()
          def _loop(self):
              while True:
                  self._tick()
          def _tick(self):
              asyncio.get_event_loop().run_until_complete(self.work())
    `);
    assert.deepEqual(brief(findings), ['10:asyncio-threads:error']);
  });

  test('a thread that makes and sets its own loop is fine', async () => {
    assert.deepEqual(
      await run(py`
        import asyncio, threading
        def worker():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(main())
            asyncio.get_event_loop().close()
        threading.Thread(target=worker).start()
      `),
      [],
    );
  });

  test('a loop made in __init__ and driven from the thread is an error; call_soon_threadsafe is the fix', async () => {
    const findings = await run(py`
      import asyncio, threading
      class Hub:
          def __init__(self):
              self.loop = asyncio.get_event_loop()
              threading.Thread(target=self._pump).start()
              threading.Thread(target=self.loop.run_forever).start()
          def _pump(self):
              self.loop.create_task(self.flush())
              self.loop.call_soon_threadsafe(self.flush)
              asyncio.run_coroutine_threadsafe(self.flush(), self.loop)
    `);
    assert.deepEqual(brief(findings), ['8:asyncio-threads:error']);
    assert.match(
      findings[0]!.message,
      /self\.loop\.create_task\(\) .* made on another thread \(line 4\)/,
    );
  });

  test('module functions, lambdas and Thread subclasses are followed; plain async code is not flagged', async () => {
    const findings = await run(py`
      import asyncio, threading
      def helper():
          asyncio.run(job())
      def spawn():
          threading.Thread(target=lambda: helper()).start()
      class Worker(threading.Thread):
          def run(self):
              asyncio.get_event_loop()
      async def main():
          loop = asyncio.get_event_loop()
          await loop.run_in_executor(None, print)
      if __name__ == "__main__":
          asyncio.run(main())
    `);
    assert.deepEqual(brief(findings), ['3:asyncio-threads:warning', '8:asyncio-threads:error']);
  });
});
