// Text from the wire must never drive the operator's terminal: an error message carrying
// `ESC ] 52` could write the clipboard, `ESC [ 2 J` could wipe the screen, bidi overrides
// could make one agent's name read as another's.

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), DCS/SOS/PM/APC (ESC P|X|^|_ ... ESC \),
// two-byte escapes (ESC + one char), and the 8-bit C1 forms of CSI (0x9b) and OSC (0x9d).
const SEQUENCES =
  // eslint-disable-next-line no-control-regex
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?/g;
const WHITESPACE = /[\t\n\r\v\f]+/g;
// Remaining C0/C1 controls, DEL, lone ESC, and bidirectional overrides/isolates.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** One line of plain, inert text. */
export function sanitise(text: string): string {
  // Fast path: the common case (plain ASCII) costs one regex test.
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(text)) return text;
  return text.replace(SEQUENCES, '').replace(WHITESPACE, ' ').replace(CONTROLS, '');
}

/** Any value (details, a raw reply) as one sanitised line, for detail views. */
export function sanitiseValue(value: unknown, maxChars = 2000): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  const clean = sanitise(text);
  return clean.length > maxChars ? `${clean.slice(0, maxChars)}…` : clean;
}

/**
 * Several lines of inert text (a command's output, a diff): each line as sanitise() makes it,
 * the line breaks kept. Every byte a command prints goes through it (commands/io.ts).
 */
export function sanitiseLines(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(text)) return text;
  // Tabs are kept (a diff's, a table's); a carriage return could overwrite what a line says.
  return text
    .split('\n')
    .map((line) => line.split('\t').map(sanitise).join('\t'))
    .join('\n');
}

// What JSON.stringify leaves raw but a terminal would act on: DEL, C1 controls, bidi overrides.
const JSON_UNSAFE = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON for a terminal or a report: the same data, with the characters JSON.stringify leaves raw
 * and a terminal acts on written as \u escapes (JSON.stringify escapes C0 controls itself).
 */
export function jsonText(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
