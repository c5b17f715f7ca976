// The audit trail's line, as the log file holds it and the Actions screen lists it (the file
// itself is adapters/audit.ts's). A type only.

export interface AuditEntry {
  time: string;
  /** $USER, plus the SSH client address when the operator came in over SSH. */
  operator: string;
  machine: string;
  action: string;
  args: Record<string, unknown>;
  /** `started`: a file change under way (written before its rename); `interrupted`: found killed. */
  outcome: 'ok' | 'refused' | 'failed' | 'cancelled' | 'started' | 'interrupted';
  detail?: string;
}

export type AuditRead = { entries: AuditEntry[]; bad: Array<{ line: number; reason: string }> };

/** What an action run writes: the time and operator are added by the writer. */
export type AuditLine = Omit<AuditEntry, 'time' | 'operator'>;
