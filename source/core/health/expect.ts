// Which health protocol to expect from an agent before it has answered, from its config and
// what upstream's code is known to do (fleet/upstream-code.ts), and which request that allows.
// The rule that keeps probes harmless: an agent gets only requests its code is known to parse.
import type { Agent } from '../fleet/model.js';
import { codeFacts } from '../fleet/upstream-code.js';
import { JSON_HEALTH_REQUEST, WP07_HEALTH_REQUEST, type HealthProtocol } from './replies.js';

/**
 * CentralErrorBus has no health port (its PUB is its only sign of life); ResourceManager answers
 * on its own JSON-only loop; services/ are FastAPI or other non-BaseAgent HTTP services
 * (upstream-protocols b3); everything else imports BaseAgent (62 of 68 scripts). No running
 * agent uses the WP-07 mixin upstream, so it is never assumed, only detected.
 */
export function expectedProtocol(agent: Pick<Agent, 'scriptPath'>): HealthProtocol {
  const facts = codeFacts(agent);
  if (facts.noHealthPort) return 'pub';
  if (facts.jsonOnly) return 'json-rm';
  return agent.scriptPath.startsWith('services/') ? 'http' : 'base-agent';
}

/**
 * The ZMQ health request for an agent: upstream's own client's JSON for everyone (BaseAgent
 * answers any payload, ResourceManager's loop wants exactly it, the WP-07 mixin answers it
 * "Unknown health request" without harm), the bare string only once a WP-07 reply proved the
 * agent speaks it.
 */
export const healthRequest = (protocol: HealthProtocol | undefined): string =>
  protocol === 'unified' ? WP07_HEALTH_REQUEST : JSON_HEALTH_REQUEST;
