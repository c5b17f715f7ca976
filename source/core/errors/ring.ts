// A fixed-capacity ring: O(1) push, the oldest entry leaves when full.

export class Ring<T> {
  private readonly items: (T | undefined)[];
  private head = 0; // next write position
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds an item; returns the one it pushed out, if the ring was full. */
  push(item: T): T | undefined {
    const evicted = this.count === this.capacity ? this.items[this.head] : undefined;
    this.items[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    return evicted;
  }

  /** Newest first, at most `limit` items. */
  newest(limit = this.count): T[] {
    const n = Math.min(limit, this.count);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++)
      out[i] = this.items[(this.head - 1 - i + this.capacity * 2) % this.capacity] as T;
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
