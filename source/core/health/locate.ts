// Finding agents by the name their health replies carry: where an agent really answers when its
// configured port refuses, and whether the process that answered is the agent that was asked.

export interface Answer {
  port: number;
  /** The name the health reply carried. */
  name: string;
}

export interface Place {
  port: number;
  healthPort: number;
}

/**
 * Where each name answered. A BaseAgent that took the first free ports answers a health request
 * on its main socket (port) and on its health socket (port + 1): of an adjacent pair the lower is
 * the main port. A name seen on one port only is taken as its health port.
 */
export function placeAnswers(answers: readonly Answer[]): Map<string, Place> {
  const byName = new Map<string, number[]>();
  for (const a of answers) byName.set(a.name, [...(byName.get(a.name) ?? []), a.port]);
  const out = new Map<string, Place>();
  for (const [name, ports] of byName) {
    const sorted = [...new Set(ports)].sort((a, b) => a - b);
    const pair = sorted.findIndex((p, i) => sorted[i + 1] === p + 1);
    out.set(
      name,
      pair >= 0
        ? { port: sorted[pair]!, healthPort: sorted[pair]! + 1 }
        : { port: sorted[0]! - 1, healthPort: sorted[0]! },
    );
  }
  return out;
}

export type NameVerdict =
  | { kind: 'match' }
  /** Another agent of the fleet answered: the address or port reaches the wrong process. */
  | { kind: 'other-agent'; who: string }
  /** A name opsdeck does not know (a renamed agent, a stranger on the port). */
  | { kind: 'unknown'; name: string };

/**
 * `names` maps every name the fleet's agents answer with (config key and upstream self-name)
 * to `machine/Agent` keys.
 */
export function judgeName(
  replied: string,
  asked: { key: string; names: readonly string[] },
  names: ReadonlyMap<string, readonly string[]>,
): NameVerdict {
  if (asked.names.includes(replied)) return { kind: 'match' };
  const owners = (names.get(replied) ?? []).filter((k) => k !== asked.key);
  return owners.length > 0
    ? { kind: 'other-agent', who: owners.join(' or ') }
    : { kind: 'unknown', name: replied };
}
