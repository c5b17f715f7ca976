// Lines from work running behind the screen (the console's auto-throttle runner): the newest
// few, each with its time, for the Actions screen.
import { sanitise } from '../core/errors/sanitise.js';
import { Emitter } from './emitter.js';
import type { Note } from '../core/ui/actions.js';

export type { Note } from '../core/ui/actions.js';

const KEEP = 20;

export class NoteStore {
  private readonly emitter = new Emitter();
  private snapshot: readonly Note[] = [];

  subscribe = (listener: () => void): (() => void) => this.emitter.subscribe(listener);
  getSnapshot = (): readonly Note[] => this.snapshot;

  add = (text: string, at = Date.now()): void => {
    this.snapshot = [{ at, text: sanitise(text) }, ...this.snapshot].slice(0, KEEP);
    this.emitter.emit();
  };
}
