// What each machine's host name resolves to, so two names for one address are caught. A lookup
// that fails or takes too long leaves the name as it is (the warning then compares names only).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export async function resolveHosts(
  hosts: readonly string[],
  timeoutMs = 1000,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(
    [...new Set(hosts)].map(async (host) => {
      // An address is itself: no lookup (getaddrinfo waits its turn in libuv's thread pool, which
      // start-up keeps busy reading files: ~0.15 s before the console's first frame).
      if (isIP(host)) return void out.set(host, [host]);
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
