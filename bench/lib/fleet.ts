// Generated fleets for the benchmarks: N agents per machine in each machine's real config shape
// (MainPC agent_groups, PC2 pc2_services), with the protocol mix the fleet has: mostly BaseAgent,
// some UnifiedHealthMixin, some HTTP services. Every agent has a health_check_port (port+1), so
// each binds at most port, port+1 and port+2.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HealthProtocol } from '../../source/core/health/replies.js';
import type { SimOverrides } from '../../source/sim/overrides.js';

export interface BenchFleet {
  files: { mainpc: string; pc2: string };
  hosts: { mainpc: string; pc2: string };
  /** machine/agent -> protocol, as the sim will speak it (for the bare baseline, which does not detect). */
  protocols: Record<string, HealthProtocol>;
  overrides: SimOverrides;
  env: Record<string, string>;
  agents: number;
}

export const protocolOf = (i: number): HealthProtocol =>
  i % 20 === 7 ? 'http' : i % 10 === 5 ? 'unified' : 'base-agent';

export function writeFleet(
  dir: string,
  perMachine: number,
  hosts: { mainpc: string; pc2: string },
  basePort = 21000,
  errorBusPort = 7150,
): BenchFleet {
  const protocols: Record<string, HealthProtocol> = {};
  // RAM sized for the generated fleet: with hundreds of agents the default machines' RAM is
  // over-committed and the UnifiedHealthMixin agents (rightly) report unhealthy.
  const ramMb = Math.max(65536, perMachine * 2048);
  const overrides: SimOverrides = {
    defaults: { error_variant: 'A' },
    agents: {},
    machines: { mainpc: { ram_total_mb: ramMb }, pc2: { ram_total_mb: ramMb } },
    seed: 1,
    error_rate: 0,
    // One PUB per machine on its error-bus port that every agent's errors go out on. The sim's
    // default (`upstream`) binds that port only for a CentralErrorBus agent, which these fleets
    // do not have: their errors (the render and key figures' floods) then reached nobody.
    wiring: 'collector',
  };
  const main = [
    'global_settings:',
    '  health_checks: {interval_seconds: 2, timeout_seconds: 1}',
    `error_bus_port: ${errorBusPort}`,
    'agent_groups:',
  ];
  const pc2 = [
    'global_settings:',
    '  health_checks: {interval_seconds: 2, timeout_seconds: 1}',
    `error_bus_port: ${errorBusPort}`,
    'pc2_services:',
  ];
  for (let i = 0; i < perMachine; i++) {
    const port = basePort + 3 * i;
    const protocol = protocolOf(i);
    const script = (dirName: string) =>
      protocol === 'http' ? `services/svc_${i}/app.py` : `${dirName}/agents/agent_${i}.py`;
    const mName = `MainAgent${String(i).padStart(3, '0')}`;
    const pName = `Pc2Agent${String(i).padStart(3, '0')}`;
    if (i % 50 === 0) main.push(`  group_${i / 50}:`);
    main.push(
      `    ${mName}: {script_path: ${script('main_pc_code')}, port: ${port}, health_check_port: ${port + 1}, required: false, dependencies: []}`,
    );
    pc2.push(
      `- {name: ${pName}, script_path: ${script('pc2_code')}, port: ${port}, health_check_port: ${port + 1}, required: false, dependencies: []}`,
    );
    protocols[`mainpc/${mName}`] = protocol;
    protocols[`pc2/${pName}`] = protocol;
    if (protocol === 'unified') {
      overrides.agents[`mainpc/${mName}`] = { protocol };
      overrides.agents[`pc2/${pName}`] = { protocol };
    }
  }
  const files = {
    mainpc: join(dir, `mainpc-${perMachine}.yaml`),
    pc2: join(dir, `pc2-${perMachine}.yaml`),
  };
  writeFileSync(files.mainpc, `${main.join('\n')}\n`);
  writeFileSync(files.pc2, `${pc2.join('\n')}\n`);
  return {
    files,
    hosts,
    protocols,
    overrides,
    env: { MAINPC_IP: hosts.mainpc, PC2_IP: hosts.pc2 },
    agents: perMachine * 2,
  };
}
