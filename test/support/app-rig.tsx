// The whole console (App) on stores the test owns: no sockets, no timers it does not start.
// A terminal of any size that can be resized, keys typed as bytes, and the frame as text.
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from 'ink';
import { App, type ActionCatalog, type AppProps } from '../../source/app.js';
import type { Action } from '../../source/actions/action.js';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import type { Machine } from '../../source/core/fleet/model.js';
import { checkPorts } from '../../source/core/ports/rules.js';
import { NO_COLOR_THEME } from '../../source/components/theme.js';
import { ActionRunner } from '../../source/stores/action-runner.js';
import { auditLog } from '../../source/adapters/audit.js';
import { BridgeStore } from '../../source/stores/bridge-store.js';
import type { DataPlane } from '../../source/wiring/data-plane.js';
import { DoctorStore } from '../../source/stores/doctor-store.js';
import { ErrorStore } from '../../source/stores/error-store.js';
import { HealthStore } from '../../source/stores/health-store.js';
import { netProber } from '../../source/adapters/net-prober.js';
import { PhaseStore } from '../../source/stores/phase-store.js';
import { ResourceStore } from '../../source/stores/resource-store.js';

/** A terminal: its size, every byte written, resizable like a real one. */
class Term extends EventEmitter {
  frames: string[] = [];
  isTTY = true;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (s: string) => {
    this.frames.push(s);
    return true;
  };
  resize(columns: number, rows: number) {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

class Keys extends EventEmitter {
  isTTY = true;
  private queue: string[] = [];
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
  read = () => this.queue.shift() ?? null;
  type(data: string) {
    this.queue.push(data);
    this.emit('readable');
  }
}

export const FLEET_YAML = {
  mainpc:
    'agent_groups:\n  core:\n    Alpha: {script_path: a.py, port: 17501, health_check_port: 18501}\n    Bravo: {script_path: b.py, port: 17503, health_check_port: 18503}\n',
  pc2: 'pc2_services:\n- {name: Charlie, script_path: c.py, port: 7105, health_check_port: 8105}\n- {name: ResourceManager, script_path: pc2_code/agents/resource_manager.py, port: 7113, health_check_port: 8113}\nerror_bus_port: 7150\n',
};

export function rigFleet(yaml = FLEET_YAML): { machines: Machine[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'opsdeck-rig-'));
  writeFileSync(join(dir, 'mainpc.yaml'), yaml.mainpc);
  writeFileSync(join(dir, 'pc2.yaml'), yaml.pc2);
  const fleet = loadFleet(
    { mainpc: join(dir, 'mainpc.yaml'), pc2: join(dir, 'pc2.yaml') },
    { MAINPC_IP: '127.0.0.1', PC2_IP: '127.0.0.2' },
  );
  return { machines: fleet.machines, dir };
}

/** An action that counts what was asked of it; its preview can be made to wait. */
export function countingAction(
  id: string,
  over: { previewDelayMs?: number; lines?: number } = {},
): Action & { executed: number; previewed: number } {
  const a = {
    id,
    title: `Test action ${id}`,
    machine: 'pc2',
    args: {},
    executed: 0,
    previewed: 0,
    async preview() {
      a.previewed++;
      if (over.previewDelayMs) await new Promise((r) => setTimeout(r, over.previewDelayMs));
      return {
        target: `target-of-${id}`,
        lines: Array.from({ length: over.lines ?? 2 }, (_, i) => `line ${i + 1} of ${id}`),
        runnable: true,
        destructive: false,
      };
    },
    async execute() {
      a.executed++;
      return { ok: true, detail: `${id} ran` };
    },
    async verify(o: { ok: boolean; detail: string }) {
      return o;
    },
  };
  return a;
}

export interface Rig {
  term: Term;
  plane: DataPlane;
  runner: ActionRunner;
  /** Types bytes as a terminal would send them, then lets the app render. */
  type(data: string): Promise<void>;
  /** Sends bytes as one read, whatever they hold (a report cut in two by a slow link). */
  raw(data: string): Promise<void>;
  /** The current screen as text (the last full frame). */
  frame(): string;
  until(what: string, ok: (frame: string) => boolean, timeoutMs?: number): Promise<string>;
  unmount(): void;
}

const tick = () => new Promise((r) => setTimeout(r, 15));

export function renderApp(
  o: {
    machines?: Machine[];
    actions?: ActionCatalog;
    columns?: number;
    rows?: number;
    auditPath?: string;
    props?: Partial<AppProps>;
  } = {},
): Rig {
  const machines = o.machines ?? rigFleet().machines;
  const term = new Term(o.columns ?? 120, o.rows ?? 40);
  const keys = new Keys();
  const health = new HealthStore(
    machines.flatMap((m) =>
      m.agents.map((a) => ({
        key: `${m.id}/${a.name}`,
        machine: m.id,
        agent: a.name,
        host: m.host,
        port: a.port.value,
        healthPort: a.healthPort.value,
        intervalMs: 2000,
        timeoutMs: 1000,
      })),
    ),
    netProber(),
  );
  const plane: DataPlane = {
    machines,
    health,
    healthFeed: undefined,
    errors: new ErrorStore(),
    resources: new ResourceStore(),
    bridges: new BridgeStore(),
    doctor: new DoctorStore(async () => {
      throw new Error('no doctor in the rig');
    }),
    link: undefined,
    startedAt: Date.now(),
    // The rig's stores are live from the start: nothing waits for a start().
    started: true,
    start: () => {},
    hostWarnings: Promise.resolve([]),
    natsFeed: () => undefined,
    stop: async () => {},
  };
  const runner = new ActionRunner(auditLog(o.auditPath));
  const app = render(
    <App
      plane={plane}
      phase={new PhaseStore()}
      runner={runner}
      actions={o.actions ?? { entries: [], make: () => undefined }}
      ports={checkPorts(machines)}
      theme={NO_COLOR_THEME}
      intervalMs={2000}
      onExit={() => {}}
      {...o.props}
    />,
    {
      stdout: term as unknown as NodeJS.WriteStream,
      stdin: keys as unknown as NodeJS.ReadStream,
      debug: true,
      exitOnCtrlC: false,
      patchConsole: false,
    },
  );
  const frame = () => {
    const last = term.frames.at(-1) ?? '';
    return last;
  };
  return {
    term,
    plane,
    runner,
    async type(data: string) {
      // One escape sequence (an arrow, a mouse report) is one key; anything else a character.
      const ESC = String.fromCharCode(27);
      const one = new RegExp(`${ESC}\\[[0-9;<]*[A-Za-z~]|${ESC}.|[\\s\\S]`, 'g');
      for (const ch of data.match(one) ?? []) {
        keys.type(ch);
        await tick();
      }
    },
    async raw(data: string) {
      keys.type(data);
      await tick();
    },
    frame,
    async until(what, ok, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (ok(frame())) return frame();
        await tick();
      }
      throw new Error(`timed out waiting for ${what}; the frame was:\n${frame()}`);
    },
    unmount: () => app.unmount(),
  };
}
