// `npm run demo` builds only when something the build reads changed since the last build: a
// second demo with nothing changed starts in a couple of seconds instead of rebuilding (~10 s).
// Stale means a source, config or build script newer than the bundle the launcher runs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist/bundle/cli.cjs');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

const inputs = [
  'source',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'scripts/bundle.mjs',
];
const stale =
  !existsSync(built) ||
  !existsSync(join(root, 'dist/cli.js')) ||
  Math.max(...inputs.map((p) => newest(join(root, p)))) > statSync(built).mtimeMs;
if (!stale) {
  console.error('opsdeck: the build is up to date');
  process.exit(0);
}
const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
