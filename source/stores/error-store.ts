// The merged error stream of both buses as a store. Every message goes through the pipeline at
// once (it is cheap); React hears about it at most once per frame, however hard the flood.
import { decodeNats, decodeZmq } from '../core/errors/decode.js';
import type { BridgeMark } from '../core/errors/event.js';
import {
  byLastSeen,
  ErrorPipeline,
  type ErrorCounters,
  type ErrorRow,
  type MalformedSample,
  type PipelineOptions,
  type PublisherStats,
} from '../core/errors/pipeline.js';
import type { Clock } from '../core/seams/clock.js';
import type { ErrorSink } from '../core/seams/error-source.js';
import { Store } from './store.js';

export interface ErrorSnapshot {
  version: number;
  /** Newest first. */
  rows: readonly ErrorRow[];
  counters: Readonly<ErrorCounters>;
  malformed: readonly MalformedSample[];
  publishers: readonly PublisherStats[];
  /** When the last frame arrived, per `<bus>:<machine>` source. */
  lastFrameAt: Readonly<Record<string, number>>;
  /** Each machine's ZMQ error-bus connection: up or down, since when (absent: never connected). */
  zmqLinks: Readonly<Record<string, ZmqLink>>;
  paused: boolean;
}

export interface ZmqLink {
  connected: boolean;
  since: number;
}

export interface ErrorStoreOptions extends PipelineOptions {
  /** Minimum time between notifications (1000 / maxFps). */
  notifyMs: number;
}

export class ErrorStore extends Store<ErrorSnapshot> implements ErrorSink {
  readonly pipeline: ErrorPipeline;
  // Per bus and machine, made into `<bus>:<machine>` keys only when a snapshot is built: a
  // record keyed by a string built per message cost a key lookup per message.
  private readonly lastAt = { zmq: new Map<string, number>(), nats: new Map<string, number>() };
  private readonly zmqLinks: Record<string, ZmqLink> = {};
  private readonly openGaps = new Map<string, ErrorRow>();
  private paused = false;
  private readonly notifyMs: number;

  constructor(options: Partial<ErrorStoreOptions> = {}, clock?: Clock) {
    // The first snapshot is built below, once the fields it reads exist.
    super(undefined as unknown as ErrorSnapshot, clock);
    this.pipeline = new ErrorPipeline(options);
    this.notifyMs = options.notifyMs ?? 100;
    this.snapshot = this.build(0);
  }

  /** When the last frame arrived from a machine's ZMQ bus port (ms), if one has. */
  lastZmqFrame(machine: string): number | undefined {
    return this.lastAt.zmq.get(machine);
  }

  zmq(frames: readonly Uint8Array[], machine: string, now = this.clock.now()): void {
    this.lastAt.zmq.set(machine, now);
    this.pipeline.ingest(decodeZmq(frames, machine, now), 'zmq', machine, now);
    this.touch();
  }

  /** `bridged`: the message carries `opsdeck agent --bridge`'s mark (a ZMQ error carried into NATS). */
  nats(
    subject: string,
    data: Uint8Array,
    machine: string,
    now = this.clock.now(),
    bridged?: BridgeMark,
  ): void {
    this.lastAt.nats.set(machine, now);
    const decoded = decodeNats(subject, data, machine, now);
    if (bridged && decoded.ok) decoded.event.bridged = bridged;
    this.pipeline.ingest(decoded, 'nats', machine, now);
    this.touch();
  }

  /**
   * The connection to a machine's ZMQ bus came up (handshake done) or went down (closed, or the
   * heartbeat timed out). Losing it opens a gap row in the stream; getting it back closes that
   * row with the gap's length. Not connected yet at start is not a gap.
   */
  zmqLink(machine: string, connected: boolean, source: string, now = this.clock.now()): void {
    const was = this.zmqLinks[machine];
    if (was?.connected === connected || (!was && !connected)) return;
    this.zmqLinks[machine] = { connected, since: now };
    const open = this.openGaps.get(machine);
    if (connected && open) {
      this.pipeline.closeGap(open, now);
      this.openGaps.delete(machine);
    } else if (!connected) {
      this.openGaps.set(machine, this.pipeline.openGap(machine, 'zmq', source, now));
    }
    this.touch();
  }

  /**
   * A JetStream error stream the NATS feed consumed went away (deleted; re-created under the same
   * name is a new stream): a gap row, closed when the feed consumes the stream again. What is
   * published meanwhile is stored nowhere, so only a live subscriber sees it.
   */
  natsStream(stream: string, present: boolean, now = this.clock.now()): void {
    const key = `nats stream ${stream}`;
    const open = this.openGaps.get(key);
    if (present && open) {
      this.pipeline.closeGap(open, now);
      this.openGaps.delete(key);
    } else if (!present && !open) {
      this.openGaps.set(
        key,
        this.pipeline.openGap('any', 'nats', `JetStream stream ${stream}`, now),
      );
    } else {
      return;
    }
    this.touch();
  }

  /**
   * A machine's bridge went quiet and came back (restarted, or hung): what its ZMQ publishers sent
   * meanwhile reached NATS only as far as each connecting PUB queued it (1,000 frames by
   * default), and nothing counts the rest. A gap row, never "0 dropped".
   */
  bridgeGap(machine: string, from: number, to: number, restarted: boolean): void {
    const seconds = ((to - from) / 1000).toFixed(1);
    this.pipeline.recordGap(
      machine,
      'nats',
      `${machine}'s bridge`,
      `${machine}'s bridge ${restarted ? 'restarted' : 'was silent'}: ${seconds} s without it; ZMQ errors sent meanwhile past each publisher's queue were lost (how many, nothing counts)`,
      from,
      to,
    );
    this.touch();
  }

  dropped(n: number): void {
    this.pipeline.countDropped(n);
    this.touch();
  }

  /** Freeze what the screen shows; counting goes on underneath. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    this.publish(paused ? { ...this.snapshot, paused } : this.build(this.snapshot.version));
  }

  /** Build and publish now (status --json, tests). */
  flush(): ErrorSnapshot {
    if (!this.paused) this.snapshot = this.build(this.snapshot.version);
    this.settle();
    return this.snapshot;
  }

  close(): void {
    this.shutDown();
  }

  /** Every message: one flag and one check; the snapshot is built once per notifyMs. */
  private touch(): void {
    this.changed(this.notifyMs);
  }

  protected override rebuild(): ErrorSnapshot {
    // Counters still move while paused, so the operator sees the stream is alive.
    if (this.paused)
      return {
        ...this.snapshot,
        counters: { ...this.pipeline.counters, received: { ...this.pipeline.counters.received } },
      };
    return this.build(this.snapshot.version);
  }

  private lastFrames(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [machine, at] of this.lastAt.zmq) out[`zmq:${machine}`] = at;
    for (const [machine, at] of this.lastAt.nats) out[`nats:${machine}`] = at;
    return out;
  }

  private build(version: number): ErrorSnapshot {
    const p = this.pipeline;
    return {
      version: version + 1,
      rows: byLastSeen(p.rows.newest()),
      counters: { ...p.counters, received: { ...p.counters.received } },
      malformed: p.malformedSamples.newest(),
      publishers: [...p.publishers.values()].map((s) => ({ ...s })),
      lastFrameAt: this.lastFrames(),
      zmqLinks: { ...this.zmqLinks },
      paused: this.paused,
    };
  }
}
