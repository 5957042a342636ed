/**
 * Open-addressing multimap from a substring key to slots, for entries added to a multi-index table
 * since its last compaction. Linear probing in two parallel typed arrays; several slots may share a
 * key (they sit in the same probe run). Removal leaves a tombstone so runs stay intact; tombstones
 * are dropped when the map grows or the owning table compacts.
 */
export const EMPTY_CELL = -2;
export const DELETED_CELL = -1;

export class OverflowMultimap {
  keys: Uint32Array;
  /** Slot per cell, or EMPTY_CELL / DELETED_CELL. */
  slots: Int32Array;
  mask: number;
  /** Live (key, slot) pairs. */
  size = 0;
  /** Cells not EMPTY (live + tombstones): what the load factor counts. */
  private used = 0;

  constructor(capacity = 16) {
    const cells = 2 ** Math.ceil(Math.log2(Math.max(16, capacity)));
    this.keys = new Uint32Array(cells);
    this.slots = new Int32Array(cells).fill(EMPTY_CELL);
    this.mask = cells - 1;
  }

  /** First cell of `key`'s probe run. */
  home(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 7) & this.mask;
  }

  insert(key: number, slot: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.rehash(this.size * 2 + 2);
    let cell = this.home(key);
    while (this.slots[cell] !== EMPTY_CELL) cell = (cell + 1) & this.mask;
    this.keys[cell] = key;
    this.slots[cell] = slot;
    this.size++;
    this.used++;
  }

  remove(key: number, slot: number): boolean {
    for (let cell = this.home(key); this.slots[cell] !== EMPTY_CELL; cell = (cell + 1) & this.mask) {
      if (this.slots[cell] === slot && this.keys[cell] === key) {
        this.slots[cell] = DELETED_CELL;
        this.size--;
        return true;
      }
    }
    return false;
  }

  /** Calls `visit` with every live slot whose key is `key ^ mask` for one of the masks. */
  visitNeighbours(key: number, masks: Uint32Array, visit: (slot: number) => void): void {
    const { keys, slots, mask } = this;
    for (let m = 0; m < masks.length; m++) {
      const probe = key ^ masks[m]!;
      for (let cell = this.home(probe); slots[cell] !== EMPTY_CELL; cell = (cell + 1) & mask) {
        if (keys[cell] === probe && slots[cell]! >= 0) visit(slots[cell]!);
      }
    }
  }

  clear(): void {
    if (this.used === 0) return;
    const fresh = new OverflowMultimap();
    this.keys = fresh.keys;
    this.slots = fresh.slots;
    this.mask = fresh.mask;
    this.size = 0;
    this.used = 0;
  }

  private rehash(liveCapacity: number): void {
    const { keys, slots } = this;
    const cells = 2 ** Math.ceil(Math.log2(Math.max(16, liveCapacity * 2)));
    this.keys = new Uint32Array(cells);
    this.slots = new Int32Array(cells).fill(EMPTY_CELL);
    this.mask = cells - 1;
    this.size = 0;
    this.used = 0;
    for (let cell = 0; cell < keys.length; cell++) {
      if (slots[cell]! >= 0) this.insert(keys[cell]!, slots[cell]!);
    }
  }
}
