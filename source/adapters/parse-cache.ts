// Start-up (issue 16): parsing the fleet's YAML with positions is ~0.1 s of the console's first
// frame (2 x 50 agents), for files that rarely change. A snapshot of each parse (the data, the
// diagnostics, every key's location) is kept in a cache folder and used when the same build of
// opsdeck reads the same bytes again.
//
// A snapshot is never trusted for less: its name is the SHA-256 of the build id, the path and
// the file's whole text (read every time), it repeats that hash inside, and a second hash covers
// its body; anything that does not check out (torn, edited, another format) is parsed afresh and
// written again. Only plain JSON data is kept (a YAML timestamp, `.inf` or `-0` is not: those
// files are parsed every time), and only parses without errors.
//
// The build id comes from the bundle (scripts/bundle.mjs sets a new one per build): the code that
// parsed is then the code that reads. tsc's dist/ and tsx have none, so they never use the cache.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic, SourceLoc } from '../core/fleet/model.js';
import { locator, parseYaml, type ParsedSource } from '../core/fleet/yaml-source.js';
import type { Env } from '../core/fleet/port-expr.js';
import { writeFileAtomic } from './atomic-write.js';
import { cacheDir } from './cache-dir.js';
import { ensurePrivateDir, SECRET_MODE } from './secret-files.js';

const FORMAT = 'opsdeck-parse-cache 1';

export interface ParseCache {
  dir: string;
  /** The build that parses and reads (a snapshot of another build is never used). */
  build: string;
}

/**
 * The console's cache: the `parsed` folder of the cache (adapters/cache-dir.ts: off when
 * $OPSDECK_CACHE_DIR is empty); none outside the bundle (no build id).
 */
export function parseCacheFor(
  env: Env,
  build: string | undefined = process.env.OPSDECK_BUILD_ID,
): ParseCache | undefined {
  if (!build) return undefined;
  const dir = cacheDir(env, 'parsed');
  return dir ? { dir, build } : undefined;
}

interface Snapshot {
  key: string;
  data: unknown;
  diagnostics: Diagnostic[];
  index: Array<[string, SourceLoc]>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** parseYaml(text, file), from a snapshot when one of this build holds exactly this text. */
export function parseCached(text: string, file: string, cache: ParseCache): ParsedSource {
  const key = sha256(`${FORMAT}\0${cache.build}\0${file}\0${text}`);
  const path = join(cache.dir, `${key}.json`);
  const hit = readSnapshot(path, key);
  if (hit) {
    const index = new Map(hit.index);
    return {
      file,
      data: hit.data,
      diagnostics: hit.diagnostics,
      index,
      locate: locator(file, index),
    };
  }
  const parsed = parseYaml(text, file);
  if (
    parsed.index &&
    !parsed.diagnostics.some((d) => d.severity === 'error') &&
    plain(parsed.data)
  ) {
    const snapshot: Snapshot = {
      key,
      data: parsed.data,
      diagnostics: parsed.diagnostics,
      index: [...parsed.index],
    };
    const body = JSON.stringify(snapshot);
    try {
      ensurePrivateDir(cache.dir);
      writeFileAtomic(path, `${FORMAT} ${sha256(body)}\n${body}`, { mode: SECRET_MODE });
    } catch {
      // A cache that cannot be written costs the next start-up the parse, nothing else.
    }
  }
  return parsed;
}

function readSnapshot(path: string, key: string): Snapshot | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const newline = text.indexOf('\n');
  const header = text.slice(0, newline);
  const body = text.slice(newline + 1);
  if (newline < 0 || header !== `${FORMAT} ${sha256(body)}`) return undefined;
  try {
    const s = JSON.parse(body) as Snapshot;
    if (s.key !== key || !Array.isArray(s.diagnostics) || !Array.isArray(s.index)) return undefined;
    return s;
  } catch {
    return undefined;
  }
}

/** JSON gives this value back as it is: strings, finite numbers (not -0), booleans, null, arrays and plain objects. */
function plain(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(plain);
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.entries(value).every(([k, v]) => k !== '__proto__' && plain(v));
}
