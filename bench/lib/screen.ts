// What a PTY shows, kept by a headless terminal (xterm.js) fed everything the program wrote: the
// console writes only changed cells, so its raw output is no longer a picture of the screen.
import xterm from '@xterm/headless';
import type { Pty } from './pty.js';

/** What the PTY shows, kept by a headless terminal; `seen` resolves once `ok` holds after a chunk. */
export class Screen {
  private readonly term: xterm.Terminal;
  private waiting: { ok: () => boolean; done: (at: number) => void } | undefined;

  constructor(
    pty: Pty,
    private readonly rows = 60,
    cols = 200,
  ) {
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true });
    pty.onChunk((chunk, at) =>
      this.term.write(chunk, () => {
        if (this.waiting?.ok()) {
          const w = this.waiting;
          this.waiting = undefined;
          w.done(at);
        }
      }),
    );
  }

  /** The row of the focused pane's cursor marker (column 1), or -1. */
  markerRow(): number {
    const buffer = this.term.buffer.active;
    for (let y = 0; y < this.rows; y++)
      if (
        buffer
          .getLine(buffer.viewportY + y)
          ?.getCell(1)
          ?.getChars() === '›'
      )
        return y;
    return -1;
  }

  text(): string {
    const buffer = this.term.buffer.active;
    return Array.from({ length: this.rows }, (_, y) =>
      buffer.getLine(buffer.viewportY + y)!.translateToString(true),
    ).join('\n');
  }

  /** When the chunk arrived after which `ok` held (performance.now()), or undefined on time-out. */
  seen(ok: () => boolean, timeoutMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiting = {
        ok,
        done: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
    });
  }
}
