// The flow table: which real-server slot each TCP connection / UDP flow was given when its first
// packet arrived, so that every later packet of it goes to the same place.
//
// Open addressing with linear probing over typed arrays: no object per flow, no allocation per
// packet, 28 bytes per entry. The hash comes precomputed from the C parser (rv_desc.hash), so a
// lookup is one index computation plus, usually, one 4-word compare. Deletion shifts the following
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
  /** Per entry: saddr, daddr, (sport << 16 | dport), (state << 8 | proto). */
  private readonly keys: Uint32Array;
  /** Per entry: slot, expiry (seconds on the caller's clock), hash. */
  private readonly vals: Uint32Array;
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
    this.keys = new Uint32Array(capacity * 4);
    this.vals = new Uint32Array(capacity * 3);
    this.limit = Math.floor(capacity * MAX_LOAD);
  }

  /** Bytes of table memory per entry slot. */
  static readonly BYTES_PER_ENTRY = 28;

  /** Bucket holding this flow, or -1. An expired entry is still returned: the caller decides
   *  (reuse it for a new connection on the same tuple). */
  find(hash: number, saddr: number, daddr: number, ports: number, proto: number): number {
    const k = this.keys;
    let i = hash & this.mask;
    for (;;) {
      const b = i << 2;
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
    const k = this.keys;
    let i = hash & this.mask;
    while (k[(i << 2) + 3] !== 0) i = (i + 1) & this.mask;
    const b = i << 2;
    k[b] = saddr;
    k[b + 1] = daddr;
    k[b + 2] = ports;
    k[b + 3] = (FlowState.Open << 8) | proto;
    const v = i * 3;
    this.vals[v] = slot;
    this.vals[v + 1] = expires;
    this.vals[v + 2] = hash;
    this.size++;
    return i;
  }

  slot(i: number): number {
    return this.vals[i * 3]!;
  }
  expires(i: number): number {
    return this.vals[i * 3 + 1]!;
  }
  state(i: number): FlowState {
    return (this.keys[(i << 2) + 3]! >>> 8) as FlowState;
  }

  /** Refresh a live flow. */
  update(i: number, state: FlowState, expires: number): void {
    const b = (i << 2) + 3;
    this.keys[b] = (state << 8) | (this.keys[b]! & 0xff);
    this.vals[i * 3 + 1] = expires;
  }

  /** Give an existing bucket a new slot (a new connection reusing an expired or closed tuple). */
  reassign(i: number, slot: number, expires: number): void {
    this.vals[i * 3] = slot;
    this.update(i, FlowState.Open, expires);
  }

  /** Remove the entry in bucket i, shifting the rest of its cluster back. */
  remove(i: number): void {
    const k = this.keys;
    const v = this.vals;
    const mask = this.mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (k[(j << 2) + 3] === 0) break;
      const home = v[j * 3 + 2]! & mask;
      // Move j into the hole unless j's home lies cyclically in (hole, j].
      const homeInRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (homeInRange) continue;
      k.copyWithin(hole << 2, j << 2, (j << 2) + 4);
      v.copyWithin(hole * 3, j * 3, j * 3 + 3);
      hole = j;
    }
    k.fill(0, hole << 2, (hole << 2) + 4);
    v.fill(0, hole * 3, hole * 3 + 3);
    this.size--;
  }

  /** Look at up to `budget` buckets from where the last sweep stopped and remove expired flows.
   *  Called once per batch, so a full pass over a 1M table takes capacity/budget batches. */
  sweep(now: number, budget: number): void {
    const k = this.keys;
    let i = this.sweepCursor;
    for (let n = 0; n < budget; n++) {
      if (k[(i << 2) + 3] !== 0 && this.vals[i * 3 + 1]! <= now) {
        this.remove(i);
        this.expired++;
        // The shift may have moved another entry into bucket i: look at it again.
        if (k[(i << 2) + 3] !== 0) continue;
      }
      i = (i + 1) & this.mask;
    }
    this.sweepCursor = i;
  }

  /** Slot currently bound per live flow, for stats: count of flows per slot. */
  countBySlot(out: Uint32Array, now: number): void {
    out.fill(0);
    for (let i = 0; i < this.capacity; i++) {
      if (this.keys[(i << 2) + 3] !== 0 && this.vals[i * 3 + 1]! > now) out[this.vals[i * 3]!]!++;
    }
  }
}
