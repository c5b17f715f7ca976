// The merged error stream of both buses as a store. Every message goes through the pipeline at
// once (it is cheap); React hears about it at most once per frame, however hard the flood.
import { decodeNats, decodeZmq } from '../core/errors/decode.js';
import type { BridgeMark } from '../core/errors/event.js';
import { ErrorPipeline, type ErrorCounters, type ErrorRow, type MalformedSample, type PipelineOptions, type PublisherStats } from '../core/errors/pipeline.js';
import { Emitter } from './emitter.js';

export interface ErrorSnapshot {
  version: number;
  /** Newest first. */
  rows: readonly ErrorRow[];
  counters: Readonly<ErrorCounters>;
  malformed: readonly MalformedSample[];
  publishers: readonly PublisherStats[];
  /** When the last frame arrived, per `<bus>:<machine>` source. */
  lastFrameAt: Readonly<Record<string, number>>;
  paused: boolean;
}

export interface ErrorStoreOptions extends PipelineOptions {
  /** Minimum time between notifications (1000 / maxFps). */
  notifyMs: number;
}

export class ErrorStore {
  readonly pipeline: ErrorPipeline;
  private readonly emitter = new Emitter();
  private readonly lastFrameAt: Record<string, number> = {};
  private snapshot: ErrorSnapshot;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  private closed = false;
  private readonly notifyMs: number;

  constructor(options: Partial<ErrorStoreOptions> = {}) {
    this.pipeline = new ErrorPipeline(options);
    this.notifyMs = options.notifyMs ?? 100;
    this.snapshot = this.build(0);
  }

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): ErrorSnapshot => this.snapshot;

  zmq(frames: readonly Uint8Array[], machine: string, now = Date.now()): void {
    this.lastFrameAt[`zmq:${machine}`] = now;
    this.pipeline.ingest(decodeZmq(frames, machine, now), 'zmq', machine, now);
    this.touch();
  }

  /** `bridged`: the message carries `opsdeck agent --bridge`'s mark (a ZMQ error carried into NATS). */
  nats(subject: string, data: Uint8Array, machine: string, now = Date.now(), bridged?: BridgeMark): void {
    this.lastFrameAt[`nats:${machine}`] = now;
    const decoded = decodeNats(subject, data, machine, now);
    if (bridged && decoded.ok) decoded.event.bridged = bridged;
    this.pipeline.ingest(decoded, 'nats', machine, now);
    this.touch();
  }

  dropped(n: number): void {
    this.pipeline.countDropped(n);
    this.touch();
  }

  /** Freeze what the screen shows; counting goes on underneath. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    this.snapshot = paused ? { ...this.snapshot, paused } : this.build(this.snapshot.version);
    this.emitter.emit();
  }

  /** Build and publish now (status --json, tests). */
  flush(): ErrorSnapshot {
    if (!this.paused) this.snapshot = this.build(this.snapshot.version);
    this.dirty = false;
    return this.snapshot;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.emitter.close();
  }

  private touch(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.dirty || this.closed) return;
      this.dirty = false;
      if (this.paused) {
        // Counters still move while paused, so the operator sees the stream is alive.
        this.snapshot = { ...this.snapshot, counters: { ...this.pipeline.counters, received: { ...this.pipeline.counters.received } } };
      } else {
        this.snapshot = this.build(this.snapshot.version);
      }
      this.emitter.emit();
    }, this.notifyMs);
    this.timer.unref();
  }

  private build(version: number): ErrorSnapshot {
    const p = this.pipeline;
    return {
      version: version + 1,
      rows: p.rows.newest(),
      counters: { ...p.counters, received: { ...p.counters.received } },
      malformed: p.malformedSamples.newest(),
      publishers: [...p.publishers.values()].map((s) => ({ ...s })),
      lastFrameAt: { ...this.lastFrameAt },
      paused: this.paused,
    };
  }
}
