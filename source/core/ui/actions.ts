// The console's actions as the UI sees them: the catalog (console.tsx builds it from
// actions/catalog.ts, the App and the Actions screen read it), its entries, and the lines work
// left running writes. Types only, in core so that actions/, app.tsx and screens/ share them
// without importing each other.
import type { Action } from '../action.js';
import type { Readable } from '../readable.js';
import type { LifecycleVerb } from '../fleet/lifecycle.js';

export interface Note {
  at: number;
  text: string;
}

export interface ActionEntry {
  id: string;
  title: string;
  what: string;
  /** Why it cannot run here now (no NATS, no file), if so. */
  unavailable?: string;
}

export interface ActionCatalog {
  entries: readonly ActionEntry[];
  make(id: string): Action | undefined;
  /** Lines from what actions left running (the auto-throttle runner), newest first. */
  notes?: Readable<readonly Note[]>;
  /** Stops what actions left running; called when the console quits. */
  close?(): void;
  /** Restart / stop / start of one agent (`machine/Agent`), or undefined when it cannot run. */
  agent?(verb: LifecycleVerb, key: string): Action | undefined;
  /** Why agent actions cannot run here (no NATS), shown on their rows. */
  agentUnavailable?: string;
}
