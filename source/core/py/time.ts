// Python's `datetime.isoformat()` as the fleet writes timestamps: naive (no offset), microseconds
// only when non-zero. `datetime.now()` is local time, `datetime.utcnow()` is UTC; both naive.

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `datetime.now().isoformat()` (local) or `datetime.utcnow().isoformat()` (utc) for `ms`. */
export function isoformat(ms: number, zone: 'local' | 'utc' = 'local'): string {
  const d = new Date(ms);
  const utc = zone === 'utc';
  const y = utc ? d.getUTCFullYear() : d.getFullYear();
  const mo = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
  const day = utc ? d.getUTCDate() : d.getDate();
  const h = utc ? d.getUTCHours() : d.getHours();
  const mi = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  // Date carries milliseconds; sub-millisecond digits come from the fractional part of ms.
  const micro = Math.round((ms - Math.floor(ms / 1000) * 1000) * 1000) % 1_000_000;
  const base = `${pad(y, 4)}-${pad(mo)}-${pad(day)}T${pad(h)}:${pad(mi)}:${pad(s)}`;
  return micro === 0 ? base : `${base}.${pad(micro, 6)}`;
}
