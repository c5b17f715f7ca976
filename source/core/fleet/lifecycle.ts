// How `opsdeck agent` stops and starts one of its machine's agents, as it tells the console's
// preview: a process (its pid found by script_path in /proc, started again with the command
// line, working folder and environment it ran with, else the launcher's) or a container (its
// compose service). An agent it cannot manage says why; nothing is attempted then.

export type Managed =
  | {
      kind: 'process';
      agent: string;
      running: boolean;
      pid?: number;
      /** argv it runs (or will run) with. */
      command: string[];
      cwd: string;
      /** Where the command line and environment come from, in words (never the values). */
      from: string;
      /** Where its stdout goes when started by opsdeck. */
      output?: string;
    }
  | {
      kind: 'container';
      agent: string;
      running: boolean;
      container: string;
      service?: string;
    };

export type LifeResult = { ok: true; did: string[]; pid?: number } | { ok: false; error: string };

export interface Lifecycle {
  how(agent: string): Promise<Managed | { error: string }>;
  stop(agent: string): Promise<LifeResult>;
  start(agent: string): Promise<LifeResult>;
}

export const LIFECYCLE_VERBS = ['restart', 'stop', 'start'] as const;
export type LifecycleVerb = (typeof LIFECYCLE_VERBS)[number];

/** One line naming exactly what will be acted on. */
export function describeManaged(m: Managed): string {
  if (m.kind === 'container')
    return `container ${m.container}${m.service ? ` (compose service ${m.service})` : ''}, ${m.running ? 'running' : 'not running'}`;
  const cmd = m.command.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return `${m.running ? `process ${m.pid}` : 'no process now'}: ${cmd} in ${m.cwd} (${m.from})`;
}

/** What each verb does to a managed agent, step by step, for the preview. */
export function plannedSteps(m: Managed, verb: LifecycleVerb): string[] {
  if (m.kind === 'container') return [`docker ${verb} ${m.container}`];
  const stop = m.running
    ? [`SIGTERM to pid ${m.pid}, SIGKILL after 10 s if it is still there`]
    : ['(no process to stop)'];
  const start = [
    `start ${m.command.join(' ')} in ${m.cwd}${m.output ? `, output appended to ${m.output}` : ''}`,
  ];
  return verb === 'stop' ? stop : verb === 'start' ? start : [...stop, ...start];
}
