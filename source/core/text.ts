// A value from the wire or a file as text. `String()` prints an object as "[object Object]",
// which says nothing to an operator: objects and arrays are shown as JSON instead.

/** Strings as they are, other scalars as `String()` prints them, objects as JSON, and null or
 *  undefined as `absent`. */
export function textOf(value: unknown, absent = ''): string {
  if (value === undefined || value === null) return absent;
  if (typeof value === 'string') return value;
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return absent; // a cycle or a BigInt inside: nothing printable
    }
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'symbol') return value.toString();
  return absent; // a function: nothing to print
}

/** A JSON object, or undefined for anything else (bad JSON, an array, a scalar). */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
