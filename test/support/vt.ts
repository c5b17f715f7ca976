// A headless terminal (xterm.js) for checking what a stream of bytes leaves on screen, cell by
// cell: text, width and every attribute. Widths are string-width's, as Ink lays out with them
// (xterm.js's own table is Unicode 6, where emoji are one column).
import { EventEmitter } from 'node:events';
import xterm from '@xterm/headless';
import stringWidth from 'string-width';

export type Vt = InstanceType<typeof xterm.Terminal>;

const widthOf = (cp: number): 0 | 1 | 2 =>
  cp >= 0x20 && cp < 0x7f ? 1 : (Math.min(2, stringWidth(String.fromCodePoint(cp))) as 0 | 1 | 2);

export function vt(cols: number, rows: number): Vt {
  const term = new xterm.Terminal({ cols, rows, allowProposedApi: true, convertEol: true });
  term.unicode.register({
    version: 'string-width',
    wcwidth: widthOf,
    // As xterm.js's own providers: a zero-width code point joins the cell before it.
    charProperties(cp: number, preceding: number): number {
      let width: number = widthOf(cp);
      let join = width === 0 && preceding !== 0;
      if (join) {
        const before = (preceding >> 1) & 3;
        if (before === 0) join = false;
        else if (before > width) width = before;
      }
      return ((width & 3) << 1) | (join ? 1 : 0);
    },
  });
  term.unicode.activeVersion = 'string-width';
  return term;
}

export const feed = (term: Vt, data: string) =>
  new Promise<void>((resolve) => term.write(data, resolve));

/** Every cell as text, row by row: a blank (never written, or erased) reads as a space. */
export function cells(term: Vt): string[][] {
  const buffer = term.buffer.active;
  const out: string[][] = [];
  const cell = buffer.getNullCell();
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y)!;
    const row: string[] = [];
    for (let x = 0; x < term.cols; x++) {
      line.getCell(x, cell);
      const flags = [
        cell.isBold(),
        cell.isDim(),
        cell.isItalic(),
        cell.isUnderline(),
        cell.isBlink(),
        cell.isInverse(),
        cell.isInvisible(),
        cell.isStrikethrough(),
        cell.isOverline(),
      ]
        .map((f) => (f ? 1 : 0))
        .join('');
      row.push(
        `${cell.getChars() || ' '}/${cell.getWidth()}/${cell.getFgColorMode()}:${cell.getFgColor()}/${cell.getBgColorMode()}:${cell.getBgColor()}/${flags}`,
      );
    }
    out.push(row);
  }
  return out;
}

/** The screen's text, one string per row, trailing blanks kept. */
export function text(term: Vt): string[] {
  const buffer = term.buffer.active;
  return Array.from({ length: term.rows }, (_, y) =>
    buffer.getLine(buffer.viewportY + y)!.translateToString(false),
  );
}

/** A tty as the writer sees it: a size, resize events, and the bytes written. */
export class FakeTty extends EventEmitter {
  chunks: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write(data: string): boolean {
    this.chunks.push(data);
    return true;
  }
  take(): string {
    const all = this.chunks.join('');
    this.chunks = [];
    return all;
  }
}
