// `opsdeck status --json [--watch]`: one snapshot of everything live, the same stores the
// console reads, for scripts and CI. The schema is versioned: `opsdeck.status/1`.
import { protocolLabel } from '../core/ui/view.js';
import { Option, type Command } from 'commander';
import type { Machine } from '../core/fleet/model.js';
import type { ErrorRow } from '../core/errors/pipeline.js';
import {
  startDataPlane,
  errorBusEndpoint,
  natsServers,
  type DataPlane,
} from '../wiring/data-plane.js';
import { isStale } from '../stores/resource-store.js';
import { secretsDirFor } from '../actions/catalog.js';
import { operatorLogin } from '../adapters/control-client.js';
import { findSampleKeys } from '../adapters/sample-sign.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg } from './options.js';
import { healthFromOption } from './health-from.js';
import { agentKey } from '../core/fleet/agent-key.js';

export const STATUS_SCHEMA = 'opsdeck.status/2';

interface StatusArgs extends FleetArgs {
  json?: boolean;
  healthFrom: string;
  watch?: boolean;
  nats?: string;
  interval: number;
  timeout: number;
  collect: number;
  failOn: FailOn;
}

const row = (r: ErrorRow) => ({
  at: new Date(r.event.receivedAt).toISOString(),
  machine: r.event.machine,
  agent: r.event.agent,
  severity: r.event.severity,
  category: r.event.category,
  message: r.event.message,
  bus: r.bus,
  format: r.event.format,
  count: r.count,
  ...(r.flood ? { flood: { rule: r.flood.rule, action: r.flood.action } } : {}),
});

// Long: the JSON document (schema opsdeck.status/1) as one literal, field by field.
export function statusDocument(
  plane: DataPlane,
  machines: readonly Machine[],
  intervalMs: number,
  now = Date.now(),
  warnings: readonly string[] = [],
) {
  const health = plane.health.flush();
  const errors = plane.errors.flush();
  const res = plane.resources.getSnapshot();
  const link = plane.link?.getSnapshot();
  return {
    schema: STATUS_SCHEMA,
    generatedAt: new Date(now).toISOString(),
    warnings,
    // Where the agents' states come from: probed from here, or each machine's opsdeck agent.
    health: {
      from: plane.health.from,
      ...(plane.healthFeed
        ? {
            feeds: plane.healthFeed.feeds().map((f) => ({
              machine: f.machine,
              lastAt: f.receivedAt ? new Date(f.receivedAt).toISOString() : null,
              stale: f.stale,
            })),
            rejected: plane.healthFeed.rejected,
          }
        : {}),
    },
    nats: link
      ? {
          state: link.state,
          server: link.server ?? null,
          rttMs: link.rttMs ?? null,
          error: link.error ?? null,
          streams: plane.natsFeed()?.streams ?? [],
        }
      : null,
    machines: machines.map((m) => {
      const r = res.machines[m.id];
      return {
        id: m.id,
        host: m.host,
        shape: m.source.shape,
        file: m.source.file,
        errorBus: errorBusEndpoint(m),
        zmq: errors.zmqLinks[m.id]
          ? {
              connected: errors.zmqLinks[m.id]!.connected,
              since: new Date(errors.zmqLinks[m.id]!.since).toISOString(),
            }
          : null,
        lastZmqFrameAt: errors.lastFrameAt[`zmq:${m.id}`]
          ? new Date(errors.lastFrameAt[`zmq:${m.id}`]!).toISOString()
          : null,
        resources: r
          ? {
              ...r.sample,
              ageMs: now - r.receivedAt,
              stale: isStale(r, now, intervalMs),
              // Signed by the machine's own key (samples/keys.json), or why not.
              verified: r.auth.verified,
              ...(r.auth.verified ? {} : { unverified: r.auth.reason }),
            }
          : null,
        agents: m.agents.map((a) => {
          const h = health.agents.get(agentKey(m.id, a.name));
          return {
            name: a.name,
            group: a.group,
            port: a.port.value,
            healthPort: a.healthPort.value,
            // Where it really answers, when that is not its configured port.
            moved: h?.moved ?? null,
            protocol: h?.protocol ? protocolLabel(h.protocol) : null,
            state: h?.state ?? 'unknown',
            // unreachable: nothing listens (`refused`) or nothing answered in time (`timeout`).
            cause: h?.state === 'unreachable' ? (h.cause ?? null) : null,
            reason: h?.reason ?? null,
            judgedBy: h?.via ?? null,
            note: h?.note ?? null,
            answeredAs: h?.answeredAs ?? null,
            latencyMs: h?.latencyMs !== undefined ? Math.round(h.latencyMs * 10) / 10 : null,
            lastReplyAt: h?.lastReplyAt ? new Date(h.lastReplyAt).toISOString() : null,
            uptimeSec: h?.uptimeSec ?? null,
            instrumented: h?.instrumented ?? null,
            metrics: h?.metricsAnswer ?? null,
          };
        }),
      };
    }),
    errors: {
      counters: errors.counters,
      recent: errors.rows.slice(0, 50).map(row),
      malformed: errors.malformed.map((s) => ({
        bus: s.bus,
        machine: s.machine,
        reason: s.reason,
        sample: s.sample,
      })),
    },
    publishers: errors.publishers,
  };
}

const DURATION = durationArg();

const FAIL_ON = ['degraded', 'unhealthy', 'down', 'never'] as const;
type FailOn = (typeof FAIL_ON)[number];
// How bad each state is for --fail-on: stale and not-yet-probed count as not healthy.
const BADNESS: Record<string, number> = {
  healthy: 0,
  degraded: 1,
  stale: 1,
  unknown: 1,
  unhealthy: 2,
  unreachable: 3,
};
const THRESHOLD: Record<FailOn, number> = { degraded: 1, unhealthy: 2, down: 3, never: 99 };

/** `machine/agent (state)` for every agent at least as bad as `failOn`. */
function failing(
  machines: ReadonlyArray<{ id: string; agents: ReadonlyArray<{ name: string; state: string }> }>,
  failOn: FailOn,
): string[] {
  return machines.flatMap((m) =>
    m.agents
      .filter((a) => (BADNESS[a.state] ?? 1) >= THRESHOLD[failOn])
      .map((a) => `${m.id}/${a.name} (${a.state})`),
  );
}

export function registerStatus(program: Command, io: Io): void {
  addFleetOptions(
    program
      .command('status')
      .description(
        'probe every agent once, listen to both error buses briefly, and print one snapshot (schema opsdeck.status/2)',
      )
      .option('--json', 'print JSON (the only format for now)', true)
      .option('--watch', 'keep going: one JSON line per interval until interrupted')
      .option(
        '--nats <servers>',
        'NATS servers (default: $NATS_SERVERS or $NATS_URL; none: NATS side off)',
      )
      // At least the console's 200ms: 0ms printed a snapshot per turn of the event loop,
      // thousands a second, each the same fleet.
      .addOption(
        checkedOption(
          '--interval <duration>',
          'probe / print interval',
          durationArg({ minMs: 200 }),
          '2s',
        ),
      )
      .option(
        '--health-from <source>',
        "direct: probe every agent from here; agents: take each machine's results from its opsdeck agent (--health) over NATS, probing nothing across the network",
        'direct',
      )
      .addOption(checkedOption('--timeout <duration>', 'health probe timeout', DURATION, '1000ms'))
      .addOption(
        checkedOption(
          '--collect <duration>',
          'how long to listen to the buses before the snapshot',
          DURATION,
          '1500ms',
        ),
      )
      .addOption(
        new Option(
          '--fail-on <state>',
          'exit 1 when an agent is at least this bad: degraded (anything not healthy), unhealthy, down (unreachable), never',
        )
          .choices(FAIL_ON)
          .default('degraded'),
      ),
  ).action((opts: StatusArgs) => status(opts, io));
}

/** `status`: one snapshot (exit 1 at --fail-on), or with --watch one line per interval. */
async function status(opts: StatusArgs, io: Io): Promise<void> {
  const fleet = loadFleetArgs(opts, io, { quiet: true });
  const plane = startPlane(opts, fleet.machines, io);
  const warnings = await plane.hostWarnings;
  for (const w of warnings) io.err(`opsdeck status: warning: ${w}`);
  const doc = () => statusDocument(plane, fleet.machines, opts.interval, Date.now(), warnings);
  try {
    if (opts.watch) await watch(doc, opts.interval, io);
    else await snapshot(plane, doc, opts, io);
  } finally {
    await plane.stop();
  }
}

/** The stores the console reads, on the fleet and NATS the options name. */
function startPlane(opts: StatusArgs, machines: Machine[], io: Io): DataPlane {
  const nats = natsServers(opts.nats, io.env);
  const healthFrom = healthFromOption(opts.healthFrom, nats, io, 'opsdeck status');
  const secretsDir = secretsDirFor(machines, io.env);
  const sampleKeys = findSampleKeys(secretsDir, io.env);
  return startDataPlane({
    machines,
    ...(nats ? { nats, natsLogin: operatorLogin({ servers: nats, secretsDir, env: io.env }) } : {}),
    ...(sampleKeys ? { sampleKeys } : {}),
    health: { intervalMs: opts.interval, timeoutMs: opts.timeout },
    healthFrom,
    live: opts.watch === true,
  });
}

/** One probe of every agent and --collect of listening, then the document; exit 1 on --fail-on. */
async function snapshot(
  plane: DataPlane,
  doc: () => ReturnType<typeof statusDocument>,
  opts: StatusArgs,
  io: Io,
): Promise<void> {
  await Promise.all([plane.health.probeAll(), new Promise((r) => setTimeout(r, opts.collect))]);
  const now = doc();
  io.out(JSON.stringify(now, null, 2));
  const bad = failing(now.machines, opts.failOn);
  if (bad.length > 0) {
    io.err(
      `opsdeck status: ${bad.length} agent${bad.length === 1 ? '' : 's'} ${opts.failOn === 'degraded' ? 'not healthy' : `${opts.failOn} or worse`}: ${bad.slice(0, 8).join(', ')}${bad.length > 8 ? ', …' : ''}`,
    );
    throw new Exit(EXIT.findings);
  }
}

/** One JSON line per interval until SIGINT or SIGTERM. */
function watch(doc: () => unknown, intervalMs: number, io: Io): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => io.out(JSON.stringify(doc())), intervalMs);
    const end = () => {
      clearInterval(timer);
      resolve();
    };
    process.once('SIGINT', end);
    process.once('SIGTERM', end);
  });
}
