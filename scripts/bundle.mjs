// Start-up (issues 7, 16): after tsc has written dist/, esbuild bundles the CLI into dist/bundle/
// so that a launch reads one file instead of resolving ~700 ES modules one by one. The CLI is
// bundled as CommonJS (cli.cjs): bin/opsdeck.js runs it through vm.Script with V8's cached code
// for it (source/adapters/code-cache.ts, bundled as boot.js), which Node 20 cannot do for ES
// modules. The lint worker stays an ES module (lint-worker.js). bin/opsdeck.js runs the bundle when
// it is there, newer than dist/cli.js, and the process is in React's production mode; otherwise
// it runs dist/cli.js itself.
//
//   node scripts/bundle.mjs            (npm run build / npm pack run it after tsc)
//   node scripts/bundle.mjs --meta F   also write esbuild's metafile of cli.cjs to F
//   node scripts/bundle.mjs --readable not minified, each module under a `// path` comment (for
//                                      reading a --cpu-prof profile of the bundle)
//
// Layout: dist/bundle/ is two folders below the repository root like dist/<dir>/*.js, so the
// paths the sources compute from import.meta.url ('../../bin/opsdeck.js', '../../' as the repo
// root, './lint-worker.js' beside the code that starts the worker) hold in the bundle too.
//
// CommonJS has no top-level await and no import.meta: the sources' import.meta.url and
// import.meta.resolve() are defined from the script's own path; Ink awaits only in development
// mode (never in the bundle) and yoga-layout awaits its wasm: here it is instantiated at once.
// esbuild fails the build on any other top-level await, and on an import.meta left empty.
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';
import { ansiStyledCharsFast, ansiTokenizeFast, inkUnknownKeys } from './bundle-patches.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = `${ROOT}dist/bundle`;

// Ink (6.8) awaits at its top level only in development mode: it imports its React devtools glue
// and reads its package.json when DEV=true, and bin/ then runs dist/cli.js, never the bundle. In
// the bundle those two awaits become what they would give without devtools: the error Ink reports
// when react-devtools-core is missing, and no name or version.
const inkWithoutAwait = {
  name: 'ink-without-await',
  setup(b) {
    b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]reconciler\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const patched = text
        .replace(
          "await import('./devtools.js');",
          () =>
            "throw Object.assign(new Error('react-devtools-core is not in the bundle'), { code: 'ERR_MODULE_NOT_FOUND' });",
        )
        .replace('? await loadPackageJson()', () => '? { name: undefined, version: undefined }');
      // Left in, an await fails the build by itself (top-level await in CommonJS).
      return { contents: patched, loader: 'js' };
    });
  },
};

// yoga-layout (Ink's layout) awaits its wasm at its top level (an Emscripten module compiled from
// an inlined base64 data: URL, asynchronously, through fetch() when fetch exists: on Node that
// loads undici, ~40 ms). Here it is compiled and instantiated at once, from the same bytes, by
// Emscripten's own instantiateWasm hook: with the instance in hand at once, Emscripten finishes
// its set-up before loadYoga() returns, and the module object is Yoga's as loadYoga() would
// resolve it. It is checked when it runs (a different Emscripten would fail here, by name).
const yogaAtOnce = {
  name: 'yoga-at-once',
  setup(b) {
    const inlined = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/;
    const wasmOf = (path) => inlined.exec(readFileSync(path, 'utf8'));
    // The loader keeps an empty data: URL: the bytes come from the module below, not a copy.
    b.onLoad(
      {
        filter: /[\\/]yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/,
        namespace: 'file',
      },
      (args) => {
        const text = readFileSync(args.path, 'utf8');
        const found = inlined.exec(text);
        if (!found)
          return { errors: [{ text: `yoga-layout (${args.path}): no inlined wasm found` }] };
        return {
          contents: text.replace(found[0], () => '"data:application/octet-stream;base64,"'),
          loader: 'js',
        };
      },
    );
    b.onLoad({ filter: /[\\/]yoga-layout[\\/]dist[\\/]src[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const awaited = 'const Yoga = wrapAssembly(await loadYoga());';
      if (!text.includes(awaited))
        return {
          errors: [{ text: `yoga-layout (${args.path}): not the loader this build knows` }],
        };
      const contents = text.replace(awaited, () =>
        [
          "import { wasmBase64 } from 'opsdeck-yoga-wasm';",
          'const yogaModule = {',
          '  instantiateWasm(imports, done) {',
          "    const bytes = Buffer.from(wasmBase64, 'base64');",
          '    done(new WebAssembly.Instance(new WebAssembly.Module(bytes), imports));',
          '    return {};',
          '  },',
          '};',
          'loadYoga(yogaModule);',
          'if (!yogaModule.calledRun)',
          "  throw new Error('yoga-layout: its wasm did not load at once (scripts/bundle.mjs, yoga-at-once)');",
          'const Yoga = wrapAssembly(yogaModule);',
        ].join('\n'),
      );
      return { contents, loader: 'js' };
    });
    b.onResolve({ filter: /^opsdeck-yoga-wasm$/ }, (args) => ({
      path: join(dirname(args.importer), '../binaries/yoga-wasm-base64-esm.js'),
      namespace: 'opsdeck-yoga',
    }));
    b.onLoad({ filter: /.*/, namespace: 'opsdeck-yoga' }, (args) => {
      const found = wasmOf(args.path);
      return found
        ? { contents: `export const wasmBase64 = ${JSON.stringify(found[1])};\n`, loader: 'js' }
        : { errors: [{ text: `yoga-layout (${args.path}): no inlined wasm found` }] };
    });
  },
};

// string-width (Ink's measure of every Text) builds an Intl.Segmenter (~40 ms: ICU's break
// rules) and, in 8.x, its RGI-emoji regex (~60 ms, and as much again at its first match) when it
// is loaded, though ASCII never needs either. In the bundle both are made on the first non-ASCII
// measure; the console's first frame has none (its glyphs are known narrow: core/ui/width.ts,
// components/ink-caches.ts and the Table's stand-ins), so start-up does not pay them.
const stringWidthLazy = {
  name: 'string-width-lazy',
  setup(b) {
    b.onLoad({ filter: /[\\/]string-width[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      // Replacements as functions: a `$'` in a replacement string means something to replace().
      let patched = text.replace(
        'const segmenter = new Intl.Segmenter();',
        () =>
          'let realSegmenter;\nconst segmenter = { segment: (s) => (realSegmenter ??= new Intl.Segmenter()).segment(s) };',
      );
      patched = patched.replace(
        'const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;',
        () =>
          "let realRgi;\nconst rgiEmojiRegex = { test: (s) => (realRgi ??= new RegExp('^\\\\p{RGI_Emoji}$', 'v')).test(s) };",
      );
      const warnings =
        patched.includes('new Intl.Segmenter()') && !patched.includes('realSegmenter')
          ? [
              {
                text: `string-width (${args.path}): its segmenter is made at load (slower start-up)`,
              },
            ]
          : [];
      if (/const rgiEmojiRegex = \//.test(patched))
        warnings.push({
          text: `string-width (${args.path}): its RGI-emoji regex is made at load (slower start-up)`,
        });
      return { contents: patched, loader: 'js', warnings };
    });
  },
};

// slice-ansi 8 (Ink's truncation, through cli-truncate) builds a grapheme Intl.Segmenter when it
// is loaded (~25 ms of ICU's break rules before the first frame), though only a truncated Text
// needs it. In the bundle it is made on the first truncation.
const sliceAnsiLazy = {
  name: 'slice-ansi-lazy',
  setup(b) {
    b.onLoad({ filter: /[\\/]slice-ansi[\\/]tokenize-ansi\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const eager =
        "const GRAPHEME_SEGMENTER = new Intl.Segmenter(undefined, {granularity: 'grapheme'});";
      const patched = text.replace(
        eager,
        () =>
          "let realSegmenter;\nconst GRAPHEME_SEGMENTER = { segment: (s) => (realSegmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(s) };",
      );
      const warnings =
        patched === text && text.includes('new Intl.Segmenter(')
          ? [{ text: `slice-ansi (${args.path}): its segmenter is made at load (slower start-up)` }]
          : [];
      return { contents: patched, loader: 'js', warnings };
    });
  },
};

// conf (the console's preferences) imports ajv and ajv-formats at load (~25 ms) but uses them only
// for a schema, which opsdeck never passes: in the bundle they are loaded from node_modules on
// first use instead.
const confWithoutAjv = {
  name: 'conf-lazy-ajv',
  setup(b) {
    b.onResolve({ filter: /^(ajv\/dist\/2020\.js|ajv-formats)$/ }, (args) =>
      /[\\/]conf[\\/]/.test(args.importer)
        ? { path: args.path, namespace: 'opsdeck-lazy' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'opsdeck-lazy' }, (args) => {
      const load = `(() => createRequire(import.meta.resolve('conf'))(${JSON.stringify(args.path)}))`;
      const contents =
        args.path === 'ajv-formats'
          ? `import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';\nexport default { get default() { return ${load}().default; } };\n`
          : `import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';\nexport class Ajv2020 { constructor(options) { return new (${load}().Ajv2020)(options); } }\n`;
      return { contents, loader: 'js', resolveDir: ROOT };
    });
  },
};

// nats.js (CommonJS, ~0.45 MB) is evaluated at load although the console's first frame never
// uses it (and with NATS off, nothing does), and zeromq (external: a native addon) is loaded with
// its cmake-ts loader and dlopen()ed (~8 ms) though the console's sockets open only after the
// first frame (wiring/data-plane.ts): opsdeck's modules get a facade that loads the package on
// first use. Functions and classes are forwarded, plain objects (enums) proxied, strings copied;
// names are read from the package itself. Instances (nats's Empty and nuid, zeromq's context)
// cannot be stood in for: the facade leaves them out, so importing one fails this build by name
// (then import it with `await import(...)` where it is used, or drop the facade).
//
// Node's own modules that the first frame does not use get one too (http, ~3 ms with its six
// internal modules; child_process, which loads dgram too, ~3 ms; readline; dns/promises, for the
// host lookups the data plane makes once started): their functions are
// proxies, which pass on their properties as well (execFile's promisified form), and the module
// itself is the default export. child_process's stands in for every importer (commander requires
// it at load for subcommands opsdeck does not have).
const onFirstUse = (pkg, { everywhere = false } = {}) => {
  const builtin = pkg.startsWith('node:');
  const ns = `opsdeck-first-use-${pkg.replace(/[^A-Za-z0-9]/g, '-')}`;
  const bare = pkg.replace(/^node:/, '');
  return {
    name: `${bare}-on-first-use`,
    setup(b) {
      const real = createRequire(import.meta.url)(pkg);
      const filter = new RegExp(`^${builtin ? '(node:)?' : ''}${bare.replace('/', '\\/')}$`);
      b.onResolve({ filter }, (args) =>
        args.namespace !== ns &&
        (everywhere ||
          (/[\\/]dist[\\/]/.test(args.importer) && !/node_modules/.test(args.importer)))
          ? { path: pkg, namespace: ns }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: ns }, () => ({
        contents: facade(pkg, real, builtin),
        loader: 'js',
        resolveDir: ROOT,
      }));
    },
  };
};

function facade(pkg, real, builtin = false) {
  const lines = [
    'let real;',
    `const load = () => (real ??= require(${JSON.stringify(pkg)}));`,
    // The global, by a name no export can shadow (zeromq exports a Proxy class).
    'const StandIn = globalThis.Proxy;',
    'const proxied = (key, target) => new StandIn(target, {',
    '  get: (_, p) => Reflect.get(load()[key], p),',
    '  has: (_, p) => Reflect.has(load()[key], p),',
    '  ownKeys: () => Reflect.ownKeys(load()[key]),',
    '  getOwnPropertyDescriptor: (target, p) => {',
    '    const own = Reflect.getOwnPropertyDescriptor(target, p);',
    '    if (own && !own.configurable) return own;',
    '    const d = Reflect.getOwnPropertyDescriptor(load()[key], p);',
    '    return d && { ...d, configurable: true };',
    '  },',
    '  apply: (_, self, args) => Reflect.apply(load()[key], self, args),',
    '  construct: (_, args) => Reflect.construct(load()[key], args),',
    '});',
  ];
  for (const [key, value] of Object.entries(real)) {
    if (!/^[A-Za-z_$][\w$]*$/.test(key) || key === 'default') continue;
    const proto = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : null;
    if (proto !== null && proto !== Object.prototype) continue; // an instance
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      lines.push(`export const ${key} = ${JSON.stringify(value)};`);
    else if (
      !builtin &&
      typeof value === 'function' &&
      // A class, or a native function (zeromq's Context, Socket: constructors), needs `new`.
      !/^class\b|\[native code\]/.test(Function.prototype.toString.call(value))
    )
      lines.push(`export function ${key}(...args) { return load().${key}.apply(this, args); }`);
    else
      lines.push(
        `export const ${key} = proxied(${JSON.stringify(key)}, ${typeof value === 'function' ? 'function () {}' : '{}'});`,
      );
  }
  if (builtin)
    lines.push(
      'export default new StandIn({}, {',
      '  get: (_, p) => Reflect.get(load(), p),',
      '  has: (_, p) => Reflect.has(load(), p),',
      '  ownKeys: () => Reflect.ownKeys(load()),',
      '  getOwnPropertyDescriptor: (_, p) => {',
      '    const d = Reflect.getOwnPropertyDescriptor(load(), p);',
      '    return d && { ...d, configurable: true };',
      '  },',
      '});',
    );
  return `${lines.join('\n')}\n`;
}

const natsOnFirstUse = onFirstUse('nats');
const zeromqOnFirstUse = onFirstUse('zeromq');
const builtinsOnFirstUse = [
  onFirstUse('node:http'),
  onFirstUse('node:readline'),
  onFirstUse('node:dns/promises'),
  onFirstUse('node:child_process', { everywhere: true }),
];

// conf imports semver at load (its regexes: ~3 ms) but uses it only to migrate a store between
// versions of the program, which opsdeck never asks for: in the bundle it is loaded from
// node_modules on first use, as ajv is above.
const confWithoutSemver = {
  name: 'conf-lazy-semver',
  setup(b) {
    b.onResolve({ filter: /^semver$/ }, (args) =>
      /[\\/]conf[\\/]/.test(args.importer)
        ? { path: args.path, namespace: 'opsdeck-lazy-semver' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'opsdeck-lazy-semver' }, () => ({
      contents: `import { createRequire } from 'node:module';
let real;
const load = () => (real ??= createRequire(import.meta.resolve('conf'))('semver'));
export default new Proxy({}, { get: (_, p) => load()[p], has: (_, p) => p in load() });
`,
      loader: 'js',
      resolveDir: ROOT,
    }));
  },
};

const meta = process.argv.indexOf('--meta');
const minify = !process.argv.includes('--readable');
// A new build id per build: snapshots of parsed configs (source/adapters/parse-cache.ts) and V8's
// cached code (source/adapters/code-cache.ts, which reads it from cli.cjs's first line) are used
// only by the build that wrote them. tsc's dist/ has none: no snapshots there.
const BUILD = randomUUID();
// Built beside dist/bundle and swapped in, so that a launch during a rebuild (others' tests in a
// shared checkout) finds the old bundle or the new one, not a half-written folder.
const NEXT = `${OUT}.next-${process.pid}`;
const OLD = `${OUT}.old-${process.pid}`;
rmSync(NEXT, { recursive: true, force: true });
const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Native addons and packages that load files beside themselves (wasm) stay in node_modules.
  external: ['zeromq', 'web-tree-sitter', 'tree-sitter-python'],
  // React's production build only: development mode runs dist/cli.js (see bin/opsdeck.js).
  define: {
    'process.env.NODE_ENV': '"production"',
    'process.env.OPSDECK_BUILD_ID': JSON.stringify(BUILD),
  },
  minifyWhitespace: minify,
  minifySyntax: minify,
  legalComments: 'none',
  sourcemap: 'linked',
  logLevel: 'warning',
  // An import.meta that CommonJS would leave empty is an error, not a warning.
  logOverride: { 'empty-import-meta': 'error' },
};
const [cli] = await Promise.all([
  // The CLI: one CommonJS script, run by source/adapters/code-cache.ts (its build id on line 1).
  build({
    ...common,
    stdin: {
      contents: "export { main } from './dist/cli.js';\n",
      resolveDir: ROOT,
      sourcefile: 'bundle-entry.js',
    },
    outfile: `${NEXT}/cli.cjs`,
    format: 'cjs',
    plugins: [
      inkWithoutAwait,
      inkUnknownKeys,
      yogaAtOnce,
      stringWidthLazy,
      sliceAnsiLazy,
      ansiTokenizeFast,
      ansiStyledCharsFast,
      confWithoutAjv,
      confWithoutSemver,
      natsOnFirstUse,
      zeromqOnFirstUse,
      ...builtinsOnFirstUse,
    ],
    define: {
      ...common.define,
      'import.meta.url': '__opsdeckMetaUrl',
      'import.meta.resolve': '__opsdeckMetaResolve',
    },
    // Wrapped as Node wraps a CommonJS module, on the build line, and closed by the footer:
    // code-cache.ts compiles the file as read instead of copying it into a wrapped string.
    banner: {
      js: [
        `/* opsdeck build ${BUILD} */(function (exports, require, module, __filename, __dirname) {`,
        "var __opsdeckMetaUrl = require('node:url').pathToFileURL(__filename).href;",
        "var __opsdeckMetaResolve = (s) => require('node:url').pathToFileURL(require.resolve(s)).href;",
      ].join('\n'),
    },
    footer: { js: '})' },
    metafile: meta > 0,
  }),
  // The lint worker (an ES module file beside the code that starts it) and boot.js, which
  // bin/opsdeck.js imports to run cli.cjs.
  build({
    ...common,
    entryPoints: {
      'lint-worker': 'dist/adapters/lint-worker.js',
      boot: 'dist/adapters/code-cache.js',
    },
    outdir: NEXT,
    entryNames: '[name]',
    format: 'esm',
    plugins: [stringWidthLazy, confWithoutAjv, natsOnFirstUse],
    // CommonJS dependencies call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __opsdeckRequire } from 'node:module'; const require = __opsdeckRequire(import.meta.url);",
    },
  }),
]);
if (meta > 0) writeFileSync(process.argv[meta + 1], JSON.stringify(cli.metafile));
try {
  renameSync(OUT, OLD);
} catch {
  // no earlier bundle
}
renameSync(NEXT, OUT);
rmSync(OLD, { recursive: true, force: true });
