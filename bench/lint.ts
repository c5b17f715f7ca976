// Benchmark (not a test): `opsdeck lint` over a generated 2,000-file Python tree plus the real
// compose files when ../shared is there. Target from issue 9: under 30 s on the dev machine.
// Run: node --import tsx bench/lint.ts [files] [workers]   (prints wall time, files/s, peak RSS;
// workers defaults to lint's own choice: one per core for big trees)
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLint } from '../source/adapters/lint-files.js';
import { loadFleet } from '../source/adapters/fleet-files.js';
import { RULE_IDS } from '../source/core/lint/finding.js';

const count = Number(process.argv[2] ?? 2000);
const workers = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const real = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../shared/fixtures/real');

// An agent module of ~220 lines in the fleet's style: BaseAgent subclass, ZMQ sockets, threads,
// helpers. Every tenth file carries each hazard so the rules have work to report.
function agent(i: number): string {
  const hazard = i % 10;
  const lines = [
    '#!/usr/bin/env python3',
    `"""Generated agent ${i} for the lint benchmark."""`,
    'import asyncio, json, logging, os, threading, time',
    'import zmq',
    'from common.core.base_agent import BaseAgent',
    'from main_pc_code.utils.config_loader import load_config',
    'config = load_config()',
    'logger = logging.getLogger(__name__)',
    `DEFAULT_PORT = ${5000 + (i % 900)}`,
    '',
    `class Agent${i}(BaseAgent):`,
    '    def __init__(self, port: int = None, name: str = None, **kwargs):',
    hazard === 1
      ? '        agent_port = int(config.get("port", DEFAULT_PORT)) if port is None else int(port)'
      : '        agent_port = port if port is not None else DEFAULT_PORT',
    `        super().__init__(port=agent_port, name=name or "Agent${i}")`,
    '        self.context = zmq.Context()',
    '        self.client = self.context.socket(zmq.REQ)',
    hazard === 2
      ? '        # no timeout on the client'
      : '        self.client.setsockopt(zmq.RCVTIMEO, 5000)',
    '        self.sub = self.context.socket(zmq.SUB)',
    '        self.poller = zmq.Poller()',
    '        self.poller.register(self.sub, zmq.POLLIN)',
    '        self.loop = asyncio.new_event_loop()',
    '        self.running = True',
    '        self.worker = threading.Thread(target=self._work, daemon=True)',
    '        self.worker.start()',
    '',
    '    def _work(self):',
    '        while self.running:',
    hazard === 3
      ? '            self.loop.run_until_complete(self._tick())'
      : '            asyncio.run_coroutine_threadsafe(self._tick(), self.loop)',
    '            time.sleep(1)',
    '',
    '    async def _tick(self):',
    '        await asyncio.sleep(0)',
    '',
    '    def request(self, payload):',
    '        self.client.send_json(payload)',
    '        try:',
    '            return self.client.recv_json()',
    '        except zmq.Again:',
    hazard === 4
      ? '            return None'
      : '            self._reset_client()\n            return None',
    '',
    '    def _reset_client(self):',
    '        self.client.setsockopt(zmq.LINGER, 0)',
    '        self.client.close()',
    '        self.client = self.context.socket(zmq.REQ)',
    '        self.client.setsockopt(zmq.RCVTIMEO, 5000)',
    '',
    '    def listen(self):',
    '        socks = dict(self.poller.poll(1000))',
    '        if self.sub in socks:',
    '            return self.sub.recv_multipart()',
    '        return None',
    '',
  ];
  // Bulk: ordinary request handling, like the fleet's long agent files.
  for (let k = 0; k < 16; k++) {
    lines.push(
      `    def handle_${k}(self, request: dict) -> dict:`,
      `        """Handles action_${k}."""`,
      '        action = request.get("action", "")',
      `        if action == "action_${k}":`,
      '            items = [x * 2 for x in range(10) if x % 3]',
      '            data = {"items": items, "count": len(items), "at": time.time()}',
      '            logger.info("handled %s", json.dumps(data))',
      '            return {"status": "ok", "data": data}',
      '        elif action == "health_check":',
      '            return {"status": "ok", "uptime": time.time()}',
      '        return {"status": "error", "error": f"Unknown action: {action}"}',
      '',
    );
  }
  lines.push('if __name__ == "__main__":', `    agent = Agent${i}()`, '    agent.run()', '');
  return lines.join('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'opsdeck-lint-bench-'));
try {
  for (let i = 0; i < count; i++) {
    const sub = join(dir, 'agents', `group_${i % 40}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `agent_${i}.py`), agent(i));
  }
  let machines: ReturnType<typeof loadFleet>['machines'] = [];
  if (existsSync(real)) {
    for (const f of readdirSync(real).filter((f) => f.startsWith('docker-compose.')))
      copyFileSync(join(real, f), join(dir, f));
    machines = loadFleet(
      {
        mainpc: join(real, 'mainpc.startup_config.yaml'),
        pc2: join(real, 'pc2.startup_config.yaml'),
      },
      {},
    ).machines;
  }
  const start = performance.now();
  const run = await runLint({
    root: dir,
    cwd: dir,
    rules: new Set(RULE_IDS),
    machines,
    env: {},
    ...(workers ? { workers } : {}),
  });
  const seconds = (performance.now() - start) / 1000;
  const bySeverity = run.findings.reduce<Record<string, number>>(
    (acc, f) => ((acc[f.severity] = (acc[f.severity] ?? 0) + 1), acc),
    {},
  );
  console.log(
    `lint: ${run.files.python} Python files + ${run.files.compose} compose files in ${seconds.toFixed(2)} s ` +
      `(${(run.files.python / seconds).toFixed(0)} files/s), ${run.findings.length} findings ${JSON.stringify(bySeverity)}, ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB, ${workers ?? 'default'} workers; target < 30 s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
