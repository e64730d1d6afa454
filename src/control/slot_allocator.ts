// Real-server slots: the shim's per-destination entries (MAC, method, counters) that a flow-table
// entry and a persistence template point at by number. A (service, real server) pair keeps its
// slot for as long as it is configured, and gets the same one back if it returns before the slot
// is reused, so a server removed and added again keeps its connections (as IPVS takes a dest back
// from its trash). A slot whose pair left is reused only once nothing can still reach it: every
// packet worker has applied a plan without it, and no connection or template of any worker is
// bound to it (IPVS keeps a removed dest in the trash while connections hold it). Before this, a
// slot was never given back: after 4,096 distinct pairs over a process's life every change failed.

export class SlotAllocator {
  private readonly byKey = new Map<string, number>();
  private readonly keyOf: (string | null)[];
  /** Slots free for any key, reused before new ones are taken. */
  private readonly free: number[] = [];
  /** Left slots not yet reusable: slot -> publish sequence of the first plan without it. */
  private readonly leaving = new Map<number, number>();
  private next = 0;

  /** `what` names the ids in the message of a full allocator ("real-server entries", "services"). */
  constructor(readonly capacity: number, private readonly what = "real-server entries") {
    this.keyOf = new Array(capacity).fill(null);
  }

  /** The slot of `key`: its own (also while it is leaving: the key came back), a reusable one, or
   *  a new one. Throws when every slot is configured or still held by connections. */
  acquire(key: string): number {
    const own = this.byKey.get(key);
    if (own !== undefined) {
      this.leaving.delete(own);
      return own;
    }
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.next >= this.capacity) {
        throw new Error(this.fullMessage());
      }
      slot = this.next++;
    }
    this.byKey.set(key, slot);
    this.keyOf[slot] = key;
    return slot;
  }

  /** The id `key` holds (configured or leaving), or undefined. */
  get(key: string): number | undefined {
    return this.byKey.get(key);
  }

  /** `key` starts leaving (a no-op for a key it does not hold or that is leaving already); `seq`
   *  is the publish sequence of the plan that goes without it. */
  leave(key: string, seq: number): void {
    const slot = this.byKey.get(key);
    if (slot !== undefined && !this.leaving.has(slot)) this.leaving.set(slot, seq);
  }

  /** Make leaving slots reusable once every worker has applied their leaving plan (`appliedSeq`,
   *  the lowest sequence all have applied) and `idle(slot)` says nothing holds them. Returns the
   *  slots freed. */
  reclaim(appliedSeq: number, idle: (slot: number) => boolean): number[] {
    const freed: number[] = [];
    for (const [slot, seq] of this.leaving) {
      if (seq > appliedSeq || !idle(slot)) continue;
      this.leaving.delete(slot);
      this.byKey.delete(this.keyOf[slot]!);
      this.keyOf[slot] = null;
      this.free.push(slot);
      freed.push(slot);
    }
    return freed;
  }

  /** Why `keys` could not all have a slot at once, or null: checked before a change touches
   *  anything, so one that would run out fails whole. */
  problemFor(keys: ReadonlySet<string>): string | null {
    let fresh = 0;
    for (const k of keys) if (!this.byKey.has(k)) fresh++;
    const room = this.free.length + (this.capacity - this.next);
    if (fresh <= room) return null;
    return this.fullMessage();
  }

  private fullMessage(): string {
    return `more than ${this.capacity} ${this.what} (${this.leaving.size} of them removed but still held by connections)`;
  }

  /** Slots bound to a key (configured or leaving). */
  get used(): number {
    return this.byKey.size;
  }

  /** Of those, leaving. */
  get leavingCount(): number {
    return this.leaving.size;
  }
}
