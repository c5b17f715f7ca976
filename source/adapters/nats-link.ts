// One NATS connection for the whole process, exposed as a store: connected / reconnecting /
// closed, the server, the round-trip time. Reconnects forever; a dead server is noticed within
// pingInterval * maxPingOut (the defaults would take minutes), by our own check: anything
// received proves the server alive, not only a PONG. Credentials never reach a log.
import { DebugEvents, Events, type ConnectionOptions, type NatsConnection } from 'nats';
import { connectNats } from './nats-connect.js';
import { Emitter } from '../core/emitter.js';
import type { LinkStatus } from '../core/nats/link.js';

export type { LinkState, LinkStatus } from '../core/nats/link.js';

export interface LinkOptions {
  /** Comma-separated or list: a cluster is accepted. */
  servers: string | string[];
  name?: string;
  pingIntervalMs?: number;
  maxPingOut?: number;
  user?: string;
  pass?: string;
  token?: string;
  tls?: ConnectionOptions['tls'];
}

/** nats://user:pass@host:4222 -> nats://host:4222 */
export const redact = (url: string): string => url.replace(/\/\/[^@/]*@/, '//');

export const splitServers = (servers: string | string[]): string[] =>
  (Array.isArray(servers) ? servers : servers.split(',')).map((s) => s.trim()).filter(Boolean);

export class NatsLink {
  private readonly emitter = new Emitter();
  private status: LinkStatus = { state: 'off', since: Date.now(), reconnects: 0 };
  private conn: NatsConnection | undefined;
  private readonly ready: Promise<NatsConnection | undefined>;
  private rttTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private wake: (() => void) | undefined;
  private liveTimer: NodeJS.Timeout | undefined;

  private begin: (() => void) | undefined;
  /** Gives up an attempt under way when the link is closed (nats.js's own wait is `timeout`). */
  private readonly giveUp = new AbortController();

  /**
   * Connects at once, or with `{ deferred: true }` when start() is called (the console draws its
   * first frame first). A deferred link says `connecting` meanwhile: it is about to, and nothing
   * is known of the server yet.
   */
  constructor(
    private readonly options: LinkOptions,
    how: { deferred?: boolean } = {},
  ) {
    if (!how.deferred) this.ready = this.open();
    else {
      this.status = { ...this.status, state: 'connecting', server: this.servers() };
      this.ready = new Promise<void>((resolve) => (this.begin = resolve)).then(() =>
        this.closing ? undefined : this.open(),
      );
    }
  }

  /** Starts connecting a deferred link (once; nothing for a link that connects by itself). */
  start(): void {
    this.begin?.();
    this.begin = undefined;
  }

  private servers(): string {
    return splitServers(this.options.servers).map(redact).join(',');
  }

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): LinkStatus => this.status;

  /** The connection once established (resolves undefined if closed first). */
  connection(): Promise<NatsConnection | undefined> {
    return this.ready;
  }

  get nc(): NatsConnection | undefined {
    return this.conn;
  }

  private set(patch: Partial<LinkStatus>): void {
    const stateChanged = patch.state !== undefined && patch.state !== this.status.state;
    this.status = { ...this.status, ...patch, ...(stateChanged ? { since: Date.now() } : {}) };
    this.emitter.emit();
  }

  // First connection: our own loop (nats.js's waitOnFirstConnect cannot be cancelled, which
  // would keep a quitting console alive); after that nats.js reconnects forever by itself.
  private async open(): Promise<NatsConnection | undefined> {
    const servers = splitServers(this.options.servers);
    this.set({ state: 'connecting', server: this.servers() });
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        const nc = await connectNats(
          {
            servers,
            name: this.options.name ?? 'opsdeck',
            maxReconnectAttempts: -1,
            reconnectTimeWait: 1000,
            reconnectJitter: 250,
            // nats.js's own check counts unanswered PINGs only, and the server's PONG waits behind
            // everything it sent before: a backlog that took longer than the window to drain got a
            // busy, alive connection dropped as stale, and the rest of the backlog lost. So nats.js
            // never gives up on pings by itself (its pings cost nothing); watchLiveness() decides.
            pingInterval: this.options.pingIntervalMs ?? 3000,
            maxPingOut: 1_000_000,
            timeout: 2000,
            debug: false, // debug output would print credentials onto the console
            ...(this.options.user
              ? { user: this.options.user, pass: this.options.pass ?? '' }
              : {}),
            ...(this.options.token ? { token: this.options.token } : {}),
            ...(this.options.tls ? { tls: this.options.tls } : {}),
          },
          this.giveUp.signal,
        );
        if (this.closing) {
          await nc.close();
          return undefined;
        }
        this.conn = nc;
        this.set({ state: 'connected', server: redact(nc.getServer()), error: undefined });
        void this.watch(nc);
        this.watchLiveness(nc);
        this.rttTimer = setInterval(() => void this.measure(), 5000);
        this.rttTimer.unref();
        void this.measure();
        return nc;
      } catch (error) {
        this.set({ state: 'connecting', error: clean(error) });
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, Math.min(5000, 500 * 2 ** Math.min(attempt, 4))).unref();
        });
      }
    }
    return undefined;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case Events.Disconnect:
        case DebugEvents.Reconnecting:
          this.set({ state: 'reconnecting', rttMs: undefined });
          break;
        case Events.Reconnect:
          this.set({
            state: 'connected',
            server: redact(nc.getServer()),
            reconnects: this.status.reconnects + 1,
          });
          void this.measure();
          break;
        case Events.Error:
          this.set({ error: clean(s.data) });
          break;
        default:
          break;
      }
    }
    if (!this.closing) this.set({ state: 'closed' });
  }

  /**
   * The connection is alive while anything arrives: a message (nc.stats() counts it as it is
   * parsed, before it is handled), or the PONG to a PING of ours. Nothing for pingInterval *
   * maxPingOut: the server is dead or frozen, and nats.js is told to reconnect. Checked every
   * pingInterval / 4, so a dead server is noticed within the window and a quarter.
   */
  private watchLiveness(nc: NatsConnection): void {
    const interval = this.options.pingIntervalMs ?? 3000;
    const window = interval * (this.options.maxPingOut ?? 3);
    let alive = Date.now();
    let seen = -1;
    let pinged = 0;
    let pinging = false;
    this.liveTimer = setInterval(
      () => {
        if (nc.isClosed() || this.closing) return;
        const now = Date.now();
        if (this.status.state !== 'connected') {
          alive = now; // nats.js is reconnecting: the window starts again once it is back
          return;
        }
        const { inMsgs, inBytes } = nc.stats();
        if (inMsgs + inBytes !== seen) {
          seen = inMsgs + inBytes;
          alive = now;
        }
        if (!pinging && now - pinged >= interval) {
          pinging = true;
          pinged = now;
          nc.flush().then(
            () => ((alive = Date.now()), (pinging = false)),
            () => (pinging = false),
          );
        }
        if (now - alive > window) {
          alive = now;
          pinging = false;
          void nc.reconnect().catch(() => {});
        }
      },
      Math.max(10, Math.floor(interval / 4)),
    );
    this.liveTimer.unref();
  }

  private async measure(): Promise<void> {
    const nc = this.conn;
    if (!nc || nc.isClosed() || this.status.state !== 'connected') return;
    try {
      this.set({ rttMs: await nc.rtt() });
    } catch {
      /* a dropped ping shows up as a status change */
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.giveUp.abort();
    // A deferred link never started: its connection() resolves undefined, as for a closed one.
    this.start();
    this.wake?.();
    if (this.rttTimer) clearInterval(this.rttTimer);
    if (this.liveTimer) clearInterval(this.liveTimer);
    const nc = this.conn;
    this.conn = undefined;
    if (nc && !nc.isClosed()) {
      // Draining needs the server: with the link down it waits for a reconnect that may never
      // come and holds the console's shutdown. Close outright then, and bound the drain anyway.
      let timer: NodeJS.Timeout | undefined;
      const drained =
        this.status.state === 'connected' &&
        (await Promise.race([
          nc.drain().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 2000))),
        ]));
      clearTimeout(timer);
      if (!drained) await nc.close().catch(() => {});
    }
    this.set({ state: 'closed' });
    this.emitter.close();
  }
}

function clean(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return redact(text).split('\n')[0]!.slice(0, 200);
}
