// `opsdeck agent --machine NAME`: the per-machine daemon (resources out, control in).
import type { Command } from 'commander';
import { NatsLink } from '../adapters/nats-link.js';
import { runAgent } from '../agent/agent.js';
import { natsServers } from '../stores/data-plane.js';
import { EXIT, Exit, type Io } from './io.js';

export function registerAgent(program: Command, io: Io): void {
  program
    .command('agent')
    .description('run on each machine: publish its CPU/RAM/VRAM on opsdeck.<machine>.resources and answer opsdeck.<machine>.control')
    .requiredOption('--machine <id>', 'this machine: mainpc, pc2, ...')
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .option('--interval <ms>', 'sampling interval in ms', '2000')
    .action(async (opts: { machine: string; nats?: string; interval: string }) => {
      const servers = natsServers(opts.nats, io.env);
      const intervalMs = Number(opts.interval);
      if (!servers) {
        io.err('opsdeck agent: no NATS server: pass --nats nats://host:4222 or set NATS_SERVERS');
        throw new Exit(EXIT.badInput);
      }
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.machine) || !Number.isFinite(intervalMs) || intervalMs < 200) {
        io.err('opsdeck agent: --machine must be a short name and --interval at least 200 ms');
        throw new Exit(EXIT.badInput);
      }
      const link = new NatsLink({ servers, name: `opsdeck-agent-${opts.machine}` });
      let lastState = '';
      const unsubscribe = link.subscribe(() => {
        const s = link.getSnapshot();
        if (s.state !== lastState) io.err(`opsdeck agent ${opts.machine}: NATS ${s.state}${s.server ? ` (${s.server})` : ''}${s.error ? `: ${s.error}` : ''}`);
        lastState = s.state;
      });
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        process.once('SIGHUP', resolve);
      });
      const nc = await Promise.race([link.connection(), stopped.then(() => undefined)]);
      const agent = nc ? runAgent(nc, { machine: opts.machine, intervalMs, log: (line) => io.err(`opsdeck agent ${opts.machine}: ${line}`) }) : undefined;
      await stopped;
      await agent?.stop();
      unsubscribe();
      await link.close();
    });
}
