// The simulator's NATS leg: error publishing into JetStream, the error-bus phase from KV, the
// control subject, and the resources it publishes per machine.
import {
  headers as natsHeaders,
  nanos,
  StorageType,
  type ConnectionOptions,
  type KV,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { connectNats } from '../adapters/nats-connect.js';
import type { NatsMessage } from '../core/errors/encode.js';
import { decodePhase, PHASE_BUCKET, PHASE_KEY, type PhaseValue } from '../core/errorbus/phase.js';

export const CONTROL_SUBJECT = 'opsdeck.sim.control';

export interface NatsSideHandlers {
  onPhase(value: PhaseValue, why: string): void;
  onWarn(text: string): void;
  onControl(data: Uint8Array): Promise<string>;
}

export interface NatsSide {
  readonly url: string;
  readonly maxPayload: number;
  publish(msg: NatsMessage): boolean;
  /** `sign` gives the headers that sign the exact bytes sent (resources samples). */
  publishJson(subject: string, value: unknown, sign?: (bytes: Uint8Array) => MsgHdrs): void;
  /** Resolves once the phase key has been read (absent counts as phase 0). */
  readonly phaseKnown: Promise<void>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Upstream's nats_error_bus.py creates stream ERRORS on `errors.>`; nats_client.py would create
 * ERROR_STREAM on the same subjects, which one server refuses (overlap). So: whichever stream
 * already captures `errors.>` is used, else ERRORS is created with upstream's limits.
 */
async function ensureErrorStream(nc: NatsConnection): Promise<string> {
  const jsm = await nc.jetstreamManager();
  try {
    return await jsm.streams.find('errors.events');
  } catch {
    await jsm.streams.add({
      name: 'ERRORS',
      subjects: ['errors.>'],
      max_msgs: 100_000,
      max_age: nanos(7 * 24 * 3600 * 1000),
      storage: StorageType.File,
    });
    return 'ERRORS';
  }
}

/** How the sim's own connections reach NATS: reconnecting forever, like upstream's agents. */
export const simNats = (url: string, name: string): ConnectionOptions => ({
  servers: url,
  name,
  timeout: 3000,
  // Known trap: default pings notice a dead server only after minutes.
  pingInterval: 2000,
  maxPingOut: 3,
  reconnect: true,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
});

/** Follows the phase key; `known` resolves once it has been read (absent counts as phase 0). */
async function watchPhase(
  nc: NatsConnection,
  handlers: NatsSideHandlers,
): Promise<{ known: Promise<void>; stop(): void }> {
  const kv: KV = await nc.jetstream().views.kv(PHASE_BUCKET, { history: 10 });
  let markKnown: () => void = () => undefined;
  const known = new Promise<void>((resolve) => (markKnown = resolve));
  const watch = await kv.watch({ key: PHASE_KEY, initializedFn: () => markKnown() });
  void (async () => {
    for await (const entry of watch) {
      if (entry.operation === 'DEL' || entry.operation === 'PURGE') {
        handlers.onPhase({ phase: 0, name: 'zmq' }, `${PHASE_KEY} deleted: phase 0`);
      } else {
        const decoded = decodePhase(entry.string());
        if (decoded.ok) handlers.onPhase(decoded.value, `${PHASE_KEY} revision ${entry.revision}`);
        else
          handlers.onWarn(
            `${PHASE_BUCKET}/${PHASE_KEY} revision ${entry.revision} ignored: ${decoded.reason}`,
          );
      }
      markKnown();
    }
  })().catch((error: unknown) => handlers.onWarn(`phase watch ended: ${(error as Error).message}`));
  return { known, stop: () => watch.stop() };
}

/**
 * Core publishes: the stream captures them all the same, and a 20k/s flood must not wait for
 * one JetStream ack per message. False: not sent (the connection is closed, or it is too big).
 */
function errorPublisher(nc: NatsConnection, maxPayload: number): (msg: NatsMessage) => boolean {
  // nats_error_bus.py sends one body to two to four subjects: encode it once.
  let lastText = '';
  let lastBytes = new Uint8Array();
  return (msg) => {
    if (nc.isClosed()) return false;
    let data: Uint8Array;
    if (typeof msg.data !== 'string') data = msg.data;
    else if (msg.data === lastText) data = lastBytes;
    else {
      data = lastBytes = encoder.encode(msg.data);
      lastText = msg.data;
    }
    if (data.byteLength > maxPayload) return false;
    if (msg.headers) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(msg.headers)) h.set(k, v);
      nc.publish(msg.subject, data, { headers: h });
    } else {
      nc.publish(msg.subject, data);
    }
    return true;
  };
}

export async function connectNatsSide(url: string, handlers: NatsSideHandlers): Promise<NatsSide> {
  const nc = await connectNats(simNats(url, 'opsdeck-sim'));
  try {
    await ensureErrorStream(nc);
    const phase = await watchPhase(nc, handlers);
    const control: Subscription = nc.subscribe(CONTROL_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        void handlers.onControl(msg.data).then((reply) => {
          if (msg.reply) msg.respond(encoder.encode(reply));
        });
      },
    });
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    return {
      url,
      maxPayload,
      phaseKnown: phase.known,
      publish: errorPublisher(nc, maxPayload),
      publishJson(subject, value, sign) {
        if (nc.isClosed()) return;
        const bytes = encoder.encode(JSON.stringify(value));
        nc.publish(subject, bytes, sign ? { headers: sign(bytes) } : undefined);
      },
      async close() {
        control.unsubscribe();
        phase.stop();
        if (!nc.isClosed()) {
          await nc.flush().catch(() => undefined);
          await nc.close();
        }
      },
    };
  } catch (error) {
    await nc.close();
    throw error;
  }
}
