// Mouse reports in SGR mode (xterm 1006), as Ink hands them to useInput: the bytes after ESC,
// "[<b;x;yM" for a press and "[<b;x;ym" for a release. Only the wheel and the left button are
// used; everything else (drags, other buttons, releases) is recognised so it is never typed as
// text into a filter, and ignored.

export type Mouse =
  | { kind: 'wheel'; delta: 1 | -1; x: number; y: number }
  | { kind: 'click'; x: number; y: number }
  | { kind: 'other' };

const SGR = /^\[<(\d+);(\d+);(\d+)([Mm])$/;

/** The report in `input`, with 0-based cell coordinates; undefined when it is not one. */
export function parseMouse(input: string): Mouse | undefined {
  const m = SGR.exec(input);
  if (!m) return undefined;
  const code = Number(m[1]);
  const x = Number(m[2]) - 1;
  const y = Number(m[3]) - 1;
  const press = m[4] === 'M';
  // Bits: 0-1 button, 4/8/16 shift/meta/ctrl, 32 motion, 64 wheel, 128 buttons 8-11.
  // Wheel buttons 0/1 are up/down; 2/3 are left/right (a tilt wheel, a touchpad's sideways
  // swipe), which nothing here scrolls: read as down/up they moved the selection.
  if (code & 128) return { kind: 'other' };
  if (code & 64)
    return press && (code & 3) < 2
      ? { kind: 'wheel', delta: code & 1 ? 1 : -1, x, y }
      : { kind: 'other' };
  if (press && (code & 3) === 0 && !(code & 32)) return { kind: 'click', x, y };
  return { kind: 'other' };
}

/**
 * A report split over two reads (a slow link): the first part is held, and joined to the next
 * read when that one completes it. Returns the reports found and the input left for the keys.
 */
export function joinMouse(
  held: string,
  input: string,
): { reports: string[]; held: string; keys: string } {
  let text = held + input;
  const reports: string[] = [];
  for (;;) {
    const whole = /^\[<[\d;]*[Mm]/.exec(text);
    if (whole) {
      reports.push(whole[0]);
      text = text.slice(whole[0].length);
      continue;
    }
    // The start of one, cut off: held for the next read.
    if (/^\[<[\d;]*$/.test(text)) return { reports, held: text, keys: '' };
    // A held start the next read did not complete: it was not a report; the read is keys.
    return { reports, held: '', keys: held && reports.length === 0 ? input : text };
  }
}

/** Enable: button presses and releases plus the wheel (1000), reported as SGR (1006). */
export const MOUSE_ON = '\x1b[?1000h\x1b[?1006h';
export const MOUSE_OFF = '\x1b[?1006l\x1b[?1000l';

/** Rows the wheel moves per notch. */
export const WHEEL_ROWS = 3;
