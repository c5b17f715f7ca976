// What changed in a machine's agents between the fleet the console probes and its config file as
// it is now. A migration keeps every agent and port (only the file's shape and line numbers
// move); any other edit is said, so the screen never claims to probe what the file no longer says.
import type { Agent, Machine } from './model.js';

export interface AgentChanges {
  added: string[];
  removed: string[];
  /** Agents whose port or health port differs. */
  ports: string[];
}

const ports = (a: Agent) => `${a.port.value}/${a.healthPort.value}`;

export function agentChanges(running: Machine, now: Machine): AgentChanges {
  const before = new Map(running.agents.map((a) => [a.name, a]));
  const after = new Map(now.agents.map((a) => [a.name, a]));
  return {
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    ports: [...after]
      .filter(([n, a]) => before.has(n) && ports(before.get(n)!) !== ports(a))
      .map(([n]) => n),
  };
}

export const unchanged = (c: AgentChanges): boolean =>
  c.added.length + c.removed.length + c.ports.length === 0;

/** One line for the screen: the counts and up to three names of each kind. */
export function changesLine(machine: string, file: string, c: AgentChanges): string {
  const some = (names: string[]) =>
    names.slice(0, 3).join(', ') + (names.length > 3 ? ` +${names.length - 3}` : '');
  const parts = [
    c.added.length ? `added ${some(c.added)}` : '',
    c.removed.length ? `removed ${some(c.removed)}` : '',
    c.ports.length ? `ports changed ${some(c.ports)}` : '',
  ].filter(Boolean);
  return `${machine}: ${file} changed since start (${parts.join('; ')}): restart the console to probe the new agents`;
}
