// `opsdeck agent --health`: the agent probes its own machine's agents with the console's prober
// (stores/health-store.ts: same requests, same MOVED search, same verdicts; from here the probes
// never cross the network) and publishes the results on opsdeck.<machine>.health
// (core/health/feed.ts) after every round, and at least once per interval while nothing changes,
// so a console on `--health-from agents` can tell a quiet feed from a stopped one.
// Like the console, it listens on the machine's error-bus port: frames from CentralErrorBus
// (which has no health port) are a sign of life when its PUB's greeting is not enough.
import type { NatsConnection } from 'nats';
import { Subscriber } from 'zeromq';
import type { Machine } from '../core/fleet/model.js';
import { healthParts, healthSubject } from '../core/health/feed.js';
import type { AgentHealth } from '../core/health/state.js';
import { HealthStore, targetsFor, type HealthEvidence } from '../stores/health-store.js';
import { netProber } from '../adapters/net-prober.js';
import { agentKey } from '../core/fleet/agent-key.js';

export interface LocalHealthOptions {
  /** This machine from the fleet config (its host: where its agents are probed). */
  machine: Machine;
  intervalMs: number;
  timeoutMs: number;
  evidence?: HealthEvidence;
  onProbe?: (key: string, health: AgentHealth) => void;
}

export interface LocalHealth {
  store: HealthStore;
  /** Publishes on NATS from now on (the prober runs before NATS is reached). */
  attach(nc: NatsConnection): void;
  stop(): void;
}

export function runLocalHealth(options: LocalHealthOptions): LocalHealth {
  const { machine, intervalMs, timeoutMs } = options;
  const bus = lastFrames(`tcp://${machine.host}:${machine.globals.errorBusPort?.value ?? 7150}`);
  const store = new HealthStore(targetsFor([machine], { intervalMs, timeoutMs }), netProber(), {
    intervalMs,
    timeoutMs,
    evidence: { ...options.evidence, lastBusFrame: () => bus.last() },
    ...(options.onProbe ? { onProbe: options.onProbe } : {}),
  });
  const stopProbing = store.start();
  const encoder = new TextEncoder();
  let nc: NatsConnection | undefined;
  let seq = 0;
  let lastSent = 0;
  const send = () => {
    if (!nc || nc.isClosed()) return;
    lastSent = Date.now();
    const byName = new Map<string, AgentHealth>();
    for (const a of machine.agents) {
      const h = store.getSnapshot().agents.get(agentKey(machine.id, a.name));
      if (h) byName.set(a.name, h);
    }
    for (const part of healthParts(machine.id, byName, lastSent, intervalMs, ++seq))
      nc.publish(healthSubject(machine.id), encoder.encode(JSON.stringify(part)));
  };
  const unsubscribe = store.subscribe(send);
  const heartbeat = setInterval(() => {
    if (Date.now() - lastSent >= intervalMs) send();
  }, intervalMs);
  heartbeat.unref();
  return {
    store,
    attach(connection) {
      nc = connection;
      send();
    },
    stop() {
      clearInterval(heartbeat);
      unsubscribe();
      stopProbing();
      bus.close();
    },
  };
}

/** When the last frame arrived on the error-bus port (nothing is decoded). */
function lastFrames(endpoint: string): { last(): number | undefined; close(): void } {
  const sub = new Subscriber({ linger: 0, heartbeatInterval: 2000, heartbeatTimeout: 6000 });
  let at: number | undefined;
  sub.connect(endpoint);
  sub.subscribe();
  void (async () => {
    try {
      for await (const _frames of sub) at = Date.now();
    } catch {
      /* closed */
    }
  })();
  return { last: () => at, close: () => sub.close() };
}
