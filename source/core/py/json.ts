// Python's `json.dumps(obj)` byte for byte (default arguments), because the fleet's replies and
// error frames are all written by it (pyzmq's send_json is json.dumps too) and the console must
// be tested against the bytes it will really see: `", "` and `": "` separators, ensure_ascii
// (every non-printable or non-ASCII character as a lowercase \uXXXX escape), floats as Python's
// repr (`12.0`, `1e-05`, `1.5e+16`), `NaN` / `Infinity` unquoted.

/** A number Python holds as a float: printed with a decimal point even when integral. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Marks a number as a Python float (`uptime`, percentages, `time.time()`). */
export const pyFloat = (value: number): PyFloat => new PyFloat(value);

export type PyValue =
  | null
  | undefined
  | boolean
  | number
  | string
  | PyFloat
  | readonly PyValue[]
  | { readonly [key: string]: PyValue };

/** Python's float repr: shortest round-trip digits, scientific below 1e-4 or from 1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const frac = digits.slice(1);
    const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
    return `${sign}${digits[0]}${frac ? `.${frac}` : ''}e${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac || '0'}`;
}

const SHORT: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

// Printable ASCII except the quote and the backslash: the common case, returned as is.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/** json.dumps string with ensure_ascii=True: only printable ASCII (space..~) passes unescaped. */
export function pyString(text: string): string {
  if (PLAIN.test(text)) return `"${text}"`;
  // UTF-16 code units are exactly the surrogate pairs Python writes for astral characters.
  const body = text.replace(
    NEEDS_ESCAPE,
    (ch) => SHORT[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `"${body}"`;
}

export function pyDumps(value: PyValue): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return pyString(value);
  if (value instanceof PyFloat) return floatRepr(value.value);
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatRepr(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyDumps(v as PyValue)).join(', ')}]`;
  const entries = Object.entries(value as Record<string, PyValue>);
  return `{${entries.map(([k, v]) => `${pyString(k)}: ${pyDumps(v)}`).join(', ')}}`;
}
