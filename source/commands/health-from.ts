// `--health-from direct|agents` for the console and `status`: where agents' health comes from.
import { HEALTH_FROM, type HealthFrom } from '../stores/health-source.js';
import { EXIT, Exit, type Io } from './io.js';

/** `--health-from direct|agents`; agents needs NATS. Bad input exits 2. */
export function healthFromOption(
  value: string | undefined,
  nats: string | undefined,
  io: Io,
  who: string,
): HealthFrom {
  const from = (value ?? 'direct') as HealthFrom;
  if (!HEALTH_FROM.includes(from)) {
    io.err(`${who}: --health-from ${value}: expected ${HEALTH_FROM.join(' or ')}`);
    throw new Exit(EXIT.badInput);
  }
  if (from === 'agents' && !nats) {
    io.err(
      `${who}: --health-from agents reads each machine's opsdeck agent over NATS: pass --nats URL or set NATS_SERVERS`,
    );
    throw new Exit(EXIT.badInput);
  }
  return from;
}
