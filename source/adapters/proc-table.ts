// This machine's process table as `opsdeck agent` sees it through /proc: command lines, the TCP
// ports each process listens on (socket inodes in /proc/<pid>/fd matched to /proc/net/tcp{,6}),
// nice values and resident memory. Processes it may not read (another user's fds without root)
// are listed without ports rather than dropped. Linux only; elsewhere the table is empty.
import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';
import {
  listeningInodes,
  niceFromStat,
  parentFromStat,
  type ProcessRow,
} from '../core/fleet/processes.js';

const PAGE_KB = 4;

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Processes whose argv passes `keep` (default: every process with a command line). */
export async function readProcessTable(
  keep: (argv: readonly string[]) => boolean = () => true,
  root = '/proc',
): Promise<ProcessRow[]> {
  const inodes = new Map<string, number>();
  for (const table of ['net/tcp', 'net/tcp6']) {
    const t = await text(`${root}/${table}`);
    if (t) for (const [inode, port] of listeningInodes(t)) inodes.set(inode, port);
  }
  let pids: string[];
  try {
    pids = (await readdir(root)).filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const rows: ProcessRow[] = [];
  for (const pid of pids) {
    const cmd = await text(`${root}/${pid}/cmdline`);
    if (!cmd) continue; // kernel threads and processes that just exited
    const argv = cmd.split('\0').filter((a) => a !== '');
    if (!keep(argv)) continue;
    const ports = new Set<number>();
    try {
      for (const fd of await readdir(`${root}/${pid}/fd`)) {
        const link = await readlink(`${root}/${pid}/fd/${fd}`).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(link);
        const port = m ? inodes.get(m[1]!) : undefined;
        if (port !== undefined) ports.add(port);
      }
    } catch {
      /* not ours to read: listed without ports */
    }
    const stat = await text(`${root}/${pid}/stat`);
    const statm = await text(`${root}/${pid}/statm`);
    const rssPages = statm ? Number(statm.split(' ')[1]) : NaN;
    const nice = stat ? niceFromStat(stat) : undefined;
    rows.push({
      pid: Number(pid),
      argv,
      ports: [...ports].sort((a, b) => a - b),
      ...(nice !== undefined ? { nice } : {}),
      ...(Number.isFinite(rssPages) ? { rssMb: Math.round((rssPages * PAGE_KB) / 1024) } : {}),
    });
  }
  return rows;
}

/** A process's parent pid, from /proc; undefined when it is gone or not there to read. */
export function parentPid(pid: number, root = '/proc'): number | undefined {
  try {
    return parentFromStat(readFileSync(`${root}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Sets a process's nice value and reads it back; the error says why when it cannot. */
export function renice(
  pid: number,
  nice: number,
): { ok: true; nice: number } | { ok: false; error: string } {
  try {
    setPriority(pid, nice);
    return { ok: true, nice: getPriority(pid) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return {
      ok: false,
      error:
        code === 'EACCES' || code === 'EPERM'
          ? `${code}: lowering another user's process priority needs CAP_SYS_NICE`
          : `${code || 'error'}: ${(error as Error).message}`,
    };
  }
}
