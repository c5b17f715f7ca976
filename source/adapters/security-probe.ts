// Sends the probe requests (core/security/probe.ts) to each machine's control subject.
import type { NatsConnection } from 'nats';
import {
  classifyProbe,
  PROBE_REQUEST,
  unsignedToken,
  type ProbeResult,
} from '../core/security/probe.js';
import { controlRequest, controlSubject } from './control-client.js';

/** One result per machine: enforced, NOT enforced, or no answer. For the console's scorecard too. */
export async function probeEnforcement(
  nc: NatsConnection,
  machines: readonly string[],
  timeoutMs = 2000,
): Promise<ProbeResult[]> {
  return Promise.all(
    machines.map(async (machine) => {
      const subject = controlSubject(machine);
      const without = await controlRequest(nc, subject, { ...PROBE_REQUEST }, timeoutMs);
      const unsigned = await controlRequest(
        nc,
        subject,
        { ...PROBE_REQUEST, token: unsignedToken(machine, Math.floor(Date.now() / 1000)) },
        timeoutMs,
      );
      return classifyProbe(machine, subject, [
        {
          name: 'no token',
          reply: without.kind === 'reply' ? { kind: 'reply', value: without.value } : without,
        },
        {
          name: 'unsigned token (alg none)',
          reply: unsigned.kind === 'reply' ? { kind: 'reply', value: unsigned.value } : unsigned,
        },
      ]);
    }),
  );
}
