// The actions the console offers, each an Action run through the shared flow. An action that
// cannot run here says why instead of disappearing (no NATS, no secrets folder...).
import { dirname, join } from 'node:path';
import type { ActionCatalog } from '../app.js';
import type { Machine } from '../core/fleet/model.js';
import type { Env } from '../core/fleet/port-expr.js';
import type { ActionEntry } from '../screens/actions.js';
import type { DataPlane } from '../stores/data-plane.js';
import type { Action } from './action.js';
import { certsGenerateAction } from './certs.js';

export interface CatalogOptions {
  machines: readonly Machine[];
  env: Env;
  nats?: string;
  plane?: DataPlane;
}

interface Item extends ActionEntry {
  make?: () => Action;
}

/** The secrets folder the fleet's SecretManager reads: ./secrets beside the fleet config. */
export const secretsDirFor = (machines: readonly Machine[]): string => join(dirname(machines[0]?.source.file ?? '.'), 'secrets');

export function consoleActions(o: CatalogOptions): ActionCatalog {
  const items: Item[] = [];
  const dir = o.env.OPSDECK_SECRETS ?? secretsDirFor(o.machines);
  items.push({
    id: 'certs.generate',
    title: 'Generate certs, keys and tokens',
    what: `CA, machine and operator certs, JWT key + tokens, CURVE keys, NATS auth into ${dir}`,
    make: () => certsGenerateAction({ dir, machines: o.machines.map((m) => ({ id: m.id, host: m.host })) }),
  });
  return {
    entries: items.map(({ make: _make, ...entry }) => entry),
    make: (id) => items.find((i) => i.id === id && !i.unavailable)?.make?.(),
  };
}
