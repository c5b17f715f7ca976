// The cross-bus dedup window as typed arrays: a ring of entries (struct of arrays) and two
// open-addressing indexes, by id and by content, keyed by 64-bit fingerprints. At flood rates
// every message made an Entry object, its ids array and map slots that lived the window's 5 s:
// long enough to be promoted to V8's old generation and die there (RSS peaked ~310 MB in
// bench/rss-errors.ts with 173 MB of heap before a major GC, 46 MB after), and each lookup
// chased cold pointers. Here a message writes a few numbers into arrays allocated once.
//
// A fingerprint is two 32-bit hashes of the string (an FNV-1a-like lane with a shift and a
// multiply-rotate lane, two characters a step, each finished by murmur3's fmix32), and the window
// keeps the fingerprints, not the strings. Two different strings match falsely only if both halves
// collide: with n keys in the window, one lookup's chance is about n / 2^64. At the most the
// default window holds (139,810 entries of at most 3 ids: 420,000 keys) that is 2.3e-14 a lookup:
// at 20,000 messages/s of 3 ids each, 5.2e9 lookups a day, one false twin in ~8,000 days (22 years)
// of continuous flood. Content keys are fewer (one an entry). Measured once (not a test: seconds):
// a million ids (sequential, UUIDs, hex) gave the ~116 collisions of each 32-bit half that chance
// predicts, and none of both; the test 'fingerprints' checks 120,000 strings.

/** The fingerprint of the last string(s) hashed: [h1, h2]. A scratch, not a result to keep. */
export const fp = new Int32Array(2);

let a = 0;
let b = 0;

// Two characters a step: the chain of multiplies is what a step costs, and a string of 20-70
// characters took ~5 ns a character one at a time. A shift brings each product's high bits down
// (a multiply only carries bits up), so the second character's bits reach the whole word.
function mix(s: string): void {
  let x = a;
  let y = b;
  const end = s.length - 1;
  let i = 0;
  for (; i < end; i += 2) {
    const w = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    x = Math.imul(x ^ w, 0x01000193);
    x ^= x >>> 15;
    y = Math.imul(y + w, 0x5bd1e995);
    y = (y << 13) | (y >>> 19);
  }
  if (i === end) {
    const c = s.charCodeAt(i);
    x = Math.imul(x ^ c, 0x01000193);
    x ^= x >>> 15;
    y = Math.imul(y + c, 0x5bd1e995);
    y = (y << 13) | (y >>> 19);
  }
  a = x;
  b = y;
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Fingerprints one id into `fp`. */
export function hashId(s: string): void {
  a = 0x811c9dc5;
  b = 0x9747b28c;
  mix(s);
  fp[0] = fmix(a ^ s.length);
  fp[1] = fmix(b ^ Math.imul(s.length, 0x27d4eb2f));
}

/** Fingerprints an (agent, message) pair into `fp`; the agent's length keeps "ab|c" from "a|bc". */
export function hashText(agent: string, message: string): void {
  a = 0x3c6ef372;
  b = 0x1b873593;
  mix(agent);
  a = Math.imul(a ^ agent.length, 0x01000193);
  b = Math.imul(b + agent.length + 0x9e37, 0x5bd1e995);
  mix(message);
  fp[0] = fmix(a ^ message.length);
  fp[1] = fmix(b ^ Math.imul(message.length, 0x27d4eb2f));
}

/** Copies a ring array (`per` numbers a slot) into `to` in its new order, and returns `to`. */
type Reorder = <T extends Float64Array | Int32Array | Uint8Array>(
  from: T,
  to: T,
  per?: number,
) => T;

/** Ids kept in an entry's own slots; more (never from the decoder, which takes three) go aside. */
const IDS = 3;

/**
 * What an entry may cost at the most, whatever its ids' lengths (only their fingerprints are
 * kept): its ring slot (row id and time 8 + 8, buses and id count 1 + 1, 3 id fingerprints 24,
 * content fingerprint 8: 50), and its index slots, 8 bytes each (hash and reference), at most
 * 4 a key (an index doubles at half full, so just after doubling it is a quarter full): 3 ids
 * 96, content 32. A byte cap is therefore an entry cap, and the window a fixed-capacity ring.
 */
export const ENTRY_BYTES = 178;

/** The most entries a window may be given (its arrays grow to it by doubling, as it fills). */
const MAX_CAPACITY = 2 ** 26;
const FIRST_SLOTS = 1024;
const FIRST_INDEX = 2048;

export class DedupWindow {
  /** The most entries it holds: the caller evicts the oldest before adding past it. */
  readonly capacity: number;
  size = 0;
  /** Slots allocated (grows to capacity). */
  private slots = 0;
  /** The oldest entry's slot. */
  private head = 0;
  rowId = new Float64Array(0);
  at = new Float64Array(0);
  /** Sources seen, as bits. */
  buses = new Uint8Array(0);
  /** How many ids the entry is filed under (0: id-less). */
  idCount = new Uint8Array(0);
  private idH1 = new Int32Array(0);
  private idH2 = new Int32Array(0);
  private textH1 = new Int32Array(0);
  private textH2 = new Int32Array(0);
  /** Fingerprints (pairs) of ids past the third, by slot: only for events built by hand. */
  private readonly extra = new Map<number, number[]>();
  /** By id: pairs of (h1, ref); ref = slot * 4 + k + 1 (k: which id, 3 for one aside), 0 empty. */
  private ids = new Int32Array(2 * FIRST_INDEX);
  private idKeys = 0;
  /** By content: pairs of (h1, slot + 1), the newest entry with that content; 0 empty. */
  private texts = new Int32Array(2 * FIRST_INDEX);
  private textKeys = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.min(MAX_CAPACITY, Math.floor(capacity)));
  }

  /** Keys filed by id and by content (tests read them). */
  get keys(): { ids: number; texts: number } {
    return { ids: this.idKeys, texts: this.textKeys };
  }

  /** The oldest entry's slot (size > 0). */
  get oldest(): number {
    return this.head;
  }

  /** The slot of the entry filed under this id fingerprint, or -1. */
  findId(h1: number, h2: number): number {
    const t = this.ids;
    const mask = (t.length >> 1) - 1;
    for (let p = h1 & mask; ; p = (p + 1) & mask) {
      const ref = t[2 * p + 1]!;
      if (ref === 0) return -1;
      if (t[2 * p] === h1) {
        const slot = (ref - 1) >> 2;
        const k = (ref - 1) & 3;
        if (k < IDS ? this.idH2[slot * IDS + k] === h2 : this.asideHas(slot, h1, h2)) return slot;
      }
    }
  }

  /** The slot of the newest entry with this content fingerprint, or -1. */
  findText(h1: number, h2: number): number {
    const t = this.texts;
    const mask = (t.length >> 1) - 1;
    for (let p = h1 & mask; ; p = (p + 1) & mask) {
      const ref = t[2 * p + 1]!;
      if (ref === 0) return -1;
      if (t[2 * p] === h1 && this.textH2[ref - 1] === h2) return ref - 1;
    }
  }

  /**
   * A new entry, newest, filed under its content (replacing an older entry's filing, as the
   * newest with that content); ids are added with addId. The caller keeps size < capacity.
   */
  push(rowId: number, buses: number, at: number, t1: number, t2: number): number {
    if (this.size === this.slots) this.grow();
    let slot = this.head + this.size;
    if (slot >= this.slots) slot -= this.slots;
    this.size++;
    this.rowId[slot] = rowId;
    this.buses[slot] = buses;
    this.at[slot] = at;
    this.idCount[slot] = 0;
    this.textH1[slot] = t1;
    this.textH2[slot] = t2;
    this.fileText(slot);
    return slot;
  }

  /** Files an entry under its content, in place of an older entry's filing if any. */
  private fileText(slot: number): void {
    const t1 = this.textH1[slot]!;
    const t2 = this.textH2[slot]!;
    const t = this.texts;
    const mask = (t.length >> 1) - 1;
    let p = t1 & mask;
    for (; ; p = (p + 1) & mask) {
      const ref = t[2 * p + 1]!;
      if (ref === 0) break;
      if (t[2 * p] === t1 && this.textH2[ref - 1] === t2) {
        t[2 * p + 1] = slot + 1;
        return;
      }
    }
    t[2 * p] = t1;
    t[2 * p + 1] = slot + 1;
    if (++this.textKeys * 2 > mask + 1) this.texts = rehash(t, 2);
  }

  /** Files an entry under one more id (the caller knows no entry has it). */
  addId(slot: number, h1: number, h2: number): void {
    const k = this.idCount[slot]!;
    if (k < IDS) {
      this.idH1[slot * IDS + k] = h1;
      this.idH2[slot * IDS + k] = h2;
    } else {
      const aside = this.extra.get(slot);
      if (aside) aside.push(h1, h2);
      else this.extra.set(slot, [h1, h2]);
    }
    // An id-less entry's count stays 0 until it learns ids: past 255 ids it only needs to stay
    // non-zero, so it stops counting there (the ones aside are in `extra`).
    if (k < 255) this.idCount[slot] = k + 1;
    place(this.ids, h1, slot * 4 + Math.min(k, IDS) + 1);
    if (++this.idKeys * 4 > this.ids.length) this.ids = rehash(this.ids, 2);
  }

  /** Unfiles the oldest entry and lets its slot go; its fields stay readable until the next push. */
  shift(): number {
    const slot = this.head;
    const n = this.idCount[slot]!;
    for (let k = 0; k < n && k < IDS; k++) {
      if (remove(this.ids, this.idH1[slot * IDS + k]!, slot * 4 + k + 1)) this.idKeys--;
    }
    if (n > IDS) {
      const aside = this.extra.get(slot)!;
      for (let i = 0; i < aside.length; i += 2)
        if (remove(this.ids, aside[i]!, slot * 4 + IDS + 1)) this.idKeys--;
      this.extra.delete(slot);
    }
    if (remove(this.texts, this.textH1[slot]!, slot + 1)) this.textKeys--;
    this.head = slot + 1 === this.slots ? 0 : slot + 1;
    this.size--;
    return slot;
  }

  /**
   * After a flood, when the window is an eighth full: the ring goes back to a quarter of its size
   * and its indexes are built again for the keys left, so a trickle after a flood does not keep
   * the flood's arrays (~19 MB at the default cap). The caller calls it after entries left.
   */
  trim(): void {
    if (this.slots <= FIRST_SLOTS || this.size >= this.slots >> 3) return;
    const old = this.slots;
    const next = Math.max(FIRST_SLOTS, old >> 2);
    const head = this.head;
    const n = this.size;
    const first = Math.min(n, old - head); // entries from head to the end, the rest from 0
    const order = <T extends Float64Array | Int32Array | Uint8Array>(
      from: T,
      to: T,
      per = 1,
    ): T => {
      to.set(from.subarray(head * per, (head + first) * per), 0);
      to.set(from.subarray(0, (n - first) * per), first * per);
      return to;
    };
    this.reorder(next, order);
    if (this.extra.size > 0) {
      const aside = [...this.extra];
      this.extra.clear();
      for (const [slot, list] of aside)
        this.extra.set(slot >= head ? slot - head : slot + old - head, list);
    }
    this.head = 0;
    this.slots = next;
    // The indexes again, oldest first: content is filed under its newest entry, as push does.
    this.ids = new Int32Array(indexFor(this.idKeys));
    this.texts = new Int32Array(indexFor(this.textKeys));
    this.textKeys = 0;
    for (let slot = 0; slot < n; slot++) {
      const count = this.idCount[slot]!;
      for (let k = 0; k < count && k < IDS; k++)
        place(this.ids, this.idH1[slot * IDS + k]!, slot * 4 + k + 1);
      const aside = count > IDS ? this.extra.get(slot)! : undefined;
      if (aside)
        for (let i = 0; i < aside.length; i += 2) place(this.ids, aside[i]!, slot * 4 + IDS + 1);
      this.fileText(slot);
    }
  }

  /** Every ring array copied by `order` into a new one of `next` slots (grow and shrink). */
  private reorder(next: number, order: Reorder): void {
    this.rowId = order(this.rowId, new Float64Array(next));
    this.at = order(this.at, new Float64Array(next));
    this.buses = order(this.buses, new Uint8Array(next));
    this.idCount = order(this.idCount, new Uint8Array(next));
    this.idH1 = order(this.idH1, new Int32Array(next * IDS), IDS);
    this.idH2 = order(this.idH2, new Int32Array(next * IDS), IDS);
    this.textH1 = order(this.textH1, new Int32Array(next));
    this.textH2 = order(this.textH2, new Int32Array(next));
  }

  private asideHas(slot: number, h1: number, h2: number): boolean {
    const aside = this.extra.get(slot);
    if (!aside) return false;
    for (let i = 0; i < aside.length; i += 2)
      if (aside[i] === h1 && aside[i + 1] === h2) return true;
    return false;
  }

  /** Doubles the ring (up to capacity), oldest first from slot 0, and renumbers the indexes. */
  private grow(): void {
    const old = this.slots;
    const next = Math.min(this.capacity, Math.max(FIRST_SLOTS, old * 2));
    const head = this.head;
    const order = <T extends Float64Array | Int32Array | Uint8Array>(
      from: T,
      to: T,
      per = 1,
    ): T => {
      // Entries head..end, then 0..head: the ring is full when it grows.
      to.set(from.subarray(head * per, old * per), 0);
      to.set(from.subarray(0, head * per), (old - head) * per);
      return to;
    };
    this.reorder(next, order);
    if (old > 0 && head > 0) {
      const moved = (slot: number): number => (slot >= head ? slot - head : slot + old - head);
      const ids = this.ids;
      for (let p = 1; p < ids.length; p += 2) {
        const ref = ids[p]!;
        if (ref !== 0) ids[p] = moved((ref - 1) >> 2) * 4 + ((ref - 1) & 3) + 1;
      }
      const texts = this.texts;
      for (let p = 1; p < texts.length; p += 2) {
        const ref = texts[p]!;
        if (ref !== 0) texts[p] = moved(ref - 1) + 1;
      }
      if (this.extra.size > 0) {
        const aside = [...this.extra];
        this.extra.clear();
        for (const [slot, list] of aside) this.extra.set(moved(slot), list);
      }
    }
    this.head = 0;
    this.slots = next;
  }
}

/** Puts a key in the first free place from its home (linear probing). */
function place(t: Int32Array, h1: number, ref: number): void {
  const mask = (t.length >> 1) - 1;
  let p = h1 & mask;
  while (t[2 * p + 1] !== 0) p = (p + 1) & mask;
  t[2 * p] = h1;
  t[2 * p + 1] = ref;
}

/** An index twice the size, its keys placed again (a key's place depends on its h1 only). */
function rehash(t: Int32Array, factor: number): Int32Array<ArrayBuffer> {
  const to = new Int32Array(t.length * factor);
  for (let i = 0; i < t.length; i += 2) if (t[i + 1] !== 0) place(to, t[i]!, t[i + 1]!);
  return to;
}

/** Pairs an index of this many keys starts at: a quarter full (it doubles at half). */
const indexFor = (keys: number): number =>
  2 * Math.max(FIRST_INDEX, 2 ** Math.ceil(Math.log2(4 * keys)));

/**
 * Removes the key with this reference (found from its h1's place), shifting the run after it
 * back so that no probe stops short (linear probing without tombstones). False if absent (the
 * content was filed since under a newer entry).
 */
function remove(t: Int32Array, h1: number, ref: number): boolean {
  const mask = (t.length >> 1) - 1;
  let i = h1 & mask;
  for (; ; i = (i + 1) & mask) {
    const r = t[2 * i + 1]!;
    if (r === 0) return false;
    if (r === ref && t[2 * i] === h1) break;
  }
  for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
    const r = t[2 * j + 1]!;
    if (r === 0) break;
    const home = t[2 * j]! & mask;
    // The key at j may fill the hole at i unless its home lies after i, up to j (cyclically).
    if (((j - home) & mask) < ((j - i) & mask)) continue;
    t[2 * i] = t[2 * j]!;
    t[2 * i + 1] = r;
    i = j;
  }
  t[2 * i] = 0;
  t[2 * i + 1] = 0;
  return true;
}
