// Which machine a compose file deploys, and which fleet agents each of its services runs.
// Names decide first (upstream puts `mainpc` / `pc2` in file and folder names); otherwise the
// services do: a command that runs an agent's script or launcher group, or a service named
// after an agent or docker group.
import type { Agent, Machine } from '../fleet/model.js';
import type { ComposeFile, ComposeService } from './compose.js';
import { squash } from './fleet-ports.js';

export type ComposeKind = 'machine' | 'hub' | 'group' | 'override' | 'other';

export interface ComposePlace {
  kind: ComposeKind;
  /** Machines the file deploys to; empty when nothing tells. */
  machines: string[];
  /** Hub or docker group the file is for. */
  unit?: string;
  why: string;
}

// Top-level folders that hold many agents, not one hub.
const SHARED_DIRS = new Set([
  'main_pc_code',
  'pc2_code',
  'services',
  'common',
  'docker',
  'config',
  'scripts',
  'src',
]);

export function placeCompose(
  relPath: string,
  compose: ComposeFile,
  machines: readonly Machine[],
): ComposePlace {
  const parts = relPath.toLowerCase().split(/[\\/]/);
  const base = parts[parts.length - 1]!;
  const dirs = parts.slice(0, -1);
  let kind: ComposeKind = 'machine';
  let unit: string | undefined;
  const hub =
    /hub-([a-z0-9_]+)/.exec(base)?.[1] ??
    (dirs.length > 0 && !SHARED_DIRS.has(dirs[0]!) && isHubDir(dirs[0]!, machines)
      ? dirs[0]
      : undefined);
  const group =
    /group-([a-z0-9_]+)/.exec(base)?.[1] ??
    (dirs[0] === 'docker' && dirs[1] && !/^(main_?pc|pc2)$/.test(dirs[1]) ? dirs[1] : undefined);
  if (/override/.test(base)) kind = 'override';
  else if (hub) [kind, unit] = ['hub', hub];
  else if (group) [kind, unit] = ['group', group];

  const named = /pc2/.test(relPath.toLowerCase())
    ? 'pc2'
    : /main_?pc/.test(relPath.toLowerCase())
      ? 'mainpc'
      : undefined;
  if (named)
    return {
      kind,
      machines: [named],
      ...(unit ? { unit } : {}),
      why: `"${named}" in the file name`,
    };

  if (kind === 'hub' && unit) {
    const on = machines
      .filter((m) => m.agents.some((a) => a.scriptPath.toLowerCase().startsWith(`${unit}/`)))
      .map((m) => m.id);
    if (on.length > 0)
      return {
        kind,
        machines: on,
        unit,
        why: `the ${unit} hub runs on ${on.join(' and ')} in the fleet config`,
      };
  }
  const scores = machines.map((m) => ({
    id: m.id,
    score: compose.services.filter((s) => agentsOfService(s, m).length > 0).length,
  }));
  const best = Math.max(0, ...scores.map((s) => s.score));
  const on = best > 0 ? scores.filter((s) => s.score === best).map((s) => s.id) : [];
  if (kind === 'machine' && on.length === 0) kind = 'other';
  return {
    kind,
    machines: on,
    ...(unit ? { unit } : {}),
    why:
      on.length > 0
        ? `${best} of its services run ${on.join('/')} agents`
        : 'neither its name nor its services tie it to a machine',
  };
}

function isHubDir(dir: string, machines: readonly Machine[]): boolean {
  return machines.some((m) =>
    m.agents.some((a) => a.scriptPath.toLowerCase().startsWith(`${dir}/`)),
  );
}

/** Agents of `machine` a compose service runs, judged from its command and name. */
export function agentsOfService(service: ComposeService, machine: Machine): Agent[] {
  const found = new Set<Agent>();
  const command = service.command ?? '';
  const groups = new Set<string>();
  for (const m of command.matchAll(/--groups?[= ]([\w,-]+)/g))
    for (const g of m[1]!.split(',')) if (g) groups.add(g);
  const dockerGroups = machine.globals.dockerGroups ?? {};
  const name = squash(service.name);
  for (const a of machine.agents) {
    const script = a.scriptPath.replace(/\\/g, '/');
    const module = script.replace(/\.py$/, '').replace(/\//g, '.');
    if (
      command &&
      (command.includes(script) || new RegExp(`(^|[\\s/])${escape(module)}(\\s|$)`).test(command))
    )
      found.add(a);
    if (groups.has(a.group)) found.add(a);
    if (squash(a.name) === name) found.add(a);
  }
  for (const [group, def] of Object.entries(dockerGroups)) {
    if (!groups.has(group) && squash(group) !== name) continue;
    for (const a of machine.agents) if (def.agents.includes(a.name)) found.add(a);
  }
  return [...found];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A compose file read, with its path relative to the linted folder (decides machine and kind). */
export interface ComposeInput {
  compose: ComposeFile;
  /** Path relative to the linted folder. */
  relPath: string;
}

export interface PlacedCompose extends ComposeInput {
  place: ComposePlace;
}
