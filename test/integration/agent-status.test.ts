// `opsdeck agent` and `opsdeck status` as real processes against a real nats-server and sim.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import {
  findNatsServer,
  NATS_INSTALL_HINT,
  startNatsServer,
} from '../../source/adapters/nats-server.js';
import { GpuSampler } from '../../source/adapters/system-sampler.js';
import { realMachine, runAgent } from '../../source/agent/agent.js';
import { redact, splitServers } from '../../source/adapters/nats-link.js';
import { startSim } from '../../source/sim/sim.js';

const bin = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures/nvidia-smi/', import.meta.url));
const NATS_BIN = findNatsServer();
const skip = NATS_BIN ? false : `nats-server not installed: ${NATS_INSTALL_HINT}`;
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-agent-'));
const stops: Array<() => unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
  rmSync(dir, { recursive: true, force: true });
});

describe('GPU sampling through nvidia-smi', () => {
  test('parses what nvidia-smi prints (a recorded RTX 4090 behind a stand-in binary)', async () => {
    const fake = join(dir, 'nvidia-smi');
    writeFileSync(
      fake,
      `#!/bin/sh\ncase "$1" in --query-gpu*) cat '${fixtures}mainpc-gpu.csv';; *) cat '${fixtures}mainpc-apps.csv';; esac\n`,
    );
    chmodSync(fake, 0o755);
    const r = await new GpuSampler(fake).read();
    assert.equal(r.state, 'ok');
    assert.equal(r.state === 'ok' && r.gpus[0]!.usedMb, 18231);
    assert.equal(r.state === 'ok' && r.gpus[0]!.processes.length, 2);
  });

  test('no nvidia-smi means no GPU, not an error; a failing one is an error with its message', async () => {
    assert.deepEqual(await new GpuSampler(join(dir, 'missing-nvidia-smi')).read(), {
      state: 'absent',
    });
    const broken = join(dir, 'broken-smi');
    writeFileSync(broken, `#!/bin/sh\ncat '${fixtures}driver-fail.txt'\nexit 9\n`);
    chmodSync(broken, 0o755);
    const r = await new GpuSampler(broken).read();
    assert.equal(r.state, 'error');
    assert.match(r.state === 'error' ? r.reason : '', /NVIDIA-SMI has failed/);
    const slow = join(dir, 'slow-smi');
    writeFileSync(slow, '#!/bin/sh\nsleep 5\n');
    chmodSync(slow, 0o755);
    const started = Date.now();
    const t = await new GpuSampler(slow, 200).read();
    assert.equal(t.state, 'error');
    // The timeout (200 ms) against a 5 s hang: well under the hang, whatever the load.
    assert.ok(Date.now() - started < 4500, 'timeout honoured');
  });
});

describe('VRAM per agent from nvidia-smi', { skip }, () => {
  test("an agent's VRAM is its process's used_memory by pid; not running: 0; no GPU reading: absent", async () => {
    // A stand-in agent process (found by its script path, as upstream's are) and a stand-in
    // nvidia-smi whose compute-apps list that pid, with a recorded RTX 4090 row.
    mkdirSync(join(dir, 'vram/agents'), { recursive: true });
    writeFileSync(join(dir, 'vram/agents/vision_agent.py'), 'import time\ntime.sleep(120)\n');
    const py = spawn('python3', [join(dir, 'vram/agents/vision_agent.py')], { stdio: 'ignore' });
    stops.push(() => py.kill('SIGKILL'));
    const smi = join(dir, 'vram-smi');
    writeFileSync(
      smi,
      `#!/bin/sh\ncase "$1" in --query-gpu*) cat '${fixtures}mainpc-gpu.csv';; *) echo 'GPU-5f3c2b1e-8a4d-4c2e-9b1f-2d6e8c0a7f31, ${py.pid}, python3, 6144';; esac\n`,
    );
    chmodSync(smi, 0o755);
    const agents = [
      { name: 'VisionAgent', scriptPath: 'agents/vision_agent.py' },
      { name: 'IdleAgent', scriptPath: 'agents/idle_agent.py' },
    ];
    const server = await startNatsServer({ bin: NATS_BIN! });
    stops.push(() => server.stop());
    const nc = await connect({ servers: server.url });
    stops.push(() => nc.close());
    type Wire = { agents: Array<{ name: string; pid?: number; vramMb?: number }> };
    const next = async (machine: string, ok: (s: Wire) => boolean): Promise<Wire> => {
      for await (const m of nc.subscribe(`opsdeck.${machine}.resources`, { timeout: 30_000 })) {
        const s = JSON.parse(new TextDecoder().decode(m.data)) as Wire;
        if (ok(s)) return s;
      }
      throw new Error('no sample');
    };
    const withGpu = runAgent(nc, {
      machine: 'gpubox',
      intervalMs: 200,
      agents,
      source: realMachine('gpubox', new GpuSampler(smi)),
      log: () => undefined,
    });
    stops.push(() => withGpu.stop());
    const seen = await next('gpubox', (s) => s.agents.some((a) => a.pid === py.pid));
    assert.deepEqual(
      seen.agents.map((a) => [a.name, a.vramMb]),
      [
        ['VisionAgent', 6144],
        ['IdleAgent', 0],
      ],
    );
    const noGpu = runAgent(nc, {
      machine: 'cpubox',
      intervalMs: 200,
      agents,
      source: realMachine('cpubox', new GpuSampler(join(dir, 'no-nvidia-smi'))),
      log: () => undefined,
    });
    stops.push(() => noGpu.stop());
    const blind = await next('cpubox', (s) => s.agents.some((a) => a.pid === py.pid));
    assert.ok(
      blind.agents.every((a) => !('vramMb' in a)),
      'without a GPU reading no agent is said to hold 0 MB',
    );
  });
});

describe("VRAM of an agent's children", { skip }, () => {
  test('a child process that holds the VRAM (a model server the agent spawned) counts for the agent', async () => {
    // The stand-in agent starts a child and writes its pid; nvidia-smi lists only the child.
    mkdirSync(join(dir, 'vram2/agents'), { recursive: true });
    const pidFile = join(dir, 'vram2/child.pid');
    writeFileSync(
      join(dir, 'vram2/agents/model_agent.py'),
      `import subprocess, time\nc = subprocess.Popen(['sleep', '120'])\nopen(${JSON.stringify(pidFile)}, 'w').write(str(c.pid))\ntime.sleep(120)\n`,
    );
    const py = spawn('python3', [join(dir, 'vram2/agents/model_agent.py')], { stdio: 'ignore' });
    stops.push(() => py.kill('SIGKILL'));
    let child = NaN;
    for (let i = 0; i < 200 && !Number.isInteger(child); i++) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        child = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
      } catch {
        /* not written yet */
      }
    }
    assert.ok(Number.isInteger(child), 'the stand-in agent started its child');
    stops.push(() => process.kill(child, 'SIGKILL'));
    const smi = join(dir, 'vram2-smi');
    writeFileSync(
      smi,
      `#!/bin/sh\ncase "$1" in --query-gpu*) cat '${fixtures}mainpc-gpu.csv';; *) echo 'GPU-5f3c2b1e-8a4d-4c2e-9b1f-2d6e8c0a7f31, ${child}, llama-server, 7000';; esac\n`,
    );
    chmodSync(smi, 0o755);
    const server = await startNatsServer({ bin: NATS_BIN! });
    stops.push(() => server.stop());
    const nc = await connect({ servers: server.url });
    stops.push(() => nc.close());
    const agent = runAgent(nc, {
      machine: 'gpubox2',
      intervalMs: 200,
      agents: [{ name: 'ModelAgent', scriptPath: 'agents/model_agent.py' }],
      source: realMachine('gpubox2', new GpuSampler(smi)),
      log: () => undefined,
    });
    stops.push(() => agent.stop());
    type Wire = { agents: Array<{ name: string; pid?: number; vramMb?: number }> };
    for await (const m of nc.subscribe('opsdeck.gpubox2.resources', { timeout: 30_000 })) {
      const s = JSON.parse(new TextDecoder().decode(m.data)) as Wire;
      const a = s.agents.find((x) => x.pid === py.pid);
      if (!a) continue;
      assert.equal(a.vramMb, 7000, "the child's VRAM is the agent's");
      break;
    }
  });
});

describe('NATS URLs', () => {
  test('a cluster list is split; credentials never shown', () => {
    assert.deepEqual(splitServers('nats://a:4222, nats://b:4222,,'), [
      'nats://a:4222',
      'nats://b:4222',
    ]);
    assert.equal(redact('nats://opsdeck:s3cret@10.0.0.1:4222'), 'nats://10.0.0.1:4222');
    assert.equal(redact('tls://token@host:4222'), 'tls://host:4222');
  });
});

describe('opsdeck agent', { skip }, () => {
  test('publishes samples, answers status, refuses what it does not know, exits on SIGTERM', async () => {
    const server = await startNatsServer({ bin: NATS_BIN! });
    stops.push(() => server.stop());
    const nc = await connect({ servers: server.url });
    stops.push(() => nc.close());
    const samples = nc.subscribe('opsdeck.testbox.resources', { max: 2 });
    const child = spawn(
      process.execPath,
      [bin, 'agent', '--machine', 'testbox', '--nats', server.url, '--interval', '300ms'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    stops.push(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const got: Array<{ machine: string; cpuPct: number; ramTotalMb: number; source: string }> = [];
    for await (const m of samples) got.push(JSON.parse(new TextDecoder().decode(m.data)));
    assert.equal(got.length, 2);
    assert.equal(got[0]!.machine, 'testbox');
    assert.equal(got[0]!.source, 'agent');
    assert.ok(got[0]!.ramTotalMb > 0 && got[0]!.cpuPct >= 0);
    const status = JSON.parse(
      new TextDecoder().decode(
        (
          await nc.request(
            'opsdeck.testbox.control',
            new TextEncoder().encode('{"action":"status"}'),
            { timeout: 2000 },
          )
        ).data,
      ),
    );
    assert.equal(status.ok, true);
    assert.equal(status.sample.machine, 'testbox');
    const refused = JSON.parse(
      new TextDecoder().decode(
        (
          await nc.request(
            'opsdeck.testbox.control',
            new TextEncoder().encode('{"action":"reboot\\u001b[2J"}'),
            { timeout: 2000 },
          )
        ).data,
      ),
    );
    assert.equal(refused.ok, false);
    assert.match(
      refused.error,
      /unsupported action "reboot"; supported: status/,
      'the escape sequence is gone',
    );
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /NATS connected/);
    assert.match(stderr, /ready: answering opsdeck\.\w+\.control/);
    assert.doesNotMatch(stderr, /password|token/i);
  });

  test('bad input: no NATS, bad machine name', () => {
    const r = spawnSync(process.execPath, [bin, 'agent', '--machine', 'x'], {
      encoding: 'utf8',
      env: { ...process.env, NATS_SERVERS: '', NATS_URL: '' },
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no NATS server/);
    const bad = spawnSync(
      process.execPath,
      [bin, 'agent', '--machine', 'a b', '--nats', 'nats://127.0.0.1:1'],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 2);
  });
});

describe('opsdeck status --json', { skip }, () => {
  test('one snapshot of a running sim, schema opsdeck.status/2, then exits 0', async () => {
    const mainpc = join(dir, 'm.yaml');
    const pc2 = join(dir, 'p.yaml');
    writeFileSync(
      mainpc,
      'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17401, health_check_port: 18401}\n    Beta: {script_path: b.py, port: 17403, health_check_port: 18403}\n',
    );
    writeFileSync(
      pc2,
      'pc2_services:\n- {name: CentralErrorBus, script_path: services/central_error_bus/error_bus.py, port: 7150, health_check_port: 8150}\n- {name: Gamma, script_path: g.py, port: 7110, health_check_port: 8110}\nerror_bus_port: 7150\n',
    );
    const env = { MAINPC_IP: '127.0.0.31', PC2_IP: '127.0.0.32' };
    const fleet = loadFleet({ mainpc, pc2 }, env);
    const sim = await startSim({
      machines: fleet.machines,
      hosts: { mainpc: env.MAINPC_IP, pc2: env.PC2_IP },
      nats: { mode: 'own', bin: NATS_BIN! },
      controlPort: 0,
      errorRate: 20,
      // One PUB per machine on 7150, so background errors reach the console's SUBs on ZMQ.
      wiring: 'collector',
    });
    stops.push(() => sim.stop());
    await sim.control({ fault: 'kill', agent: 'Beta' });
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          bin,
          'status',
          '--mainpc',
          mainpc,
          '--pc2',
          pc2,
          '--nats',
          sim.natsUrl!,
          '--collect',
          '1500ms',
          '--timeout',
          '500ms',
        ],
        { env: { ...process.env, ...env } },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.once('exit', (code) => resolve({ code, out, err }));
    });
    // An agent is down: the snapshot is printed whole, and the exit says something is wrong.
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /opsdeck status: 1 agent not healthy: mainpc\/Beta \(unreachable\)/);
    const doc = JSON.parse(r.out);
    assert.equal(doc.schema, 'opsdeck.status/2');
    assert.deepEqual(doc.warnings, []);
    assert.equal(doc.nats.state, 'connected');
    const agents = Object.fromEntries(
      doc.machines.flatMap((m: { id: string; agents: Array<{ name: string; state: string }> }) =>
        m.agents.map((a) => [`${m.id}/${a.name}`, a.state]),
      ),
    );
    assert.equal(agents['mainpc/Alpha'], 'healthy');
    assert.equal(agents['mainpc/Beta'], 'unreachable');
    assert.equal(agents['pc2/Gamma'], 'healthy');
    // No health port: judged by its PUB, and said so.
    assert.equal(agents['pc2/CentralErrorBus'], 'healthy');
    const ceb = doc.machines[1].agents.find((a: { name: string }) => a.name === 'CentralErrorBus');
    assert.equal(ceb.protocol, 'pub');
    assert.match(ceb.judgedBy, /^ZMTP greeting to 127\.0\.0\.32:7150 \+ frames received from it$/);
    const beta = doc.machines[0].agents.find((a: { name: string }) => a.name === 'Beta');
    assert.equal(beta.cause, 'refused');
    assert.equal(beta.latencyMs, null, 'no latency shown for an agent that does not answer');
    assert.ok(doc.errors.counters.received.zmq > 0, 'background errors arrived on ZMQ');
    assert.ok(
      doc.machines.every((m: { resources: unknown }) => m.resources !== null),
      'both machines have resources',
    );
    assert.ok(doc.machines[0].lastZmqFrameAt);
    assert.deepEqual(
      doc.machines.map((m: { zmq: { connected: boolean } | null }) => m.zmq?.connected),
      [true, true],
      'each machine names its ZMQ error-bus link',
    );
  });

  test('bad durations are bad input', () => {
    const r = spawnSync(
      process.execPath,
      [bin, 'status', '--mainpc', join(dir, 'm.yaml'), '--interval', 'soon'],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /option '--interval <duration>' argument 'soon' is invalid\. expected a duration like 500ms, 2s or 10m, got "soon"/,
    );
  });
});
