// The diff writer (source/terminal/) is exact: after every update, a terminal fed only the cells
// it sent shows, cell for cell (text, width, colours, attributes), what a terminal fed the
// program's whole output shows. Random frames as Ink writes them (clear, then the lines), with
// colours, wide and combining characters, partial updates, scrolling and resizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiffTerminal } from '../../source/terminal/diff-terminal.js';
import { cells, FakeTty, feed, text, vt, type Vt } from '../support/vt.js';
import { MOUSE_OFF } from '../../source/core/ui/mouse.js';

const BSU = '\x1b[?2026h';
const ESU = '\x1b[?2026l';
const CLEAR = '\x1b[2J\x1b[3J\x1b[H';

/** A small deterministic generator (mulberry32): a failure names its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const STYLES = [
  '0',
  '1',
  '2',
  '3',
  '4',
  '7',
  '9',
  '22',
  '24',
  '27',
  '31',
  '32',
  '39',
  '90',
  '44',
  '49',
  '38;5;208',
  '48;5;236',
  '38;2;10;200;30',
  '1;4;33',
  '',
];
const NARROW = ['a', 'b', 'Z', ' ', ' ', '.', '●', '▲', '…', '▁', '█', '›', '·', '░'];
const WIDE = ['界', '日', '本', '😀'];

/** One line of random styled text at most `width` columns wide. */
function line(r: Rng, width: number): string {
  let out = '';
  let used = 0;
  let lastWasBase = false;
  const target = r.next() < 0.2 ? width : r.int(width + 1);
  while (used < target) {
    const roll = r.next();
    if (roll < 0.15) {
      out += `\x1b[${r.pick(STYLES)}m`;
      lastWasBase = false; // xterm.js joins a combining mark only to a character printed just before
      continue;
    }
    if (roll < 0.22 && used + 2 <= target) {
      out += r.pick(WIDE);
      used += 2;
      lastWasBase = true;
    } else if (roll < 0.26 && lastWasBase) {
      out += r.pick(['\u0301', '\u0308']); // combining: joins the character before
    } else {
      out += r.pick(NARROW);
      used += 1;
      lastWasBase = true;
    }
  }
  return out + (r.next() < 0.7 ? '\x1b[0m' : '');
}

/** A whole frame as Ink writes it in full-screen mode: clear, then the lines. */
function frame(r: Rng, cols: number, rows: number): string {
  // Mostly a full screen; sometimes fewer lines, or more (they scroll, as Static output does).
  const count = r.next() < 0.7 ? rows : r.next() < 0.5 ? r.int(rows) + 1 : rows + r.int(3);
  const lines = Array.from({ length: count }, () => line(r, cols));
  return `${BSU}${CLEAR}${lines.join('\n')}${ESU}`;
}

/** A screen of cells that changes a little from one frame to the next, as a console's does. */
class Cells {
  lines: Array<Array<{ glyph: string; style: string }>> = [];
  constructor(
    private readonly r: Rng,
    readonly cols: number,
    readonly rows: number,
  ) {
    for (let y = 0; y < rows; y++) this.lines.push(this.fresh());
  }
  private fresh() {
    const out: Array<{ glyph: string; style: string }> = [];
    let used = 0;
    while (used < this.cols) {
      const wide = this.r.next() < 0.15 && used + 2 <= this.cols;
      out.push({ glyph: this.glyph(wide), style: this.r.next() < 0.7 ? '' : this.r.pick(STYLES) });
      used += wide ? 2 : 1;
    }
    return out;
  }
  private glyph(wide: boolean): string {
    if (wide) return this.r.pick(WIDE);
    const base = this.r.pick(NARROW);
    return this.r.next() < 0.05 ? `${base}\u0301` : base;
  }
  /** A few cells change: text of the same width, or style; sometimes a whole line. */
  change(): void {
    for (let n = this.r.int(8) + 1; n > 0; n--) {
      const row = this.lines[this.r.int(this.rows)]!;
      if (this.r.next() < 0.1) {
        row.splice(0, row.length, ...this.fresh());
        continue;
      }
      const cell = row[this.r.int(row.length)]!;
      if (this.r.next() < 0.6) cell.glyph = this.glyph(WIDE.includes(cell.glyph));
      else cell.style = this.r.pick(STYLES);
    }
  }
  render(): string {
    const lines = this.lines.map((row) => {
      let out = '';
      let style = '';
      for (const cell of row) {
        if (cell.style !== style) out += `\x1b[0;${cell.style}m`;
        style = cell.style;
        out += cell.glyph;
      }
      return `${out}\x1b[0m`;
    });
    return `${BSU}${CLEAR}${lines.join('\n')}${ESU}`;
  }
}

/** A partial update: cursor moves, text, erases, line feeds, as a program may write. */
function partial(r: Rng, cols: number, rows: number): string {
  let out = BSU;
  for (let n = r.int(6) + 1; n > 0; n--) {
    const roll = r.next();
    if (roll < 0.35) out += `\x1b[${r.int(rows) + 1};${r.int(cols) + 1}H${line(r, r.int(cols))}`;
    else if (roll < 0.45) out += `\x1b[${r.pick(['', '0', '1', '2'])}K`;
    else if (roll < 0.5) out += `\x1b[${r.pick(['0', '1'])}J`;
    else if (roll < 0.6) out += `\x1b[${r.int(3) + 1}${r.pick(['A', 'B', 'C', 'D'])}`;
    else if (roll < 0.7) out += `\r${r.pick(['\n', '\n\n', ''])}${line(r, cols)}`;
    else if (roll < 0.8) out += `\x1b[${r.pick(STYLES)}m${r.pick(['\x1b[2K', '\x1b[K', 'x'])}`;
    else if (roll < 0.9)
      out += `\x1b[${rows};${cols}H${r.pick(NARROW)}`; // the last cell
    else out += `\x1b[${r.int(rows) + 1};${cols - 1}H${r.pick(WIDE)}`; // a wide char that wraps
  }
  return out + ESU;
}

interface Rig {
  tty: FakeTty;
  writer: DiffTerminal;
  /** Fed only what the writer sent. */
  diffed: Vt;
  /** Fed everything the program wrote, as a terminal without the writer would be. */
  whole: Vt;
}

async function rig(cols: number, rows: number): Promise<Rig> {
  const tty = new FakeTty(cols, rows);
  const writer = new DiffTerminal(tty);
  writer.enterAlternateScreen();
  const diffed = vt(cols, rows);
  const whole = vt(cols, rows);
  await feed(whole, '\x1b[?1049h\x1b[H\x1b[2J');
  await feed(diffed, tty.take());
  return { tty, writer, diffed, whole };
}

async function write(r: Rig, data: string): Promise<void> {
  r.writer.write(data);
  await feed(r.whole, data);
  await new Promise((resolve) => setImmediate(resolve)); // writes outside a sync block: next task
  await feed(r.diffed, r.tty.take());
}

/** The terminal is resized, then the program hears of it (SIGWINCH), as on a real tty. */
async function resize(r: Rig, cols: number, rows: number): Promise<void> {
  r.diffed.resize(cols, rows);
  r.whole.resize(cols, rows);
  r.tty.columns = cols;
  r.tty.rows = rows;
  r.tty.emit('resize');
  await feed(r.diffed, r.tty.take());
}

function same(r: Rig, what: string): void {
  const a = cells(r.diffed);
  const b = cells(r.whole);
  const differ: string[] = [];
  for (let y = 0; y < b.length; y++)
    for (let x = 0; x < b[y]!.length; x++)
      if (a[y]![x] !== b[y]![x]) differ.push(`(${x},${y}) ${a[y]![x]} != ${b[y]![x]}`);
  assert.deepEqual(differ.slice(0, 8), [], `${what}: the screens differ in ${differ.length} cells`);
}

test('a few frames: the terminal shows exactly the last one, and only changes are sent', async () => {
  const r = await rig(20, 4);
  const lines = ['status \x1b[32m● OK\x1b[39m', '\x1b[1mbold\x1b[22m 界 é', 'x'.repeat(20), 'end'];
  await write(r, `${BSU}${CLEAR}${lines.join('\n')}${ESU}`);
  same(r, 'first frame');
  assert.deepEqual(text(r.diffed), [
    'status ● OK         ',
    'bold 界 é           ',
    'xxxxxxxxxxxxxxxxxxxx',
    'end                 ',
  ]);
  // One cell changes: only it is sent (a cursor move and one character, inside a sync block).
  lines[3] = 'enD';
  r.writer.write(`${BSU}${CLEAR}${lines.join('\n')}${ESU}`);
  const sent = r.tty.take();
  assert.equal(sent, `${BSU}\x1b[4;3HD${ESU}`);
  await feed(r.diffed, sent);
  await feed(r.whole, `${BSU}${CLEAR}${lines.join('\n')}${ESU}`);
  same(r, 'one cell changed');
  // The same frame again sends nothing at all.
  r.writer.write(`${BSU}${CLEAR}${lines.join('\n')}${ESU}`);
  assert.equal(r.tty.take(), '');
});

test('random frames, partial updates and resizes leave the same screen as the whole output', async () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const g = rng(seed);
    let cols = 10 + g.int(50);
    let rows = 3 + g.int(12);
    const r = await rig(cols, rows);
    for (let step = 0; step < 60; step++) {
      const roll = g.next();
      if (roll < 0.1) {
        cols = 10 + g.int(50);
        rows = 3 + g.int(12);
        await resize(r, cols, rows);
        // As Ink does: a whole frame after a resize (until then the screens may differ: xterm
        // keeps what fits its own way, the writer redraws its copy).
        await write(r, frame(g, cols, rows));
      } else if (roll < 0.6) await write(r, frame(g, cols, rows));
      else await write(r, partial(g, cols, rows));
      same(r, `seed ${seed}, step ${step} (${cols}x${rows})`);
    }
  }
});

test('frames that change a few cells at a time, wide characters for wide ones', async () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    const g = rng(seed);
    const screen = new Cells(g, 20 + g.int(60), 3 + g.int(10));
    const r = await rig(screen.cols, screen.rows);
    for (let step = 0; step < 80; step++) {
      screen.change();
      await write(r, screen.render());
      same(r, `seed ${seed}, step ${step} (${screen.cols}x${screen.rows})`);
    }
  }
});

test('a wide character replaced by another: the cursor is known to be past both halves', async () => {
  const r = await rig(30, 2);
  await write(r, `\x1b[?25l${BSU}${CLEAR}界ab.........................x${ESU}`);
  r.writer.write(`${BSU}${CLEAR}日ab.........................y${ESU}`);
  const sent = r.tty.take();
  // One run for the wide character, then a move forward over the unchanged dots.
  assert.equal(sent, `${BSU}\x1b[1H日\x1b[27Cy${ESU}`);
  await feed(r.diffed, sent);
  await feed(r.whole, `${BSU}${CLEAR}日ab.........................y${ESU}`);
  same(r, 'wide replaced');
});

test('writes outside a synchronized block and the cursor: shown once the task ends', async () => {
  const r = await rig(12, 3);
  await write(r, 'hello\x1b[?25l');
  same(r, 'plain text');
  await write(r, '\x1b[2;3Hthere\x1b[?25h');
  same(r, 'cursor shown');
  assert.equal(r.diffed.buffer.active.cursorX, r.whole.buffer.active.cursorX);
  assert.equal(r.diffed.buffer.active.cursorY, r.whole.buffer.active.cursorY);
});

test('leaving the alternate screen sends what is pending, then nothing more', async () => {
  const r = await rig(12, 3);
  r.writer.write('pending');
  r.writer.leaveAlternateScreen();
  const sent = r.tty.take();
  assert.match(sent, /pending/);
  // The alternate screen blanked before it is left (tmux re-wraps its rows after a resize).
  assert.ok(sent.endsWith('\x1b[0m\x1b[H\x1b[2J\x1b[?1049l\x1b[?25h'));
  r.writer.write(`${BSU}more${ESU}`);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(r.tty.take(), '');
});

test('a crash leaves the alternate screen before Node reports it, the mouse off too', async () => {
  const tty = new FakeTty(12, 3);
  const writer = new DiffTerminal(tty);
  writer.enterAlternateScreen({ mouse: true });
  writer.write(`${BSU}a fleet${ESU}`);
  tty.take();
  // What Node does with an uncaught exception before it prints it and exits.
  const crash = (e: Error) => {
    for (const l of process.listeners('uncaughtExceptionMonitor')) l(e, 'uncaughtException');
  };
  crash(new Error('boom'));
  const sent = tty.take();
  assert.ok(sent.endsWith('\x1b[0m\x1b[H\x1b[2J\x1b[?1049l\x1b[?25h'), JSON.stringify(sent));
  assert.ok(sent.includes(MOUSE_OFF));
  // Once: a later crash (or the normal way out) sends nothing more.
  crash(new Error('again'));
  writer.leaveAlternateScreen();
  assert.equal(tty.take(), '');
  assert.equal(process.listenerCount('uncaughtExceptionMonitor'), 0);
});
