// Starts the full-screen console on a loaded fleet: the data plane, the preferences, the
// alternate screen, and the one shutdown path (q, double Ctrl+C, SIGTERM, SIGHUP and SIGINT all
// take it).
import { LogStore } from './stores/log-store.js';
import { hostname, userInfo } from 'node:os';
import Conf from 'conf';
import { render } from 'ink';
import { App, type ActionCatalog } from './app.js';
import type { Machine } from './core/fleet/model.js';
import { checkPorts } from './core/ports/rules.js';
import { SCREENS, type Screen } from './core/ui/keymap.js';
import { AGENT_SORTS, type AgentSort } from './core/ui/state.js';
import { AuditStore } from './stores/audit-store.js';
import type { Env } from './core/fleet/port-expr.js';
import { themeFor } from './components/theme.js';
import { shareInkCaches } from './components/ink-caches.js';
import { DiffTerminal } from './terminal/diff-terminal.js';
import { drawInputAtOnce } from './terminal/key-frames.js';
import { ActionRunner } from './stores/action-runner.js';
import { startDataPlane, type DataPlane } from './wiring/data-plane.js';
import { SecurityStore } from './stores/security-store.js';
import { secretsDirFor } from './actions/catalog.js';
import { ConfigStore } from './stores/config-store.js';
import { operatorLogin } from './adapters/control-client.js';
import { findSampleKeys } from './adapters/sample-sign.js';
import { PhaseStore } from './stores/phase-store.js';
import { auditLog, auditPath } from './adapters/audit.js';
import { inspectArtefacts } from './adapters/certs.js';
import { configFiles } from './adapters/fleet-files.js';
import { lintChild } from './adapters/lint-run.js';
import { watchLogs } from './adapters/log-client.js';
import { natsBus } from './adapters/nats-bus.js';
import { probeEnforcement } from './adapters/security-probe.js';
import { probeAuditEntry, type ProbeResult } from './core/security/probe.js';
import { LintStore } from './stores/lint-store.js';
import type { HealthFrom } from './stores/health-source.js';

export interface ConsoleOptions {
  machines: Machine[];
  nats?: string;
  env: Env;
  /** Health from this console's prober (default) or each machine's opsdeck agent. */
  healthFrom?: HealthFrom;
  intervalMs?: number;
  timeoutMs?: number;
  screen?: Screen;
  /** Wheel and clicks (SGR mouse reports); false leaves the mouse to the terminal. */
  mouse?: boolean;
  /** The actions screen's catalog, built once the data plane exists. */
  actions?: (plane: DataPlane, hooks: CatalogHooks) => ActionCatalog;
  /** Called once the console has shut down (the demo stops its sim here). */
  onClosed?(): Promise<void> | void;
}

interface Prefs {
  lastScreen?: Screen;
  sort?: AgentSort;
  refreshMs?: number;
  theme?: 'auto' | 'mono';
}

/**
 * How often the error store tells the screen about new errors (ms). A 20k/s flood notifies
 * every time: 4 frames a second is plenty to read, and each full-screen frame costs tens of ms
 * that the event loop cannot spend on ingest (bench/: render, loop delay).
 */
export const ERROR_NOTIFY_MS = 250;

export function noTtyMessage(): string {
  return 'opsdeck: the console needs a terminal (TTY). For scripts and pipes use `opsdeck status --json` (one snapshot) or `--watch` (JSON lines).';
}

/**
 * Ink's cap on frames per second. Data frames are paced by the stores (errors every
 * ERROR_NOTIFY_MS, health once a probe round); the cap only delays a frame that comes soon after
 * another: Ink holds a render until its throttle window has passed since the last call (a
 * debounce), so 15 fps made a key wait up to 67 ms more behind a data frame. A key's frame no
 * longer waits for it at all (terminal/key-frames.ts).
 */
export const MAX_FPS = 60;
function userName(env: Env): string {
  try {
    return env.USER ?? env.LOGNAME ?? userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'user');
  }
}

const EMPTY_CATALOG: ActionCatalog = { entries: [], make: () => undefined };

/** What the catalog's actions tell the console's stores. */
export interface CatalogHooks {
  onProbe(result: ProbeResult): void;
}

// Long: the console's composition root and its one shutdown path. Every store started here is
// stopped in `shutdown`, and the order of both matters (the first frame before the slow starts,
// the terminal restored before the data plane's drain): kept in one function so that each start
// and its stop can be read together.
export async function runConsole(options: ConsoleOptions): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(`${noTtyMessage()}\n`);
    return 2;
  }
  const prefs = new Conf<Prefs>({
    projectName: 'opsdeck',
    ...(options.env.OPSDECK_CONFIG_DIR ? { cwd: options.env.OPSDECK_CONFIG_DIR } : {}),
  });
  const intervalMs = options.intervalMs ?? prefs.get('refreshMs') ?? 2000;
  const timeoutMs = options.timeoutMs ?? Math.min(1000, intervalMs);
  const last = prefs.get('lastScreen');
  const screen =
    options.screen ?? (last && (SCREENS as readonly string[]).includes(last) ? last : 'fleet');
  const theme = prefs.get('theme') === 'mono' ? themeFor({ NO_COLOR: '1' }) : themeFor(options.env);

  const secretsDir = secretsDirFor(options.machines, options.env);
  const sampleKeys = findSampleKeys(secretsDir, options.env);
  const plane = startDataPlane({
    machines: options.machines,
    ...(options.nats
      ? {
          nats: options.nats,
          natsLogin: operatorLogin({ servers: options.nats, secretsDir, env: options.env }),
        }
      : {}),
    health: { intervalMs, timeoutMs },
    ...(options.healthFrom ? { healthFrom: options.healthFrom } : {}),
    errors: { notifyMs: ERROR_NOTIFY_MS },
    ...(sampleKeys ? { sampleKeys } : {}),
    // Per host and user; the data plane adds a slot per running console (two SSH sessions).
    durable: `opsdeck_${hostname()}_${userName(options.env)}`.replace(/[^A-Za-z0-9_-]/g, '_'),
    // Started right after the first frame (below).
    autoStart: false,
  });
  // The console's own stores, each given the adapters it needs as ports (core/seams/): the data
  // plane's stores are wired in wiring/data-plane.ts.
  const phase = new PhaseStore();
  void plane.link?.connection().then((nc) => (nc ? phase.watch(natsBus(nc)) : undefined));
  const trail = auditLog(auditPath(options.env));
  const runner = new ActionRunner(trail);
  const logs = new LogStore(() => {
    const nc = plane.link?.nc;
    return nc ? (target, on) => watchLogs(nc, target, on) : undefined;
  });
  const lint = new LintStore(lintChild);
  const audit = new AuditStore(trail);
  const stopAudit = audit.start();
  // An action run here shows in the history at once, not at the next look at the file.
  const stopRunWatch = runner.subscribe(() => audit.read());
  const savedSort = prefs.get('sort');
  const security = new SecurityStore(
    options.machines.map((m) => m.id),
    secretsDir,
    (dir) => inspectArtefacts(dir).artefacts,
  );
  let stopProbe: (() => void) | undefined;
  void plane.link?.connection().then((nc) => {
    if (nc)
      stopProbe = security.probe(
        (machines, timeoutMs) =>
          nc.isClosed() ? undefined : probeEnforcement(nc, machines, timeoutMs),
        undefined,
        (r) => {
          try {
            trail.append(probeAuditEntry(r));
          } catch {
            /* an unwritable audit log is said by the actions that need it */
          }
        },
      );
  });
  const ports = checkPorts(options.machines, { env: options.env });
  const config = new ConfigStore(options.machines, options.env, configFiles);
  let stopConfig: (() => void) | undefined;

  // The first frame does not wait for host lookups (up to 1 s each): their warnings are drawn
  // when they come (none is the usual answer, and addresses are not looked up at all).
  let warnings: string[] = [];
  let drawn = false;
  void plane.hostWarnings.then((found) => {
    if (found.length === 0) return;
    warnings = found;
    if (drawn && !closing) instance.rerender(app());
  });
  await shareInkCaches();
  // Ink draws into a model of the screen; the terminal gets only the cells that change.
  const terminal = new DiffTerminal(process.stdout);
  terminal.enterAlternateScreen({ mouse: options.mouse !== false });
  let closing: Promise<number> | undefined;
  let stopKeyFrames = () => {};
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));
  const catalog = options.actions?.(plane, { onProbe: (r) => security.record(r) }) ?? EMPTY_CATALOG;
  const shutdown = (code: number) =>
    (closing ??= (async () => {
      catalog.close?.();
      stopKeyFrames();
      logs.stop();
      instance.unmount();
      terminal.leaveAlternateScreen();
      await plane.stop();
      phase.close();
      lint.close();
      stopAudit();
      stopConfig?.();
      config.close();
      stopRunWatch();
      audit.close();
      stopProbe?.();
      security.close();
      await options.onClosed?.();
      resolveDone(code);
      return code;
    })());

  const app = () => (
    <App
      plane={plane}
      phase={phase}
      runner={runner}
      actions={catalog}
      ports={ports}
      lint={lint}
      security={security}
      config={config}
      theme={theme}
      intervalMs={intervalMs}
      initialScreen={screen}
      initialSort={savedSort && AGENT_SORTS.includes(savedSort) ? savedSort : 'config'}
      onSort={(s) => prefs.set('sort', s)}
      audit={audit}
      onScreen={(s) => {
        if (s !== 'agent' && s !== 'logs') prefs.set('lastScreen', s);
      }}
      onExit={() => void shutdown(0)}
      warnings={warnings}
      logs={logs}
    />
  );
  const instance = render(app(), {
    stdout: terminal as unknown as NodeJS.WriteStream,
    stderr: terminal as unknown as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: true,
    maxFps: MAX_FPS,
  });
  drawn = true;
  // Start-up (issue 16): the first frame is drawn before the data plane does any I/O (probes,
  // the error feeds, NATS, host lookups): every agent shows as not probed yet, the links as
  // connecting. The plane starts on the next turn of the event loop, whether Ink wrote a frame
  // or not (in CI mode it writes none until exit).
  setImmediate(() => {
    if (!closing) plane.start();
  });
  // A key's frame is not held back by the frame cap (behind data frames and ingest).
  void drawInputAtOnce(process.stdin, terminal).then((k) => {
    if (closing) k.stop();
    else stopKeyFrames = k.stop;
  });
  // After the first frame: the canonical check reads and transforms both config files.
  setTimeout(() => {
    stopConfig = config.start();
    security.readCerts();
  }, 50).unref();
  // The lint parses every Python file of the checkout: well after the first frame, in a child.
  setTimeout(() => lint.run(options.machines), 3000).unref();

  // `on`, not `once`, and never removed: conf's when-exit re-raises the signal after its own
  // handler, and a re-raised signal that finds only Ink's signal-exit listening is re-raised once
  // more with no handler left, killing the process mid-shutdown or just after it (exit 143, the
  // demo's simulator and its nats-server left running). A repeat just finds the shutdown under way.
  // SIGINT too: `kill -INT` (Ctrl+C in raw mode is a key, not a signal) left the terminal in
  // the alternate screen and exited 130.
  const onSignal = () => void shutdown(0);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('SIGINT', onSignal);
  return await done;
}
