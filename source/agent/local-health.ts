// `opsdeck agent --health`: the agent probes its own machine's agents with the console's prober
// (stores/health-store.ts: same requests, same MOVED search, same verdicts; from here the probes
// never cross the network) and publishes the results on opsdeck.<machine>.health
// (core/health/feed.ts) after every round, and at least once per interval while nothing changes,
// so a console on `--health-from agents` can tell a quiet feed from a stopped one.
import type { NatsConnection } from 'nats';
import type { Machine } from '../core/fleet/model.js';
import { healthParts, healthSubject } from '../core/health/feed.js';
import type { AgentHealth } from '../core/health/state.js';
import { HealthStore, targetKey, targetsFor, type HealthEvidence } from '../stores/health-store.js';

export interface LocalHealthOptions {
  /** This machine from the fleet config (its host: where its agents are probed). */
  machine: Machine;
  intervalMs: number;
  timeoutMs: number;
  evidence?: HealthEvidence;
  onProbe?(key: string, health: AgentHealth): void;
}

export interface LocalHealth {
  store: HealthStore;
  /** Publishes on NATS from now on (the prober runs before NATS is reached). */
  attach(nc: NatsConnection): void;
  stop(): void;
}

export function runLocalHealth(options: LocalHealthOptions): LocalHealth {
  const { machine, intervalMs, timeoutMs } = options;
  const store = new HealthStore(targetsFor([machine], { intervalMs, timeoutMs }), {
    intervalMs,
    timeoutMs,
    ...(options.evidence ? { evidence: options.evidence } : {}),
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
      const h = store.getSnapshot().agents.get(targetKey(machine.id, a.name));
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
    },
  };
}
