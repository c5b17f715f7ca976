// A line diff in the format of `diff -u`, so a dry run can be read by people and applied by
// `patch`. The diff itself is jsdiff's (the `diff` package: Myers' algorithm, maintained and
// widely used); only the hunk headers are written here, because jsdiff's formatPatch writes
// `@@ -3,1 +3,1 @@` and an `Index:`/`====` preamble where `diff -u` writes `@@ -3 +3 @@` and
// nothing before `---`.
import { diffArrays, structuredPatch, type StructuredPatchHunk } from 'diff';

export type Edit = { op: ' ' | '-' | '+'; line: string };

export interface UnifiedDiffOptions {
  fromFile: string;
  toFile: string;
  /** Unchanged lines shown around each change (diff's default is 3). */
  context?: number;
}

/** The shortest edit script turning `a` into `b`, as a list of kept, removed and added lines. */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  return diffArrays([...a], [...b]).flatMap((part) =>
    part.value.map((line): Edit => ({ op: part.added ? '+' : part.removed ? '-' : ' ', line })),
  );
}

/** `diff -u`'s numbering: `start,count`, `start` alone for one line, `start-1,0` for none. */
const range = (start: number, count: number): string =>
  count === 1 ? `${start}` : `${count === 0 ? start - 1 : start},${count}`;

const header = (h: StructuredPatchHunk): string =>
  `@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`;

/** `diff -u` output, or '' when the texts are equal. */
export function unifiedDiff(before: string, after: string, options: UnifiedDiffOptions): string {
  if (before === after) return '';
  const patch = structuredPatch(
    options.fromFile,
    options.toFile,
    before,
    after,
    undefined,
    undefined,
    {
      context: options.context ?? 3,
    },
  );
  const out = [`--- ${options.fromFile}`, `+++ ${options.toFile}`];
  for (const hunk of patch.hunks) out.push(header(hunk), ...hunk.lines);
  return out.join('\n') + '\n';
}
