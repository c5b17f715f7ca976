// The one rule for the secrets folder, used by every command and the console: the option, else
// $OPSDECK_SECRETS, else secrets/ at the root of the fleet's checkout (where upstream's
// SecretManager looks: ./secrets/<NAME> from the repo root), else ./secrets.
import { isAbsolute, join, resolve } from 'node:path';
import { checkoutOf } from '../core/fleet/checkout.js';
import { discoverFleet } from '../adapters/fleet-files.js';
import type { FleetArgs } from './fleet-args.js';
import type { Io } from './io.js';

export function secretsFolder(io: Io, flag?: string, fleet: FleetArgs = {}): string {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
  if (flag) return abs(flag);
  if (io.env.OPSDECK_SECRETS) return abs(io.env.OPSDECK_SECRETS);
  if (fleet.root) return join(abs(fleet.root), 'secrets');
  const named = fleet.mainpc ?? fleet.pc2;
  if (named) return join(checkoutOf(abs(named)), 'secrets');
  const found = Object.values(discoverFleet(io.cwd).files)[0];
  return join(found ? checkoutOf(found) : io.cwd, 'secrets');
}
