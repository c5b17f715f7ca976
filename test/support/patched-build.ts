// A dependency's module built by esbuild with the bundle's patches (scripts/bundle-patches.mjs),
// exactly as scripts/bundle.mjs builds it, then imported: what the shipped bundle runs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildResult, type Plugin } from 'esbuild';

export async function importPatched<T>(
  entry: string,
  plugins: Plugin[],
): Promise<{ module: T; result: BuildResult }> {
  const out = join(mkdtempSync(join(tmpdir(), 'opsdeck-patch-')), 'patched.mjs');
  const result = await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    plugins,
    logLevel: 'silent',
  });
  return { module: (await import(pathToFileURL(out).href)) as T, result };
}
