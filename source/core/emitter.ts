// The listener set every store uses for useSyncExternalStore's subscribe(), and the NATS link,
// an adapter that is also a store. Pure: a set of callbacks.

export class Emitter {
  private listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    for (const listener of [...this.listeners]) listener();
  }

  close(): void {
    this.listeners.clear();
  }

  get size(): number {
    return this.listeners.size;
  }
}
