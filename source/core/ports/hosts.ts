// When do two machines bind on the same box, so that equal ports clash across machines?
//
// Decided here (upstream has no rule; env_standardizer.py defaults MAINPC_IP and PC2_IP both to
// localhost, so with no env the two machines DO share a box, as in dev and Docker-on-one-host):
// - equal addresses share, case-insensitively; `localhost`, `::1` and `127.0.0.1` are one address;
// - a wildcard address (`0.0.0.0`, `::`, `*`, empty) means "this box": it shares with any
//   loopback address and with another wildcard, not with a LAN address or a name;
// - other loopback addresses (127.0.0.2, ...) are distinct hosts: opsdeck's simulator runs MainPC
//   on 127.0.0.1 and PC2 on 127.0.0.2 to keep their real ports apart (docs/architecture.md,
//   "Two machines on one box").

type HostClass =
  { kind: 'wildcard' } | { kind: 'loopback'; addr: string } | { kind: 'other'; addr: string };

function classify(host: string): HostClass {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (h === '' || h === '*' || h === '0.0.0.0' || h === '::') return { kind: 'wildcard' };
  if (h === 'localhost' || h === 'ip6-localhost' || h === '::1' || h === '127.0.0.1')
    return { kind: 'loopback', addr: '127.0.0.1' };
  if (/^127\.\d+\.\d+\.\d+$/.test(h)) return { kind: 'loopback', addr: h };
  return { kind: 'other', addr: h };
}

export function sharesHost(a: string, b: string): boolean {
  const x = classify(a);
  const y = classify(b);
  if (x.kind === 'wildcard') return y.kind !== 'other';
  if (y.kind === 'wildcard') return x.kind !== 'other';
  return x.addr === y.addr;
}

/**
 * Two machines that resolve to one address: every probe of one reaches the other's agents on the
 * ports they share (upstream defaults MAINPC_IP and PC2_IP both to localhost). `resolved` holds
 * what a name resolved to, when it was looked up.
 */
export function sharedAddressWarnings(
  machines: ReadonlyArray<{ id: string; host: string }>,
  resolved: ReadonlyMap<string, readonly string[]> = new Map(),
): string[] {
  const out: string[] = [];
  const addrs = (host: string) => [host, ...(resolved.get(host) ?? [])];
  for (let i = 0; i < machines.length; i++)
    for (let j = i + 1; j < machines.length; j++) {
      const a = machines[i]!;
      const b = machines[j]!;
      const same = addrs(a.host).find((x) => addrs(b.host).some((y) => sharesHost(x, y)));
      if (same !== undefined)
        out.push(
          `${a.id} (${a.host}) and ${b.id} (${b.host}) resolve to one address (${same}): probes for one reach the other's agents on every port they share; set MAINPC_IP / PC2_IP`,
        );
    }
  return out;
}
