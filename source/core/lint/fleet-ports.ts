// What each configured port number is on a machine: the socket behind it decides whether an
// HTTP probe can ever succeed there (upstream-protocols b1: BaseAgent's port and health port
// are ZMQ REP sockets; only health_check_port+1 speaks HTTP).
import type { Agent, Machine } from '../fleet/model.js';

export type PortRole = 'zmq' | 'http' | 'grpc' | 'other';

export interface PortUse {
  machine: string;
  agent: string;
  /** `port`, `health_check_port`, `port+1 (health)`, `health_check_port+1 (HTTP)`, `config.zmq_port` */
  key: string;
  role: PortRole;
}

export type PortMap = Map<number, PortUse[]>;

/**
 * `usesBaseAgent(script)` says whether an agent's script is a BaseAgent: true/false when its
 * source was scanned, undefined when it was not (then BaseAgent is assumed, as 62 of the 68
 * configured scripts are).
 */
export function portMaps(
  machines: readonly Machine[],
  usesBaseAgent: (script: string) => boolean | undefined,
): Map<string, PortMap> {
  const out = new Map<string, PortMap>();
  for (const m of machines) {
    const map: PortMap = new Map();
    const add = (port: number, use: PortUse) =>
      (map.get(port) ?? map.set(port, []).get(port)!).push(use);
    for (const a of m.agents) {
      const base = usesBaseAgent(a.scriptPath) !== false;
      const entry = (key: string, role: PortRole): PortUse => ({
        machine: m.id,
        agent: a.name,
        key,
        role,
      });
      add(a.port.value, entry('port', base ? 'zmq' : 'other'));
      add(
        a.healthPort.value,
        entry(
          a.healthPortImplicit ? 'port+1 (health)' : 'health_check_port',
          base ? 'zmq' : 'other',
        ),
      );
      for (const p of a.implicitPorts) {
        if (p.kind === 'http') {
          if (base) add(p.value, entry('health_check_port+1 (HTTP)', 'http'));
        } else if (p.kind === 'config') {
          add(p.value, entry(`config.${p.key}`, configRole(p.key)));
        }
      }
    }
    out.set(m.id, map);
  }
  return out;
}

function configRole(key: string): PortRole {
  if (/zmq|pub_address|sub_address|_address$/.test(key)) return 'zmq';
  if (/grpc/.test(key)) return 'grpc';
  if (/rest|http|metrics|api|web|dashboard|prometheus/.test(key)) return 'http';
  return 'other';
}

export const agentLabel = (u: PortUse): string => `${u.agent}'s ${u.key} on ${u.machine}`;

/** Normalised name for matching compose services to agents and groups: `core-services` = `CoreServices`. */
export const squash = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

export function agentsByScript(machines: readonly Machine[]): Map<string, Agent[]> {
  const out = new Map<string, Agent[]>();
  for (const m of machines)
    for (const a of m.agents)
      (out.get(a.scriptPath) ?? out.set(a.scriptPath, []).get(a.scriptPath)!).push(a);
  return out;
}
