// A line diff in the format of `diff -u`, so a dry run can be read by people and applied by
// `patch`. Myers' O(ND) algorithm; the common head and tail are trimmed first because a
// migration usually touches one region of a long file.

export type Edit = { op: ' ' | '-' | '+'; line: string };

export interface UnifiedDiffOptions {
  fromFile: string;
  toFile: string;
  /** Unchanged lines shown around each change (diff's default is 3). */
  context?: number;
}

// Marks a last line that has no newline, so that it differs from the same text with one,
// exactly as diff compares them.
const NO_NEWLINE = '\u0000no-newline';

function splitLines(text: string): string[] {
  if (text === '') return [];
  if (text.endsWith('\n')) return text.slice(0, -1).split('\n');
  const lines = text.split('\n');
  lines[lines.length - 1] += NO_NEWLINE;
  return lines;
}

/** The shortest edit script turning `a` into `b`, as a list of kept, removed and added lines. */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const keep = (lines: readonly string[]): Edit[] => lines.map((line) => ({ op: ' ', line }));
  return [...keep(a.slice(0, head)), ...myers(midA, midB), ...keep(a.slice(a.length - tail))];
}

function myers(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((line) => ({ op: '+', line }));
  if (m === 0) return a.map((line) => ({ op: '-', line }));
  const max = n + m;
  const offset = max;
  const v = new Int32Array(2 * max + 2);
  // trace[d] holds the furthest x on each diagonal -d..d after step d, for the walk back.
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)
          ? v[offset + k + 1]!
          : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) found = d;
    }
    trace.push(v.slice(offset - d, offset + d + 1));
  }

  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const prev = trace[d - 1]!;
    const at = (k: number) => prev[k + (d - 1)]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push({ op: ' ', line: a[--x]! });
      y--;
    }
    if (down) edits.push({ op: '+', line: b[--y]! });
    else edits.push({ op: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) {
    edits.push({ op: ' ', line: a[--x]! });
    y--;
  }
  return edits.reverse();
}

/** `diff -u` output, or '' when the texts are equal. */
export function unifiedDiff(before: string, after: string, options: UnifiedDiffOptions): string {
  if (before === after) return '';
  const context = options.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const edits = diffLines(a, b);

  const out = [`--- ${options.fromFile}`, `+++ ${options.toFile}`];
  // Positions (0-based, in a and b) of each edit, to number the hunks.
  const posA: number[] = [];
  const posB: number[] = [];
  let ia = 0;
  let ib = 0;
  for (const e of edits) {
    posA.push(ia);
    posB.push(ib);
    if (e.op !== '+') ia++;
    if (e.op !== '-') ib++;
  }
  const changed = edits.map((e, i) => (e.op === ' ' ? -1 : i)).filter((i) => i >= 0);
  let h = 0;
  while (h < changed.length) {
    const start = Math.max(0, changed[h]! - context);
    let end = changed[h]!;
    // Changes with at most 2*context unchanged lines between them share a hunk, as in diff.
    while (h + 1 < changed.length && changed[h + 1]! - end - 1 <= 2 * context) end = changed[++h]!;
    h++;
    end = Math.min(edits.length - 1, end + context);
    const slice = edits.slice(start, end + 1);
    const countA = slice.filter((e) => e.op !== '+').length;
    const countB = slice.filter((e) => e.op !== '-').length;
    const range = (pos: number, count: number) =>
      count === 1 ? `${pos + 1}` : `${count === 0 ? pos : pos + 1},${count}`;
    out.push(`@@ -${range(posA[start]!, countA)} +${range(posB[start]!, countB)} @@`);
    for (const e of slice) {
      if (e.line.endsWith(NO_NEWLINE))
        out.push(`${e.op}${e.line.slice(0, -NO_NEWLINE.length)}`, '\\ No newline at end of file');
      else out.push(`${e.op}${e.line}`);
    }
  }
  return out.join('\n') + '\n';
}
