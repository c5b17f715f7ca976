// What a machine header says about that machine's `opsdeck agent`, from its last resource sample:
// `agent 0.1.0 up 3h`, or a warning when it is another version than this console (an old install
// on one machine), older than the samples that carry a version, or silent (samples stale).
import type { ResourceSample } from '../resources/sample.js';
import { ago } from './view.js';

export interface AgentLabel {
  text: string;
  warn: boolean;
}

export function agentLabel(
  sample: ResourceSample | undefined,
  receivedAt: number | undefined,
  now: number,
  stale: boolean,
  consoleVersion: string,
): AgentLabel | undefined {
  // The simulator publishes for both machines; it is not an agent to keep up to date.
  if (!sample || sample.source !== 'agent' || receivedAt === undefined) return undefined;
  if (sample.version === undefined)
    return { text: `agent older than ${consoleVersion} (no version)`, warn: true };
  const version =
    sample.version === consoleVersion
      ? `agent ${sample.version}`
      : `agent ${sample.version} (console ${consoleVersion})`;
  if (stale) return { text: `${version} silent ${ago(receivedAt, now)}`, warn: true };
  const up =
    sample.uptimeS !== undefined ? ` up ${ago(receivedAt - sample.uptimeS * 1000, now)}` : '';
  return { text: `${version}${up}`, warn: sample.version !== consoleVersion };
}
