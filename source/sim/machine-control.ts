// The simulator answers `opsdeck.<machine>.control` for each of its machines exactly as a host
// agent does (core/resources/machine-control.ts), so the console and `opsdeck throttle` talk to
// the sim as to real machines. Without a JWKS it is open (the demo); with one it enforces.
import { connect, type NatsConnection } from 'nats';
import { decodeBody, machineControl, type ControlAuth } from '../core/resources/machine-control.js';
import type { TokenVerifier } from '../core/security/token.js';
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
  close(): Promise<void>;
}

export async function serveMachineControl(
  url: string,
  machines: readonly SimMachine[],
  auth: ControlAuth,
  log: (line: string) => void,
): Promise<MachineControlServer> {
  const nc: NatsConnection = await connect({
    servers: url,
    name: 'opsdeck-sim-control',
    timeout: 3000,
    pingInterval: 2000,
    maxPingOut: 3,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const encoder = new TextEncoder();
  for (const m of machines) {
    nc.subscribe(machineControlSubject(m.id), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        const now = Date.now();
        const body = decodeBody(msg.data);
        if (
          body &&
          typeof body === 'object' &&
          (body as { action?: unknown }).action === 'status'
        ) {
          msg.respond(
            encoder.encode(JSON.stringify({ ok: true, machine: m.id, sample: m.sample(now) })),
          );
          return;
        }
        const result = machineControl(body, {
          machine: m.id,
          rm: m.rm,
          stats: m.rmStats(),
          now,
          auth,
        });
        m.rm = result.state;
        if (result.change)
          log(
            `${m.id} control ${result.change.action}: ${result.change.applied ? `applied${result.change.subject ? ` (token sub ${result.change.subject})` : ''}` : `not applied: ${result.change.reason}`}`,
          );
        msg.respond(encoder.encode(JSON.stringify(result.reply)));
      },
    });
  }
  await nc.flush();
  return {
    async close() {
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    },
  };
}
