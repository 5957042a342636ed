/**
 * Open-addressing multimap from a substring key to slots, for entries added to a multi-index table
 * since its last compaction. Linear probing over two parallel typed arrays, `keys` and `cells`:
 * a key's first few slots (up to INLINE_PER_KEY) sit in cells of their own in the key's probe run;
 * any more go to one group cell for the key, which points at an open-addressing set of slots
 * (probed by slot) in a shared pool. Removal leaves a tombstone where a probe run goes on past
 * the cell; tombstones are dropped when the map grows or the owning table compacts.
 *
 * Why the cap: many entries may share a key (copies of one image, near-blank frames). With a cell
 * per slot and no cap, the copies filled one long probe run: every insert walked past all earlier
 * copies and every removal searched them (a batch of n copies cost O(n^2), seconds of a blocked
 * event loop at 20,000 copies), and any probe landing in that run walked it too. With the cap a
 * run holds at most INLINE_PER_KEY + 1 cells per key, so insert and remove are O(1) expected
 * however many slots share a key; keys with a few slots, the usual case, never use a group.
 */
const EMPTY = -1;
const DELETED = -2;
/** cells[cell] <= GROUP_BASE: the key's further slots are in the group at pool offset GROUP_BASE - cell. */
const GROUP_BASE = -3;
/** Cells a key takes in its probe run before further slots go to its group. */
const INLINE_PER_KEY = 4;
/** A group's header words before its cells: capacity, live slots, cells not EMPTY. */
const GROUP_HEADER = 3;
const MIN_GROUP_CELLS = 16;

/** Fibonacci hashing: the top log2(cells) bits of key x 2^32/phi, for `shift` = shiftFor(cells). */
function homeCell(key: number, shift: number): number {
  return Math.imul(key, 0x9e3779b1) >>> shift;
}

/** 32 - log2(cells), for a power of two from 2 to 2^31. */
function shiftFor(cells: number): number {
  return Math.clz32(cells) + 1;
}

/** Cells for a group of `live` slots: at most half full. */
function groupCellsFor(live: number): number {
  return Math.max(MIN_GROUP_CELLS, 2 ** Math.ceil(Math.log2(live * 2)));
}

export class OverflowMultimap {
  private keys: Uint32Array;
  /** Per cell: a slot (>= 0), EMPTY, DELETED, or the key's group (<= GROUP_BASE). */
  private cells: Int32Array;
  /** Live (key, slot) pairs. */
  size = 0;
  /**
   * Cells examined by insert and remove since creation (directory and groups): stays a small
   * multiple of the changes made, however many slots share a key (tests check it, not timings).
   */
  probes = 0;
  /** Cells not EMPTY (live + tombstones): what the load factor counts. */
  private used = 0;
  /** Live cells: slots and group cells. */
  private live = 0;
  private pool = new Int32Array(0);
  private poolEnd = 0;
  /** Freed group blocks by log2 of their capacity, reused before the pool grows. */
  private readonly freeGroups: number[][] = [];

  constructor(capacity = 16) {
    const cells = 2 ** Math.ceil(Math.log2(Math.max(16, capacity)));
    this.keys = new Uint32Array(cells);
    this.cells = new Int32Array(cells).fill(EMPTY);
  }

  /** Adds `slot` under `key`; the caller never adds a slot the map already holds. */
  insert(key: number, slot: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.rehash(this.live + 1);
    const { keys, cells } = this;
    const mask = cells.length - 1;
    let reusable = -1;
    let copies = 0;
    let probes = 0;
    let cell = homeCell(key, shiftFor(cells.length));
    for (let held = cells[cell]!; held !== EMPTY; cell = (cell + 1) & mask, held = cells[cell]!) {
      probes++;
      if (held === DELETED) {
        if (reusable < 0) reusable = cell;
      } else if (keys[cell] === key) {
        if (held <= GROUP_BASE) {
          this.probes += probes;
          cells[cell] = GROUP_BASE - this.groupInsert(GROUP_BASE - held, slot);
          this.size++;
          return;
        }
        copies++;
      }
    }
    this.probes += probes;
    if (reusable >= 0) cell = reusable;
    else this.used++;
    keys[cell] = key;
    cells[cell] = copies < INLINE_PER_KEY ? slot : GROUP_BASE - this.groupInsert(this.allocateGroup(MIN_GROUP_CELLS), slot);
    this.live++;
    this.size++;
  }

  remove(key: number, slot: number): boolean {
    const { keys, cells } = this;
    const mask = cells.length - 1;
    let probes = 0;
    for (let cell = homeCell(key, shiftFor(cells.length)); cells[cell] !== EMPTY; cell = (cell + 1) & mask) {
      probes++;
      const held = cells[cell]!;
      if (held === slot) {
        if (keys[cell] !== key) continue;
        this.dropCell(cell);
      } else if (held <= GROUP_BASE && keys[cell] === key && this.groupRemove(GROUP_BASE - held, slot)) {
        const group = this.shrunk(GROUP_BASE - held);
        if (group < 0) this.dropCell(cell);
        else cells[cell] = GROUP_BASE - group;
      } else {
        continue;
      }
      this.probes += probes;
      this.size--;
      return true;
    }
    this.probes += probes;
    return false;
  }

  /** Calls `visit` with every live slot whose key is `key ^ mask` for one of the masks. */
  visitNeighbours(key: number, masks: Uint32Array, visit: (slot: number) => void): void {
    const { keys, cells } = this;
    const mask = cells.length - 1;
    const shift = shiftFor(cells.length);
    for (let m = 0; m < masks.length; m++) {
      const probe = key ^ masks[m]!;
      for (let cell = homeCell(probe, shift), held = cells[cell]!; held !== EMPTY; cell = (cell + 1) & mask, held = cells[cell]!) {
        if (keys[cell] !== probe) continue;
        if (held >= 0) visit(held);
        else if (held <= GROUP_BASE) this.visitGroup(GROUP_BASE - held, visit);
      }
    }
  }

  /** Calls `visit` with every live slot (`visit` must not change this map). */
  forEachSlot(visit: (slot: number) => void): void {
    const { cells } = this;
    for (let cell = 0; cell < cells.length; cell++) {
      const held = cells[cell]!;
      if (held >= 0) visit(held);
      else if (held <= GROUP_BASE) this.visitGroup(GROUP_BASE - held, visit);
    }
  }

  private visitGroup(group: number, visit: (slot: number) => void): void {
    const pool = this.pool;
    for (let at = group + GROUP_HEADER, end = at + pool[group]!; at < end; at++) if (pool[at]! >= 0) visit(pool[at]!);
  }

  /**
   * Empties a live cell. A tombstone is needed only where a probe run goes on past the cell; at
   * the end of a run the cell, and the tombstones right before it, become EMPTY again.
   */
  private dropCell(cell: number): void {
    const { cells } = this;
    const mask = cells.length - 1;
    this.live--;
    if (cells[(cell + 1) & mask] !== EMPTY) {
      cells[cell] = DELETED;
      return;
    }
    cells[cell] = EMPTY;
    this.used--;
    for (let before = (cell - 1) & mask; cells[before] === DELETED; before = (before - 1) & mask) {
      cells[before] = EMPTY;
      this.used--;
    }
  }

  /** Re-places the live cells (groups stay where they are in the pool) in a directory sized for `liveCells`. */
  private rehash(liveCells: number): void {
    const { keys, cells } = this;
    const count = 2 ** Math.ceil(Math.log2(Math.max(16, liveCells * 4)));
    this.keys = new Uint32Array(count);
    this.cells = new Int32Array(count).fill(EMPTY);
    const mask = count - 1;
    const shift = shiftFor(count);
    for (let old = 0; old < keys.length; old++) {
      const held = cells[old]!;
      if (held === EMPTY || held === DELETED) continue;
      let cell = homeCell(keys[old]!, shift);
      while (this.cells[cell] !== EMPTY) cell = (cell + 1) & mask;
      this.keys[cell] = keys[old]!;
      this.cells[cell] = held;
    }
    this.used = this.live;
  }

  /** Adds `slot` to the group, moving it to a bigger block first when full; returns the group's offset. */
  private groupInsert(group: number, slot: number): number {
    const pool = this.pool;
    if ((pool[group + 2]! + 1) * 4 > pool[group]! * 3) group = this.resizeGroup(group, groupCellsFor(pool[group + 1]! + 1));
    this.place(group, slot);
    return group;
  }

  /** Writes `slot` into a group with room for it. */
  private place(group: number, slot: number): void {
    const pool = this.pool;
    const count = pool[group]!;
    const mask = count - 1;
    const base = group + GROUP_HEADER;
    let probes = 0;
    let cell = homeCell(slot, shiftFor(count));
    for (; pool[base + cell]! >= 0; cell = (cell + 1) & mask) probes++;
    this.probes += probes;
    if (pool[base + cell] === EMPTY) pool[group + 2]!++;
    pool[base + cell] = slot;
    pool[group + 1]!++;
  }

  private groupRemove(group: number, slot: number): boolean {
    const pool = this.pool;
    const count = pool[group]!;
    const mask = count - 1;
    const base = group + GROUP_HEADER;
    let probes = 0;
    for (let cell = homeCell(slot, shiftFor(count)); pool[base + cell] !== EMPTY; cell = (cell + 1) & mask) {
      probes++;
      if (pool[base + cell] === slot) {
        pool[base + cell] = DELETED;
        pool[group + 1]!--;
        this.probes += probes;
        return true;
      }
    }
    this.probes += probes;
    return false;
  }

  /** The group after a removal: freed once empty (-1), moved to a smaller block once mostly empty. */
  private shrunk(group: number): number {
    const pool = this.pool;
    const live = pool[group + 1]!;
    if (live === 0) {
      this.freeGroup(group);
      return -1;
    }
    return live * 8 < pool[group]! && pool[group]! > MIN_GROUP_CELLS ? this.resizeGroup(group, groupCellsFor(live)) : group;
  }

  /** Moves the group's live slots to a block of `count` cells and frees the old one. */
  private resizeGroup(group: number, count: number): number {
    const moved = this.allocateGroup(count);
    const pool = this.pool;
    for (let at = group + GROUP_HEADER, end = at + pool[group]!; at < end; at++) if (pool[at]! >= 0) this.place(moved, pool[at]!);
    this.freeGroup(group);
    return moved;
  }

  private allocateGroup(count: number): number {
    const free = this.freeGroups[31 - Math.clz32(count)];
    const group = free !== undefined && free.length > 0 ? free.pop()! : this.appendBlock(GROUP_HEADER + count);
    const pool = this.pool;
    pool[group] = count;
    pool[group + 1] = 0;
    pool[group + 2] = 0;
    pool.fill(EMPTY, group + GROUP_HEADER, group + GROUP_HEADER + count);
    return group;
  }

  private freeGroup(group: number): void {
    (this.freeGroups[31 - Math.clz32(this.pool[group]!)] ??= []).push(group);
  }

  private appendBlock(words: number): number {
    if (this.poolEnd + words > this.pool.length) {
      const grown = new Int32Array(Math.max(64, 2 * (this.poolEnd + words)));
      grown.set(this.pool.subarray(0, this.poolEnd));
      this.pool = grown;
    }
    const at = this.poolEnd;
    this.poolEnd += words;
    return at;
  }
}
