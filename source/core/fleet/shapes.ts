// Recognises which of the fleet's config shapes a document is, and lists its agent entries
// with their paths. Interpreting the entries (ports, defaults) is build.ts's job.
import type { Diagnostic, MachineGlobals, ShapeId } from './model.js';
import { pathKey, type ParsedSource, type PathPart } from './yaml-source.js';

export type Dict = Record<string, unknown>;

export const isDict = (value: unknown): value is Dict =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const kindOf = (value: unknown): string =>
  value === null || value === undefined
    ? 'nothing'
    : Array.isArray(value)
      ? 'a list'
      : isDict(value)
        ? 'a mapping'
        : `a ${typeof value}`;

/** One agent entry as found in the document, before interpretation. */
export interface RawAgent {
  name: string;
  group: string;
  path: PathPart[];
  entry: Dict;
}

export interface Extracted {
  shape: ShapeId;
  /** Machine the shape implies when the caller does not say (pc2_services means PC2). */
  defaultMachine: string;
  agents: RawAgent[];
  globals: MachineGlobals;
  /** v3 only: machine -> enabled groups. */
  profiles?: Record<string, string[]>;
}

const isAgentEntry = (value: unknown): value is Dict =>
  isDict(value) && ('script_path' in value || 'script' in value);

/** Top-level lists holding agent flow maps (list era, one-off, PC2 lists). */
const agentLists = (data: Dict): string[] =>
  Object.keys(data).filter((k) => {
    const v = data[k];
    return Array.isArray(v) && v.some(isAgentEntry);
  });

export function detectShape(data: Dict): ShapeId | undefined {
  if (isDict(data.agent_groups)) {
    if ('machine_profiles' in data || 'version' in data) return 'v3-unified';
    const groups = Object.values(data.agent_groups);
    if (groups.some((g) => isDict(g) && isDict(g.group_config))) return 'pc2-agent-groups';
    return 'agent-groups';
  }
  if (Array.isArray(data.pc2_services)) return 'pc2-services';
  const lists = agentLists(data);
  if (lists.length === 0) return undefined;
  const usesScript = lists.some((k) =>
    (data[k] as unknown[]).some((e) => isDict(e) && 'script' in e),
  );
  return 'settings' in data || usesScript ? 'core-agents' : 'category-lists';
}

export const KNOWN_SHAPES =
  'agent_groups (MainPC, PC2 agent_groups, v3 unified), pc2_services (PC2), top-level category lists of agents with script_path (list era), or settings + core_agents lists (one-off)';

export function extract(
  source: ParsedSource,
  data: Dict,
  shape: ShapeId,
  diagnostics: Diagnostic[],
): Extracted {
  const globals = readGlobals(source, data, diagnostics);
  switch (shape) {
    case 'agent-groups':
    case 'pc2-agent-groups':
    case 'v3-unified': {
      const agents = fromAgentGroups(source, data.agent_groups as Dict, globals, diagnostics);
      const extracted: Extracted = {
        shape,
        // pc2_network is PC2's own block: a PC2 file migrated to agent_groups keeps it (migrate.ts).
        defaultMachine:
          shape === 'pc2-agent-groups' || (shape === 'agent-groups' && isDict(data.pc2_network))
            ? 'pc2'
            : 'mainpc',
        agents,
        globals,
      };
      if (shape === 'v3-unified') extracted.profiles = readProfiles(source, data, diagnostics);
      return extracted;
    }
    case 'pc2-services':
    case 'category-lists':
    case 'core-agents': {
      const keys =
        shape === 'pc2-services' ? unique(['pc2_services', ...agentLists(data)]) : agentLists(data);
      const agents = keys.flatMap((key) =>
        fromList(source, key, data[key] as unknown[], globals, diagnostics),
      );
      return {
        shape,
        defaultMachine: shape === 'pc2-services' ? 'pc2' : 'mainpc',
        agents,
        globals,
      };
    }
  }
}

function fromAgentGroups(
  source: ParsedSource,
  groups: Dict,
  globals: MachineGlobals,
  diagnostics: Diagnostic[],
): RawAgent[] {
  const agents: RawAgent[] = [];
  for (const [group, value] of Object.entries(groups)) {
    const groupPath = ['agent_groups', group];
    if (group === 'docker_groups' && isDict(value)) {
      // The newest MainPC file indents docker_groups inside agent_groups by mistake.
      diagnostics.push({
        severity: 'info',
        code: 'nested-docker-groups',
        message:
          'docker_groups is indented inside agent_groups (a mis-indentation upstream); read as docker groups, not agents',
        loc: source.locate(groupPath),
        path: pathKey(groupPath),
      });
      mergeDockerGroups(globals, value);
      continue;
    }
    if (value === null || value === undefined) continue; // a group whose agents are all commented out
    if (!isDict(value)) {
      diagnostics.push({
        severity: 'error',
        code: 'wrong-type',
        message: `group "${group}" must be a mapping of agents, got ${kindOf(value)}`,
        loc: source.locate(groupPath),
        path: pathKey(groupPath),
      });
      continue;
    }
    const entries = Object.entries(value);
    const hasAgents = entries.some(([, v]) => isAgentEntry(v));
    if (!hasAgents) {
      // {description, agents} siblings produced by the same mis-indentation, or an empty group.
      if ('agents' in value || 'description' in value)
        mergeDockerGroups(globals, { [group]: value });
      continue;
    }
    for (const [name, entry] of entries) {
      const path = [...groupPath, name];
      if (isAgentEntry(entry)) {
        agents.push({ name, group, path, entry });
      } else if (!isDict(entry) && name !== 'description') {
        diagnostics.push({
          severity: 'error',
          code: 'wrong-type',
          message: `agent "${name}" in group "${group}" must be a mapping with script_path, got ${kindOf(entry)}`,
          loc: source.locate(path),
          path: pathKey(path),
        });
      }
      // Other mappings (group_config and the like) are group metadata, not agents.
    }
  }
  return agents;
}

function fromList(
  source: ParsedSource,
  key: string,
  items: unknown[],
  globals: MachineGlobals,
  diagnostics: Diagnostic[],
): RawAgent[] {
  const agents: RawAgent[] = [];
  const dockerGroupOf = new Map<string, string>();
  for (const [group, def] of Object.entries(globals.dockerGroups ?? {})) {
    for (const agent of def.agents) dockerGroupOf.set(agent, group);
  }
  items.forEach((entry, i) => {
    const path = [key, i];
    if (!isAgentEntry(entry)) {
      diagnostics.push({
        severity: 'error',
        code: 'wrong-type',
        message: `${key}[${i}] must be an agent mapping with name and script_path, got ${kindOf(entry)}`,
        loc: source.locate(path),
        path: pathKey(path),
      });
      return;
    }
    if (typeof entry.name !== 'string' || entry.name === '') {
      diagnostics.push({
        severity: 'error',
        code: 'missing-name',
        message: `${key}[${i}] has no name (expected name: <AgentName>)`,
        loc: source.locate(path),
        path: pathKey(path),
      });
      return;
    }
    agents.push({ name: entry.name, group: dockerGroupOf.get(entry.name) ?? key, path, entry });
  });
  return agents;
}

function readGlobals(source: ParsedSource, data: Dict, diagnostics: Diagnostic[]): MachineGlobals {
  const globals: MachineGlobals = {};
  // Newer files keep these under global_settings; the list era and the one-off keep them on top.
  const settings = isDict(data.global_settings)
    ? data.global_settings
    : isDict(data.settings)
      ? data.settings
      : {};
  const pick = (key: string): unknown => settings[key] ?? data[key];
  const health = pick('health_checks');
  if (isDict(health)) {
    globals.healthChecks = {
      intervalSeconds: num(health.interval_seconds ?? health.interval),
      timeoutSeconds: num(health.timeout_seconds ?? health.timeout),
      retries: num(health.retries),
    };
  }
  const limits = pick('resource_limits');
  if (isDict(limits)) globals.resourceLimits = { ...limits };
  const env = pick('environment');
  if (isDict(env)) globals.environment = { ...env };
  const network = data.pc2_network ?? data.network;
  if (isDict(network)) {
    const range = (v: unknown) =>
      isDict(v) && typeof v.start === 'number' && typeof v.end === 'number'
        ? { start: v.start, end: v.end }
        : undefined;
    globals.network = {
      ...(typeof network.host === 'string' ? { host: network.host } : {}),
      ...(range(network.agent_ports) ? { agentPorts: range(network.agent_ports)! } : {}),
      ...(range(network.health_check_ports)
        ? { healthCheckPorts: range(network.health_check_ports)! }
        : {}),
    };
  }
  if (isDict(data.docker_groups)) mergeDockerGroups(globals, data.docker_groups);
  else if (data.docker_groups !== undefined && data.docker_groups !== null) {
    diagnostics.push({
      severity: 'warning',
      code: 'wrong-type',
      message: `docker_groups must be a mapping of groups, got ${kindOf(data.docker_groups)}; ignored`,
      loc: source.locate(['docker_groups']),
      path: 'docker_groups',
    });
  }
  return globals;
}

function mergeDockerGroups(globals: MachineGlobals, groups: Dict): void {
  globals.dockerGroups ??= {};
  for (const [name, def] of Object.entries(groups)) {
    if (!isDict(def)) continue;
    const agents = Array.isArray(def.agents)
      ? def.agents.filter((a): a is string => typeof a === 'string')
      : [];
    globals.dockerGroups[name] = {
      ...(typeof def.description === 'string' ? { description: def.description } : {}),
      agents,
    };
  }
}

function readProfiles(
  source: ParsedSource,
  data: Dict,
  diagnostics: Diagnostic[],
): Record<string, string[]> {
  const profiles: Record<string, string[]> = {};
  const raw = data.machine_profiles;
  if (!isDict(raw)) {
    diagnostics.push({
      severity: 'error',
      code: 'wrong-type',
      message: `machine_profiles must map machine -> {enabled_groups: [...]}, got ${kindOf(raw)}`,
      loc: source.locate(['machine_profiles']),
      path: 'machine_profiles',
    });
    return profiles;
  }
  for (const [machine, profile] of Object.entries(raw)) {
    const groups = isDict(profile) ? profile.enabled_groups : undefined;
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) {
      diagnostics.push({
        severity: 'error',
        code: 'wrong-type',
        message: `machine_profiles.${machine}.enabled_groups must be a list of group names`,
        loc: source.locate(['machine_profiles', machine]),
        path: `machine_profiles.${machine}.enabled_groups`,
      });
      continue;
    }
    profiles[machine] = groups;
  }
  return profiles;
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;
const unique = <T>(items: T[]): T[] => [...new Set(items)];
