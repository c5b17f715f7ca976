// `opsdeck sim ctl FAULT [AGENT] [key=value ...]`: a fault for a running simulator, from a shell,
// over its ZMQ control socket (default) or NATS `opsdeck.sim.control`. The request is the one JSON
// shape of sim/control.ts; with a secrets folder holding the fleet's signing key it carries a
// token for audience "sim" (a sim started with --jwks refuses faults without one).
import type { Command } from 'commander';
import { connectNats } from '../adapters/nats-connect.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { sanitise } from '../core/errors/sanitise.js';
import { tokenFrom, tokenSource } from '../adapters/control-client.js';
import { FAULTS, parseControl, type ControlReply } from '../sim/control.js';
import { ZmqPirate } from '../adapters/zmq-probe.js';
import { secretsFolder } from './secrets-dir.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg } from './options.js';

/** How each `key=value` is read: durations in their unit, counts as numbers, the rest as text. */
const FIELDS: Record<string, (v: string) => unknown> = {
  machine: (v) => v,
  ms: (v) => durationIn(v, 1),
  seconds: (v) => durationIn(v, 1000),
  rate: (v) => Number(v),
  count: (v) => Number(v),
  mb: (v) => Number(v),
  on: (v) => (v === 'true' ? true : v === 'false' ? false : v),
  kind: (v) => v,
  bus: (v) => v,
  severity: (v) => v,
  error_type: (v) => v,
  message: (v) => v,
};

function durationIn(text: string, unitMs: number): unknown {
  const d = parseDuration(text);
  return d.ok ? d.ms / unitMs : text;
}

function bad(io: Io, message: string): never {
  io.err(`opsdeck sim ctl: ${message}`);
  throw new Exit(EXIT.badInput);
}

/** The request from the words: `slow NLUAgent ms=500ms`, `vram-spike mb=4000 seconds=30s`. */
export function ctlRequest(io: Io, words: readonly string[]): Record<string, unknown> {
  const [fault, ...rest] = words;
  const request: Record<string, unknown> = { fault };
  for (const word of rest) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      if ('agent' in request) bad(io, `"${word}": one agent only; other values are key=value`);
      request.agent = word;
      continue;
    }
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    const read = FIELDS[key];
    if (!read) bad(io, `unknown key "${key}" (known: agent, ${Object.keys(FIELDS).join(', ')})`);
    if (key === 'ms' || key === 'seconds') {
      const d = parseDuration(value);
      if (!d.ok) bad(io, `${key}=${value}: ${d.reason}`);
    }
    request[key] = read(value);
  }
  const checked = parseControl(request);
  if (!checked.ok) bad(io, checked.error);
  return request;
}

export function registerSimCtl(sim: Command, io: Io): void {
  sim
    .command('ctl')
    .description(
      `inject a fault into a running simulator: ${FAULTS.join(', ')} (the protocol: README "Faults")`,
    )
    .argument('<fault>', 'what to do')
    .argument(
      '[args...]',
      'the agent (name or machine/name), then key=value (ms=500ms, rate=200, seconds=30s, mb=4000, kind=binary, bus=zmq, severity=error)',
    )
    .option('--control <endpoint>', "the sim's ZMQ control socket", 'tcp://127.0.0.1:7999')
    // --nats <url> (send over NATS opsdeck.sim.control instead) is `opsdeck sim`'s own option:
    // commander gives it to the parent, where it is read below.
    .option(
      '--secrets <dir>',
      'a secrets folder whose signing key mints the token (sims started with --jwks)',
    )
    .addOption(
      checkedOption('--timeout <duration>', 'reply timeout', durationArg({ minMs: 100 }), '3s'),
    )
    .action(
      async (
        fault: string,
        args: string[],
        own: { control: string; secrets?: string; timeout: number },
        cmd: Command,
      ) => {
        const nats = cmd.parent?.opts<{ nats?: string | false }>().nats;
        const opts = { ...own, ...(typeof nats === 'string' ? { nats } : {}) };
        if (!/^tcp:\/\/127\.\d+\.\d+\.\d+:\d+$|^tcp:\/\/localhost:\d+$/.test(opts.control))
          bad(
            io,
            `--control ${opts.control}: expected tcp://127.x.y.z:PORT (the sim is on loopback)`,
          );
        const request = ctlRequest(io, [fault, ...args]);
        const source = tokenSource(
          opts.secrets || io.env.OPSDECK_SECRETS ? secretsFolder(io, opts.secrets) : undefined,
          'sim',
        );
        const token = fault === 'status' ? undefined : tokenFrom(source, 'sim', io.env);
        const body = JSON.stringify({ ...request, ...(token ? { token } : {}) });
        let reply: ControlReply;
        if (opts.nats) {
          const nc = await connectNats({ servers: opts.nats, timeout: opts.timeout }).catch(
            (e: Error) => bad(io, `cannot reach NATS at ${opts.nats}: ${e.message}`),
          );
          try {
            const m = await nc.request('opsdeck.sim.control', new TextEncoder().encode(body), {
              timeout: opts.timeout,
            });
            reply = JSON.parse(new TextDecoder().decode(m.data)) as ControlReply;
          } catch (error) {
            io.err(`opsdeck sim ctl: no reply on opsdeck.sim.control: ${(error as Error).message}`);
            throw new Exit(EXIT.findings);
          } finally {
            await nc.close();
          }
        } else {
          const pirate = new ZmqPirate(opts.control, opts.timeout);
          const r = await pirate.request(body);
          pirate.close();
          if (r.kind !== 'reply') {
            io.err(
              `opsdeck sim ctl: no reply from ${opts.control}: ${r.kind === 'timeout' ? `nothing in ${formatDuration(opts.timeout)}` : r.reason} (is the sim running? its control socket is on its first summary lines)`,
            );
            throw new Exit(EXIT.findings);
          }
          reply = JSON.parse(r.text) as ControlReply;
        }
        io.out(JSON.stringify(reply, null, 2));
        if (!reply.ok) {
          io.err(`opsdeck sim ctl: ${sanitise(String(reply.error ?? 'refused'))}`);
          throw new Exit(EXIT.findings);
        }
      },
    );
}
