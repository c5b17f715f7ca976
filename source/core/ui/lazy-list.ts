// A read-only list whose items are made when read. The panes the keys move through list every
// row's key, and the error pane has the whole buffer (5,000 rows): rebuilding those lists on
// every error notification cost ~1 ms of a ~7 ms frame, while a key reads a row or two of them.

/** `length` items, item `i` being `at(i)` when it is read (every read: keep `at` cheap). */
export function lazyList<T>(length: number, at: (i: number) => T): readonly T[] {
  const index = (p: string | symbol): number | undefined => {
    if (typeof p !== 'string') return undefined;
    const i = Number(p);
    return Number.isInteger(i) && i >= 0 && i < length && String(i) === p ? i : undefined;
  };
  // The target is an empty array (not frozen: a proxy may not report another length for a
  // frozen one). Array methods (indexOf, includes, slice, spread) read the list through length
  // and the index traps, as they read any array-like.
  return new Proxy<T[]>([], {
    get(target, p, receiver) {
      if (p === 'length') return length;
      const i = index(p);
      return i === undefined ? (Reflect.get(target, p, receiver) as unknown) : at(i);
    },
    has(target, p) {
      return index(p) !== undefined || Reflect.has(target, p);
    },
  });
}
