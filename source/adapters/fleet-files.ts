// Reads fleet config files from disk and hands their text to the pure loader. Also knows where
// the fleet keeps its files inside an upstream checkout (docs/architecture.md, "Fleet definition").
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadParsed } from '../core/fleet/load.js';
import type { Diagnostic, LoadResult, Machine } from '../core/fleet/model.js';
import { hasErrors } from '../core/fleet/model.js';
import type { Env } from '../core/fleet/port-expr.js';
import type { ConfigFiles } from '../core/seams/files.js';
import { lineCol, parseYaml, type ParsedSource } from '../core/fleet/yaml-source.js';
import { parseCached, type ParseCache } from './parse-cache.js';

/**
 * Far above any fleet config: the largest real one is 23 KB (49 agents), the 1,000-agent scale
 * fleet about half a MiB. A 15 MB config under the old 16 MiB cap took 8.2 s and 814 MB (45 s
 * and 1.4 GB for 114,000 agents): the YAML library's parse and its garbage are most of it, so
 * the cap, not a faster path, bounds the time. At 2 MiB: about 3.5 s of CPU and 270 MB.
 */
export const MAX_CONFIG_BYTES = 2 * 1024 * 1024;

/** The file's text, refusing past `MAX_CONFIG_BYTES` (`/dev/zero` would otherwise eat all memory). */
function readCapped(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, MAX_CONFIG_BYTES + 1 - size));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      size += n;
      if (size > MAX_CONFIG_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    }
    const bytes = Buffer.concat(chunks);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      // PyYAML reads configs as UTF-8 and stops at the first byte that is not.
      const text = bytes.toString('utf8');
      const at = lineCol(text, text.indexOf('\uFFFD'));
      throw Object.assign(new Error(`not UTF-8 text (line ${at.line}, column ${at.col})`), {
        code: 'EILSEQ',
        at,
      });
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads a file into a parsed source; an unreadable file becomes an error diagnostic, not a throw. */
export function readSource(file: string, cache?: ParseCache): ParsedSource {
  let text: string;
  try {
    text = readCapped(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : code === 'EFBIG'
              ? `larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB: not a fleet config`
              : code === 'EILSEQ'
                ? 'not UTF-8 text: a binary file, or another encoding (PyYAML reads configs as UTF-8)'
                : String((error as Error).message);
    const at = (error as { at?: { line: number; col: number } }).at ?? { line: 1, col: 1 };
    return {
      file,
      data: undefined,
      diagnostics: [
        {
          severity: 'error',
          code: 'unreadable',
          message: `cannot read ${file}: ${why}`,
          loc: { file, ...at },
        },
      ],
      locate: () => ({ file, ...at }),
    };
  }
  return cache ? parseCached(text, file, cache) : parseYaml(text, file);
}

/**
 * v3 overrides live in `overrides/<name>.yaml` beside the file (upstream's config/overrides/);
 * the fixtures flatten that to `overrides.<name>.yaml`. CONFIG_OVERRIDE adds e.g. `docker`.
 */
export function findOverrides(
  file: string,
  machines: readonly string[],
  env: Env,
  cache?: ParseCache,
): Record<string, ParsedSource> {
  const dir = dirname(file);
  const found: Record<string, ParsedSource> = {};
  const extra = env.CONFIG_OVERRIDE;
  for (const name of extra ? [...machines, extra] : machines) {
    for (const candidate of [
      join(dir, 'overrides', `${name}.yaml`),
      join(dir, `overrides.${name}.yaml`),
    ]) {
      if (existsSync(candidate)) {
        found[name] = readSource(candidate, cache);
        break;
      }
    }
  }
  return found;
}

export interface LoadFileOptions {
  env: Env;
  machine?: string;
  /** Snapshots of earlier parses (the console's start-up; adapters/parse-cache.ts). */
  cache?: ParseCache;
}

export function loadConfigFile(file: string, options: LoadFileOptions): LoadResult {
  const { cache, ...load } = options;
  const source = readSource(file, cache);
  if (hasErrors(source.diagnostics))
    return { ok: false, machines: [], diagnostics: source.diagnostics };
  const profiles =
    source.data && typeof source.data === 'object'
      ? (source.data as Record<string, unknown>).machine_profiles
      : undefined;
  if (profiles && typeof profiles === 'object') {
    const overrides = findOverrides(file, Object.keys(profiles), options.env, cache);
    const overrideDiagnostics = Object.values(overrides).flatMap((o) => o.diagnostics);
    // An override that does not parse would silently change the machine: refuse instead.
    if (hasErrors(overrideDiagnostics))
      return { ok: false, machines: [], diagnostics: overrideDiagnostics };
    const result = loadParsed(source, {
      ...load,
      overrides: mergeDocker(overrides, options.env),
    });
    return { ...result, diagnostics: [...overrideDiagnostics, ...result.diagnostics] };
  }
  return loadParsed(source, load);
}

// The CONFIG_OVERRIDE file applies to every machine, after the machine's own override.
export function mergeDocker(
  overrides: Record<string, ParsedSource>,
  env: Env,
): Record<string, ParsedSource> {
  const extra = env.CONFIG_OVERRIDE ? overrides[env.CONFIG_OVERRIDE] : undefined;
  if (!extra || typeof extra.data !== 'object' || extra.data === null) return overrides;
  const out: Record<string, ParsedSource> = {};
  for (const [name, source] of Object.entries(overrides)) {
    if (name === env.CONFIG_OVERRIDE) continue;
    const own = (source.data ?? {}) as Record<string, unknown>;
    out[name] = { ...source, data: { ...own, ...(extra.data as Record<string, unknown>) } };
  }
  return out;
}

/** Where an upstream checkout keeps each machine's launcher config. */
export const UPSTREAM_CONFIGS: Record<string, string> = {
  mainpc: 'main_pc_code/config/startup_config.yaml',
  pc2: 'pc2_code/config/startup_config.yaml',
};

export interface FleetFiles {
  /** machine id -> config file */
  files: Record<string, string>;
}

/** Finds both machines' configs in an upstream checkout rooted at `root`. */
export function discoverFleet(root: string): FleetFiles {
  const files: Record<string, string> = {};
  for (const [machine, rel] of Object.entries(UPSTREAM_CONFIGS)) {
    const path = resolve(root, rel);
    if (existsSync(path)) files[machine] = path;
  }
  return { files };
}

export interface FleetLoad {
  ok: boolean;
  machines: Machine[];
  diagnostics: Diagnostic[];
  shapes: Record<string, string>;
}

/** Loads several files (one per machine, or a v3 file that names several) into one fleet. */
export function loadFleet(files: Record<string, string>, env: Env, cache?: ParseCache): FleetLoad {
  const machines: Machine[] = [];
  const diagnostics: Diagnostic[] = [];
  const shapes: Record<string, string> = {};
  for (const [machine, file] of Object.entries(files)) {
    const result = loadConfigFile(file, { env, machine, ...(cache ? { cache } : {}) });
    diagnostics.push(...result.diagnostics);
    if (result.shape) shapes[basename(file)] = result.shape;
    for (const m of result.machines) {
      if (result.shape === 'v3-unified' && m.id !== machine) continue;
      if (machines.some((x) => x.id === m.id)) {
        diagnostics.push({
          severity: 'error',
          code: 'duplicate-machine',
          message: `machine "${m.id}" is defined by two files`,
          loc: { file, line: 1, col: 1 },
        });
        continue;
      }
      machines.push(m);
    }
  }
  return { ok: !hasErrors(diagnostics), machines, diagnostics, shapes };
}

/** The config files as the config store looks at them (the ConfigFiles port). */
export const configFiles: ConfigFiles = {
  stamp(file) {
    try {
      const st = statSync(file); // follows a symbolic link: its target's changes count
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (error) {
      return `error:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  },
  read: (file) => readFileSync(file, 'utf8'),
  load: (file, options) => loadConfigFile(file, options),
};
