// The measured process of the ingest benchmarks: one consumer, one mode, one run, then exit.
//   <bus>-bare:    the bare client loop that only counts (zeromq.js SUB, nats.js sub/consumer)
//   <bus>-opsdeck: opsdeck's own path (zmqErrors / natsErrors -> decode -> dedup -> flood -> ErrorStore)
// Both count through the same Meter; the clock starts at the first message and stops at the
// last, so start-up and connection set-up are outside the figure in both.
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type ConsumerMessages,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { existsSync, writeFileSync } from 'node:fs';
import { Subscriber } from 'zeromq';
import { natsErrors, zmqErrors } from '../../source/adapters/error-sources.js';
import { ErrorStore } from '../../source/stores/error-store.js';
import { childMain, cpuMsSince, rssMb, toParent } from '../lib/harness.js';

const [mode, target, expectedArg, sync, chunkArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string | undefined,
  string | undefined,
];
const expected = Number(expectedArg);
// Pre-buffered drain in chunks: after every `chunk` messages the consumer holds its loop again
// (`<sync>.wait.<k>` tells the parent) until the publisher has sent the next chunk (`<sync>.go.<k>`).
const chunk = Number(chunkArg ?? expected);
const cell = new Int32Array(new SharedArrayBuffer(4));
function hold(k: number): void {
  if (!sync) return;
  if (k > 0) writeFileSync(`${sync}.wait.${k}`, '');
  while (!existsSync(`${sync}.go.${k}`)) Atomics.wait(cell, 0, 0, 1);
}
const STREAM = 'ERRORS';
const REPLAY_MS = 3_600_000;

class Meter {
  n = 0;
  t0 = 0;
  lastAt = 0;
  cpu0: NodeJS.CpuUsage = process.cpuUsage();
  rssBefore = rssMb();
  private finished = false;
  private resolveDone: (lost: boolean) => void = () => {};
  readonly done = new Promise<boolean>((r) => (this.resolveDone = r));

  /** Time spent holding between chunks (not consumer time). */
  heldMs = 0;

  tick(): void {
    this.lastAt = performance.now();
    if (this.n++ === 0) {
      this.t0 = this.lastAt;
      this.cpu0 = process.cpuUsage();
    }
    if (this.n === expected) this.finish(false);
    else if (this.n % chunk === 0 && !this.finished) {
      hold(this.n / chunk);
      this.heldMs += performance.now() - this.lastAt;
      this.lastAt = performance.now();
    }
  }

  /** Messages counted when the run ended (more may trickle in after: a durable consumer keeps reading). */
  counted = 0;
  endAt = 0;

  finish(lost: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.counted = this.n;
    this.endAt = this.lastAt;
    this.cpuMs = cpuMsSince(this.cpu0);
    this.resolveDone(lost);
  }

  cpuMs = 0;
}

const meter = new Meter();

/** The console's store, with the meter on its two entry points (one call and a compare per message). */
class MeteredStore extends ErrorStore {
  override zmq(frames: readonly Uint8Array[], machine: string, now?: number): void {
    super.zmq(frames, machine, now);
    meter.tick();
  }
  override nats(subject: string, data: Uint8Array, machine: string, now?: number): void {
    super.nats(subject, data, machine, now);
    meter.tick();
  }
}

// The <bus>-floor modes: the bare loop plus the least a console that matches twins by id must
// do per message: find the id in the body, hash it, keep it in a window. The window is 4,096
// numbers, far smaller (so cheaper) than the dedup window the console needs, and an id-less
// frame (variant B) costs it only the search, where the console matches it on its content. The
// floor's CPU per message bounds what any design of opsdeck's path could reach on that bus.
const FLOOR_WINDOW = 4096;
const ID_KEYS = [Buffer.from('"id": "'), Buffer.from('"error_id": "')];
const indexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array) => number;

/** Finds the body's id (either library's key), hashes its bytes, keeps the last `size` hashes. */
function idFloor(size: number): (body: Uint8Array) => void {
  const seen = new Map<number, number>();
  const order = new Int32Array(size);
  let n = 0;
  return (body) => {
    let at = -1;
    for (const key of ID_KEYS) {
      at = indexOf.call(body, key);
      if (at >= 0) {
        at += key.length;
        break;
      }
    }
    let h = 0x811c9dc5;
    for (let k = at; k >= 0 && k < body.length && body[k] !== 34; k++)
      h = Math.imul(h ^ body[k]!, 16777619);
    h |= 0;
    if (seen.has(h)) return; // a copy: nothing more to do
    const slot = n++ % size;
    if (n > size) seen.delete(order[slot]!);
    order[slot] = h;
    seen.set(h, n);
  };
}

// Which machine an agent is on, as data-plane's machineResolver answers it (a map lookup).
const owners = new Map<string, string>();
for (let i = 0; i < 50; i++) {
  owners.set(`MainAgent${String(i).padStart(2, '0')}`, 'mainpc');
  owners.set(`Pc2Agent${String(i).padStart(2, '0')}`, 'pc2');
}
const machineOf = (agent: string | undefined) => (agent ? (owners.get(agent) ?? 'any') : 'any');

// No client pings during a run: a PONG waits behind the whole pre-buffered backlog, and with the
// console's setting (3 s x 3) a drain longer than ~9 s is declared stale, reconnected and its
// backlog lost (a core subscription's; JetStream redelivers). That is a finding, not throughput.
async function natsConnect(): Promise<NatsConnection> {
  return connect({ servers: target, name: `bench-${mode}`, pingInterval: 300_000, maxPingOut: 3 });
}

const durableConfig = (name: string) => ({
  durable_name: name,
  ack_policy: AckPolicy.Explicit,
  filter_subject: 'errors.>',
  deliver_policy: DeliverPolicy.StartTime,
  opt_start_time: new Date(Date.now() - REPLAY_MS).toISOString(),
  max_ack_pending: 20_000,
});

childMain(async () => {
  let store: MeteredStore | undefined;
  let cleanup: () => Promise<void> = async () => {};

  switch (mode) {
    case 'zmq-bare':
    case 'zmq-floor': {
      // The same socket options as zmqErrors, and its receive(): the socket's async iterator
      // wraps each message in one more promise, and a baseline on it flattered opsdeck's ratio.
      const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 100_000 });
      sub.connect(target);
      sub.subscribe();
      const floor = mode === 'zmq-floor' ? idFloor(FLOOR_WINDOW) : undefined;
      // The floor reads bursts as zmqErrors does (a burst received, then read): reading each
      // message as it arrives cost a quarter more there.
      let burst: Uint8Array[] = [];
      let pending: NodeJS.Immediate | undefined;
      const read = () => {
        if (pending) clearImmediate(pending);
        pending = undefined;
        const taken = burst;
        burst = [];
        for (let i = 0; i < taken.length; i++) {
          floor!(taken[i]!);
          meter.tick();
        }
      };
      void (async () => {
        for (;;) {
          const frames = await sub.receive();
          if (!floor) {
            meter.tick();
            continue;
          }
          burst.push(frames[frames.length - 1]!);
          if (burst.length < 512) pending ??= setImmediate(read);
          else {
            read();
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
      })().catch(() => {});
      cleanup = async () => sub.close();
      break;
    }
    case 'zmq-opsdeck': {
      store = new MeteredStore({ notifyMs: 100 });
      const stop = zmqErrors(target, 'mainpc', store);
      cleanup = async () => stop();
      break;
    }
    case 'core-bare':
    case 'core-floor': {
      // A callback, as opsdeck's core subscription uses: the subscription's async iterator costs
      // a promise and a turn per message, and a baseline on it flattered opsdeck's ratio.
      const nc = await natsConnect();
      const floor = mode === 'core-floor' ? idFloor(FLOOR_WINDOW) : undefined;
      nc.subscribe('errors.>', {
        callback: (error, m) => {
          if (error) return;
          floor?.(m.data);
          meter.tick();
        },
      });
      await nc.flush();
      cleanup = () => nc.close();
      break;
    }
    case 'core-opsdeck':
    case 'ordered-opsdeck':
    case 'durable-opsdeck': {
      const nc = await natsConnect();
      store = new MeteredStore({ notifyMs: 100 });
      const durable = mode === 'durable-opsdeck' ? `bench_${process.pid}` : undefined;
      const feed = await natsErrors(nc, store, {
        machineOf,
        ...(mode === 'core-opsdeck' ? {} : { replayMs: REPLAY_MS }),
        ...(durable ? { durable } : {}),
      });
      const chose = feed.streams.length > 0 ? 'jetstream' : 'core';
      if (chose !== (mode === 'core-opsdeck' ? 'core' : 'jetstream'))
        throw new Error(`natsErrors chose ${chose} for ${mode}`);
      await nc.flush();
      cleanup = async () => {
        await feed.stop();
        if (durable)
          await (
            await nc.jetstreamManager()
          ).consumers
            .delete(STREAM, `${durable}_${STREAM}`)
            .catch(() => {});
        await nc.close();
      };
      break;
    }
    case 'ordered-bare':
    case 'ordered-floor': {
      const nc = await natsConnect();
      // The same consumer opsdeck's live view asks for: ordered, errors.>, from a start time.
      const consumer = await nc.jetstream().consumers.get(STREAM, {
        filterSubjects: 'errors.>',
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(Date.now() - REPLAY_MS).toISOString(),
      });
      // A callback, as natsErrors consumes (the iterator costs a promise per message).
      const floor = mode === 'ordered-floor' ? idFloor(FLOOR_WINDOW) : undefined;
      const messages = await consumer.consume({
        max_messages: 1000,
        callback: (m: JsMsg) => {
          floor?.(m.data);
          meter.tick();
        },
      });
      cleanup = async () => {
        await messages.close();
        await nc.close();
      };
      break;
    }
    case 'durable-bare': {
      const nc = await natsConnect();
      const name = `benchbare_${process.pid}`;
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.add(STREAM, durableConfig(name));
      // Acks batched per event-loop turn and a callback, as opsdeck's natsErrors does: the
      // baseline gets the same delivery and ack strategy, so the ratio measures opsdeck's work.
      const acks: JsMsg[] = [];
      let turn: NodeJS.Immediate | undefined;
      const flush = () => {
        turn = undefined;
        for (const m of acks.splice(0)) m.ack();
      };
      const messages: ConsumerMessages = await (
        await nc.jetstream().consumers.get(STREAM, name)
      ).consume({
        max_messages: 1000,
        callback: (m: JsMsg) => {
          meter.tick();
          acks.push(m);
          turn ??= setImmediate(flush);
        },
      });
      cleanup = async () => {
        await messages.close();
        await jsm.consumers.delete(STREAM, name).catch(() => {});
        await nc.close();
      };
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }

  // Losses show up as a stall short of `expected`: give up 3 s after the last message.
  const started = Date.now();
  let traced = 0;
  const watchdog = setInterval(() => {
    if (process.env.BENCH_TRACE && Date.now() - traced > 1000) {
      traced = Date.now();
      process.stderr.write(
        `trace ${mode} n=${meter.n} sinceLast=${(performance.now() - meter.lastAt).toFixed(0)}ms rss=${rssMb().toFixed(0)}\n`,
      );
    }
    if (meter.n > 0 && performance.now() - meter.lastAt > 3000) meter.finish(true);
    if (meter.n === 0 && Date.now() - started > 60_000) meter.finish(true);
  }, 200);
  global.gc?.();
  meter.rssBefore = rssMb();
  toParent({ type: 'ready' });
  if (sync) {
    // Pre-buffered drain: hold this event loop (synchronously, so nothing is consumed) while
    // the publisher fills the pipe, then drain it. The publisher then costs this process no CPU.
    await new Promise((r) => setTimeout(r, 100));
    hold(0);
  }

  const lost = await meter.done;
  clearInterval(watchdog);
  const elapsedMs = meter.endAt - meter.t0 - meter.heldMs;
  const rssAfter = rssMb();
  const heapAfter = process.memoryUsage().heapUsed / 2 ** 20;
  // Let the store's last notification fire, so its counters are final.
  await new Promise((r) => setTimeout(r, 150));
  const counters = store ? structuredClone(store.flush().counters) : undefined;
  global.gc?.();
  const rssAfterGc = rssMb();
  const heapAfterGc = process.memoryUsage().heapUsed / 2 ** 20;
  toParent({
    type: 'result',
    mode,
    expected,
    received: meter.counted,
    lost,
    elapsedMs,
    rate: meter.counted > 1 ? ((meter.counted - 1) / elapsedMs) * 1000 : 0,
    cpuMs: meter.cpuMs,
    rssBefore: meter.rssBefore,
    rssAfter,
    rssAfterGc,
    heapAfter,
    heapAfterGc,
    ...(counters ? { counters, rows: store!.getSnapshot().rows.length } : {}),
  });
  await cleanup();
  setTimeout(() => process.exit(0), 50);
});
