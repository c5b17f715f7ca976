// The stdout (and stderr) Ink draws into: it keeps what Ink's output would show (screen.ts) and
// sends the real terminal only the cells that changed since the last update (paint.ts), each
// update inside a synchronized-output block (DEC mode 2026) so that no terminal ever shows half
// of one. Ink redraws its whole frame on every render (clear, then every line: ~80 KB/s at
// 200x60 on an idle fleet); what reaches the terminal now is what the operator can see change.
//
// An update is sent when Ink ends its own synchronized block (it wraps each frame in one on a
// TTY), or, for writes outside one, once the current task is done. A resize forgets what the
// terminal shows (terminals differ in what they keep) and redraws all of it.
import { Writable } from 'node:stream';
import { Painter } from './paint.js';
import { Screen } from './screen.js';
import { MOUSE_OFF, MOUSE_ON } from '../core/ui/mouse.js';

const BSU = '\x1b[?2026h';
const ESU = '\x1b[?2026l';

/** The part of a tty WriteStream this writer needs. */
export interface TerminalOut {
  columns?: number;
  rows?: number;
  write(data: string): unknown;
  on(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
}

export class DiffTerminal extends Writable {
  readonly isTTY = true;
  private readonly screen: Screen;
  private readonly painter = new Painter();
  private scheduled = false;
  private left = false;

  constructor(private readonly out: TerminalOut) {
    super({ decodeStrings: false });
    this.screen = new Screen(out.columns || 80, out.rows || 24, {
      onSyncEnd: () => this.flush(),
    });
    out.on('resize', this.onResize);
  }

  get columns(): number {
    return this.out.columns || this.screen.cols;
  }

  get rows(): number {
    return this.out.rows || this.screen.rows;
  }

  override _write(
    chunk: string | Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.screen.write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (!this.screen.synchronized && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        if (!this.screen.synchronized) this.flush();
      });
    }
    done();
  }

  /** Sends what changed since the last update, if anything did. */
  flush(): void {
    if (this.left) return;
    const body = this.painter.paint(this.screen);
    if (body) this.send(BSU + body + ESU);
  }

  /**
   * Switches the terminal to its alternate screen, blank, and starts drawing there; with `mouse`,
   * asks for wheel and button reports (switched off again however the process ends).
   */
  enterAlternateScreen(o: { mouse?: boolean } = {}): void {
    this.send('\x1b[?1049h\x1b[0m\x1b[H\x1b[2J');
    process.once('uncaughtExceptionMonitor', this.onCrash);
    if (o.mouse) {
      this.send(MOUSE_ON);
      this.mouse = true;
      process.once('exit', this.mouseOff);
    }
    this.screen.reset();
    this.painter.cleared(this.screen.cols, this.screen.rows);
  }

  /**
   * Sends what is pending, blanks the alternate screen, leaves it and shows the cursor; writes
   * nothing more.
   */
  leaveAlternateScreen(): void {
    if (this.left) return;
    this.flush();
    this.mouseOff();
    // Blank first: tmux from 3.2 (seen on 3.3a; tmux issue #3510), when the window was resized while the
    // alternate screen was on, re-wraps the alternate screen's rows to the size it was entered at
    // before restoring the main screen; rows wider than that spill over and are pulled back into
    // view above the shell's lines (a 120x40 console resized to 200x60 left 20 of its rows on
    // the main screen). Blank rows wrap to nothing.
    this.send('\x1b[0m\x1b[H\x1b[2J\x1b[?1049l\x1b[?25h');
    this.left = true;
    this.out.off('resize', this.onResize);
    process.off('uncaughtExceptionMonitor', this.onCrash);
  }

  // A crash left the last frame on the alternate screen: a fleet that looked alive, over a dead
  // console, and Node's report of the error written over it. Node calls this before it prints
  // the error, so the report lands on the shell's screen, below what was there before.
  private readonly onCrash = () => {
    if (!this.left) this.leaveAlternateScreen();
  };

  private mouse = false;
  // A crash must not leave the shell receiving mouse reports as typed text.
  private readonly mouseOff = () => {
    if (!this.mouse) return;
    this.mouse = false;
    process.off('exit', this.mouseOff);
    this.send(MOUSE_OFF);
  };

  private send(data: string): void {
    this.out.write(data);
  }

  private readonly onResize = () => {
    this.screen.resize(this.columns, this.rows);
    this.painter.invalidate();
    this.emit('resize');
    // Ink redraws in its resize handler (inside it, the update is sent); if it drew nothing
    // new, what it showed before is drawn again on the cleared terminal.
    this.flush();
  };
}
