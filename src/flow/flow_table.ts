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
// Bounded: the table refuses new entries beyond MAX_LOAD of its capacity and counts the refusal
// (`full`). What the caller does then is policy (see forwarder.ts: a TCP SYN is dropped, so no
// connection is opened that could not be followed; a UDP packet is forwarded untracked). Expired
// entries are reclaimed by an incremental sweep and by reuse when the same 5-tuple comes back.

/** Fill limit: linear probing stays short below ~7/8 load. */
const MAX_LOAD = 0.875;

export const enum FlowState {
  Empty = 0,
  Open = 1,
  /** FIN or RST seen from the client: a new SYN on the same tuple is a new connection. */
  Closing = 2,
}

export class FlowTable {
  readonly capacity: number;
  private readonly mask: number;
  /** Per entry, 8 words: saddr, daddr, ports, (state << 8 | proto) | slot, expiry (seconds on the
   *  caller's clock), hash, unused. Word 3 is 0 for an empty bucket. */
  private readonly e: Uint32Array;
  private readonly limit: number;
  size = 0;
  /** Inserts refused because the table was at its limit. */
  full = 0;
  /** Entries removed by the sweep. */
  expired = 0;
  private sweepCursor = 0;

  constructor(capacity: number) {
    if (capacity < 16 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`flow table capacity must be a power of two >= 16, got ${capacity}`);
    }
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.e = new Uint32Array(capacity * 8);
    this.limit = Math.floor(capacity * MAX_LOAD);
  }

  /** Bytes of table memory per entry slot. */
  static readonly BYTES_PER_ENTRY = 32;

  /** Bucket holding this flow, or -1. An expired entry is still returned: the caller decides
   *  (reuse it for a new connection on the same tuple). */
  find(hash: number, saddr: number, daddr: number, ports: number, proto: number): number {
    const k = this.e;
    let i = hash & this.mask;
    for (;;) {
      const b = i << 3;
      const p = k[b + 3]!;
      if (p === 0) return -1;
      if ((p & 0xff) === proto && k[b] === saddr && k[b + 1] === daddr && k[b + 2] === ports) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** False when insert() would refuse (the table is at its load limit). */
  hasRoom(): boolean {
    return this.size < this.limit;
  }

  /** Add a flow known not to be present. Returns its bucket, or -1 when the table is full. */
  insert(hash: number, saddr: number, daddr: number, ports: number, proto: number, slot: number, expires: number): number {
    if (this.size >= this.limit) {
      this.full++;
      return -1;
    }
    const k = this.e;
    let i = hash & this.mask;
    while (k[(i << 3) + 3] !== 0) i = (i + 1) & this.mask;
    const b = i << 3;
    k[b] = saddr;
    k[b + 1] = daddr;
    k[b + 2] = ports;
    k[b + 3] = (FlowState.Open << 8) | proto;
    k[b + 4] = slot;
    k[b + 5] = expires;
    k[b + 6] = hash;
    this.size++;
    return i;
  }

  slot(i: number): number {
    return this.e[(i << 3) + 4]!;
  }
  expires(i: number): number {
    return this.e[(i << 3) + 5]!;
  }
  state(i: number): FlowState {
    return (this.e[(i << 3) + 3]! >>> 8) as FlowState;
  }

  /** Refresh a live flow. */
  update(i: number, state: FlowState, expires: number): void {
    const b = i << 3;
    this.e[b + 3] = (state << 8) | (this.e[b + 3]! & 0xff);
    this.e[b + 5] = expires;
  }

  /** Give an existing bucket a new slot (a new connection reusing an expired or closed tuple). */
  reassign(i: number, slot: number, expires: number): void {
    this.e[(i << 3) + 4] = slot;
    this.update(i, FlowState.Open, expires);
  }

  /** Remove the entry in bucket i, shifting the rest of its cluster back. */
  remove(i: number): void {
    const k = this.e;
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

  /** Slot currently bound per live flow, for stats: count of flows per slot. */
  countBySlot(out: Uint32Array, now: number): void {
    out.fill(0);
    const k = this.e;
    for (let i = 0; i < this.capacity; i++) {
      if (k[(i << 3) + 3] !== 0 && k[(i << 3) + 5]! > now) out[k[(i << 3) + 4]!]!++;
    }
  }
}
