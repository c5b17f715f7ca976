// Each simulated machine runs the real `opsdeck agent` daemon (agent/agent.ts) with the sim as
// the machine it reads and acts on: resources from the sim's model, the process table from its
// agents, ResourceManager over ZMQ on the simulated ResourceManager's own main port. So the
// console and `opsdeck throttle` meet the same daemon, the same replies and the same failures
// (an upstream "Unknown action", a wedged ResourceManager) as on real machines.
import { connect, type NatsConnection } from 'nats';
import type { ControlAuth } from '../core/resources/machine-control.js';
import type { TokenVerifier } from '../core/security/token.js';
import { runAgent, type MachineSource, type RunningAgent } from '../agent/agent.js';
import type { ControlVerifier } from './control.js';
import type { SimMachine } from './machine.js';

export const machineControlSubject = (machine: string): string => `opsdeck.${machine}.control`;

/** Fault requests on opsdeck.sim.control and the ZMQ socket: a token for audience "sim"; status is read-only. */
export function faultVerifier(verify: TokenVerifier): ControlVerifier {
  return (request) => {
    if (request.fault === 'status') return { ok: true };
    const checked = verify(request.token, 'sim');
    return checked.ok ? { ok: true } : { ok: false, reason: checked.reason };
  };
}

export interface MachineControlServer {
  agents: RunningAgent[];
  close(): Promise<void>;
}

export function simSource(m: SimMachine): MachineSource {
  return {
    sample: async () => ({ sample: m.sample(Date.now()) }),
    processes: async () => m.processes(),
    renice: async (pid, nice) => m.renice(pid, nice),
  };
}

/** ResourceManager's main port on this machine, if the sim runs one. */
export function rmEndpoint(m: SimMachine): string | undefined {
  const rm = m.agents.find((a) => a.isResourceManager);
  return rm ? `tcp://${m.plan.host}:${rm.plan.ports.main}` : undefined;
}

export async function serveMachineControl(
  url: string,
  machines: readonly SimMachine[],
  auth: ControlAuth,
  log: (line: string) => void,
  intervalMs = 1000,
): Promise<MachineControlServer> {
  const nc: NatsConnection = await connect({
    servers: url,
    name: 'opsdeck-sim-agents',
    timeout: 3000,
    pingInterval: 2000,
    maxPingOut: 3,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const agents = machines.map((m) => {
    const endpoint = rmEndpoint(m);
    return runAgent(nc, {
      machine: m.id,
      intervalMs,
      auth,
      source: simSource(m),
      agents: m.plan.agents.map((a) => ({ name: a.name, scriptPath: a.model.scriptPath })),
      ...(endpoint ? { resourceManager: endpoint } : {}),
      log: (line) => log(`${m.id} agent: ${line}`),
    });
  });
  await nc.flush();
  return {
    agents,
    async close() {
      for (const a of agents) await a.stop();
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    },
  };
}
