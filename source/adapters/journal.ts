// Log lines for a daemon. Under systemd, with stderr connected to the journal (JOURNAL_STREAM
// names that stream's device:inode), each line starts with its syslog priority, `<3>` to `<7>`:
// journald strips the prefix and stores it as PRIORITY, so `journalctl -u opsdeck-agent -p
// warning` shows what went wrong, and the unit adds SYSLOG_IDENTIFIER and OPSDECK_MACHINE
// (LogExtraFields=). Not JSON: journald does not parse JSON on a stream (it would be one opaque
// MESSAGE at priority 6), and its native protocol needs a unix datagram socket Node cannot open.
// Anywhere else (a terminal, a test, a pipe) the lines keep the daemon's name as their prefix.
import { fstatSync } from 'node:fs';

export type Priority = 'err' | 'warning' | 'notice' | 'info' | 'debug';

const LEVEL: Record<Priority, number> = { err: 3, warning: 4, notice: 5, info: 6, debug: 7 };

export type Log = (text: string, priority?: Priority) => void;

/** True when file descriptor `fd` is the journal stream systemd connected (not just inherited). */
export function isJournalStream(
  env: Readonly<Record<string, string | undefined>>,
  fd = 2,
): boolean {
  const [dev, ino] = (env.JOURNAL_STREAM ?? '').split(':');
  if (!dev || !ino) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return String(st.dev) === dev && String(st.ino) === ino;
  } catch {
    return false;
  }
}

/** A logger writing through `write`: `<N>` lines for the journal, `prefix` lines elsewhere. */
export function daemonLog(write: (line: string) => void, prefix: string, journal: boolean): Log {
  return (text, priority = 'info') => {
    for (const line of text.replace(/\n$/, '').split('\n'))
      write(journal ? `<${LEVEL[priority]}>${line}` : `${prefix}${line}`);
  };
}
