// Start-up (issue 7): after tsc has written dist/, esbuild bundles the CLI into dist/bundle/ so
// that a launch parses a few files instead of resolving ~700 ES modules one by one (Node 20 has
// no compile cache). bin/opsdeck.js runs the bundle when it is there, newer than dist/cli.js, and
// the process is in React's production mode; otherwise it runs dist/cli.js itself.
//
//   node scripts/bundle.mjs            (npm run build / npm pack run it after tsc)
//   node scripts/bundle.mjs --meta F   also write esbuild's metafile (what went where) to F
//   node scripts/bundle.mjs --readable not minified, each module under a `// path` comment (for
//                                      reading a --cpu-prof profile of the bundle)
//
// Layout: dist/bundle/ is two folders below the repository root like dist/<dir>/*.js, so the
// paths the sources compute from import.meta.url ('../../bin/opsdeck.js', '../../' as the repo
// root, './lint-worker.js' beside the code that starts the worker) hold in the bundle too.
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = `${ROOT}dist/bundle`;

// Ink imports its React devtools glue only when DEV=true (and bin/ then runs dist/cli.js): the
// bundle gets a stub that fails the way a missing react-devtools-core does, which Ink reports.
const inkDevtools = {
  name: 'ink-devtools',
  setup(b) {
    b.onResolve({ filter: /^\.\/devtools\.js$/ }, (args) =>
      /[\\/]ink[\\/]/.test(args.importer)
        ? { path: 'ink-devtools', namespace: 'opsdeck-stub' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'opsdeck-stub' }, () => ({
      contents:
        "throw Object.assign(new Error('react-devtools-core is not in the bundle'), { code: 'ERR_MODULE_NOT_FOUND' });",
      loader: 'js',
    }));
  },
};

// yoga-layout (Ink's layout) gets its wasm, inlined as a data: URL, through fetch() whenever
// fetch exists: on Node that loads undici first (~40 ms before the first frame). Without fetch,
// its loader decodes the same bytes itself, as on Node < 18.
const yogaWithoutFetch = {
  name: 'yoga-without-fetch',
  setup(b) {
    b.onLoad({ filter: /[\\/]yoga-layout[\\/].*yoga-wasm-base64-esm\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const patched = text.replaceAll('"function"!=typeof fetch', '!0');
      const warnings =
        patched === text
          ? [
              {
                text: 'yoga-layout: no `typeof fetch` test found; its wasm loads through fetch (slower start-up)',
              },
            ]
          : [];
      return { contents: patched, loader: 'js', warnings };
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
          ? `import { createRequire } from 'node:module';\nexport default { get default() { return ${load}().default; } };\n`
          : `import { createRequire } from 'node:module';\nexport class Ajv2020 { constructor(options) { return new (${load}().Ajv2020)(options); } }\n`;
      return { contents, loader: 'js', resolveDir: ROOT };
    });
  },
};

// zeromq stays in node_modules (a native addon). Imported as an ES module, Node first scans its
// CommonJS files for export names (~12 ms); required, it does not. The names are read here.
const zeromqRequired = {
  name: 'zeromq-required',
  setup(b) {
    let names;
    try {
      names = Object.keys(createRequire(import.meta.url)('zeromq')).filter(
        (n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default',
      );
    } catch {
      return; // not loadable here: left as an ES import
    }
    b.onResolve({ filter: /^zeromq$/ }, () => ({ path: 'zeromq', namespace: 'opsdeck-zeromq' }));
    b.onLoad({ filter: /.*/, namespace: 'opsdeck-zeromq' }, () => ({
      contents: `import { createRequire } from 'node:module';\nconst zmq = createRequire(import.meta.url)('zeromq');\nexport const { ${names.join(', ')} } = zmq;\nexport default zmq;\n`,
      loader: 'js',
    }));
  },
};

// nats.js (CommonJS, ~0.45 MB) is evaluated at load although the console's first frame never
// uses it (and with NATS off, nothing does): opsdeck's modules get a facade that evaluates the
// bundled nats on first use. Functions and classes are forwarded, plain objects (enums) proxied,
// strings copied; names are read from nats itself. Instances (Empty, nuid) cannot be stood in
// for: the facade leaves them out, so importing one fails this build by name (then import it
// with `await import('nats')` where it is used, or drop the facade).
const natsOnFirstUse = {
  name: 'nats-on-first-use',
  setup(b) {
    const nats = createRequire(import.meta.url)('nats');
    b.onResolve({ filter: /^nats$/ }, (args) =>
      args.namespace !== 'opsdeck-nats' &&
      /[\\/]dist[\\/]/.test(args.importer) &&
      !/node_modules/.test(args.importer)
        ? { path: 'nats', namespace: 'opsdeck-nats' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'opsdeck-nats' }, () => {
      const lines = [
        'let real;',
        "const load = () => (real ??= require('nats'));",
        'const proxied = (key, target) => new Proxy(target, {',
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
      for (const [key, value] of Object.entries(nats)) {
        if (!/^[A-Za-z_$][\w$]*$/.test(key) || key === 'default') continue;
        const proto =
          typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : null;
        if (proto !== null && proto !== Object.prototype) continue; // an instance
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
          lines.push(`export const ${key} = ${JSON.stringify(value)};`);
        else if (
          typeof value === 'function' &&
          !/^class\b/.test(Function.prototype.toString.call(value))
        )
          lines.push(`export function ${key}(...args) { return load().${key}.apply(this, args); }`);
        else
          lines.push(
            `export const ${key} = proxied(${JSON.stringify(key)}, ${typeof value === 'function' ? 'function () {}' : '{}'});`,
          );
      }
      return { contents: `${lines.join('\n')}\n`, loader: 'js', resolveDir: ROOT };
    });
  },
};

const meta = process.argv.indexOf('--meta');
const minify = !process.argv.includes('--readable');
// Built beside dist/bundle and swapped in, so that a launch during a rebuild (others' tests in a
// shared checkout) finds the old bundle or the new one, not a half-written folder.
const NEXT = `${OUT}.next-${process.pid}`;
const OLD = `${OUT}.old-${process.pid}`;
rmSync(NEXT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['dist/cli.js', 'dist/adapters/lint-worker.js'],
  outdir: NEXT,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Native addons and packages that load files beside themselves (wasm) stay in node_modules.
  external: ['zeromq', 'web-tree-sitter', 'tree-sitter-python'],
  plugins: [
    inkDevtools,
    yogaWithoutFetch,
    stringWidthLazy,
    confWithoutAjv,
    zeromqRequired,
    natsOnFirstUse,
  ],
  // React's production build only: development mode runs dist/cli.js (see bin/opsdeck.js).
  // OPSDECK_BUILD_ID: a new one per build; snapshots of parsed configs are used only by the build
  // that wrote them (source/adapters/parse-cache.ts). tsc's dist/ has none: no snapshots there.
  define: {
    'process.env.NODE_ENV': '"production"',
    'process.env.OPSDECK_BUILD_ID': JSON.stringify(randomUUID()),
  },
  // CommonJS dependencies call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __opsdeckRequire } from 'node:module'; const require = __opsdeckRequire(import.meta.url);",
  },
  minifyWhitespace: minify,
  minifySyntax: minify,
  legalComments: 'none',
  sourcemap: 'linked',
  metafile: meta > 0,
  logLevel: 'warning',
});
if (meta > 0) writeFileSync(process.argv[meta + 1], JSON.stringify(result.metafile));
try {
  renameSync(OUT, OLD);
} catch {
  // no earlier bundle
}
renameSync(NEXT, OUT);
rmSync(OLD, { recursive: true, force: true });
