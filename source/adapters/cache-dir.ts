// Where opsdeck keeps what it can always make again (snapshots of parsed configs, V8's compiled
// code for the bundle): $OPSDECK_CACHE_DIR (empty: no cache at all), else
// $XDG_CACHE_HOME/opsdeck, else ~/.cache/opsdeck. Each user of it has its own folder below.
import { join } from 'node:path';
import type { Env } from '../core/fleet/port-expr.js';

/** The cache's folder for `part` (`parsed`, `code`), or undefined when caching is off. */
export function cacheDir(env: Env, part: string): string | undefined {
  const base =
    env.OPSDECK_CACHE_DIR !== undefined
      ? env.OPSDECK_CACHE_DIR
      : env.XDG_CACHE_HOME
        ? join(env.XDG_CACHE_HOME, 'opsdeck')
        : env.HOME
          ? join(env.HOME, '.cache', 'opsdeck')
          : '';
  return base ? join(base, part) : undefined;
}
