// Every port the fleet binds, one row per (machine, agent, socket), with where it comes from.
// Configured ports are the ones the file writes; derived ones are what BaseAgent adds on its
// own (health = port+1 when absent, HTTP = health+1), which is where most real clashes hide.
import type { Machine, SourceLoc } from '../fleet/model.js';

export type BindingKind = 'port' | 'health' | 'http' | 'config';

export interface Binding {
  machine: string;
  agent: string;
  kind: BindingKind;
  /** `port`, `health_check_port`, `health` (port+1), `http`, or the config key (`zmq_port`). */
  key: string;
  port: number;
  /** Not written in the file: BaseAgent derives it (implicit health port, HTTP port). */
  derived: boolean;
  /** How the number comes about: the expression as written, or the derivation. */
  rule: string;
  loc: SourceLoc;
}

export interface PortRegistry {
  machines: Machine[];
  bindings: Binding[];
  /** machine id -> port -> bindings on that port, in definition order. */
  byPort: Map<string, Map<number, Binding[]>>;
}

export function buildRegistry(machines: readonly Machine[]): PortRegistry {
  const bindings: Binding[] = [];
  const byPort = new Map<string, Map<number, Binding[]>>();
  for (const m of machines) {
    const ports = new Map<number, Binding[]>();
    byPort.set(m.id, ports);
    const add = (b: Binding) => {
      bindings.push(b);
      const list = ports.get(b.port);
      if (list) list.push(b);
      else ports.set(b.port, [b]);
    };
    for (const a of m.agents) {
      const base = { machine: m.id, agent: a.name };
      add({
        ...base,
        kind: 'port',
        key: 'port',
        port: a.port.value,
        derived: false,
        rule: `port: ${String(a.port.raw)}`,
        loc: a.port.loc,
      });
      if (!a.healthPortImplicit) {
        const h = a.healthPort;
        add({
          ...base,
          kind: 'health',
          key: 'health_check_port',
          port: h.value,
          derived: false,
          rule: `health_check_port: ${String(h.raw)}`,
          loc: h.loc,
        });
      }
      for (const p of a.implicitPorts) {
        const raw = a.config[p.key];
        const rule =
          p.rule === `config.${p.key}` && (typeof raw === 'string' || typeof raw === 'number')
            ? `${p.rule}: ${raw}`
            : p.rule;
        add({
          ...base,
          kind: p.kind,
          key: p.key,
          port: p.value,
          derived: p.kind !== 'config',
          rule,
          loc: p.loc,
        });
      }
    }
  }
  return { machines: [...machines], bindings, byPort };
}

/** `ServiceRegistry http` / `MemoryFusionHub config.zmq_port`: the owner as one short phrase. */
export const describeBinding = (b: Binding): string =>
  `${b.agent} ${b.kind === 'config' ? `config.${b.key}` : b.key === 'health' ? 'health (port+1)' : b.kind === 'http' ? 'http (health+1)' : b.key}`;
