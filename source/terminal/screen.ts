// What a terminal shows after a program's output: a grid of cells kept by reading the bytes the
// program writes, the way a terminal (xterm.js, tmux) reads them. Ink writes whole frames (clear,
// then every line); this grid lets the writer (diff-terminal.ts) send the terminal only the cells
// that changed. Pure: no I/O. It reads what Ink and a console writer send (text, SGR colours,
// cursor moves, erases, line feeds, the cursor and synchronized-output modes); other sequences
// that change no cell (modes, titles) are kept in order for the writer to pass on.
import { codePointWidth } from '../core/ui/width.js';

/** One row: each cell's text ('' is the right half of a wide character) and its SGR style. */
export interface Row {
  chars: string[];
  styles: string[];
}

/**
 * The SGR state as the canonical parameter list that sets it from a reset ('' is the default),
 * e.g. `1;7;31;48;5;236`: cells compare by it and the writer sends `ESC [ 0 ; <key> m`.
 */
interface Pen {
  flags: number;
  fg: string;
  bg: string;
  key: string;
}

// Attribute bit -> its SGR code, in the order the key lists them.
const FLAG_CODES = [1, 2, 3, 4, 5, 7, 8, 9, 53] as const;
const FLAG_OF: Record<number, number> = {};
FLAG_CODES.forEach((code, i) => (FLAG_OF[code] = 1 << i));
FLAG_OF[21] = FLAG_OF[4]!; // double underline: underlined
// Codes that clear attributes.
const CLEAR_OF: Record<number, number> = {
  22: FLAG_OF[1]! | FLAG_OF[2]!,
  23: FLAG_OF[3]!,
  24: FLAG_OF[4]!,
  25: FLAG_OF[5]!,
  27: FLAG_OF[7]!,
  28: FLAG_OF[8]!,
  29: FLAG_OF[9]!,
  55: FLAG_OF[53]!,
};

const DEFAULT_PEN: Pen = { flags: 0, fg: '', bg: '', key: '' };

function keyOf(flags: number, fg: string, bg: string): string {
  let key = '';
  for (let i = 0; i < FLAG_CODES.length; i++)
    if (flags & (1 << i)) key += key ? `;${FLAG_CODES[i]}` : String(FLAG_CODES[i]);
  if (fg) key += key ? `;${fg}` : fg;
  if (bg) key += key ? `;${bg}` : bg;
  return key;
}

/** The pen after an SGR sequence's parameters (`1;31`, `38;5;200`, `38:2::1:2:3`, `` = reset). */
export function applySgr(pen: Pen, params: string): Pen {
  let { flags, fg, bg } = pen;
  const list = params === '' ? ['0'] : params.split(';');
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (p.includes(':')) {
      // ITU colon form: 38:5:n, 38:2:r:g:b or 38:2::r:g:b (a colour space id first).
      const sub = p.split(':');
      const colour = extended(sub[1] === '5' ? sub.slice(1, 3) : ['2', ...sub.slice(-3)]);
      if (sub[0] === '38' && colour) fg = `38;${colour}`;
      else if (sub[0] === '48' && colour) bg = `48;${colour}`;
      else if (sub[0] === '4') flags = sub[1] === '0' ? flags & ~FLAG_OF[4]! : flags | FLAG_OF[4]!;
      continue;
    }
    const n = p === '' ? 0 : Number(p);
    if (n === 0) {
      flags = 0;
      fg = '';
      bg = '';
    } else if (FLAG_OF[n] !== undefined) flags |= FLAG_OF[n];
    else if (CLEAR_OF[n] !== undefined) flags &= ~CLEAR_OF[n];
    else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) fg = String(n);
    else if ((n >= 40 && n <= 47) || (n >= 100 && n <= 107)) bg = String(n);
    else if (n === 39) fg = '';
    else if (n === 49) bg = '';
    else if (n === 38 || n === 48) {
      const mode = list[i + 1];
      const take = mode === '5' ? 2 : mode === '2' ? 4 : 0;
      const colour = take ? extended(list.slice(i + 1, i + 1 + take)) : undefined;
      i += take;
      if (colour && n === 38) fg = `38;${colour}`;
      else if (colour) bg = `48;${colour}`;
    }
  }
  if (flags === pen.flags && fg === pen.fg && bg === pen.bg) return pen;
  return { flags, fg, bg, key: keyOf(flags, fg, bg) };
}

/** `5;n` or `2;r;g;b` with numbers in range, normalised; undefined when malformed. */
function extended(parts: string[]): string | undefined {
  const nums = parts.map((s) => (s === '' ? 0 : Number(s)));
  if (nums.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) return undefined;
  if (nums[0] === 5 && nums.length === 2) return `5;${nums[1]}`;
  if (nums[0] === 2 && nums.length === 4) return `2;${nums[1]};${nums[2]};${nums[3]}`;
  return undefined;
}

const ASCII: string[] = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

const blankRow = (cols: number, style: string): Row => ({
  chars: new Array<string>(cols).fill(' '),
  styles: new Array<string>(cols).fill(style),
});

export interface ScreenEvents {
  /** The program ended a synchronized update (DEC mode 2026): the screen is a whole frame now. */
  onSyncEnd?(): void;
}

/**
 * A terminal's screen, fed the bytes a program writes. Line feeds also return the carriage (the
 * tty's ONLCR, which Node keeps on in raw mode). The cursor's x may equal `cols`: the last
 * column was written and the next character wraps (as xterm.js keeps it).
 */
export class Screen {
  cols: number;
  rows: number;
  lines: Row[];
  x = 0;
  y = 0;
  cursorVisible = true;
  /** Inside a synchronized update (`ESC [ ? 2026 h` seen, not yet its `l`). */
  synchronized = false;
  /** Sequences that change no cell (modes, titles), in order, for the writer to pass on. */
  passThrough: string[] = [];
  private pen: Pen = DEFAULT_PEN;
  private saved: { x: number; y: number; pen: Pen } | undefined;
  /** The start of an escape sequence cut off at the end of the last write. */
  private partial = '';

  constructor(
    cols: number,
    rows: number,
    private readonly events: ScreenEvents = {},
  ) {
    this.cols = Math.max(1, cols);
    this.rows = Math.max(1, rows);
    this.lines = Array.from({ length: this.rows }, () => blankRow(this.cols, ''));
  }

  /** Everything blank, the cursor home, the pen reset: a terminal just switched to its alternate screen. */
  reset(): void {
    this.lines = Array.from({ length: this.rows }, () => blankRow(this.cols, ''));
    this.x = 0;
    this.y = 0;
    this.pen = DEFAULT_PEN;
    this.partial = '';
  }

  /** A resized terminal keeps what fits, top left; the cursor stays inside. */
  resize(cols: number, rows: number): void {
    cols = Math.max(1, cols);
    rows = Math.max(1, rows);
    if (cols === this.cols && rows === this.rows) return;
    const lines = this.lines.slice(0, rows);
    for (const row of lines) {
      if (cols < this.cols) {
        row.chars.length = cols;
        row.styles.length = cols;
        // A wide character cut in half leaves a blank.
        if (
          row.chars[cols - 1] !== '' &&
          codePointWidth(row.chars[cols - 1]!.codePointAt(0)!) === 2
        )
          row.chars[cols - 1] = ' ';
      } else
        for (let x = this.cols; x < cols; x++) {
          row.chars.push(' ');
          row.styles.push('');
        }
    }
    while (lines.length < rows) lines.push(blankRow(cols, ''));
    this.lines = lines;
    this.cols = cols;
    this.rows = rows;
    this.x = Math.min(this.x, cols - 1);
    this.y = Math.min(this.y, rows - 1);
  }

  write(data: string): void {
    const s = this.partial ? this.partial + data : data;
    this.partial = '';
    const n = s.length;
    let i = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c !== 0x7f) {
        let end = i + 1;
        while (end < n) {
          const d = s.charCodeAt(end);
          if (d < 0x20 || d === 0x7f) break;
          end++;
        }
        // A high surrogate at the very end waits for its other half.
        if (end === n && (s.charCodeAt(n - 1) & 0xfc00) === 0xd800) {
          this.partial = s.slice(n - 1);
          end = n - 1;
        }
        this.print(s, i, end);
        i = end;
        if (this.partial) return;
        continue;
      }
      if (c === 0x1b) {
        const next = this.escape(s, i);
        if (next < 0) {
          this.partial = s.slice(i);
          return;
        }
        i = next;
        continue;
      }
      this.control(c);
      i++;
    }
  }

  private control(c: number): void {
    switch (c) {
      case 0x0a: // LF, and VT and FF as xterm takes them; the tty adds the CR
      case 0x0b:
      case 0x0c:
        this.x = 0;
        this.lineFeed();
        break;
      case 0x0d:
        this.x = 0;
        break;
      case 0x08:
        this.x = Math.min(this.x, this.cols - 1);
        if (this.x > 0) this.x--;
        break;
      case 0x09:
        if (this.x < this.cols) this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8);
        break;
      default: // BEL, NUL, shifts: nothing on screen
    }
  }

  private lineFeed(): void {
    if (this.y < this.rows - 1) this.y++;
    else {
      this.lines.shift();
      this.lines.push(blankRow(this.cols, this.eraseStyle()));
    }
    if (this.x >= this.cols) this.x = this.cols - 1;
  }

  /** Erased cells keep the background colour only (as xterm.js's erase attributes). */
  private eraseStyle(): string {
    return this.pen.bg;
  }

  /** Parses the escape sequence at `i`; returns where the next byte is, or -1 if it is cut off. */
  private escape(s: string, i: number): number {
    const n = s.length;
    if (i + 1 >= n) return -1;
    const kind = s[i + 1]!;
    if (kind === '[') {
      let j = i + 2;
      while (j < n) {
        const c = s.charCodeAt(j);
        if (c >= 0x40 && c <= 0x7e) break;
        j++;
      }
      if (j >= n) return -1;
      this.csi(s.slice(i + 2, j), s[j]!, s.slice(i, j + 1));
      return j + 1;
    }
    if (kind === ']' || kind === 'P' || kind === '_' || kind === '^' || kind === 'X') {
      // A string: up to BEL (OSC only) or ST (ESC \).
      let j = i + 2;
      while (j < n) {
        const c = s.charCodeAt(j);
        if (c === 0x07 && kind === ']') break;
        if (c === 0x1b && j + 1 < n && s[j + 1] === '\\') break;
        if (c === 0x1b && j + 1 >= n) return -1;
        j++;
      }
      if (j >= n) return -1;
      const end = s.charCodeAt(j) === 0x07 ? j + 1 : j + 2;
      // Titles pass on; a hyperlink (OSC 8) would need cells to carry it: dropped, text kept.
      if (kind === ']' && /^[012];/.test(s.slice(i + 2, j))) this.passThrough.push(s.slice(i, end));
      return end;
    }
    if (kind === '(' || kind === ')' || kind === '*' || kind === '+' || kind === '#') {
      return i + 3 <= n ? i + 3 : -1; // charset designation, DEC line attributes: ignored
    }
    switch (kind) {
      case '7':
        this.saveCursor();
        break;
      case '8':
        this.restoreCursor();
        break;
      case 'D':
        this.lineFeed();
        break;
      case 'E':
        this.x = 0;
        this.lineFeed();
        break;
      case 'M':
        if (this.y > 0) this.y--;
        else {
          this.lines.pop();
          this.lines.unshift(blankRow(this.cols, this.eraseStyle()));
        }
        break;
      case 'c':
        this.reset();
        this.passThrough.push(s.slice(i, i + 2));
        break;
      default:
    }
    return i + 2;
  }

  // Long: one flat switch over the CSI final bytes this screen model understands (cursor moves,
  // erases, scroll region, SGR), each case a few lines; split, the table would be harder to check
  // against the terminal's own list.
  private csi(params: string, final: string, whole: string): void {
    const prefix = params.charCodeAt(0);
    if (prefix >= 0x3c && prefix <= 0x3f) {
      // `?` modes, and `>`, `<`, `=` ones (kitty keyboard, ...): none of them moves a cell.
      if (params[0] === '?' && (final === 'h' || final === 'l')) {
        const on = final === 'h';
        const rest: string[] = [];
        for (const mode of params.slice(1).split(';')) {
          if (mode === '25') this.cursorVisible = on;
          else if (mode === '2026') {
            const ended = this.synchronized && !on;
            this.synchronized = on;
            if (ended) this.events.onSyncEnd?.();
          } else if (mode === '1049' || mode === '1047' || mode === '47') {
            // The program switches screens itself: start from a blank one, and pass it on.
            this.reset();
            rest.push(mode);
          } else rest.push(mode);
        }
        if (rest.length) this.passThrough.push(`\x1b[?${rest.join(';')}${final}`);
        return;
      }
      this.passThrough.push(whole);
      return;
    }
    const args = params.split(';');
    const arg = (k: number, fallback: number) => {
      const v = args[k];
      const num = v === undefined || v === '' ? fallback : Number.parseInt(v, 10);
      return Number.isFinite(num) ? num : fallback;
    };
    const count = () => Math.max(1, arg(0, 1));
    switch (final) {
      case 'm':
        this.pen = applySgr(this.pen, params);
        return;
      case 'A':
        this.restrict();
        this.y = Math.max(0, this.y - count());
        return;
      case 'B':
        this.restrict();
        this.y = Math.min(this.rows - 1, this.y + count());
        return;
      case 'C':
        this.restrict();
        this.x = Math.min(this.cols - 1, this.x + count());
        return;
      case 'D':
        this.restrict();
        this.x = Math.max(0, this.x - count());
        return;
      case 'E':
        this.restrict();
        this.y = Math.min(this.rows - 1, this.y + count());
        this.x = 0;
        return;
      case 'F':
        this.restrict();
        this.y = Math.max(0, this.y - count());
        this.x = 0;
        return;
      case 'G':
      case '`':
        this.x = clamp(arg(0, 1) - 1, 0, this.cols - 1);
        this.y = Math.min(this.y, this.rows - 1);
        return;
      case 'd':
        this.y = clamp(arg(0, 1) - 1, 0, this.rows - 1);
        this.x = Math.min(this.x, this.cols - 1);
        return;
      case 'H':
      case 'f':
        this.y = clamp(arg(0, 1) - 1, 0, this.rows - 1);
        this.x = clamp(arg(1, 1) - 1, 0, this.cols - 1);
        return;
      case 'J':
        this.eraseDisplay(arg(0, 0));
        return;
      case 'K':
        this.eraseLine(arg(0, 0));
        return;
      case 'X': {
        this.restrict();
        this.erase(this.y, this.x, Math.min(this.cols, this.x + count()));
        return;
      }
      case 's':
        this.saveCursor();
        return;
      case 'u':
        this.restoreCursor();
        return;
      default:
      // Scroll regions, insert/delete: Ink never sends them; a writer that does is not supported.
    }
  }

  private saveCursor(): void {
    this.saved = { x: this.x, y: this.y, pen: this.pen };
  }

  private restoreCursor(): void {
    if (!this.saved) return;
    this.x = Math.min(this.saved.x, this.cols);
    this.y = Math.min(this.saved.y, this.rows - 1);
    this.pen = this.saved.pen;
  }

  private restrict(): void {
    this.x = Math.min(this.x, this.cols - 1);
  }

  private eraseDisplay(mode: number): void {
    const x = Math.min(this.x, this.cols);
    if (mode === 0) {
      this.erase(this.y, x, this.cols);
      for (let y = this.y + 1; y < this.rows; y++) this.erase(y, 0, this.cols);
    } else if (mode === 1) {
      this.erase(this.y, 0, Math.min(x + 1, this.cols));
      for (let y = 0; y < this.y; y++) this.erase(y, 0, this.cols);
    } else if (mode === 2) {
      for (let y = 0; y < this.rows; y++) this.erase(y, 0, this.cols);
    }
    // 3: the scrollback, which this grid does not hold.
  }

  private eraseLine(mode: number): void {
    const x = Math.min(this.x, this.cols);
    if (mode === 0) this.erase(this.y, x, this.cols);
    else if (mode === 1) this.erase(this.y, 0, Math.min(x + 1, this.cols));
    else if (mode === 2) this.erase(this.y, 0, this.cols);
  }

  /** Blanks [from, to) of a row; a wide character cut at either edge is blanked whole. */
  private erase(y: number, from: number, to: number): void {
    if (from >= to) return;
    const row = this.lines[y]!;
    const style = this.eraseStyle();
    if (from > 0 && row.chars[from] === '') {
      row.chars[from - 1] = ' ';
      row.styles[from - 1] = style;
    }
    if (to < this.cols && row.chars[to] === '') {
      row.chars[to] = ' ';
      row.styles[to] = style;
    }
    row.chars.fill(' ', from, to);
    row.styles.fill(style, from, to);
  }

  /** Prints s[start, end): text with no control characters. */
  private print(s: string, start: number, end: number): void {
    const cols = this.cols;
    const style = this.pen.key;
    let row = this.lines[this.y]!;
    for (let i = start; i < end; i++) {
      let glyph: string;
      let w: 0 | 1 | 2;
      const c = s.charCodeAt(i);
      if (c < 0x7f) {
        glyph = ASCII[c]!;
        w = 1;
      } else {
        const cp = s.codePointAt(i)!;
        if (cp > 0xffff) {
          glyph = s.slice(i, i + 2);
          i++;
        } else glyph = s[i]!;
        if (cp >= 0x80 && cp < 0xa0) continue; // C1 controls: nothing on screen
        w = codePointWidth(cp);
      }
      if (w === 0) {
        // Joins the character before the cursor (its left half when that one is wide).
        if (this.x === 0) continue;
        let px = this.x - 1;
        if (row.chars[px] === '' && px > 0) px--;
        row.chars[px] += glyph;
        continue;
      }
      if (this.x + w > cols) {
        // Wraps: what is left of this row is blanked (a wide character that did not fit).
        for (let x = this.x; x < cols; x++) {
          row.chars[x] = ' ';
          row.styles[x] = style;
        }
        this.x = 0;
        this.lineFeedKeepingX();
        row = this.lines[this.y]!;
      }
      const x = this.x;
      // Overwriting half of a wide character blanks its other half.
      if (x > 0 && row.chars[x] === '') {
        row.chars[x - 1] = ' ';
        row.styles[x - 1] = style;
      }
      if (x + w < cols && row.chars[x + w] === '') {
        row.chars[x + w] = ' ';
        row.styles[x + w] = style;
      }
      row.chars[x] = glyph;
      row.styles[x] = style;
      if (w === 2) {
        row.chars[x + 1] = '';
        row.styles[x + 1] = style;
      }
      this.x = x + w;
    }
  }

  /** An automatic wrap: the next row, scrolling at the bottom, without touching x. */
  private lineFeedKeepingX(): void {
    if (this.y < this.rows - 1) this.y++;
    else {
      this.lines.shift();
      this.lines.push(blankRow(this.cols, this.eraseStyle()));
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
