// The actions the console offers, each an Action run through the shared flow. An action that
// cannot run here says why instead of disappearing (no NATS yet, no secrets folder...).
import type { NatsConnection } from 'nats';
import { join } from 'node:path';
import { checkoutOf } from '../core/fleet/checkout.js';
import type { Machine } from '../core/fleet/model.js';
import type { Env } from '../core/fleet/port-expr.js';
import { THROTTLE_LEVELS } from '../core/resources/throttle.js';
import type { ActionCatalog, ActionEntry } from '../core/ui/actions.js';
import type { DataPlane } from '../wiring/data-plane.js';
import { existsSync } from 'node:fs';
import { controlSubject, tokenSource } from '../adapters/control-client.js';
import { auditPath } from '../adapters/audit.js';
import { readJwks, tokenVerifier } from '../adapters/jwt.js';
import { DEFAULT_AUTO_POLICY } from '../core/resources/auto-throttle.js';
import type { ControlAuth } from '../core/resources/machine-control.js';
import type { ProbeResult } from '../core/security/probe.js';
import { DEFAULT_SKEW_S } from '../core/security/token.js';
import { NoteStore } from '../stores/note-store.js';
import { autoOffAction } from './auto-throttle.js';
import { findSampleKeys, SAMPLE_KEYS_FILE, type SampleKeys } from '../adapters/sample-sign.js';
import { autoOnAction, securityProbeAction, type AutoHolder } from './console-extra.js';
import { redact } from '../adapters/nats-link.js';
import type { Action } from './action.js';
import { certsGenerateAction } from './certs.js';
import { throttleAction } from './throttle.js';
import { fixStreamsAction, phaseAction } from './errorbus.js';
import { configMigrateAction } from './config-migrate.js';
import { lifecycleAction } from './lifecycle.js';

export interface CatalogOptions {
  machines: readonly Machine[];
  env: Env;
  nats?: string;
  plane?: DataPlane;
  /** Told of every security probe the operator runs (the scorecard's P1.4 shows it). */
  onProbe?: (result: ProbeResult) => void;
}

const keysOf = (keys: SampleKeys | undefined) => (keys ? { keys } : {});

interface Item extends ActionEntry {
  make?: () => Action | undefined;
}

/**
 * The secrets folder (the one rule of commands/secrets-dir.ts, for a fleet already loaded):
 * $OPSDECK_SECRETS, else `secrets/` at the root of the fleet's checkout, where upstream's
 * SecretManager looks (./secrets/<NAME> from the repo root).
 */
export const secretsDirFor = (machines: readonly Machine[], env: Env = {}): string =>
  env.OPSDECK_SECRETS ?? join(machines[0] ? checkoutOf(machines[0].source.file) : '.', 'secrets');

// Long: the catalog as a table, one entry per action row of screen 5, in the order the screen
// lists them.
export function consoleActions(o: CatalogOptions): ActionCatalog {
  const dir = secretsDirFor(o.machines, o.env);
  const nc = () => o.plane?.link?.nc;
  const needsNats = o.nats ? undefined : 'no NATS configured (--nats or NATS_SERVERS)';
  const server = redact(o.nats ?? '');
  // An item that acts over NATS: unavailable without it, made on the live connection.
  const overNats = (
    item: Pick<Item, 'id' | 'title' | 'what'>,
    make: (conn: NatsConnection) => Action,
  ): Item => ({
    ...item,
    ...(needsNats ? { unavailable: needsNats } : {}),
    make: () => {
      const conn = nc();
      return conn ? make(conn) : undefined;
    },
  });
  const items: Item[] = [
    {
      id: 'certs.generate',
      title: 'Generate certs, keys and tokens',
      what: `CA, machine and operator certs, JWT key + tokens, CURVE keys, NATS auth into ${dir}`,
      make: () =>
        certsGenerateAction({ dir, machines: o.machines.map((m) => ({ id: m.id, host: m.host })) }),
    },
  ];
  for (const m of o.machines) {
    const v3 = m.source.shape === 'v3-unified';
    items.push({
      id: `config.migrate.${m.id}`,
      title: `Migrate ${m.id}'s config to agent_groups`,
      what: `rewrite ${m.source.file} (${m.source.shape}) into the canonical schema: diff first, backup, atomic write`,
      ...(v3
        ? {
            unavailable:
              'a v3 unified file holds several machines: use `opsdeck config migrate FILE --machine M --out F`',
          }
        : {}),
      make: () => configMigrateAction({ file: m.source.file, env: o.env, cwd: process.cwd() }),
    });
  }
  const plane = o.plane;
  const busItems: Array<[string, string, string, (p: DataPlane) => Action]> = [
    [
      'errorbus.advance',
      'Advance the error-bus phase',
      'zmq -> dual-publish -> nats-consumers -> zmq-off, one step, after its preflight (coverage, gaps, 7150)',
      (p) => phaseAction({ plane: p }, 'advance'),
    ],
    [
      'errorbus.rollback',
      'Roll the error-bus phase back one step',
      'one step back, compare-and-swap on the KV revision',
      (p) => phaseAction({ plane: p }, 'rollback'),
    ],
    [
      'errorbus.fix-streams',
      'Fix overlapping error streams',
      "one ERRORS stream on errors.> instead of upstream's overlapping ERRORS / AGENT_ERRORS / ERROR_STREAM",
      (p) => fixStreamsAction({ plane: p }),
    ],
  ];
  for (const [id, title, what, make] of busItems) {
    items.push({
      id,
      title,
      what,
      ...(needsNats || !plane ? { unavailable: needsNats ?? 'needs the live data plane' } : {}),
      make: () => (plane ? make(plane) : undefined),
    });
  }
  if (o.machines.some((m) => m.id === 'pc2')) {
    for (const t of THROTTLE_LEVELS) {
      const item = {
        id: `throttle.pc2.${t.level}`,
        title: `Throttle PC2: level ${t.level} ${t.name}`,
        what: `set_thresholds cpu ${t.thresholds.cpu} / memory ${t.thresholds.memory} / gpu ${t.thresholds.gpu}, set_throttle ${t.level}: ${t.effect}`,
      };
      items.push(
        overNats(item, (conn) =>
          throttleAction({
            nc: conn,
            server,
            machine: 'pc2',
            level: t.level,
            token: tokenSource(dir, 'pc2'),
            env: o.env,
            ...keysOf(findSampleKeys(dir, o.env ?? {})),
          }),
        ),
      );
    }
  }
  for (const m of o.machines) {
    const item = {
      id: `security.probe.${m.id}`,
      title: `Probe control auth on ${m.id}`,
      what: `send ${controlSubject(m.id)} a harmless request without a token and with an unsigned one: is it refused?`,
    };
    items.push(
      overNats(item, (conn) =>
        securityProbeAction({
          nc: conn,
          server,
          machine: m.id,
          subject: controlSubject(m.id),
          ...(o.onProbe ? { seen: o.onProbe } : {}),
        }),
      ),
    );
  }

  const notes = new NoteStore();
  const holder: AutoHolder = {};
  if (o.machines.some((m) => m.id === 'pc2')) {
    const on = {
      id: 'throttle.auto.on',
      title: 'Throttle PC2 automatically from its VRAM',
      what: `raise a level above ${DEFAULT_AUTO_POLICY.raiseAbovePct}% VRAM for ${DEFAULT_AUTO_POLICY.samples} samples, lower below ${DEFAULT_AUTO_POLICY.lowerBelowPct}%; runs while this console does`,
    };
    const off = {
      id: 'throttle.auto.off',
      title: 'Stop automatic throttling of PC2',
      what: "ask the running auto-throttle (this console's or `opsdeck throttle pc2 --auto on`) to stop; the level stays",
    };
    items.push(
      overNats(on, (conn) => {
        const token = tokenSource(dir, 'pc2');
        const jwks = join(dir, 'jwt/jwks.json');
        return autoOnAction({
          nc: conn,
          server,
          machine: 'pc2',
          policy: DEFAULT_AUTO_POLICY,
          token,
          auth: runnerAuth(jwks, token.kind !== 'none'),
          env: o.env,
          auditPath: auditPath(o.env),
          holder,
          log: notes.add,
          keys: findSampleKeys(dir, o.env ?? {}),
          keysFile: o.env?.OPSDECK_SAMPLE_KEYS ?? join(dir, SAMPLE_KEYS_FILE),
        });
      }),
      overNats(off, (conn) =>
        autoOffAction({
          nc: conn,
          server,
          machine: 'pc2',
          token: tokenSource(dir, 'pc2'),
          env: o.env,
        }),
      ),
    );
  }
  return {
    entries: items.map(({ make: _make, ...entry }) => entry),
    make: (id) => items.find((i) => i.id === id && !i.unavailable)?.make?.(),
    ...(needsNats ? { agentUnavailable: needsNats } : {}),
    agent: (verb, key) => {
      const conn = nc();
      const slash = key.indexOf('/');
      if (!conn || slash < 1) return undefined;
      const machine = key.slice(0, slash);
      return lifecycleAction({
        nc: conn,
        server,
        machines: o.machines,
        machine,
        agent: key.slice(slash + 1),
        verb,
        token: tokenSource(dir, machine),
        env: o.env,
      });
    },
    notes,
    close: () => holder.runner?.stop('the console quit'),
  };
}

/**
 * Who may stop the console's runner from elsewhere: the JWKS in the secrets folder checks their
 * tokens; with no secrets at all the fleet runs open (the demo); a key without a JWKS refuses.
 */
function runnerAuth(jwks: string, hasToken: boolean): ControlAuth {
  if (existsSync(jwks)) {
    try {
      return {
        mode: 'verify',
        verify: tokenVerifier({ keys: readJwks(jwks), skewS: DEFAULT_SKEW_S }),
      };
    } catch (error) {
      return { mode: 'refuse', reason: `${jwks}: ${(error as Error).message}` };
    }
  }
  if (!hasToken) return { mode: 'open' };
  return { mode: 'refuse', reason: `no JWKS to check tokens with (${jwks} missing)` };
}
