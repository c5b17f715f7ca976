// Ink 6 draws each frame through a new Output object whose caches (each line's ANSI tokens,
// string widths) start empty, so every line of a full screen is tokenised character by
// character on every frame, changed or not: ~40% of the Fleet screen's frame at 200x60
// (bench/README.md, profile). This gives all frames one cache, bounded by clearing it when it
// grows past `limit` lines. Ink has no public hook for it, so this reaches into its build; when
// Ink's shape is not what it expects it changes nothing and frames are built as before.
interface Caches {
  styledChars: Map<string, unknown>;
  widths: Map<string, number>;
  blockWidths: Map<string, number>;
}

interface OutputClass {
  new (size: { width: number; height: number }): { caches?: Caches };
  prototype: { get(this: { caches: Caches }): unknown };
}

let shared: Promise<boolean> | undefined;

// A literal path, not the package name (its exports map hides build/): Node resolves it beside
// dist/ as it does beside source/, and esbuild (scripts/bundle.mjs) resolves it to the very file
// Ink imports, so the bundle patches its own copy of Ink, not a second one from node_modules.
async function inkOutput(): Promise<{ default?: OutputClass }> {
  try {
    return (await import('../../node_modules/ink/build/output.js')) as unknown as { default?: OutputClass };
  } catch {
    return (await import(new URL('./output.js', import.meta.resolve('ink')).href)) as { default?: OutputClass };
  }
}

/** Resolves true when Ink's frames now share one cache (once per process). */
export function shareInkCaches(limit = 1000): Promise<boolean> {
  return (shared ??= (async () => {
    try {
      const Output = (await inkOutput()).default;
      if (typeof Output !== 'function' || typeof Output.prototype.get !== 'function') return false;
      const caches = new Output({ width: 0, height: 0 }).caches;
      if (!(caches?.styledChars instanceof Map) || !(caches.widths instanceof Map) || !(caches.blockWidths instanceof Map)) return false;
      const get = Output.prototype.get;
      Output.prototype.get = function (this: { caches: Caches }) {
        if (caches.styledChars.size > limit || caches.widths.size > limit * 4) {
          caches.styledChars.clear();
          caches.widths.clear();
          caches.blockWidths.clear();
        }
        this.caches = caches;
        return get.call(this);
      };
      return true;
    } catch {
      return false;
    }
  })());
}
