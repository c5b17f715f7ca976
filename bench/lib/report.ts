// What a figure reports: one row per measured quantity, opsdeck next to its baseline from the
// same run, and the ratio (with which way is better). The runner prints them and writes JSON.

export interface Row {
  /** Stable id for comparing runs (e.g. `ingest.zmq`). */
  id: string;
  figure: string;
  unit: string;
  opsdeck: number;
  baseline?: number;
  /** What the baseline is. */
  baselineIs?: string;
  ratio?: number;
  /** How the ratio is formed, e.g. `opsdeck/bare, higher is better`. */
  ratioIs?: string;
  target?: string;
  met?: boolean;
  notes?: string[];
  /** Every run and reading behind the figure. */
  details?: Record<string, unknown>;
}

export interface FigureContext {
  quick: boolean;
  /** Runs per side in the A/B alternation. */
  runs: number;
  /** Temp dir for this benchmark run (removed at the end). */
  tmp: string;
  log(line: string): void;
}

export interface Figure {
  id: string;
  title: string;
  run(ctx: FigureContext): Promise<Row[]>;
}

const fmt = (x: number | undefined, unit = ''): string => {
  if (x === undefined || Number.isNaN(x)) return '-';
  const abs = Math.abs(x);
  const text =
    abs >= 1000
      ? Math.round(x).toLocaleString('en-US')
      : abs >= 100
        ? x.toFixed(0)
        : abs >= 10
          ? x.toFixed(1)
          : x.toFixed(2);
  return unit ? `${text} ${unit}` : text;
};

/** The table: figure, opsdeck, baseline, ratio, target, met. */
export function table(rows: readonly Row[]): string {
  const head = ['figure', 'opsdeck', 'baseline', 'ratio', 'target', 'met?'];
  const body = rows.map((r) => [
    r.figure,
    fmt(r.opsdeck, r.unit),
    r.baseline === undefined ? '-' : fmt(r.baseline, r.unit),
    r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target ?? '-',
    r.met === undefined ? '-' : r.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Notes under the table: what each baseline and ratio is, and anything said about a row. */
export function notes(rows: readonly Row[]): string {
  const out: string[] = [];
  for (const r of rows) {
    const parts = [
      r.baselineIs ? `baseline = ${r.baselineIs}` : '',
      r.ratioIs ? `ratio = ${r.ratioIs}` : '',
    ].filter(Boolean);
    if (parts.length || r.notes?.length) out.push(`${r.figure}: ${parts.join('; ')}`);
    for (const n of r.notes ?? []) out.push(`    ${n}`);
  }
  return out.join('\n');
}

export { fmt };
