// The flow table: which real-server slot each TCP connection / UDP flow was given when its first
// packet arrived, so that every later packet of it goes to the same place.
//
// Open addressing with linear probing over one typed array: no object per flow, no allocation per
// packet, one 32-byte record per entry so a lookup and its update touch a single cache line
// (separate key and value arrays cost a second line and page: 15 -> 70-100 ns per packet at 64k
// flows, bench/ffi_roundtrip.bench.ts). The hash comes precomputed from the C parser
// (rv_desc.hash), so a lookup is one index computation plus, usually, one 4-word compare. Deletion shifts the following
// cluster back (no tombstones), so probe lengths never degrade with churn.
//
// Bounded, with an eviction policy: beyond MAX_LOAD of its capacity an insert first looks at the
// EVICT_SCAN buckets from the new flow's home and evicts the unprotected entry there that expires
// soonest (the caller protects what it must keep: established TCP connections), much as IPVS's
// drop_entry defense drops half-open connections under memory pressure. Only when every candidate
// is protected is the insert refused, and counted (`full`); what the caller does then is policy
// (forwarder.ts drops a TCP SYN so that no connection opens that could not be followed). Expired
// entries are reclaimed by an incremental sweep and by reuse when the same 5-tuple comes back.
//
// Every removal (sweep, eviction, explicit) goes through the `onRemove` hook, so the connection
// tracker can keep per-server counts and persistence templates exact.

/** Fill limit: linear probing stays short below ~7/8 load. */
const MAX_LOAD = 0.875;
/** Buckets an insert into a full table looks at for a victim. */
const EVICT_SCAN = 8;

/** Called with the entry's slot, state byte and template word just before it disappears. */
export type FlowRemoveHook = (slot: number, state: number, tpl: number) => void;
/** True for entries eviction must not touch (word 3 = state << 8 | proto). */
export type FlowProtectFn = (stateProto: number) => boolean;

export class FlowTable {
  readonly capacity: number;
  private readonly mask: number;
  /** Per entry, 8 words: saddr, daddr, ports, (state << 8 | proto), slot, expiry (seconds on the
   *  caller's clock), hash, template word (caller's). Word 3 is 0 only for an empty bucket
   *  (proto is never 0). */
  private readonly e: Uint32Array;
  private readonly limit: number;
  /** Size from which touch() reads a second line. */
  private readonly crowded: number;
  size = 0;
  /** Inserts refused because the table was full and every candidate was protected. */
  full = 0;
  /** Entries evicted to make room. */
  evicted = 0;
  /** Entries removed by the sweep. */
  expired = 0;
  private sweepCursor = 0;
  /** Where the last find() that missed stopped: the first empty bucket on the probe from home
   *  bucket `missHome`, which is where insert() would put a flow with that home. A new flow is
   *  looked up and then inserted, so insert() starts there instead of walking the cluster again
   *  (at 7/8 load an unsuccessful probe is ~32 buckets long). Occupancy changes (insert, remove)
   *  invalidate it: missAt = -1. */
  private missHome = -1;
  private missAt = -1;

  constructor(
    capacity: number,
    private readonly onRemove: FlowRemoveHook | null = null,
    private readonly isProtected: FlowProtectFn | null = null,
  ) {
    if (capacity < 16 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`flow table capacity must be a power of two >= 16, got ${capacity}`);
    }
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.e = new Uint32Array(capacity * 8);
    this.limit = Math.floor(capacity * MAX_LOAD);
    this.crowded = capacity / 4;
  }

  /** Bytes of table memory per entry slot. */
  static readonly BYTES_PER_ENTRY = 32;

  /** Bucket holding this flow, or -1. `hash` must be the one the flow was inserted with. An
   *  expired entry is still returned: the caller decides (reuse it for a new connection on the
   *  same tuple). */
  find(hash: number, saddr: number, daddr: number, ports: number, proto: number): number {
    const k = this.e;
    let i = hash & this.mask;
    for (;;) {
      const b = i << 3;
      const p = k[b + 3]!;
      if (p === 0) {
        this.missHome = hash & this.mask;
        this.missAt = i;
        return -1;
      }
      // The stored hash first: a flow has one hash (the parser's, of its tuple), so a bucket of
      // another flow almost always fails here, on one compare, however alike the tuples are (a
      // client's connections share saddr, daddr and proto and differ only in the port).
      if (k[b + 6] === hash && (p & 0xff) === proto && k[b] === saddr && k[b + 1] === daddr && k[b + 2] === ports) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Read the home bucket of `hash` and return its state word, which the caller folds into a
   *  sink. Touching every home bucket of a batch in one tight loop before the batch is processed
   *  lets the CPU overlap their cache and TLB misses instead of paying them one after another.
   *  From 1/4 load on, a probe often runs past the home bucket's 64-byte line (two buckets), so
   *  the next line is read too; below that it would mostly be traffic for nothing. */
  touch(hash: number): number {
    const i = hash & this.mask;
    const w = this.e[(i << 3) + 3]!;
    return this.size < this.crowded ? w : w | this.e[((((i | 1) + 1) & this.mask) << 3) + 3]!;
  }

  /** True when an insert for this hash would succeed (room, or an evictable entry near its home),
   *  without changing anything; lets the caller refuse before it schedules. */
  hasRoomFor(hash: number): boolean {
    return this.size < this.limit || this.victim(hash) >= 0;
  }

  /** The unprotected entry expiring soonest among EVICT_SCAN buckets from the hash's home, or -1. */
  private victim(hash: number): number {
    const k = this.e;
    let best = -1;
    let bestExp = Infinity;
    for (let n = 0, i = hash & this.mask; n < EVICT_SCAN; n++, i = (i + 1) & this.mask) {
      const w = k[(i << 3) + 3]!;
      if (w === 0 || (this.isProtected && this.isProtected(w))) continue;
      const exp = k[(i << 3) + 5]!;
      if (exp < bestExp) {
        bestExp = exp;
        best = i;
      }
    }
    return best;
  }

  /** Add a flow known not to be present. Returns its bucket, or -1 when the table is full and no
   *  entry could be evicted. */
  insert(hash: number, saddr: number, daddr: number, ports: number, proto: number, slot: number, expires: number, state = 0, tpl = 0): number {
    if (this.size >= this.limit) {
      const v = this.victim(hash);
      if (v < 0) {
        this.full++;
        return -1;
      }
      this.remove(v);
      this.evicted++;
    }
    const k = this.e;
    let i = hash & this.mask;
    if (this.missAt >= 0 && this.missHome === i) i = this.missAt;
    else while (k[(i << 3) + 3] !== 0) i = (i + 1) & this.mask;
    this.missAt = -1;
    const b = i << 3;
    k[b] = saddr;
    k[b + 1] = daddr;
    k[b + 2] = ports;
    k[b + 3] = (state << 8) | proto;
    k[b + 4] = slot;
    k[b + 5] = expires;
    k[b + 6] = hash;
    k[b + 7] = tpl;
    this.size++;
    return i;
  }

  slot(i: number): number {
    return this.e[(i << 3) + 4]!;
  }
  expires(i: number): number {
    return this.e[(i << 3) + 5]!;
  }
  state(i: number): number {
    return this.e[(i << 3) + 3]! >>> 8;
  }
  tpl(i: number): number {
    return this.e[(i << 3) + 7]!;
  }
  occupied(i: number): boolean {
    return this.e[(i << 3) + 3] !== 0;
  }

  /** Refresh a live flow. */
  update(i: number, state: number, expires: number): void {
    const b = i << 3;
    this.e[b + 3] = (state << 8) | (this.e[b + 3]! & 0xff);
    this.e[b + 5] = expires;
  }

  /** Give an existing bucket a new connection (a tuple reused after expiry or close): the old one
   *  is reported removed first. */
  reassign(i: number, slot: number, expires: number, state = 0, tpl = 0): void {
    const b = i << 3;
    if (this.onRemove) this.onRemove(this.e[b + 4]!, this.e[b + 3]! >>> 8, this.e[b + 7]!);
    this.e[b + 4] = slot;
    this.e[b + 7] = tpl;
    this.update(i, state, expires);
  }

  /** Remove the entry in bucket i, shifting the rest of its cluster back. */
  remove(i: number): void {
    const k = this.e;
    if (this.onRemove) this.onRemove(k[(i << 3) + 4]!, k[(i << 3) + 3]! >>> 8, k[(i << 3) + 7]!);
    this.missAt = -1;
    const mask = this.mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (k[(j << 3) + 3] === 0) break;
      const home = k[(j << 3) + 6]! & mask;
      // Move j into the hole unless j's home lies cyclically in (hole, j].
      const homeInRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (homeInRange) continue;
      k.copyWithin(hole << 3, j << 3, (j << 3) + 8);
      hole = j;
    }
    k.fill(0, hole << 3, (hole << 3) + 8);
    this.size--;
  }

  /** Look at up to `budget` buckets from where the last sweep stopped and remove expired flows.
   *  Called once per batch, so a full pass over a 1M table takes capacity/budget batches. */
  sweep(now: number, budget: number): void {
    // Nothing can expire in an empty table; an idle director's worker otherwise spends most of
    // its idle turns (100 a second) walking empty buckets.
    if (this.size === 0) return;
    const k = this.e;
    let i = this.sweepCursor;
    for (let n = 0; n < budget; n++) {
      if (k[(i << 3) + 3] !== 0 && k[(i << 3) + 5]! <= now) {
        this.remove(i);
        this.expired++;
        // The shift may have moved another entry into bucket i: look at it again.
        if (k[(i << 3) + 3] !== 0) continue;
      }
      i = (i + 1) & this.mask;
    }
    this.sweepCursor = i;
  }

  /** Visit every live entry (for listings such as ipvsadm -c; not for the packet path). */
  forEach(fn: (saddr: number, daddr: number, ports: number, stateProto: number, slot: number, expires: number) => void): void {
    this.forEachIn(0, this.capacity, fn);
  }

  /** Visit the live entries of buckets [from, to): a listing walks the table a page at a time,
   *  so a million connections never need to be in one array. Returns where the next page starts,
   *  or -1 when the table is done. */
  forEachIn(from: number, to: number, fn: (saddr: number, daddr: number, ports: number, stateProto: number, slot: number, expires: number) => void): number {
    const k = this.e;
    const end = Math.min(to, this.capacity);
    for (let i = Math.max(0, from); i < end; i++) {
      const b = i << 3;
      if (k[b + 3] !== 0) fn(k[b]!, k[b + 1]!, k[b + 2]!, k[b + 3]!, k[b + 4]!, k[b + 5]!);
    }
    return end >= this.capacity ? -1 : end;
  }

  /** Slot currently bound per live flow, for stats: count of flows per slot. */
  countBySlot(out: Uint32Array, now: number): void {
    out.fill(0);
    const k = this.e;
    for (let i = 0; i < this.capacity; i++) {
      if (k[(i << 3) + 3] !== 0 && k[(i << 3) + 5]! > now) out[k[(i << 3) + 4]!]!++;
    }
  }
}
