// Plan P3.1, compose consolidation: the compose variants of one machine compared service by
// service, the superset (if any), the proposed single source of truth, and the moves that get
// there. Nothing here touches a file; `opsdeck lint compose --plan` only prints the moves.
import type { Machine } from '../fleet/model.js';
import type { ComposeService } from './compose.js';
import { agentsOfService } from './compose-place.js';
import type { Finding } from './finding.js';
import { squash } from './fleet-ports.js';
import type { PlacedCompose } from './compose-place.js';

export type MoveAction = 'keep' | 'rename' | 'deprecate' | 'delete';

export interface Move {
  action: MoveAction;
  file: string;
  to?: string;
  why: string;
}

export type Field = 'image' | 'build' | 'command' | 'ports' | 'env' | 'healthcheck' | 'volumes';
const FIELDS: Field[] = ['image', 'build', 'command', 'ports', 'env', 'healthcheck', 'volumes'];

export interface ServiceRow {
  key: string;
  /** file -> the service as that file defines it */
  in: Map<string, ComposeService>;
  /** Fields whose value is not the same in every file that has the service. */
  differs: Field[];
}

export interface MachinePlan {
  machine: string;
  variants: string[];
  units: string[];
  overrides: string[];
  broken: string[];
  rows: ServiceRow[];
  /** A variant holding every service any variant has, if one does. */
  superset?: string;
  /** Variants that hold every service of some other variants: file -> those variants. */
  contains: Record<string, string[]>;
  truth?: { file: string; target: string; why: string };
  moves: Move[];
}

/** `core_services`, `core-services` and `core-services-group` are one service. */
export const serviceKey = (name: string): string =>
  squash(name).replace(/group$/, '') || squash(name);

export function fieldValue(s: ComposeService, field: Field): string {
  switch (field) {
    case 'image':
      return s.image ?? '';
    case 'build':
      return s.build ?? '';
    case 'command':
      return s.command ?? '';
    case 'ports':
      return s.ports
        .map((p) => p.raw)
        .sort()
        .join(', ');
    case 'env':
      return Object.entries(s.env)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(', ');
    case 'healthcheck':
      return !s.health ? '(none)' : s.health.disabled ? '(disabled)' : s.health.command;
    case 'volumes':
      return s.volumes
        .map((v) => v.raw)
        .sort()
        .join(', ');
  }
}

const parent = (file: string) =>
  file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
const byName = (a: string, b: string) => a.localeCompare(b);

export function consolidate(
  placed: readonly PlacedCompose[],
  machines: readonly Machine[],
): MachinePlan[] {
  const ids = [
    ...new Set([...machines.map((m) => m.id), ...placed.flatMap((p) => p.place.machines)]),
  ];
  const plans: MachinePlan[] = [];
  for (const id of ids) {
    const mine = placed.filter((p) => p.place.machines.includes(id));
    if (mine.length > 0)
      plans.push(
        machinePlan(
          id,
          mine,
          machines.find((m) => m.id === id),
        ),
      );
  }
  return plans;
}

const keysOf = (p: PlacedCompose) => new Set(p.compose.services.map((s) => serviceKey(s.name)));

/** The agents of the current config a file's services deploy. */
const agentsIn = (p: PlacedCompose, machine: Machine | undefined): Set<string> =>
  machine
    ? new Set(p.compose.services.flatMap((s) => agentsOfService(s, machine).map((a) => a.name)))
    : new Set<string>();

/** Every service of the compared files, by key, and the fields that differ between files. */
function serviceRows(compared: readonly PlacedCompose[]): Map<string, ServiceRow> {
  const rows = new Map<string, ServiceRow>();
  for (const p of compared) {
    for (const s of p.compose.services) {
      const key = serviceKey(s.name);
      const row = rows.get(key) ?? rows.set(key, { key, in: new Map(), differs: [] }).get(key)!;
      if (!row.in.has(p.compose.file)) row.in.set(p.compose.file, s);
    }
  }
  for (const row of rows.values()) {
    if (row.in.size < 2) continue;
    const defs = [...row.in.values()];
    row.differs = FIELDS.filter((f) => new Set(defs.map((s) => fieldValue(s, f))).size > 1);
  }
  return rows;
}

/** One machine's plan: its files sorted by kind, compared, and the moves to one of them. */
function machinePlan(
  id: string,
  mine: readonly PlacedCompose[],
  machine: Machine | undefined,
): MachinePlan {
  const broken = mine
    .filter((p) => p.compose.diagnostics.some((d) => d.severity === 'error'))
    .map((p) => p.compose.file);
  const ok = mine.filter((p) => !broken.includes(p.compose.file));
  const variants = ok.filter((p) => p.place.kind === 'machine');
  const units = ok.filter((p) => p.place.kind === 'hub' || p.place.kind === 'group');
  const overrides = ok.filter((p) => p.place.kind === 'override');
  const compared = [...variants, ...units];
  const rows = serviceRows(compared);
  const variantKeys = new Set(variants.flatMap((p) => [...keysOf(p)]));
  const superset = variants.find((p) => [...variantKeys].every((k) => keysOf(p).has(k)))?.compose
    .file;
  const plan: MachinePlan = {
    machine: id,
    variants: variants.map((p) => p.compose.file).sort(byName),
    units: units.map((p) => p.compose.file).sort(byName),
    overrides: overrides.map((p) => p.compose.file).sort(byName),
    broken: broken.sort(byName),
    rows: [...rows.values()].sort((a, b) => byName(a.key, b.key)),
    ...(superset ? { superset } : {}),
    contains: {},
    moves: [],
  };
  for (const p of variants) {
    const keys = keysOf(p);
    const inside = variants
      .filter((q) => q !== p && [...keysOf(q)].every((k) => keys.has(k)))
      .map((q) => q.compose.file);
    if (inside.length > 0) plan.contains[p.compose.file] = inside.sort(byName);
  }
  const best = rankVariants(variants, id, machine)[0];
  if (best) planMoves(plan, best, compared, machine);
  return plan;
}

interface Ranked {
  p: PlacedCompose;
  agents: number;
  services: number;
  named: number;
  fixed: number;
}

// The source of truth: the variant that deploys most of the agents the current config lists,
// then the one with most services, then an explicit FIXED / UPDATED over the original it
// corrects, then the one already at the canonical name (least churn).
function rankVariants(
  variants: readonly PlacedCompose[],
  id: string,
  machine: Machine | undefined,
): Ranked[] {
  const canonical = (p: PlacedCompose) =>
    p.compose.file === `${parent(p.compose.file)}docker-compose.${id}.yml` ? 1 : 0;
  return variants
    .map((p) => ({
      p,
      agents: agentsIn(p, machine).size,
      services: keysOf(p).size,
      named: canonical(p),
      fixed: /fixed|updated/i.test(p.compose.file) ? 1 : 0,
    }))
    .sort(
      (a, b) =>
        b.agents - a.agents ||
        b.services - a.services ||
        b.fixed - a.fixed ||
        b.named - a.named ||
        byName(a.p.compose.file, b.p.compose.file),
    );
}

/** The source of truth, what happens to every other file, and the truth taking its name. */
function planMoves(
  plan: MachinePlan,
  best: Ranked,
  compared: readonly PlacedCompose[],
  machine: Machine | undefined,
): void {
  const id = plan.machine;
  const file = best.p.compose.file;
  const target = `${parent(file)}docker-compose.${id}.yml`;
  const total = machine?.agents.length ?? 0;
  const superset = plan.superset === file ? ' and is the superset of the variants' : '';
  const truth = {
    file,
    target,
    why: machine
      ? `deploys ${best.agents} of the ${total} ${id} agents in the current config (${best.services} services)${superset}`
      : `has the most services (${best.services})${superset}`,
  };
  plan.truth = truth;
  const truthAgents = agentsIn(best.p, machine);
  for (const p of compared)
    if (p.compose.file !== file) plan.moves.push(moveOf(p, plan, best.p, truthAgents, machine));
  for (const f of plan.overrides)
    plan.moves.push({
      action: 'keep',
      file: f,
      why: `override applied with -f on top of ${target}`,
    });
  for (const f of plan.broken)
    plan.moves.push({
      action: 'delete',
      file: f,
      why: 'does not parse, so compose cannot be using it',
    });
  // The canonical name goes last: whatever holds it now is moved out of the way first.
  const holder = plan.moves.find((m) => m.file === target);
  if (holder && holder.action !== 'delete') {
    holder.to = target.replace(/\.yml$/, '.deprecated.yml');
    holder.why = `${holder.why} (moved aside first, so ${file} can take its name)`;
    holder.action = holder.action === 'keep' ? 'keep' : 'rename';
  }
  plan.moves.push(
    file === target
      ? { action: 'keep', file, why: `source of truth: ${truth.why}` }
      : { action: 'rename', file, to: target, why: `source of truth: ${truth.why}` },
  );
}

/** What happens to one file that is not the source of truth. */
function moveOf(
  p: PlacedCompose,
  plan: MachinePlan,
  truth: PlacedCompose,
  truthAgents: ReadonlySet<string>,
  machine: Machine | undefined,
): Move {
  const f = p.compose.file;
  const file = truth.compose.file;
  if (p.place.kind !== 'machine' && machine) {
    // per-hub / per-group stacks: judged by the agents they run, not their infra services
    const agents = unitAgents(p, machine);
    const uncovered = agents.filter((a) => !truthAgents.has(a));
    return agents.length === 0 || uncovered.length > 0
      ? {
          action: 'keep',
          file: f,
          why: `per-${p.place.kind} stack${uncovered.length > 0 ? ` running ${uncovered.join(', ')}, which ${file} does not deploy` : ' with no agent of the current config'}; fold it in later or keep it for stand-alone runs`,
        }
      : {
          action: 'deprecate',
          file: f,
          why: `${agents.join(', ')} ${agents.length === 1 ? 'is' : 'are'} deployed by ${file}; keep only for stand-alone ${p.place.unit ?? p.place.kind} development`,
        };
  }
  const truthKeys = keysOf(truth);
  const keys = [...keysOf(p)];
  const missing = keys.filter((k) => !truthKeys.has(k));
  const differing = plan.rows.filter((r) => differsIn(r, f, file).length > 0);
  if (missing.length === 0 && differing.length === 0)
    return {
      action: 'delete',
      file: f,
      why: `all ${keys.length} services are in ${file}, defined the same`,
    };
  if (missing.length === 0)
    return {
      action: 'deprecate',
      file: f,
      why: `all ${keys.length} services are in ${file}, but ${differing.map((r) => `${r.key} (${differsIn(r, f, file).join(', ')})`).join('; ')} differ: merge what is right, then delete`,
    };
  const them = missing.length === 1 ? 'it' : 'them';
  return {
    action: 'deprecate',
    file: f,
    why: `has ${missing.length} service${missing.length === 1 ? '' : 's'} ${file} lacks (${missing.join(', ')}): move ${them} over or drop ${them} deliberately, then delete`,
  };
}

/** Agents a per-hub file runs (the hub's own folder) or a per-group file's services run. */
function unitAgents(p: PlacedCompose, machine: Machine): string[] {
  const found = new Set(
    p.compose.services.flatMap((s) => agentsOfService(s, machine).map((a) => a.name)),
  );
  if (p.place.kind === 'hub' && p.place.unit) {
    for (const a of machine.agents)
      if (a.scriptPath.toLowerCase().startsWith(`${p.place.unit}/`)) found.add(a.name);
  }
  return [...found];
}

/** Fields in which files `a` and `b` define the row's service differently. */
export function differsIn(row: ServiceRow, a: string, b: string): Field[] {
  const x = row.in.get(a);
  const y = row.in.get(b);
  if (!x || !y) return [];
  return row.differs.filter((f) => fieldValue(x, f) !== fieldValue(y, f));
}

/** Moves for files that sit in two machines' plans (hubs on both) resolved to the safest. */
export function mergedMoves(plans: readonly MachinePlan[]): Move[] {
  const rank: Record<MoveAction, number> = { keep: 3, rename: 2, deprecate: 1, delete: 0 };
  const out = new Map<string, Move>();
  for (const plan of plans) {
    for (const m of plan.moves) {
      const seen = out.get(m.file);
      if (!seen || rank[m.action] > rank[seen.action]) out.set(m.file, m);
    }
  }
  return [...out.values()];
}

/** The consolidation as lint findings (info): one per file that would move, one per differing service. */
export function consolidationFindings(plans: readonly MachinePlan[]): Finding[] {
  const findings: Finding[] = [];
  for (const plan of plans) {
    if (plan.variants.length + plan.units.length < 2 || !plan.truth) continue;
    const count = plan.variants.length;
    for (const m of plan.moves) {
      if (m.action === 'keep' && m.file !== plan.truth.file) continue;
      findings.push({
        rule: 'compose-consolidation',
        severity: 'info',
        file: m.file,
        line: 1,
        col: 1,
        message: `${plan.machine} has ${count} compose variants; proposed: ${m.action}${m.to ? ` to ${m.to}` : ''}: ${m.why}`,
        hint: 'opsdeck lint compose --plan prints every move; opsdeck lint compose shows the service-by-service comparison',
      });
    }
    for (const row of plan.rows) {
      const here = row.in.get(plan.truth.file);
      if (!here || row.differs.length === 0) continue;
      findings.push({
        rule: 'compose-consolidation',
        severity: 'info',
        file: plan.truth.file,
        line: here.loc.line,
        col: here.loc.col,
        message: `service "${here.name}" is defined differently in ${[...row.in.keys()].filter((f) => f !== plan.truth!.file).join(', ')}: ${row.differs.join(', ')}`,
        hint: 'settle each difference in the source of truth before the other files are deleted',
      });
    }
  }
  return findings;
}
