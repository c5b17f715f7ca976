// Error counters for the exporter, per machine, agent, group, severity and bus, with bounded
// cardinality: an agent label is only ever a name from the fleet config (anything else is
// `other`), severities are the five normalised ones, and past `maxSeries` series new ones fold
// into `other` too. What was folded, and why, is counted beside it. No message text in a label.
//
// Who counts what, so that the two machines' exporters together count each error once:
// - bus `zmq`: what this machine's bridge received from this machine's ZMQ error bus (the label
//   `machine` is the bus it was seen on; the agent is the publisher it names);
// - bus `nats`: native NATS publishes (a bridged copy is the zmq one, counted there). NATS says
//   nothing of where a publisher runs, so the fleet config decides: an agent named on one
//   machine only is counted by that machine's exporter; one named on several (the hubs on both)
//   and unknown names are counted once, by the fleet's first machine, as machine `any`.
import type { ErrorEvent, Severity } from '../errors/event.js';
import type { Family, Sample } from './exposition.js';

export type ErrorBus = 'zmq' | 'nats';

export interface Attribution {
  /** The exporter's machine. */
  machine: string;
  /** The machine that counts what belongs to no single machine (the fleet's first). */
  first: string;
  /** Every fleet agent: the machines naming it, each with the agent's group there. */
  owners: ReadonlyMap<string, ReadonlyArray<{ machine: string; group: string }>>;
}

export type FoldReason = 'unknown-agent' | 'series-cap';

/** Attribution from the fleet config. */
export function attributionFor(
  machine: string,
  machines: ReadonlyArray<{ id: string; agents: ReadonlyArray<{ name: string; group: string }> }>,
): Attribution {
  const owners = new Map<string, Array<{ machine: string; group: string }>>();
  for (const m of machines)
    for (const a of m.agents)
      owners.set(a.name, [...(owners.get(a.name) ?? []), { machine: m.id, group: a.group }]);
  return { machine, first: machines[0]?.id ?? machine, owners };
}

/** How long a NATS error id is remembered: upstream's library publishes each error twice. */
const COPY_WINDOW_MS = 10_000;
const COPY_IDS = 20_000;

export class ErrorTally {
  private readonly counts = new Map<string, { labels: Record<string, string>; n: number }>();
  private readonly folded: Record<FoldReason, number> = { 'unknown-agent': 0, 'series-cap': 0 };
  private readonly malformed: Record<ErrorBus, number> = { zmq: 0, nats: 0 };
  private readonly recentIds = new Map<string, number>();

  constructor(
    private readonly who: Attribution,
    private readonly maxSeries = 2000,
  ) {}

  /** An error this machine's bridge received from its ZMQ bus. */
  zmq(e: Pick<ErrorEvent, 'agent' | 'severity'>): void {
    const owners = this.who.owners.get(e.agent);
    const here = owners?.find((o) => o.machine === this.who.machine) ?? owners?.[0];
    this.add(this.who.machine, owners ? e.agent : undefined, here?.group ?? '', e.severity, 'zmq');
  }

  /** A native NATS error (no bridge mark); returns whether this machine counted it. */
  nats(e: Pick<ErrorEvent, 'agent' | 'severity' | 'ids'>, now: number): boolean {
    const owners = this.who.owners.get(e.agent);
    const mine = owners?.length === 1 && owners[0]!.machine === this.who.machine;
    const shared = !mine && this.who.machine === this.who.first && owners?.length !== 1;
    if (!mine && !shared) return false;
    if (this.isCopy(e.ids, now)) return false;
    const group = owners?.find((o) => o.machine === this.who.machine)?.group ?? owners?.[0]?.group;
    this.add(
      mine ? this.who.machine : 'any',
      owners ? e.agent : undefined,
      group ?? '',
      e.severity,
      'nats',
    );
    return true;
  }

  /** A frame or message that decoded to no error (NATS ones: counted by the first machine). */
  malformedOn(bus: ErrorBus): void {
    if (bus === 'nats' && this.who.machine !== this.who.first) return;
    this.malformed[bus]++;
  }

  private isCopy(ids: readonly string[], now: number): boolean {
    const id = ids[0];
    if (id === undefined) return false;
    const seen = this.recentIds.get(id);
    if (seen !== undefined && now - seen <= COPY_WINDOW_MS) return true;
    this.recentIds.delete(id);
    this.recentIds.set(id, now);
    // Oldest first (insertion order): drop what is past the window, and past the cap.
    for (const [old, at] of this.recentIds) {
      if (this.recentIds.size <= COPY_IDS && now - at <= COPY_WINDOW_MS) break;
      this.recentIds.delete(old);
    }
    return false;
  }

  private add(
    machine: string,
    agent: string | undefined,
    group: string,
    severity: Severity,
    bus: ErrorBus,
  ): void {
    if (agent === undefined) this.folded['unknown-agent']++;
    let labels = { machine, agent: agent ?? 'other', group: agent ? group : '', severity, bus };
    let key = `${labels.machine}\0${labels.agent}\0${severity}\0${bus}`;
    if (!this.counts.has(key) && agent !== undefined && this.counts.size >= this.maxSeries) {
      this.folded['series-cap']++;
      labels = { machine, agent: 'other', group: '', severity, bus };
      key = `${machine}\0other\0${severity}\0${bus}`;
    }
    const c = this.counts.get(key);
    if (c) c.n++;
    else this.counts.set(key, { labels, n: 1 });
  }

  families(machine: string): Family[] {
    const samples: Sample[] = [...this.counts.values()].map((c) => ({
      labels: c.labels,
      value: c.n,
    }));
    return [
      {
        name: 'opsdeck_errors_total',
        help: "Errors per agent, severity and bus: zmq = received by this machine's bridge from its ZMQ error bus; nats = native NATS publishes of this machine's agents (agents named on several machines, and unknown ones, are counted once, by the fleet's first machine, as machine=any). Agent is a fleet-config name or other.",
        type: 'counter',
        samples,
      },
      {
        name: 'opsdeck_errors_folded_total',
        help: 'Errors counted under agent=other instead of their own label: unknown-agent (not in the fleet config), series-cap (the label set is full).',
        type: 'counter',
        samples: (Object.keys(this.folded) as FoldReason[]).map((reason) => ({
          labels: { machine, reason },
          value: this.folded[reason],
        })),
      },
      {
        name: 'opsdeck_errors_malformed_total',
        help: 'Frames and messages on the error buses that decoded to no error.',
        type: 'counter',
        samples: (['zmq', 'nats'] as const).map((bus) => ({
          labels: { machine, bus },
          value: this.malformed[bus],
        })),
      },
    ];
  }
}
