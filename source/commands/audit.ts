// `opsdeck audit [--json] [--last N]`: the audit trail (one line per operator action: time,
// operator, machine, action, args, outcome). A damaged line is reported with its line number and
// the rest is still shown; exit 1 when any line is damaged.
import type { Command } from 'commander';
import { auditPath, readAudit, type AuditEntry } from '../adapters/audit.js';
import { sanitise, sanitiseValue } from '../core/errors/sanitise.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, intArg } from './options.js';

export const AUDIT_SCHEMA = 'opsdeck.audit/1';

interface AuditArgs {
  json?: boolean;
  last?: number;
}

const argsText = (args: Record<string, unknown>): string =>
  Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : sanitiseValue(v, 200)}`)
    .join(' ');

/** Aligned columns; every field sanitised (paths and details can carry anything). */
export function auditTable(entries: readonly AuditEntry[]): string[] {
  const rows = entries.map((e) =>
    [
      e.time,
      e.operator,
      e.machine,
      e.action,
      e.outcome,
      argsText(e.args ?? {}),
      e.detail ?? '',
    ].map((c) => sanitise(String(c))),
  );
  const head = ['TIME', 'OPERATOR', 'MACHINE', 'ACTION', 'OUTCOME', 'ARGS', 'DETAIL'];
  const widths = head
    .slice(0, 5)
    .map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    [...r.slice(0, 5).map((c, i) => c.padEnd(widths[i]!)), r[5]!, r[6] ? `— ${r[6]}` : '']
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

export function registerAudit(program: Command, io: Io): void {
  program
    .command('audit')
    .description(
      'show the audit log of operator actions ($OPSDECK_AUDIT, else ~/.local/state/opsdeck/audit.jsonl); exit 1 when a line is damaged',
    )
    .option('--json', `print JSON (schema ${AUDIT_SCHEMA})`)
    .addOption(checkedOption('--last <n>', 'only the newest n entries', intArg(1)))
    .action((opts: AuditArgs) => {
      const last = opts.last;
      const path = auditPath(io.env);
      let read;
      try {
        read = readAudit(path);
      } catch (error) {
        io.err(`opsdeck audit: cannot read ${path}: ${(error as Error).message}`);
        throw new Exit(EXIT.badInput);
      }
      const entries = last === undefined ? read.entries : read.entries.slice(-last);
      if (opts.json) {
        io.out(
          JSON.stringify(
            { schema: AUDIT_SCHEMA, path, total: read.entries.length, entries, damaged: read.bad },
            null,
            2,
          ),
        );
      } else if (read.entries.length === 0 && read.bad.length === 0) {
        io.out(`no audit entries in ${path}`);
      } else {
        for (const l of auditTable(entries)) io.out(l);
        if (last !== undefined && read.entries.length > entries.length)
          io.out(`(${entries.length} of ${read.entries.length} entries; ${path})`);
      }
      for (const b of read.bad)
        io.err(`opsdeck audit: ${path} line ${b.line} damaged: ${sanitise(b.reason)}`);
      if (read.bad.length > 0) throw new Exit(EXIT.findings);
    });
}
