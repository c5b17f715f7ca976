// What every lint rule reports, and the few operations the command and the scorecard need.
import type { Severity } from '../fleet/model.js';

export type { Severity };

/** Checks `--rule` can select; each maps to a line of the action plan. */
export const RULES = {
  'zmq-recv-timeout':
    'ZMQ receives without a timeout, and REQ sockets reused after one (plan: blind spots)',
  'compose-health':
    'compose services without a working health check (plan: missing HEALTHCHECK CMD)',
  'compose-consolidation':
    'compose variants of one machine compared service by service (plan P3.1)',
  'sqlite-writers': 'one SQLite file shared by several writers (plan: SQLite concurrency)',
  'asyncio-threads': 'asyncio loops driven from threads (plan: AsyncIO safety)',
  'config-drift': 'ports the code binds versus what the launcher gives (config drift)',
  syntax: 'files lint cannot read or parse (Python syntax errors, broken compose YAML)',
} as const;

export type RuleId = keyof typeof RULES;

export const RULE_IDS = Object.keys(RULES) as RuleId[];

export interface Finding {
  rule: RuleId;
  severity: Severity;
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
  message: string;
  hint: string;
}

const RANK: Record<Severity, number> = { error: 3, warning: 2, info: 1 };

export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

export const isSeverity = (s: string): s is Severity => s in RANK;

export const atOrAbove = (f: Finding, threshold: Severity): boolean =>
  RANK[f.severity] >= RANK[threshold];

export const byLocation = (a: Finding, b: Finding): number =>
  a.file.localeCompare(b.file) ||
  a.line - b.line ||
  a.col - b.col ||
  a.rule.localeCompare(b.rule) ||
  a.message.localeCompare(b.message);

export const formatFinding = (f: Finding): string =>
  `${f.file}:${f.line}:${f.col}: ${f.severity}: ${f.message} [${f.rule}]\n    fix: ${f.hint}`;

export interface LintSummary {
  total: number;
  bySeverity: Record<Severity, number>;
  byRule: Partial<Record<RuleId, Record<Severity, number>>>;
  files: { python: number; compose: number };
}

/** Counts for the console's scorecard and the command's last line. */
export function summarize(
  findings: readonly Finding[],
  files: { python: number; compose: number },
): LintSummary {
  const bySeverity: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  const byRule: LintSummary['byRule'] = {};
  for (const f of findings) {
    bySeverity[f.severity]++;
    const counts = (byRule[f.rule] ??= { error: 0, warning: 0, info: 0 });
    counts[f.severity]++;
  }
  return { total: findings.length, bySeverity, byRule, files };
}
