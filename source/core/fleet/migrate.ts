// `config migrate`: rewrites any config shape the fleet has used into the canonical MainPC
// `agent_groups` schema (what upstream's unify_config_schema.py --target agent_groups meant to do).
// Edits go through yaml's Document API, so comments, key order and scalar styles survive wherever
// the structure does. A result is only returned after the loader reads it back as the same fleet
// (same agents, ports, dependencies, config, globals) and a second pass finds nothing to change:
// a migration that would alter the fleet is refused rather than written.
import {
  isMap,
  isScalar,
  isSeq,
  Pair,
  parseDocument,
  Scalar,
  YAMLMap,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { deepMerge, loadParsed } from './load.js';
import type { Agent, Diagnostic, LoadResult, Machine, ShapeId } from './model.js';
import type { Env } from './port-expr.js';
import { extract, isDict, type Dict, type RawAgent } from './shapes.js';
import { parseYaml, pathKey, type ParsedSource, type PathPart } from './yaml-source.js';

/** Schemas `--target` accepts; upstream's script named the canonical one `agent_groups`. */
export const MIGRATE_TARGETS = ['agent_groups'] as const;

export interface MigrateOptions {
  env: Env;
  /** v3 unified files only: the machine whose agents to write. */
  machine?: string;
  /** v3 only: parsed override documents by machine, as the loader takes them. */
  overrides?: Record<string, ParsedSource>;
}

export type MigrateResult =
  | {
      ok: true;
      status: 'already-canonical' | 'migrated';
      shape: ShapeId;
      machine: string;
      /** The canonical text; the input unchanged when already canonical. */
      text: string;
      /** One line per kind of change, for the operator. */
      notes: string[];
      /** Warnings the loader had about the input (duplicate keys, duplicate agents). */
      diagnostics: Diagnostic[];
    }
  | { ok: false; diagnostics: Diagnostic[] };

/** Per-agent keys older shapes used, and their canonical names. */
const RENAMES: ReadonlyArray<readonly [string, string]> = [
  ['script', 'script_path'],
  ['health_port', 'health_check_port'],
  ['critical', 'required'],
  ['environment', 'env_vars'],
];

/** Global blocks the list era kept at the top level; canonical files keep them in global_settings. */
const GLOBAL_BLOCKS = ['environment', 'resource_limits', 'health_checks'];

/** A refusal: the loader's errors, if any, and one error of migrate's pointing at `at`. */
const refusal = (
  source: ParsedSource,
  code: string,
  message: string,
  extra: Diagnostic[] = [],
  at: PathPart[] = [],
): MigrateResult => ({
  ok: false,
  diagnostics: [...extra, { severity: 'error', code, message, loc: source.locate(at) }],
});

/** The machine to write: a v3 unified file must name one (--machine), other shapes hold one. */
function pickMachine(
  source: ParsedSource,
  before: LoadResult,
  shape: ShapeId,
  chosen: string | undefined,
): Machine | MigrateResult {
  if (shape !== 'v3-unified') {
    if (chosen)
      return refusal(
        source,
        'machine-not-applicable',
        `a machine is chosen only for v3 unified files; this is a ${shape} file for one machine`,
      );
    return before.machines[0]!;
  }
  const ids = before.machines.map((m) => m.id).join(', ');
  if (!chosen)
    return refusal(
      source,
      'machine-required',
      `this is a v3 unified config describing several machines (${ids}): name the one to write (--machine NAME, with --out FILE)`,
      [],
      ['machine_profiles'],
    );
  return (
    before.machines.find((m) => m.id === chosen) ??
    refusal(
      source,
      'unknown-machine',
      `machine "${chosen}" is not in machine_profiles (expected one of: ${ids})`,
      [],
      ['machine_profiles'],
    )
  );
}

/**
 * The safety net: the migrated text must load as the same fleet and must itself be canonical
 * (a second pass changes nothing). A refusal when it is not; undefined when it is.
 */
function checkMigrated(
  source: ParsedSource,
  out: string,
  file: string,
  env: Env,
  machine: Machine,
): MigrateResult | undefined {
  const reread = parseYaml(out, file);
  const after = loadParsed(reread, { env, machine: machine.id });
  if (!after.ok || after.shape === 'v3-unified' || !after.machines[0])
    return refusal(
      source,
      'migrate-broken',
      'refused: the migrated text would not load (a bug in migrate); nothing was written',
      after.diagnostics.filter((d) => d.severity === 'error'),
    );
  const differences = compareMachines(machine, after.machines[0]);
  if (differences.length > 0)
    return refusal(
      source,
      'migrate-changes-fleet',
      `refused: the migrated file would not be the same fleet (${differences.slice(0, 5).join('; ')}${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}); nothing was written`,
    );
  const again = canonicalize(
    parseDocument(out, { version: '1.1', uniqueKeys: false }),
    reread.data as Dict,
    after.shape!,
    extract(reread, reread.data as Dict, after.shape!, []).agents,
    { machine: machine.id, override: undefined, file },
  );
  if (again.length > 0)
    return refusal(
      source,
      'migrate-not-idempotent',
      `refused: a second pass would still change the migrated text (${again.join('; ')}); nothing was written`,
    );
  return undefined;
}

export function migrateText(text: string, file: string, options: MigrateOptions): MigrateResult {
  const source = parseYaml(text, file);
  const before = loadParsed(source, {
    env: options.env,
    ...(options.overrides ? { overrides: options.overrides } : {}),
  });
  if (!before.ok || !before.shape) {
    return { ok: false, diagnostics: before.diagnostics };
  }
  const shape = before.shape;
  const warnings = before.diagnostics.filter((d) => d.severity !== 'error');
  const machine = pickMachine(source, before, shape, options.machine);
  if ('ok' in machine) return machine;

  const data = source.data as Dict;
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, keepSourceTokens: false });
  const raws = extract(source, data, shape, []).agents;
  const notes = canonicalize(doc, data, shape, raws, {
    machine: machine.id,
    override: options.overrides?.[machine.id],
    file,
  });
  const done = (status: 'already-canonical' | 'migrated', out: string): MigrateResult => ({
    ok: true,
    status,
    shape,
    machine: machine.id,
    text: out,
    notes,
    diagnostics: warnings,
  });
  if (notes.length === 0) return done('already-canonical', text);
  const out = doc.toString({
    lineWidth: 0,
    indentSeq: indentsSequences(text),
    flowCollectionPadding: false,
  });
  return checkMigrated(source, out, file, options.env, machine) ?? done('migrated', out);
}

interface Context {
  machine: string;
  override: ParsedSource | undefined;
  file: string;
}

/** Edits the document in place into the canonical shape; returns what it changed (empty: nothing). */
function canonicalize(
  doc: Document,
  data: Dict,
  shape: ShapeId,
  raws: RawAgent[],
  ctx: Context,
): string[] {
  const top = doc.contents;
  if (!isMap(top)) return [];
  const notes: string[] = dropShadowedKeys(top, []);
  // Entry nodes are taken before any edit: list shapes move them, and the paths go stale.
  const entries = raws.map((raw) => nodeAt(doc, raw.path));
  switch (shape) {
    case 'pc2-services':
    case 'category-lists':
    case 'core-agents':
      notes.push(...listsToGroups(doc, top, shape, raws));
      break;
    case 'agent-groups':
    case 'pc2-agent-groups':
    case 'v3-unified':
      notes.push(...liftDockerGroups(top, data));
      break;
  }
  if (shape === 'v3-unified') notes.push(...resolveMachine(doc, top, data, raws, ctx));
  notes.push(...renameAgentKeys(entries));
  notes.push(...settingsToGlobal(top, data));
  return notes;
}

// ---------------------------------------------------------------------------------------------
// Document helpers. Lookups take the last of duplicate keys, as the loader (and PyYAML) does.

const keyOf = (pair: Pair): string | undefined =>
  isScalar(pair.key) ? String(pair.key.value) : undefined;

const lastPair = (map: YAMLMap, key: string): Pair | undefined => {
  for (let i = map.items.length - 1; i >= 0; i--)
    if (keyOf(map.items[i]!) === key) return map.items[i];
  return undefined;
};

function nodeAt(doc: Document, path: readonly PathPart[]): unknown {
  let node: unknown = doc.contents;
  for (const part of path) {
    if (typeof part === 'number') node = isSeq(node) ? node.items[part] : undefined;
    else node = isMap(node) ? lastPair(node, part)?.value : undefined;
  }
  return node;
}

/**
 * Removes the earlier of duplicate keys, which PyYAML (and the loader) ignore: a file that
 * holds them reads differently to every tool that keeps the first, so it is not canonical.
 */
function dropShadowedKeys(node: unknown, path: PathPart[]): string[] {
  const dropped: string[] = [];
  const walk = (n: unknown, at: PathPart[]): void => {
    if (isSeq(n)) n.items.forEach((item, i) => walk(item, [...at, i]));
    if (!isMap(n)) return;
    const last = new Map<string, Pair>();
    for (const pair of n.items) {
      const key = keyOf(pair);
      if (key !== undefined) last.set(key, pair);
    }
    for (const pair of [...n.items]) {
      const key = keyOf(pair);
      if (key === undefined || last.get(key) === pair) continue;
      removePair(n, pair);
      dropped.push(pathKey([...at, key]));
    }
    for (const pair of n.items) walk(pair.value, [...at, keyOf(pair) ?? '?']);
  };
  walk(node, path);
  return dropped.length === 0
    ? []
    : [
        `removed ${plural(dropped.length, 'duplicate key')} that PyYAML ignores (the earlier of each): ${dropped.slice(0, 5).join(', ')}${dropped.length > 5 ? ', ...' : ''}`,
      ];
}

const removePair = (map: YAMLMap, pair: Pair): void => {
  const i = map.items.indexOf(pair);
  if (i >= 0) map.items.splice(i, 1);
};

/** Joins comment texts, keeping either when the other is empty. */
const joinComments = (...parts: Array<string | null | undefined>): string | undefined => {
  const kept = parts.filter((p): p is string => typeof p === 'string' && p !== '');
  return kept.length > 0 ? kept.join('\n') : undefined;
};

const newPair = (key: string, value: unknown): Pair => new Pair(new Scalar(key), value);

const isAgentEntry = (value: unknown): value is Dict =>
  isDict(value) && ('script_path' in value || 'script' in value);

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------
// Shape edits.

/**
 * The newest MainPC file indents docker_groups inside agent_groups, which also turns its twelve
 * siblings into pseudo-groups {description, agents}. The loader reads them as docker groups; the
 * canonical place is a top-level docker_groups. Nested ones are read last, so they win on a clash.
 */
function liftDockerGroups(top: YAMLMap, data: Dict): string[] {
  const groupsPair = lastPair(top, 'agent_groups');
  const groups = groupsPair?.value;
  const groupsData = data.agent_groups;
  if (!groupsPair || !isMap(groups) || !isDict(groupsData)) return [];
  const moved: Pair[] = [];
  for (const pair of [...groups.items]) {
    const name = keyOf(pair);
    if (name === undefined) continue;
    const value = groupsData[name];
    if (name === 'docker_groups' && isDict(value) && isMap(pair.value)) {
      const inner = pair.value.items;
      const first = inner[0];
      if (first && isScalar(first.key)) {
        // The comment above `docker_groups:` belongs to the block that now starts with its first group.
        first.key.commentBefore = joinComments(
          (pair.key as YamlNode).commentBefore,
          first.key.commentBefore,
        );
        first.key.spaceBefore ||= (pair.key as YamlNode).spaceBefore;
      }
      moved.push(...inner);
      removePair(groups, pair);
    } else if (
      isDict(value) &&
      !Object.values(value).some(isAgentEntry) &&
      ('agents' in value || 'description' in value)
    ) {
      moved.push(pair);
      removePair(groups, pair);
    }
  }
  if (moved.length === 0) return [];

  let docker = lastPair(top, 'docker_groups');
  if (!docker) {
    docker = newPair('docker_groups', new YAMLMap());
    top.items.splice(top.items.indexOf(groupsPair) + 1, 0, docker);
  } else if (!isMap(docker.value)) {
    docker.value = new YAMLMap();
  }
  const target = docker.value as YAMLMap;
  for (const pair of moved) {
    const clash = lastPair(target, keyOf(pair)!);
    if (clash) removePair(target, clash);
    target.items.push(pair);
  }
  const names = moved.map(keyOf).join(', ');
  return [
    `moved ${plural(moved.length, 'docker group')} (${names}) out of agent_groups into a top-level docker_groups: they were indented inside agent_groups`,
  ];
}

/**
 * List shapes (pc2_services, the list era's category lists, the one-off's core_agents...) become
 * agent_groups: one group per docker group where the file has them (as the loader groups them),
 * else per list. The agent name moves from `name:` to the map key; every other key stays, host
 * included. Of duplicate names only the last is kept, which is the one the launcher ran.
 */
function listsToGroups(doc: Document, top: YAMLMap, shape: ShapeId, raws: RawAgent[]): string[] {
  const listKeys = [...new Set(raws.map((r) => r.path[0] as string))];
  const listPairs = listKeys.map((k) => lastPair(top, k)).filter((p): p is Pair => p !== undefined);
  for (const pair of listPairs) commentToFirstItem(pair);
  const { groups, dropped, stray } = entriesByGroup(doc, raws);
  replaceLists(top, listPairs, groups, stray);

  const agents = raws.length - dropped.length;
  const how =
    shape === 'pc2-services'
      ? 'grouped by docker_groups membership (agents in none stay in group pc2_services)'
      : 'one group per list';
  const notes = [
    `rewrote ${listKeys.join(', ')} (${plural(agents, 'agent')}) as agent_groups, ${how}; names became keys`,
  ];
  if (dropped.length > 0)
    notes.push(
      `dropped ${plural(dropped.length, 'earlier duplicate')} that the launcher ignores: ${dropped.join(', ')}`,
    );
  return notes;
}

/** A comment between `list:` and its first item belongs to the seq; it goes with that item. */
function commentToFirstItem(pair: Pair): void {
  const seq = pair.value;
  const head = isSeq(seq) ? (seq.items[0] as YamlNode | undefined) : undefined;
  if (isSeq(seq) && head && seq.commentBefore) {
    head.commentBefore = joinComments(seq.commentBefore, head.commentBefore);
    seq.commentBefore = undefined;
  }
}

/**
 * The list items as maps keyed by agent name, one map per group. Of duplicate names the last
 * wins; the earlier ones are `dropped`, their comments kept in `stray`.
 */
function entriesByGroup(doc: Document, raws: RawAgent[]) {
  const lastIndex = new Map<string, number>();
  raws.forEach((raw, i) => lastIndex.set(raw.name, i));
  const groups = new Map<string, YAMLMap>();
  const dropped: string[] = [];
  const stray: Array<string | undefined> = [];
  raws.forEach((raw, i) => {
    const node = nodeAt(doc, raw.path);
    if (!isMap(node)) return;
    if (lastIndex.get(raw.name) !== i) {
      dropped.push(`${raw.name} at ${pathKey(raw.path)}`);
      stray.push(node.commentBefore ?? undefined);
      return;
    }
    let group = groups.get(raw.group);
    if (!group) {
      group = new YAMLMap();
      groups.set(raw.group, group);
    }
    for (const pair of [...node.items]) if (keyOf(pair) === 'name') removePair(node, pair);
    node.flow = false;
    const key = new Scalar(raw.name);
    // A comment above a list item (a decommissioned agent, say) stays above that agent.
    key.commentBefore = node.commentBefore;
    key.spaceBefore = node.spaceBefore;
    node.commentBefore = undefined;
    node.spaceBefore = undefined;
    group.items.push(new Pair(key, node));
  });
  return { groups, dropped, stray };
}

/** Puts agent_groups where the first list was, removes the other lists, keeps their comments. */
function replaceLists(
  top: YAMLMap,
  listPairs: Pair[],
  groups: Map<string, YAMLMap>,
  stray: Array<string | undefined>,
): void {
  const first = listPairs[0]!;
  // A comment on the document's first key is usually the file's header: it stays on top.
  const header = top.items[0] === first;
  const agentGroups = new YAMLMap();
  for (const [name, group] of groups) {
    const key = new Scalar(name);
    const list = listPairs.find((p) => keyOf(p) === name);
    if (list && !(header && list === first)) {
      key.commentBefore = (list.key as YamlNode).commentBefore;
      key.spaceBefore = list !== first && (list.key as YamlNode).spaceBefore;
    }
    if (list) group.comment = isSeq(list.value) ? list.value.comment : undefined;
    agentGroups.items.push(new Pair(key, group));
  }
  // Comments of lists that did not become a group of the same name: the first list's stay above
  // agent_groups, where that list began; the others' go to the end of the block.
  const orphans = listPairs.filter((p) => !groups.has(keyOf(p)!));
  const groupsPair = newPair('agent_groups', agentGroups);
  (groupsPair.key as Scalar).spaceBefore = (first.key as YamlNode).spaceBefore;
  if (header || orphans.includes(first))
    (groupsPair.key as Scalar).commentBefore = (first.key as YamlNode).commentBefore;
  agentGroups.comment = joinComments(
    ...orphans.flatMap((p) => [
      p === first ? undefined : (p.key as YamlNode).commentBefore,
      isSeq(p.value) ? p.value.comment : undefined,
    ]),
    ...stray,
  );
  top.items.splice(top.items.indexOf(first), 1, groupsPair);
  for (const pair of listPairs.slice(1)) removePair(top, pair);
}

/** script -> script_path, health_port -> health_check_port, critical -> required, environment -> env_vars. */
function renameAgentKeys(entries: unknown[]): string[] {
  const renamed = new Map<string, number>();
  const shadowed = new Map<string, number>();
  const bump = (counts: Map<string, number>, key: string) =>
    counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const node of new Set(entries)) {
    if (!isMap(node)) continue;
    for (const [old, now] of RENAMES) {
      const olds = node.items.filter((p) => keyOf(p) === old);
      if (olds.length === 0) continue;
      if (node.items.some((p) => keyOf(p) === now)) {
        // The loader (and the launcher) read `now` and never look at `old`.
        olds.forEach((p) => removePair(node, p));
        bump(shadowed, `${old} (shadowed by ${now})`);
      } else {
        for (const p of olds) (p.key as Scalar).value = now;
        bump(renamed, `${old} -> ${now}`);
      }
    }
  }
  const notes: string[] = [];
  for (const [what, n] of renamed) notes.push(`renamed ${what} in ${plural(n, 'agent')}`);
  for (const [what, n] of shadowed) notes.push(`removed ${what} in ${plural(n, 'agent')}`);
  return notes;
}

/**
 * Canonical files keep machine-wide settings in global_settings: the one-off's `settings` is
 * renamed (its error bus port lifted to the top level, where PC2 keeps it), and the list era's
 * top-level environment / resource_limits / health_checks move in when global_settings lacks them.
 */
function settingsToGlobal(top: YAMLMap, data: Dict): string[] {
  const notes: string[] = [];
  let global = lastPair(top, 'global_settings');
  const settings = lastPair(top, 'settings');
  if (!global && settings && isMap(settings.value) && isDict(data.settings)) {
    (settings.key as Scalar).value = 'global_settings';
    global = settings;
    notes.push('renamed settings -> global_settings');
    const lifted: string[] = [];
    let at = top.items.indexOf(settings) + 1;
    for (const key of ['error_bus_port', 'error_bus_host']) {
      const pair = lastPair(settings.value, key);
      if (!pair || lastPair(top, key)) continue;
      removePair(settings.value, pair);
      top.items.splice(at++, 0, pair);
      lifted.push(key);
    }
    if (lifted.length > 0) notes.push(`moved ${lifted.join(', ')} from settings to the top level`);
  }
  if (global && !isMap(global.value)) return notes;
  const moved: string[] = [];
  for (const key of GLOBAL_BLOCKS) {
    const pair = lastPair(top, key);
    if (!pair || !isDict(data[key]) || !isMap(pair.value)) continue;
    if (global && lastPair(global.value as YAMLMap, key)) continue; // shadowed there: leave it be
    if (!global) {
      global = newPair('global_settings', new YAMLMap());
      const at = top.items.indexOf(pair);
      if (at === 0) {
        // The file's header comment stays at the top of the file.
        const key = pair.key as YamlNode;
        (global.key as Scalar).commentBefore = key.commentBefore;
        key.commentBefore = undefined;
      }
      top.items.splice(at, 0, global);
    }
    removePair(top, pair);
    (global.value as YAMLMap).items.push(pair);
    moved.push(key);
  }
  if (moved.length > 0) notes.push(`moved top-level ${moved.join(', ')} into global_settings`);
  return notes;
}

/**
 * A v3 unified file describes every machine; the output is one machine's launcher config: its
 * enabled groups, without its disabled agents, with its override's agent config and global
 * settings merged in, exactly as the loader resolves that machine.
 */
function resolveMachine(
  doc: Document,
  top: YAMLMap,
  data: Dict,
  raws: RawAgent[],
  ctx: Context,
): string[] {
  const profiles = isDict(data.machine_profiles) ? data.machine_profiles : {};
  const profile = profiles[ctx.machine];
  const enabled = new Set(
    isDict(profile) && Array.isArray(profile.enabled_groups)
      ? profile.enabled_groups.map(String)
      : [],
  );
  const notes = [keepOneMachine(top, enabled, ctx.machine)];
  const ov = ctx.override && isDict(ctx.override.data) ? ctx.override.data : undefined;
  if (!ov) return notes;
  notes.push(...overrideAgents(doc, raws, enabled, ov, ctx.machine));
  notes.push(...overrideGlobals(doc, top, ov, ctx.machine));
  const file = ctx.file.split(/[\\/]/).pop();
  doc.commentBefore =
    joinComments(
      ` Resolved for machine ${ctx.machine} from ${file} (v3 unified) by opsdeck config migrate.`,
      doc.commentBefore,
    ) ?? null;
  return notes;
}

/** Removes version, machine_profiles and the groups the machine does not enable; says so. */
function keepOneMachine(top: YAMLMap, enabled: ReadonlySet<string>, machine: string): string {
  for (const key of ['version', 'machine_profiles']) {
    const pair = lastPair(top, key);
    if (!pair) continue;
    const first = top.items[0] === pair;
    removePair(top, pair);
    // The next block takes the removed one's place at the top, blank line and all.
    const next = top.items[0]?.key;
    if (first && isScalar(next)) next.spaceBefore = (pair.key as YamlNode).spaceBefore;
  }
  const groups = lastPair(top, 'agent_groups')?.value;
  const removedGroups: string[] = [];
  if (isMap(groups)) {
    for (const pair of [...groups.items]) {
      const name = keyOf(pair);
      if (name !== undefined && !enabled.has(name)) {
        removePair(groups, pair);
        removedGroups.push(name);
      }
    }
  }
  return `wrote machine ${machine} only: groups ${[...enabled].join(', ')}${removedGroups.length ? `; left out ${removedGroups.join(', ')}` : ''}; removed version and machine_profiles`;
}

/** The override's disabled agents removed, its per-agent config merged into the agent's. */
function overrideAgents(
  doc: Document,
  raws: RawAgent[],
  enabled: ReadonlySet<string>,
  ov: Dict,
  machine: string,
): string[] {
  const disabled = new Set(
    Array.isArray(ov.disabled_agents)
      ? ov.disabled_agents.filter((a) => typeof a === 'string')
      : [],
  );
  const agentOverrides = isDict(ov.agents) ? ov.agents : {};
  const merged: string[] = [];
  const removed: string[] = [];
  for (const raw of raws) {
    if (!enabled.has(raw.group)) continue;
    const group = nodeAt(doc, raw.path.slice(0, -1));
    const pair = isMap(group) ? lastPair(group, raw.name) : undefined;
    if (!pair || !isMap(group)) continue;
    if (disabled.has(raw.name)) {
      removePair(group, pair);
      removed.push(raw.name);
      continue;
    }
    const over = agentOverrides[raw.name];
    const config = raw.entry.config;
    if (
      isDict(over) &&
      isDict(over.config) &&
      (config === undefined || isDict(config)) &&
      isMap(pair.value)
    ) {
      const mergedConfig = deepMerge(config ?? {}, over.config);
      const existing = lastPair(pair.value, 'config');
      if (existing) existing.value = doc.createNode(mergedConfig);
      else pair.value.items.push(newPair('config', doc.createNode(mergedConfig)));
      merged.push(raw.name);
    }
  }
  const notes: string[] = [];
  if (removed.length > 0)
    notes.push(`removed agents disabled by the ${machine} override: ${removed.join(', ')}`);
  if (merged.length > 0)
    notes.push(`merged the ${machine} override's config into ${merged.join(', ')}`);
  return notes;
}

/** Global settings the loader takes from an override (load.ts applyOverrideGlobals). */
function overrideGlobals(doc: Document, top: YAMLMap, ov: Dict, machine: string): string[] {
  const setGlobal = (block: string, key: string, value: unknown) => {
    if (!doc.hasIn(['global_settings']))
      top.items.unshift(newPair('global_settings', new YAMLMap()));
    doc.setIn(['global_settings', block, key], doc.createNode(value));
  };
  const applied: string[] = [];
  for (const block of ['resource_limits', 'environment']) {
    const values = ov[block];
    if (!isDict(values)) continue;
    for (const [key, value] of Object.entries(values)) setGlobal(block, key, value);
    applied.push(block);
  }
  const hc = ov.health_checks;
  if (isDict(hc)) {
    const pick = (v: unknown) => (typeof v === 'number' ? v : undefined);
    const fields: Array<[string, number | undefined]> = [
      ['interval_seconds', pick(hc.interval_seconds ?? hc.interval)],
      ['timeout_seconds', pick(hc.timeout_seconds ?? hc.timeout)],
      ['retries', pick(hc.retries)],
    ];
    for (const [key, value] of fields)
      if (value !== undefined) setGlobal('health_checks', key, value);
    if (fields.some(([, v]) => v !== undefined)) applied.push('health_checks');
  }
  const notes: string[] = [];
  if (applied.length > 0)
    notes.push(`merged the ${machine} override's ${applied.join(', ')} into global_settings`);
  const unused = Object.keys(ov).filter(
    (k) =>
      !['resource_limits', 'environment', 'health_checks', 'agents', 'disabled_agents'].includes(k),
  );
  if (unused.length > 0)
    notes.push(
      `override keys the launcher config has no place for, not written: ${unused.join(', ')}`,
    );
  return notes;
}

// ---------------------------------------------------------------------------------------------
// The fleet, as the comparison sees it.

/** What must not change: everything the launcher and opsdeck read from an agent and a machine. */
function agentView(a: Agent): Dict {
  return {
    group: a.group,
    script: a.scriptPath,
    host: a.host,
    port: [a.port.raw, a.port.value],
    health: [a.healthPort.raw, a.healthPort.value, a.healthPortImplicit],
    implicit: a.implicitPorts.map((p) => [p.kind, p.key, p.value]),
    required: a.required,
    dependencies: a.dependencies,
    config: a.config,
    env: a.env,
    params: a.params,
    description: a.description,
  };
}

function machineView(m: Machine): Dict {
  const g = m.globals;
  return {
    id: m.id,
    healthChecks: g.healthChecks,
    resourceLimits: g.resourceLimits,
    environment: g.environment,
    errorBusPort: g.errorBusPort && [g.errorBusPort.raw, g.errorBusPort.value],
    network: g.network,
    dockerGroups: g.dockerGroups,
  };
}

/** Key-order-independent JSON, so that moved keys do not count as changes. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isDict(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/** Human-readable differences between two loads of one machine; empty when they are the same fleet. */
export function compareMachines(before: Machine, after: Machine): string[] {
  const out: string[] = [];
  const a = machineView(before);
  const b = machineView(after);
  for (const key of Object.keys(a))
    if (stableJson(a[key]) !== stableJson(b[key])) out.push(`machine ${key} differs`);
  const left = new Map(before.agents.map((x) => [x.name, x]));
  const right = new Map(after.agents.map((x) => [x.name, x]));
  for (const name of left.keys()) if (!right.has(name)) out.push(`agent ${name} would be lost`);
  for (const name of right.keys()) if (!left.has(name)) out.push(`agent ${name} would appear`);
  for (const [name, x] of left) {
    const y = right.get(name);
    if (!y) continue;
    const va = agentView(x);
    const vb = agentView(y);
    for (const key of Object.keys(va))
      if (stableJson(va[key]) !== stableJson(vb[key])) out.push(`agent ${name}: ${key} differs`);
  }
  return out;
}

/** Whether the text mostly indents block sequences under their key, so the output keeps its style. */
export function indentsSequences(text: string): boolean {
  let indented = 0;
  let flush = 0;
  let previous: string | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('- ') && previous !== undefined && /:\s*(#.*)?$/.test(previous)) {
      const dash = line.length - trimmed.length;
      const parent = previous.length - previous.trimStart().length;
      if (dash > parent) indented++;
      else if (dash === parent) flush++;
    }
    previous = line;
  }
  return indented > flush;
}
