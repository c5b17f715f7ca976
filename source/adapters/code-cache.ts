// Start-up (issue 16): compiling the bundle's code is a large part of a launch, and Node 20 keeps
// no compile cache for ES modules (module.enableCompileCache is Node 22). So the CLI is also
// bundled as one CommonJS script (scripts/bundle.mjs: dist/bundle/cli.cjs), run here through
// vm.Script, and V8's compiled code for it is kept in the cache folder (adapters/cache-dir.ts,
// `code`): a launch that finds it skips most of the compiling. The code is taken once start-up
// has run (the functions compiled by then are the ones the next launch needs), by save().
//
// A cache file is never trusted for less than the launch it speeds up:
//  - its name and its header name the build (scripts/bundle.mjs writes a new id into the bundle's
//    first line per build), the bundle's size and mtime, the command and Node's version;
//  - a CRC-32 in the header covers V8's bytes: V8 checks their version, flags and source length
//    but not their content (a flipped byte crashes the process), so a torn or damaged file is
//    caught here, and V8 still rejects what it cannot use (cachedDataRejected);
//  - it must be a regular file of this user that no one else may write (it becomes code).
// Anything that does not check out is ignored, and the compiled code written again. Nothing
// about the cache can stop a launch: reading or writing it fails quietly.
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';
import type { Env } from '../core/fleet/port-expr.js';
import { writeFileAtomic } from './atomic-write.js';
import { cacheDir } from './cache-dir.js';
import { ensurePrivateDir, PUBLIC_MODE } from './secret-files.js';

const FORMAT = 'opsdeck-code-cache 1';
/** The bundle's first line (scripts/bundle.mjs). */
const BUILD_LINE = /^\/\* opsdeck build ([0-9A-Za-z-]{1,64}) \*\//;
/** How Node wraps a CommonJS module (the bundle is one). */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const WRAP_TAIL = '\n})';
/**
 * A bundle that carries the wrapper itself (scripts/bundle.mjs: right after its build line, and
 * its last line closes it) is compiled as read: wrapping it here copies its 2.6 MB into a new
 * string, old-generation garbage that brought a full GC forward into start-up.
 */
const SELF_WRAPPED =
  /^\/\* opsdeck build [0-9A-Za-z-]{1,64} \*\/\(function \(exports, require, module, __filename, __dirname\) \{\n/;

/**
 * What the cache did for this launch: `off` (no cache folder, or a bundle without a build id),
 * `missing` (no file yet), `invalid` (a file this launch does not trust: torn, damaged, another
 * build's, another user's), `rejected` (V8 would not use it), `used`.
 */
export type CodeCacheState = 'off' | 'missing' | 'invalid' | 'rejected' | 'used';

export interface LoadedBundle {
  /** The bundle's module.exports. */
  exports: Record<string, unknown>;
  cache: CodeCacheState;
  /** The cache file this launch reads or writes (undefined when off). */
  file: string | undefined;
  /**
   * Writes V8's code compiled so far to the cache, when this launch did not use one. Once per
   * launch; true when written. Never throws.
   */
  save(): boolean;
}

/**
 * Start-up without TurboFan. A launch runs most of its code once or a few times (module bodies,
 * the first frame's rows), yet V8 compiles what loops most with TurboFan on a background thread,
 * and that compiled code arrives after the first frame has been drawn: a third of the CPU
 * instructions of a console's start-up (valgrind; README, "Start-up"). Sparkplug's baseline code
 * still runs meanwhile. The function returned turns TurboFan back on (frames, ingest and probes
 * need it later); undefined when the process was started with its own say on the optimizer (node
 * flags), which is then left alone.
 *
 * V8 keys cached code by its flags: code saved while TurboFan is off is refused once it is on, so
 * save() must run before the function returned (it does: bin/opsdeck.js).
 */
export function optimizeLater(
  execArgv: readonly string[],
  nodeOptions = '',
): (() => void) | undefined {
  const flags = [...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.replaceAll('_', '-'));
  if (
    flags.some((f) =>
      /^--(no-)?(turbofan|opt|jitless|always-turbofan|always-opt|max-opt)(=|$)/.test(f),
    )
  )
    return undefined;
  v8.setFlagsFromString('--no-turbofan');
  let on = false;
  return () => {
    if (!on) v8.setFlagsFromString('--turbofan');
    on = true;
  };
}

/** The cache's key for a command line: its first word when it is a command name. */
export function commandKey(argv: readonly string[]): string {
  const first = argv[0] ?? '';
  return /^[a-z][a-z0-9-]{0,31}$/.test(first) ? first : 'default';
}

/** Runs the CommonJS bundle `file`, with V8's cached code for it when there is a good one. */
export function loadBundle(file: string, options: { env: Env; command: string }): LoadedBundle {
  const fd = openSync(file, 'r');
  let source: string;
  let stamp: string;
  try {
    const st = fstatSync(fd);
    stamp = `${st.size} ${Math.trunc(st.mtimeMs)}`;
    source = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const build = BUILD_LINE.exec(source)?.[1];
  const dir = build ? cacheDir(options.env, 'code') : undefined;
  // Named by where the bundle is too: two installs of different builds keep a cache each.
  const place = crc32(file).toString(16);
  const name = `${place}-${build}-${options.command}-${process.version}-${process.arch}.v8`;
  const path = dir ? join(dir, name) : undefined;
  const header = `${FORMAT} ${build} ${stamp} ${options.command} ${process.version}`;

  let state: CodeCacheState = path ? 'missing' : 'off';
  let cachedData: Buffer | undefined;
  if (path) {
    const read = readCache(path, header);
    if (read === 'missing' || read === 'invalid') state = read;
    else cachedData = read;
  }
  const wrapped = SELF_WRAPPED.test(source);
  const script = new vm.Script(wrapped ? source : WRAP_HEAD + source + WRAP_TAIL, {
    filename: file,
    lineOffset: wrapped ? 0 : -1,
    cachedData,
    // The bundle's import() of files outside it (Ink's build, when its own copy is not found)
    // goes through Node's loader, as from a module.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData) state = script.cachedDataRejected ? 'rejected' : 'used';

  const module = { exports: {} as Record<string, unknown> };
  const run = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));

  let saved = false;
  const save = (): boolean => {
    if (saved || !dir || !path || state === 'used') return false;
    saved = true;
    try {
      const data = script.createCachedData();
      ensurePrivateDir(dir);
      writeFileAtomic(path, Buffer.concat([headerBytes(header, data), data]), {
        mode: PUBLIC_MODE,
      });
      prune(dir, `${place}-`, `${place}-${build}-`);
      return true;
    } catch {
      // An unwritable cache costs the next launch the compiling, nothing else.
      return false;
    }
  };
  return { exports: module.exports, cache: state, file: path, save };
}

const headerBytes = (header: string, data: Buffer) =>
  Buffer.from(`${header} ${crc32(data).toString(16)}\n`);

/** V8's bytes from the cache file at `path`, when it is this launch's and whole. */
function readCache(path: string, header: string): Buffer | 'missing' | 'invalid' {
  let bytes: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      const st = fstatSync(fd);
      // It becomes code: only a regular file of this user that no one else may change.
      const uid = process.getuid?.();
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || st.mode & 0o022)
        return 'invalid';
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'invalid';
  }
  const newline = bytes.indexOf(10);
  if (newline < 0 || newline > 512) return 'invalid';
  const line = bytes.subarray(0, newline).toString('latin1');
  const data = bytes.subarray(newline + 1);
  return line === `${header} ${crc32(data).toString(16)}` ? data : 'invalid';
}

/** Removes the caches of earlier builds of the bundle at this place (a rebuild's stay). */
function prune(dir: string, place: string, current: string): void {
  for (const entry of readdirSync(dir))
    if (entry.startsWith(place) && !entry.startsWith(current) && entry.endsWith('.v8'))
      try {
        unlinkSync(join(dir, entry));
      } catch {
        // another launch removed it first
      }
}
