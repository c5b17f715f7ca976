// The NATS link's state as every layer reads it: the adapter (adapters/nats-link.ts) sets it,
// the panes show it. A type only, so that panes need not import the adapter.

export type LinkState = 'off' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface LinkStatus {
  state: LinkState;
  /** Server currently (or last) connected to, without credentials. */
  server?: string;
  rttMs?: number;
  /** Last error, one line, credentials stripped. */
  error?: string;
  since: number;
  reconnects: number;
}
