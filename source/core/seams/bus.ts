// The Bus port: what stores need of NATS. Stores were typed against nats.js's NatsConnection;
// they need far less: subscribe to a subject, know whether the connection is gone, and watch one
// KV key. adapters/nats-bus.ts implements it over a connection.
import type { Cancel } from './clock.js';

/** A message's headers: the first value of a name, '' when it has none (as nats.js answers). */
export interface BusHeaders {
  get(name: string): string;
}

export type BusHandler = (
  data: Uint8Array,
  subject: string,
  headers: BusHeaders | undefined,
) => void;

/** One change of a watched KV key. */
export interface KeyChange {
  operation: 'PUT' | 'DEL' | 'PURGE';
  revision: number;
  text(): string;
}

/** The changes of a watched key, the current value first; ends when stopped or the bus closes. */
export interface KeyWatch extends AsyncIterable<KeyChange> {
  stop(): void;
}

export interface Bus {
  /** Every message on `subject` (wildcards allowed) until the returned cancel. */
  subscribe(subject: string, on: BusHandler): Cancel;
  isClosed(): boolean;
  /** Watches `key` of KV bucket `bucket`; undefined when there is no such bucket (none is made). */
  watchKey(bucket: string, key: string): Promise<KeyWatch | undefined>;
}
