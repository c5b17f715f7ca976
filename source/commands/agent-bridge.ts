// `opsdeck agent --bridge`: the options, and the plan from the fleet config and the upstream env
// (where this machine's bridge binds a SUB and where it connects one; core/errorbus/topology.ts).
import type { Command } from 'commander';
import type { NatsConnection } from 'nats';
import { runBridge, type BridgeOptions, type RunningBridge } from '../agent/bridge.js';
import { buildTopology, type BridgeTarget } from '../core/errorbus/topology.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';

export interface BridgeArgs extends FleetArgs {
  bridge?: boolean;
  bridgeBuffer?: string;
  bridgeBind?: string;
}

export const addBridgeOptions = (cmd: Command): Command =>
  addFleetOptions(
    cmd
      .option(
        '--bridge',
        "also carry this machine's ZMQ error bus into NATS JetStream (binds a SUB where upstream publishers connect and nothing listens, connects one to CentralErrorBus); the fleet config comes from --mainpc/--pc2/--root",
      )
      .option(
        '--bridge-buffer <n>',
        'errors the bridge keeps while NATS is down; past it new ones are dropped and counted',
        '100000',
      )
      .option(
        '--bridge-bind <addr>',
        "address the bridge binds on (default: this machine's address from MAINPC_IP / PC2_IP; `*` for every interface)",
      ),
  );

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The bind address for a plan host: an IP as is, localhost as 127.0.0.1, a hostname as every interface. */
export const bindAddress = (host: string, flag: string | undefined): string =>
  flag ?? (IPV4.test(host) ? host : host === 'localhost' ? '127.0.0.1' : '*');

export interface PreparedBridge {
  targets: BridgeTarget[];
  start(
    nc: NatsConnection,
    log: (line: string) => void,
    onFrame?: BridgeOptions['onFrame'],
  ): Promise<RunningBridge>;
}

/** Checks the options and plans the bridge before anything connects; bad input exits 2. */
export function prepareBridge(opts: BridgeArgs, io: Io, machine: string): PreparedBridge {
  const bufferLimit = Number(opts.bridgeBuffer ?? '100000');
  if (!Number.isInteger(bufferLimit) || bufferLimit < 1) {
    io.err(`opsdeck agent: --bridge-buffer ${opts.bridgeBuffer}: expected a positive integer`);
    throw new Exit(EXIT.badInput);
  }
  const fleet = loadFleetArgs(opts, io, { quiet: true });
  if (!fleet.machines.some((m) => m.id === machine)) {
    io.err(
      `opsdeck agent: --bridge: no machine "${machine}" in the fleet config (machines: ${fleet.machines.map((m) => m.id).join(', ')})`,
    );
    throw new Exit(EXIT.badInput);
  }
  const plan =
    buildTopology({ machines: fleet.machines, env: io.env, bridges: [machine] }).bridgePlan[
      machine
    ] ?? [];
  const targets = plan.map((t) =>
    t.mode === 'bind' ? { ...t, host: bindAddress(t.host, opts.bridgeBind) } : t,
  );
  for (const t of targets)
    io.err(
      `opsdeck agent ${machine}: bridge will ${t.mode} a SUB on tcp://${t.host}:${t.port}: ${t.why}`,
    );
  if (targets.length === 0)
    io.err(
      `opsdeck agent ${machine}: bridge: no error-bus port on this machine to bind or connect (see opsdeck errorbus doctor)`,
    );
  return {
    targets,
    start: (nc, log, onFrame) =>
      runBridge(nc, { machine, targets, bufferLimit, log, ...(onFrame ? { onFrame } : {}) }),
  };
}
