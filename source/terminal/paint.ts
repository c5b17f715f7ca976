// The bytes that bring a terminal from what it shows to the next screen: only the cells that
// differ, as runs (a cursor move, then the cells, with an SGR change only where the style
// changes), and an erase-to-end-of-line where a row ends blank. Pure: no I/O.
import type { Row, Screen } from './screen.js';

const ESC = '\x1b[';
/** Unchanged cells between two changed ones that are rewritten rather than jumped over. */
const GAP = 4;

const sgr = (from: string, to: string) =>
  to === '' ? `${ESC}0m` : from === '' ? `${ESC}${to}m` : `${ESC}0;${to}m`;

const isBlank = (row: Row, x: number) => row.chars[x] === ' ' && row.styles[x] === '';

/** What the terminal shows, as far as this writer knows, and how to change it. */
export class Painter {
  /** Undefined: not known (at start, after a resize): the next paint clears and draws all. */
  private shown: Row[] | undefined;
  private cols = 0;
  private rows = 0;
  /** The terminal's SGR state, cursor and its visibility (undefined: not known). */
  private pen: string | undefined;
  private cx = -1;
  private cy = -1;
  private cursorShown: boolean | undefined;

  /** Forget what the terminal shows: the next paint draws everything. */
  invalidate(): void {
    this.shown = undefined;
  }

  /**
   * The terminal was just cleared (`prefix` did it: an alternate screen entered, a reset): all
   * cells blank, the pen reset, the cursor home.
   */
  cleared(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    this.shown = Array.from({ length: rows }, () => ({
      chars: new Array<string>(cols).fill(' '),
      styles: new Array<string>(cols).fill(''),
    }));
    this.pen = '';
    this.cx = 0;
    this.cy = 0;
  }

  /** The bytes that make the terminal show `screen` (empty when it already does). */
  paint(screen: Screen): string {
    let out = screen.passThrough.length ? screen.passThrough.join('') : '';
    screen.passThrough.length = 0;
    if (!this.shown || this.cols !== screen.cols || this.rows !== screen.rows) {
      out += `${ESC}0m${ESC}H${ESC}2J`;
      this.cleared(screen.cols, screen.rows);
    }
    if (this.cursorShown !== false && !screen.cursorVisible) {
      out += `${ESC}?25l`;
      this.cursorShown = false;
    }
    for (let y = 0; y < this.rows; y++) out += this.row(y, screen.lines[y]!, this.shown![y]!);
    if (screen.cursorVisible) {
      out += this.moveTo(Math.min(screen.x, this.cols - 1), screen.y);
      if (this.cursorShown !== true) out += `${ESC}?25h`;
      this.cursorShown = true;
    }
    return out;
  }

  private row(y: number, next: Row, shown: Row): string {
    const cols = this.cols;
    const same = (x: number) =>
      next.chars[x] === shown.chars[x] && next.styles[x] === shown.styles[x];
    // Where the row's blank tail starts (blank in the default style): erased, not written.
    let tail = cols;
    while (tail > 0 && isBlank(next, tail - 1)) tail--;
    let out = '';
    let x = 0;
    while (x < cols) {
      if (same(x)) {
        x++;
        continue;
      }
      let start = x;
      if (next.chars[start] === '' && start > 0) start--; // the right half: from the wide character
      let end = x + 1;
      for (let k = x + 1, gap = 0; k < cols; k++) {
        if (!same(k)) {
          end = k + 1;
          gap = 0;
        } else if (++gap > GAP) break;
      }
      if (end > tail && tail < cols) {
        // Cells up to the blank tail, then erase the rest of the row.
        if (start < tail) out += this.cells(y, start, tail, next, shown);
        else out += this.moveTo(start, y);
        if (this.pen !== '') out += sgr(this.pen ?? 'unknown', '');
        this.pen = '';
        out += `${ESC}K`;
        for (let k = Math.max(start, tail); k < cols; k++) {
          shown.chars[k] = ' ';
          shown.styles[k] = '';
        }
        return out;
      }
      out += this.cells(y, start, end, next, shown);
      x = end;
    }
    return out;
  }

  /** Writes next's cells [from, to) of row y. */
  private cells(y: number, from: number, to: number, next: Row, shown: Row): string {
    let out = this.moveTo(from, y);
    for (let x = from; x < to; x++) {
      const text = next.chars[x]!;
      const style = next.styles[x]!;
      shown.chars[x] = text;
      shown.styles[x] = style;
      if (text === '') continue; // the right half of the wide character just written
      if (style !== this.pen) {
        out += sgr(this.pen ?? 'unknown', style);
        this.pen = style;
      }
      out += text;
    }
    // A wide character last: its right half was written with it.
    const last = to < this.cols && next.chars[to] === '';
    if (last) {
      shown.chars[to] = '';
      shown.styles[to] = next.styles[to]!;
    }
    this.cx = last ? to + 1 : to;
    this.cy = y;
    return out;
  }

  /** The shortest way to put the cursor at (x, y): none, forward on the row, or absolute. */
  private moveTo(x: number, y: number): string {
    if (this.cy === y && this.cx === x) return '';
    const absolute = x === 0 ? `${ESC}${y + 1}H` : `${ESC}${y + 1};${x + 1}H`;
    let move = absolute;
    if (this.cy === y && this.cx >= 0 && this.cx < this.cols && this.cx < x) {
      const n = x - this.cx;
      const forward = n === 1 ? `${ESC}C` : `${ESC}${n}C`;
      if (forward.length < absolute.length) move = forward;
    }
    this.cx = x;
    this.cy = y;
    return move;
  }
}
