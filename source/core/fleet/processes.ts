// Which process runs which agent, from what a machine's process table says (pure: the agent
// daemon reads /proc, the simulator its own table; both hand the rows here). An agent's process
// is the one whose command line names its script_path, the way upstream's launchers start it
// (`python <script_path> --port N`, or inside a container `python /app/<script_path>`).

export interface ProcessRow {
  pid: number;
  /** argv, as /proc/<pid>/cmdline splits it. */
  argv: readonly string[];
  /** TCP ports it listens on. */
  ports: readonly number[];
  nice?: number;
  rssMb?: number;
}

export interface AgentProcess extends ProcessRow {
  agent: string;
  script: string;
}

const norm = (p: string) => p.replace(/\\/g, '/').replace(/^\.\//, '');

/** Does this argv run that script? The script path is relative to the upstream checkout. */
export function runsScript(argv: readonly string[], scriptPath: string): boolean {
  const script = norm(scriptPath);
  return argv.some((arg) => {
    const a = norm(arg);
    return a === script || a.endsWith(`/${script}`);
  });
}

/**
 * Each agent's process, in config order; an agent with two matching processes (a restart under
 * way, a duplicate launch) takes the lowest pid and the rest are reported as duplicates.
 */
export function matchProcesses(
  agents: ReadonlyArray<{ name: string; scriptPath: string }>,
  rows: readonly ProcessRow[],
): { found: AgentProcess[]; duplicates: AgentProcess[] } {
  const found: AgentProcess[] = [];
  const duplicates: AgentProcess[] = [];
  const sorted = [...rows].sort((a, b) => a.pid - b.pid);
  for (const agent of agents) {
    const mine = sorted.filter((r) => runsScript(r.argv, agent.scriptPath));
    // Two config entries running one script (RealTimeAudioPipeline on both machines' configs)
    // are told apart by machine, not here: each gets the first process.
    const [first, ...rest] = mine;
    if (first) found.push({ ...first, agent: agent.name, script: agent.scriptPath });
    for (const r of rest) duplicates.push({ ...r, agent: agent.name, script: agent.scriptPath });
  }
  return { found, duplicates };
}

/** Parses /proc/net/tcp or tcp6: the local ports of sockets in LISTEN, by inode. */
export function listeningInodes(table: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue; // 0A: TCP_LISTEN
    const port = parseInt(f[1]!.split(':')[1] ?? '', 16);
    if (Number.isInteger(port)) out.set(f[9]!, port);
  }
  return out;
}

/**
 * /proc/<pid>/stat's fields from the state on (field 3): the command name before them, in
 * parentheses, may hold spaces and parentheses itself.
 */
const statFields = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ');

/** The parent pid (field 4); undefined for none (0) or an unreadable line. */
export function parentFromStat(stat: string): number | undefined {
  const ppid = Number(statFields(stat)[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

/** The nice value (field 19). */
export function niceFromStat(stat: string): number | undefined {
  const nice = Number(statFields(stat)[16]);
  return Number.isInteger(nice) ? nice : undefined;
}
