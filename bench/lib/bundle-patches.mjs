// `--import` for a bench child that draws with Ink from source (tsx): Node loads Ink's
// dependencies with the patches the console's bundle applies to them (scripts/bundle-patches.mjs,
// esbuild plugins), so the child's frames cost what the shipped console's cost. Without it,
// ansi-tokenize walked every line through Intl.Segmenter in the bench but not in the console.
import { register } from 'node:module';

register('./bundle-patches-hooks.mjs', import.meta.url);
