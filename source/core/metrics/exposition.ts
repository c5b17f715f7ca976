// The Prometheus text exposition format (version 0.0.4), written by hand: it is a few rules, and
// `promtool check metrics` checks what comes out (test/core/metrics-exposition.test.ts).
//  - one `# HELP` and one `# TYPE` line per family, then its samples, families never interleaved;
//  - label values escape `\`, `"` and newlines; HELP text escapes `\` and newlines;
//  - a histogram is `_bucket{le=...}` (cumulative, ending at +Inf), `_sum` and `_count`.

export type MetricType = 'gauge' | 'counter' | 'histogram';
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  /** Appended to the family's name: `_bucket`, `_sum`, `_count` for histograms. */
  suffix?: string;
  labels: Labels;
  value: number;
}

export interface Family {
  /** Counters end in `_total`, as Prometheus' naming rules (and promtool) expect. */
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeValue = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** Go's strconv.ParseFloat reads every JS number string, and NaN / +Inf / -Inf as written here. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeValue(labels[k]!)}"`).join(',')}}`;
}

/** The whole page. Names and label names are checked: a bad one is a bug here, not input. */
export function exposition(families: readonly Family[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`not a metric name: ${f.name}`);
    if (seen.has(f.name)) throw new Error(`metric family twice: ${f.name}`);
    seen.add(f.name);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      for (const k of Object.keys(s.labels))
        if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`not a label name: ${k}`);
      out.push(`${f.name}${s.suffix ?? ''}${labelText(s.labels)} ${formatValue(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Upper bounds (seconds) for probe latencies on one machine: sub-millisecond to the timeout. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** One histogram series: cumulative bucket counts, sum and count. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) this.counts[i]!++;
  }

  samples(labels: Labels): Sample[] {
    return [
      ...this.bounds.map((le, i) => ({
        suffix: '_bucket',
        labels: { ...labels, le: formatValue(le) },
        value: this.counts[i]!,
      })),
      { suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: this.count },
      { suffix: '_sum', labels, value: this.sum },
      { suffix: '_count', labels, value: this.count },
    ];
  }
}
