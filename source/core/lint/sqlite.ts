// Plan: "SQLite Concurrency". SQLite allows one writer at a time per file and its locks do not
// survive network filesystems; two agents (or two containers, or two replicas) opening the same
// file for writing is the hazard. Found two ways: the same path in the config{} of agents that
// run at once, and one volume carrying a database file into several services.
import type { Agent, Machine } from '../fleet/model.js';
import type { ComposeService, ComposeVolume } from './compose.js';
import { agentsOfService } from './compose-place.js';
import type { Finding } from './finding.js';
import type { PlacedCompose } from './compose-place.js';

const DB_FILE = /\.(db|sqlite|sqlite3|db3)$/i;
// Containers built from the fleet's Dockerfiles run from /app (PYTHONPATH=/app in every compose
// file), so a relative path in an agent's config lands there.
const WORKDIR = '/app';

/** A SQLite path from a config or env value: plain path or sqlite:/// URL; undefined otherwise. */
export function sqlitePath(value: string): string | undefined {
  let v = value.trim().replace(/\$\{\w+:?-([^}]*)\}/g, '$1');
  const url = /^sqlite(\+\w+)?:\/\/\/(.*)$/i.exec(v);
  if (url)
    v = url[2]!; // sqlite:///rel.db is relative, sqlite:////abs.db absolute
  else if (/^\w+:\/\//.test(v)) return undefined;
  if (!DB_FILE.test(v) || /\s/.test(v)) return undefined;
  return normalize(v);
}

function normalize(path: string): string {
  const abs = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return (abs ? '/' : '') + out.join('/');
}

interface Use {
  agent: Agent;
  key: string;
  path: string;
}

/** Database paths in an agent's config{} (any depth) and env_vars. */
export function agentDatabases(agent: Agent): Use[] {
  const out: Use[] = [];
  const visit = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      const path = sqlitePath(value);
      if (path) out.push({ agent, key, path });
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, `${key}[${i}]`));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, key ? `${key}.${k}` : k);
    }
  };
  visit(agent.config, 'config');
  visit(agent.env, 'env_vars');
  return out;
}

export function checkSqliteConfig(machines: readonly Machine[]): Finding[] {
  const findings: Finding[] = [];
  const byPath = new Map<string, Use[]>();
  for (const m of machines)
    for (const a of m.agents)
      for (const u of agentDatabases(a))
        (byPath.get(u.path) ?? byPath.set(u.path, []).get(u.path)!).push(u);
  for (const [path, uses] of byPath) {
    const agents = [...new Set(uses.map((u) => u.agent))];
    if (agents.length < 2) continue;
    const machinesOf = new Set(agents.map((a) => a.machine));
    for (const u of uses.slice(1)) {
      const others = uses.filter((o) => o.agent !== u.agent);
      const sameMachine = others.filter((o) => o.agent.machine === u.agent.machine);
      if (sameMachine.length > 0) {
        findings.push({
          rule: 'sqlite-writers',
          severity: 'warning',
          file: u.agent.loc.file,
          line: u.agent.loc.line,
          col: u.agent.loc.col,
          message: `${u.agent.name} on ${u.agent.machine} (${u.key}) and ${names(sameMachine)} all open ${path}: the launcher starts them together, so several processes write one SQLite file`,
          hint: 'give each agent its own database file, or route writes through one owner (the agent that owns the data) instead of sharing the file',
        });
      } else if (machinesOf.size > 1 && others.length > 0) {
        findings.push({
          rule: 'sqlite-writers',
          severity: 'info',
          file: u.agent.loc.file,
          line: u.agent.loc.line,
          col: u.agent.loc.col,
          message: `${u.agent.name} on ${u.agent.machine} (${u.key}) uses ${path}, as ${names(others)} does: separate files on two hosts, unless that path is shared storage (SQLite locking is unreliable over NFS/SMB)`,
          hint: 'keep the path on local disk on each machine, or give the machines different paths so a shared mount can never join them',
        });
      }
    }
  }
  return findings;
}

const names = (uses: Use[]) =>
  [...new Set(uses.map((u) => `${u.agent.name} on ${u.agent.machine}`))].join(', ');

interface Mount {
  service: ComposeService;
  volume: ComposeVolume;
  /** Database path relative to the mount's root. */
  inside: string;
  why: string;
}

export function checkSqliteCompose(
  files: readonly PlacedCompose[],
  machines: readonly Machine[],
): Finding[] {
  const findings: Finding[] = [];
  for (const { compose, place } of files) {
    const onMachines = machines.filter((m) => place.machines.includes(m.id));
    const mounts = new Map<string, Mount[]>(); // volume id + path inside -> users
    const volumeUsers = new Map<string, ComposeService[]>(); // volume id -> services mounting it rw
    for (const s of compose.services) {
      for (const v of s.volumes)
        if (!v.readOnly)
          (volumeUsers.get(volumeId(v)) ?? volumeUsers.set(volumeId(v), []).get(volumeId(v))!).push(
            s,
          );
      for (const { path, why } of serviceDatabases(s, onMachines)) {
        const v = mountFor(s, path);
        if (!v || v.readOnly) continue;
        const inside = path.slice(v.target.replace(/\/$/, '').length).replace(/^\//, '');
        const id = `${volumeId(v)}::${inside}`;
        const list = mounts.get(id) ?? mounts.set(id, []).get(id)!;
        if (!list.some((m) => m.service === s)) list.push({ service: s, volume: v, inside, why });
      }
    }
    for (const users of mounts.values()) {
      const first = users[0]!;
      const label = first.volume.named
        ? `volume "${first.volume.source}"`
        : `host folder ${first.volume.source}`;
      if (users.length > 1) {
        for (const u of users.slice(1)) {
          findings.push({
            rule: 'sqlite-writers',
            severity: 'warning',
            file: compose.file,
            line: u.volume.loc.line,
            col: u.volume.loc.col,
            message: `services ${users.map((x) => `"${x.service.name}" (${x.why})`).join(' and ')} write ${first.inside} on the same ${label}: several containers on one SQLite file`,
            hint: 'give each service its own volume for its database (as moc-data-primary / moc-data-secondary do), or let one service own it',
          });
        }
        continue;
      }
      if ((first.service.replicas ?? 1) > 1) {
        findings.push({
          rule: 'sqlite-writers',
          severity: 'warning',
          file: compose.file,
          line: first.volume.loc.line,
          col: first.volume.loc.col,
          message: `service "${first.service.name}" runs ${first.service.replicas} replicas that all write ${first.inside} on ${label}`,
          hint: 'run one replica, or move the data to a server database',
        });
        continue;
      }
      const others = (volumeUsers.get(volumeId(first.volume)) ?? []).filter(
        (s) => s !== first.service,
      );
      if (others.length > 0) {
        findings.push({
          rule: 'sqlite-writers',
          severity: 'info',
          file: compose.file,
          line: first.volume.loc.line,
          col: first.volume.loc.col,
          message: `"${first.service.name}" keeps ${first.inside} (${first.why}) on ${label}, which ${others.map((s) => `"${s.name}"`).join(', ')} also mount${others.length === 1 ? 's' : ''} read-write: any of them opening it makes concurrent writers`,
          hint: 'mount the volume read-only where the database is not written, or give the database its own volume',
        });
      }
    }
  }
  return findings;
}

/** In-container database paths a service uses, from its env and from the agents it runs. */
function serviceDatabases(
  s: ComposeService,
  machines: readonly Machine[],
): { path: string; why: string }[] {
  const out: { path: string; why: string }[] = [];
  for (const [k, v] of Object.entries(s.env)) {
    const path = sqlitePath(v);
    if (path)
      out.push({ path: path.startsWith('/') ? path : `${WORKDIR}/${path}`, why: `env ${k}` });
  }
  for (const m of machines) {
    for (const a of agentsOfService(s, m)) {
      for (const u of agentDatabases(a))
        out.push({
          path: u.path.startsWith('/') ? u.path : `${WORKDIR}/${u.path}`,
          why: `${a.name}'s ${u.key}`,
        });
    }
  }
  return out;
}

function mountFor(s: ComposeService, path: string): ComposeVolume | undefined {
  let best: ComposeVolume | undefined;
  for (const v of s.volumes) {
    const t = v.target.replace(/\/$/, '');
    if ((path === t || path.startsWith(`${t}/`)) && (!best || t.length > best.target.length))
      best = v;
  }
  return best;
}

const volumeId = (v: ComposeVolume) =>
  v.named ? `volume:${v.source}` : `host:${normalize(v.source)}`;
