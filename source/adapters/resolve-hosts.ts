// What each machine's host name resolves to, so two names for one address are caught. A lookup
// that fails or takes too long leaves the name as it is (the warning then compares names only).
import { lookup } from 'node:dns/promises';

export async function resolveHosts(
  hosts: readonly string[],
  timeoutMs = 1000,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(
    [...new Set(hosts)].map(async (host) => {
      const timer = new Promise<undefined>((r) =>
        setTimeout(() => r(undefined), timeoutMs).unref(),
      );
      const found = await Promise.race([lookup(host, { all: true }).catch(() => undefined), timer]);
      if (found)
        out.set(
          host,
          found.map((a) => a.address),
        );
    }),
  );
  return out;
}
