// Drift between the config and what really runs: an agent answering away from its configured
// ports (MOVED), a configured port where another agent answers, a health port held by something
// that is not the agent. Pure: the fleet and the health results go in, one finding each comes out.
import type { Machine } from '../fleet/model.js';
import type { AgentHealth } from '../health/state.js';
import { agentKey } from '../fleet/agent-key.js';

export interface DriftFinding {
  machine: string;
  agent: string;
  kind: 'moved' | 'wrong-agent' | 'port-held';
  configured: { port: number; healthPort: number };
  /** Where it really answers (moved). */
  actual?: { port: number; healthPort: number };
  message: string;
}

export function driftFindings(
  machines: readonly Machine[],
  health: ReadonlyMap<string, AgentHealth>,
): DriftFinding[] {
  const out: DriftFinding[] = [];
  for (const m of machines)
    for (const a of m.agents) {
      const h = health.get(agentKey(m.id, a.name));
      if (!h) continue;
      const configured = { port: a.port.value, healthPort: a.healthPort.value };
      const base = { machine: m.id, agent: a.name, configured };
      if (h.moved)
        out.push({
          ...base,
          kind: 'moved',
          actual: { port: h.moved.port, healthPort: h.moved.healthPort },
          message: `${m.id}/${a.name} is configured on ${configured.port}/${configured.healthPort} but answers on ${h.moved.port}/${h.moved.healthPort}: ${h.moved.how}`,
        });
      else if (h.answeredAs)
        out.push({
          ...base,
          kind: 'wrong-agent',
          message: `${m.id}/${a.name}'s health port ${configured.healthPort} answers as ${h.answeredAs}: ${h.reason}`,
        });
      else if (
        h.state === 'unreachable' &&
        h.note &&
        /held by something that is not a ZMQ REP/.test(h.note)
      )
        out.push({
          ...base,
          kind: 'port-held',
          message: `${m.id}/${a.name}'s health port ${configured.healthPort}: ${h.note}`,
        });
    }
  return out;
}
