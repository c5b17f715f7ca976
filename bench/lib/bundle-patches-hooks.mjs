// Module hooks (see bundle-patches.mjs): each esbuild onLoad of the bundle's patches, run on the
// file Node loads. A patch that does not recognise its file returns it unchanged, with a warning
// that is printed here as the bundle build prints it.
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { ansiStyledCharsFast, ansiTokenizeFast } from '../../scripts/bundle-patches.mjs';

const loads = [];
for (const plugin of [ansiTokenizeFast, ansiStyledCharsFast])
  plugin.setup({ onLoad: (options, run) => loads.push({ filter: options.filter, run }) });

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!url.startsWith('file:')) return loaded;
  const path = fileURLToPath(url);
  const hit = loads.find((l) => l.filter.test(path));
  if (!hit) return loaded;
  const out = await hit.run({ path });
  for (const w of out.warnings ?? []) process.stderr.write(`bench: ${w.text}\n`);
  return { ...loaded, format: loaded.format ?? 'module', source: out.contents, shortCircuit: true };
}
