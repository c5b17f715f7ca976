// Ink 6 composes every frame from scratch: a new Output object, a grid of width x height cells,
// each line's ANSI tokenised character by character (its caches start empty each frame), every
// row turned back into a string. On the Fleet screen (200x60) most rows do not change between
// frames, yet that composition was over half of each frame (bench/README.md, profile). Two
// changes, both behind Output.get:
//  - one cache of line tokens and string widths for all frames;
//  - each row's string is remembered by what was written into it (position and text of every
//    write, in order), and a changed row is composed by Ink's own code on a one-row Output.
// The caches are bounded by generations, not by clearing: when one is full it becomes the old
// one and a new one starts; a hit in the old one moves the entry across. Clearing them whole (as
// before) made the frame after it tokenise and compose every row again: on the Fleet screen with
// a full error buffer they filled in seconds, so one frame in a few paid the whole screen.
// Ink has no public hook for this, so it reaches into Ink's build; when Ink's shape is not what
// it expects it changes nothing, and a frame with clipping (overflow="hidden", unused here) is
// composed by Ink as before.
import { knownNarrow } from '../core/ui/width.js';

interface Caches {
  styledChars: Map<string, unknown>;
  widths: Map<string, number>;
  blockWidths: Map<string, number>;
  getStyledChars(line: string): unknown;
  getStringWidth(text: string): number;
  getWidestLine(text: string): number;
}

/** A map bounded by two generations: the entries used since the last turn are kept. */
export class Generations<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held (both generations): at most twice the limit. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** `get` from the generations, else `make` (and keep it). */
function through<V>(cache: Generations<V>, key: string, make: (key: string) => V): V {
  let value = cache.get(key);
  if (value === undefined) {
    value = make(key);
    cache.set(key, value);
  }
  return value;
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
/**
 * ansi-tokenize's styledCharsToString, the one Ink's Output uses (a literal path as above:
 * Ink's dependency sits beside it in node_modules; the bundle resolves it to the file Ink's
 * Output imports). Undefined when it is not there: rows are then composed by Ink's Output.
 */
async function inkCellsToString(): Promise<CellsToString | undefined> {
  try {
    const m = (await import('../../node_modules/@alcalzone/ansi-tokenize/build/index.js')) as {
      styledCharsToString?: unknown;
    };
    return typeof m.styledCharsToString === 'function'
      ? (m.styledCharsToString as CellsToString)
      : undefined;
  } catch {
    return undefined;
  }
}

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

/** A cell as Ink's tokeniser (@alcalzone/ansi-tokenize) makes it. */
interface StyledChar {
  type: 'char';
  value: string;
  fullWidth: boolean;
  styles: unknown[];
}

// eslint-disable-next-line no-control-regex -- SGR sequences start with ESC
const SGR = /\x1b\[[0-9;]*m/g;

/** One column and one grapheme each whatever is around them: printable ASCII, the known glyphs. */
function simple(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x20 && c < 0x7f) || knownNarrow(c))) return false;
  }
  return true;
}

/** Text between SGR sequences, every character of it with the same styles. */
interface Run {
  value: string;
  styles: unknown[];
}

/**
 * The runs of a line of SGR sequences and simple characters (the console's rows, borders,
 * headers), without tokenising it character by character: Ink's tokeniser reads the line with
 * each run of text between sequences cut to its first character (the styles a character gets
 * depend only on the sequences before it). Ink tokenised each changed 100-column row for
 * ~50 µs (a probe round changes ~80), making an object or two per character. Anything else
 * (other text, other sequences): undefined.
 */
export function simpleRuns(
  line: string,
  tokenize: (line: string) => StyledChar[],
): Run[] | undefined {
  const texts: string[] = [];
  let skeleton = '';
  let last = 0;
  const run = (text: string) => {
    if (!text) return true;
    if (!simple(text)) return false;
    texts.push(text);
    skeleton += text[0];
    return true;
  };
  for (const m of line.matchAll(SGR)) {
    if (!run(line.slice(last, m.index))) return undefined;
    skeleton += m[0];
    last = m.index + m[0].length;
  }
  if (!run(line.slice(last))) return undefined;
  const heads = tokenize(skeleton);
  if (heads.length !== texts.length) return undefined;
  const runs: Run[] = [];
  for (let r = 0; r < texts.length; r++) {
    const head = heads[r]!;
    if (head.value !== texts[r]![0] || head.fullWidth) return undefined;
    runs.push({ value: texts[r]!, styles: head.styles });
  }
  return runs;
}

/** Ink's cells for a simple line (see simpleRuns): every character gets its run's styles. */
export function simpleStyledChars(
  line: string,
  tokenize: (line: string) => StyledChar[],
): StyledChar[] | undefined {
  const runs = simpleRuns(line, tokenize);
  if (!runs) return undefined;
  const out: StyledChar[] = [];
  for (const run of runs)
    for (const value of run.value)
      out.push({ type: 'char', value, fullWidth: false, styles: run.styles });
  return out;
}

type CellsToString = (cells: ReadonlyArray<{ value: string; styles: unknown[] }>) => string;

const BLANK: unknown[] = [];

/**
 * A row of simple lines as Output.get composes it (a grid of cells, later writes over earlier
 * ones, then ansi-tokenize's styledCharsToString), with runs for cells: which run holds each
 * column is kept in two integer arrays, and consecutive columns of one run (or of blank) are
 * handed to styledCharsToString as one cell holding their text. It emits a style change only
 * between cells whose styles differ, so the string is the same; no object per column is made.
 * Undefined when a line is not simple.
 */
export function composeSimpleRow(
  width: number,
  writes: ReadonlyArray<{ x: number; line: string }>,
  runsOf: (line: string) => Run[] | undefined,
  toString: CellsToString,
): string | undefined {
  const placed: Array<{ x: number; runs: Run[] }> = [];
  let end = width;
  for (const w of writes) {
    const runs = runsOf(w.line);
    if (!runs) return undefined;
    let length = 0;
    for (const r of runs) length += r.value.length;
    placed.push({ x: w.x, runs });
    end = Math.max(end, w.x + length);
  }
  const all: Run[] = [];
  // Per column: the run (index into all, -1 for nothing written) and the offset in it.
  const owner = new Int32Array(end).fill(-1);
  const offset = new Int32Array(end);
  for (const p of placed) {
    let x = p.x;
    for (const r of p.runs) {
      const id = all.push(r) - 1;
      for (let k = 0; k < r.value.length; k++, x++) {
        owner[x] = id;
        offset[x] = k;
      }
    }
  }
  const cells: Array<{ value: string; styles: unknown[] }> = [];
  let x = 0;
  while (x < end) {
    const id = owner[x]!;
    let to = x + 1;
    if (id < 0) {
      // Ink's blank cells fill the width; past it, columns nothing wrote are holes it drops.
      while (to < end && owner[to] === -1 && to < width === x < width) to++;
      if (x < width) cells.push({ value: ' '.repeat(to - x), styles: BLANK });
    } else {
      while (to < end && owner[to] === id && offset[to] === offset[to - 1]! + 1) to++;
      const from = offset[x]!;
      cells.push({ value: all[id]!.value.slice(from, from + to - x), styles: all[id]!.styles });
    }
    x = to;
  }
  return toString(cells).trimEnd();
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
      // Ink's own methods compute on a miss (its tokeniser, string-width); the generations keep.
      const proto = Object.getPrototypeOf(caches) as Caches;
      const fresh = () => {
        const scratch = Object.create(proto) as Caches;
        scratch.styledChars = new Map();
        scratch.widths = new Map();
        scratch.blockWidths = new Map();
        return scratch;
      };
      const styled = new Generations<unknown>(limit);
      const widths = new Generations<number>(limit * 4);
      const blocks = new Generations<number>(limit);
      const scratch = fresh();
      const tokenize = (l: string) => {
        scratch.styledChars.clear();
        return proto.getStyledChars.call(scratch, l) as StyledChar[];
      };
      caches.getStyledChars = (line) =>
        through(styled, line, (l) => simpleStyledChars(l, tokenize) ?? tokenize(l));
      // A frame measures every cell it composes; borders and the console's glyphs are known.
      caches.getStringWidth = (text) =>
        text.length === 1 && knownNarrow(text.charCodeAt(0))
          ? 1
          : through(widths, text, (t) => {
              scratch.widths.clear();
              return proto.getStringWidth.call(scratch, t);
            });
      caches.getWidestLine = (text) =>
        through(blocks, text, (t) => {
          let widest = 0;
          for (const line of t.split('\n')) widest = Math.max(widest, caches.getStringWidth(line));
          return widest;
        });
      const rows = new Generations<string>(limit);
      const runs = new Generations<Run[] | null>(limit);
      const runsOf = (line: string) =>
        through(runs, line, (l) => simpleRuns(l, tokenize) ?? null) ?? undefined;
      const toString = await inkCellsToString();
      const simpleRow = toString
        ? (width: number, row: Array<{ x: number; line: string }>) =>
            composeSimpleRow(width, row, runsOf, toString)
        : () => undefined;
      Output.prototype.get = function (this: OutputLike) {
        this.caches = caches;
        if (this.operations.some((op) => op.type !== 'write')) return compose.call(this);
        return composeByRow(this, Output, compose, caches, rows, simpleRow);
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
  rows: Generations<string>,
  simpleRow: (width: number, row: Array<{ x: number; line: string }>) => string | undefined,
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
      done = simpleRow(out.width, row);
      if (done === undefined) {
        const one = new Output({ width: out.width, height: 1 });
        one.caches = caches;
        for (const w of row) one.write(w.x, 0, w.line, { transformers: [] });
        done = compose.call(one).output;
      }
      rows.set(key, done);
    }
    return done;
  });
  return { output: lines.join('\n'), height: out.height };
}
