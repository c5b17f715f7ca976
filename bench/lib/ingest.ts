// Ingest trials shared by the ZMQ and NATS figures: one consumer process per run, the bare loop
// and opsdeck's path alternating (A/B/A/B) so drift cancels, the median of each side reported.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child, median, round, sleep } from './harness.js';
import type { FigureContext, Row } from './report.js';

export interface TrialResult {
  mode: string;
  expected: number;
  received: number;
  lost: boolean;
  elapsedMs: number;
  rate: number;
  cpuMs: number;
  rssBefore: number;
  rssAfter: number;
  rssAfterGc: number;
  heapAfter: number;
  heapAfterGc: number;
  counters?: {
    received: { zmq: number; nats: number };
    malformed: number;
    dropped: number;
    [k: string]: unknown;
  };
  rows?: number;
  /** Publisher's own send rate for this run (msgs/s), when a publisher fed it. */
  sendRate?: number;
  /** Consumer processes that aborted (libzmq assertion) before this run succeeded. */
  aborts?: number;
}

export interface TrialSetup {
  /** Where consumers connect (ZMQ endpoint or NATS URL). */
  target: string;
  count: number;
  /** A publisher fills the pipe while the consumer's loop is held (pre-buffered drain); absent: the data is already there (a stream). */
  publisher?: Child;
  /** Fill and drain in chunks of this many (below the receiver's high-water mark). Default: all at once. */
  chunk?: number;
}

/**
 * One consumer run. libzmq 4.3.5 can abort a SUB whose receive pipe is full when its connection
 * is replaced (`Assertion failed: _input_stopped`, libzmq#3937): the pre-buffered drain fills
 * the pipe on purpose, so a run whose consumer aborted is retried (twice at most) and counted.
 */
export async function trial(
  ctx: FigureContext,
  mode: string,
  setup: TrialSetup,
): Promise<TrialResult> {
  for (let aborts = 0; ; aborts++) {
    try {
      const r = await attempt(ctx, mode, setup);
      return aborts ? { ...r, aborts } : r;
    } catch (error) {
      if (aborts >= 2 || !/exited \(code null\)/.test((error as Error).message)) throw error;
      ctx.log(`  ${mode}: the consumer aborted (libzmq assertion?); running it again`);
    }
  }
}

async function attempt(ctx: FigureContext, mode: string, setup: TrialSetup): Promise<TrialResult> {
  const sync = join(ctx.tmp, `sync-${mode}-${Date.now()}`);
  const chunk = setup.chunk ?? setup.count;
  const consumer = new Child(
    'consumer.ts',
    [mode, setup.target, String(setup.count), ...(setup.publisher ? [sync, String(chunk)] : [])],
    { execArgv: ['--expose-gc'] },
  );
  // The consumer says it holds again by a file (it cannot talk while its loop is held).
  const held = async (k: number) => {
    while (!existsSync(`${sync}.wait.${k}`)) {
      if (consumer.proc.exitCode !== null || consumer.proc.signalCode !== null)
        throw new Error(`bench child consumer.ts ${mode} exited (code null) before chunk ${k}`);
      await sleep(2);
    }
  };
  try {
    await consumer.next('ready', 60_000);
    let sendRate: number | undefined;
    if (setup.publisher) {
      await sleep(300); // the consumer is now holding its loop
      let sentMs = 0;
      for (let k = 0, offset = 0; offset < setup.count; k++) {
        if (k > 0) await held(k);
        const n = Math.min(chunk, setup.count - offset);
        setup.publisher.send({ type: 'run', count: n, offset, fresh: k === 0 });
        sentMs += (await setup.publisher.next('sent', 600_000)).ms as number;
        writeFileSync(`${sync}.go.${k}`, '');
        offset += n;
      }
      sendRate = (setup.count / sentMs) * 1000;
    }
    const result = (await consumer.next('result', 600_000)) as unknown as TrialResult;
    await consumer.exit;
    const r = { ...result, ...(sendRate ? { sendRate } : {}) };
    ctx.log(
      `  ${mode.padEnd(16)} ${Math.round(r.rate).toLocaleString('en-US').padStart(9)} msg/s  ${((r.cpuMs * 1000) / r.received).toFixed(1).padStart(5)} µs CPU/msg  received ${r.received}/${r.expected}${r.lost ? ' (LOSS)' : ''}  RSS ${r.rssBefore.toFixed(0)} -> ${r.rssAfter.toFixed(0)} MB`,
    );
    return r;
  } finally {
    await consumer.stop(2000);
  }
}

/**
 * Runs bare and opsdeck alternately, A B A B ... (`ctx.runs` runs of opsdeck). With `bracket`,
 * a last baseline run closes it (A B A): drift during opsdeck's longer runs shows on both sides.
 * A `floor` mode (the least any design must do per message) runs between them: A F B A F B ...
 */
export async function alternate(
  ctx: FigureContext,
  bare: string,
  opsdeck: string,
  setup: TrialSetup,
  bracket = true,
  floor?: string,
): Promise<{ bare: TrialResult[]; opsdeck: TrialResult[]; floor: TrialResult[] }> {
  const out = {
    bare: [] as TrialResult[],
    opsdeck: [] as TrialResult[],
    floor: [] as TrialResult[],
  };
  for (let i = 0; i < ctx.runs; i++) {
    out.bare.push(await trial(ctx, bare, setup));
    if (floor) out.floor.push(await trial(ctx, floor, setup));
    out.opsdeck.push(await trial(ctx, opsdeck, setup));
  }
  if (bracket) out.bare.push(await trial(ctx, bare, setup));
  return out;
}

/** Everything opsdeck's store counted: received (both buses) + malformed. */
const counted = (r: TrialResult) =>
  r.counters
    ? r.counters.received.zmq + r.counters.received.nats + r.counters.malformed
    : r.received;

/** The figure's row from alternating runs: median rates, their ratio, losses said out loud. */
export function ingestRow(
  id: string,
  figure: string,
  runs: { bare: TrialResult[]; opsdeck: TrialResult[]; floor?: TrialResult[] },
  baselineIs: string,
  extraNotes: string[] = [],
): Row {
  const bare = median(runs.bare.map((r) => r.rate));
  const ops = median(runs.opsdeck.map((r) => r.rate));
  const ratio = ops / bare;
  const notes = [...extraNotes];
  const cpu = (rs: TrialResult[]) =>
    median(rs.map((r) => (r.cpuMs * 1000) / Math.max(1, r.received)));
  const cpuBare = cpu(runs.bare);
  const cpuRatio = cpuBare / cpu(runs.opsdeck);
  notes.push(
    `CPU per message (whole process, all threads): opsdeck ${cpu(runs.opsdeck).toFixed(1)} µs, bare ${cpuBare.toFixed(1)} µs: opsdeck handles ${cpuRatio.toFixed(2)}x the bare loop's messages per CPU-second`,
  );
  // A drain is only the consumer's speed while the consumer is what limits it: a loop fast
  // enough waits on the server's delivery, and its msg/s then says more of the server.
  const busy = median(runs.bare.map((r) => r.cpuMs / Math.max(1, r.elapsedMs)));
  if (busy < 0.9)
    notes.push(
      `the bare loop kept ${(busy * 100).toFixed(0)}% of a core busy over its drain (the rest waiting on the server's delivery): its msg/s is partly the server's, the msg/s ratio flatters opsdeck, and the CPU ratio (${cpuRatio.toFixed(2)}x) is the measure`,
    );
  // The store sees every message before the meter does; more may arrive after the run ended.
  const losses = [...runs.bare, ...runs.opsdeck].filter(
    (r) => r.lost || r.received < r.expected || counted(r) < r.received,
  );
  if (losses.length)
    for (const r of losses)
      notes.push(
        `LOSS in ${r.mode}: received ${r.received} of ${r.expected} (store counted ${counted(r)})`,
      );
  else
    notes.push(
      `no loss: every run received all ${runs.bare[0]?.expected.toLocaleString('en-US')} messages; opsdeck's store counted each (received + malformed)`,
    );
  if (runs.floor?.length) {
    // Per CPU-second, not msg/s: the floor and the bare loop both outrun the server's delivery.
    const floor = cpu(runs.floor);
    notes.push(
      `floor (${runs.floor[0]!.mode}: the bare loop plus only finding, hashing and windowing each message's id): ${floor.toFixed(1)} µs CPU per message, so at most ${(cpuBare / floor).toFixed(2)}x the bare loop's messages per CPU-second for any path that matches twins by id; opsdeck's also decodes, matches, collapses and stores`,
    );
  }
  const aborts = [...runs.bare, ...runs.opsdeck].reduce((n, r) => n + (r.aborts ?? 0), 0);
  if (aborts)
    notes.push(
      `${aborts} consumer process(es) aborted in libzmq (Assertion failed: _input_stopped, libzmq#3937: a SUB with a full receive pipe whose connection is replaced) and were run again`,
    );
  const sends = [...runs.bare, ...runs.opsdeck]
    .map((r) => r.sendRate)
    .filter((x): x is number => x !== undefined);
  if (sends.length)
    notes.push(
      `publisher (own process) filled the pipe at a median ${Math.round(median(sends)).toLocaleString('en-US')} msg/s before each drain`,
    );
  return {
    id,
    figure,
    unit: 'msg/s',
    opsdeck: round(ops, 0),
    baseline: round(bare, 0),
    baselineIs,
    ratio: round(ratio, 3),
    ratioIs: 'opsdeck msg/s / baseline msg/s (medians of alternating runs); higher is better',
    target: '>= 0.8',
    met: ratio >= 0.8,
    notes,
    details: {
      cpuRatio: round(cpuRatio, 3),
      ...(runs.floor?.length ? { floorCpuRatio: round(cpuBare / cpu(runs.floor), 3) } : {}),
      runs: {
        bare: runs.bare.map(brief),
        opsdeck: runs.opsdeck.map(brief),
        ...(runs.floor?.length ? { floor: runs.floor.map(brief) } : {}),
      },
    },
  };
}

const brief = (r: TrialResult) => ({
  rate: round(r.rate, 0),
  received: r.received,
  expected: r.expected,
  lost: r.lost,
  elapsedMs: round(r.elapsedMs, 1),
  cpuUsPerMsg: round((r.cpuMs * 1000) / Math.max(1, r.received), 2),
  rssMb: {
    before: round(r.rssBefore, 1),
    after: round(r.rssAfter, 1),
    afterGc: round(r.rssAfterGc, 1),
  },
  heapUsedMb: { after: round(r.heapAfter, 1), afterGc: round(r.heapAfterGc, 1) },
  ...(r.sendRate ? { publisherRate: round(r.sendRate, 0) } : {}),
  ...(r.counters ? { counters: r.counters, rows: r.rows } : {}),
});
