// Lines from work running behind the screen (the console's auto-throttle runner): the newest
// few, each with its time, for the Actions screen.
import { sanitise } from '../core/errors/sanitise.js';
import { Store } from './store.js';
import type { Note } from '../core/ui/actions.js';

export type { Note } from '../core/ui/actions.js';

const KEEP = 20;

export class NoteStore extends Store<readonly Note[]> {
  constructor() {
    super([]);
  }

  add = (text: string, at = this.clock.now()): void => {
    this.publish([{ at, text: sanitise(text) }, ...this.snapshot].slice(0, KEEP));
  };
}
