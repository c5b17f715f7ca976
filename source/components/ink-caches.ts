// Ink 6 composes every frame from scratch: a new Output object, a grid of width x height cells,
// each line's ANSI tokenised character by character (its caches start empty each frame), every
// row turned back into a string. On the Fleet screen (200x60) most rows do not change between
// frames, yet that composition was over half of each frame (bench/README.md, profile). Two
// changes, both behind Output.get:
//  - one cache of line tokens and string widths for all frames (bounded: cleared when big);
//  - each row's string is remembered by what was written into it (position and text of every
//    write, in order), and a changed row is composed by Ink's own code on a one-row Output.
// Ink has no public hook for this, so it reaches into Ink's build; when Ink's shape is not what
// it expects it changes nothing, and a frame with clipping (overflow="hidden", unused here) is
// composed by Ink as before.
interface Caches {
  styledChars: Map<string, unknown>;
  widths: Map<string, number>;
  blockWidths: Map<string, number>;
}

type Transformer = (line: string, index: number) => string;
type Operation =
  | { type: 'write'; x: number; y: number; text: string; transformers: Transformer[] }
  | { type: 'clip' | 'unclip' };

interface OutputLike {
  width: number;
  height: number;
  caches: Caches;
  operations: Operation[];
  write(x: number, y: number, text: string, options: { transformers: Transformer[] }): void;
}

interface OutputClass {
  new (size: { width: number; height: number }): OutputLike;
  prototype: { get(this: OutputLike): { output: string; height: number } };
}

let shared: Promise<boolean> | undefined;

// A literal path, not the package name (its exports map hides build/): Node resolves it beside
// dist/ as it does beside source/, and esbuild (scripts/bundle.mjs) resolves it to the very file
// Ink imports, so the bundle patches its own copy of Ink, not a second one from node_modules.
async function inkOutput(): Promise<{ default?: OutputClass }> {
  try {
    return (await import('../../node_modules/ink/build/output.js')) as unknown as {
      default?: OutputClass;
    };
  } catch {
    return (await import(new URL('./output.js', import.meta.resolve('ink')).href)) as {
      default?: OutputClass;
    };
  }
}

/** Resolves true when Ink's frames now share the caches (once per process). */
export function shareInkCaches(limit = 2000): Promise<boolean> {
  return (shared ??= (async () => {
    try {
      const Output = (await inkOutput()).default;
      if (typeof Output !== 'function' || typeof Output.prototype.get !== 'function') return false;
      const probe = new Output({ width: 0, height: 0 });
      const caches = probe.caches;
      if (
        !(caches?.styledChars instanceof Map) ||
        !(caches.widths instanceof Map) ||
        !(caches.blockWidths instanceof Map) ||
        !Array.isArray(probe.operations)
      )
        return false;
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) below
      const compose = Output.prototype.get;
      const rows = new Map<string, string>();
      Output.prototype.get = function (this: OutputLike) {
        if (
          caches.styledChars.size > limit ||
          caches.widths.size > limit * 4 ||
          rows.size > limit
        ) {
          caches.styledChars.clear();
          caches.widths.clear();
          caches.blockWidths.clear();
          rows.clear();
        }
        this.caches = caches;
        if (this.operations.some((op) => op.type !== 'write')) return compose.call(this);
        return composeByRow(this, Output, compose, caches, rows);
      };
      return true;
    } catch {
      return false;
    }
  })());
}

/**
 * Output.get, row by row: the same writes reach the same rows in the same order as in Ink's
 * loop (including its handling of lines below the last row), so each row's string is what
 * Ink would build.
 */
function composeByRow(
  out: OutputLike,
  Output: OutputClass,
  compose: OutputClass['prototype']['get'],
  caches: Caches,
  rows: Map<string, string>,
): { output: string; height: number } {
  const writes: Array<Array<{ x: number; line: string }>> = Array.from(
    { length: out.height },
    () => [],
  );
  for (const op of out.operations) {
    if (op.type !== 'write') continue;
    let offsetY = 0;
    for (const [index, text] of op.text.split('\n').entries()) {
      const row = writes[op.y + offsetY];
      if (!row) continue; // as Ink: offsetY stays, so the rest of the text misses too
      let line = text;
      for (const transform of op.transformers) line = transform(line, index);
      row.push({ x: op.x, line });
      offsetY++;
    }
  }
  const lines = writes.map((row) => {
    if (row.length === 0) return '';
    let key = `${out.width}`;
    for (const w of row) key += `\u0000${w.x}\u0001${w.line}`;
    let done = rows.get(key);
    if (done === undefined) {
      const one = new Output({ width: out.width, height: 1 });
      one.caches = caches;
      for (const w of row) one.write(w.x, 0, w.line, { transformers: [] });
      done = compose.call(one).output;
      rows.set(key, done);
    }
    return done;
  });
  return { output: lines.join('\n'), height: out.height };
}
