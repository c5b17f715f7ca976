// The one key for an agent across the fleet: `machine/agent` (`pc2/MemoryHub`). Health, samples,
// errors, overrides and the console's selection are all indexed by it, so it is built here only;
// a key built by hand elsewhere drifts (a different separator, machine and agent swapped) and the
// lookups then miss silently.

/** `machine/agent`. Machine ids never hold a slash, so the first one splits the key again. */
export const agentKey = (machine: string, agent: string): string => `${machine}/${agent}`;

/** The machine and agent of a key, or undefined for a bare agent name (no slash). */
export function splitAgentKey(key: string): { machine: string; agent: string } | undefined {
  const slash = key.indexOf('/');
  return slash > 0 ? { machine: key.slice(0, slash), agent: key.slice(slash + 1) } : undefined;
}
