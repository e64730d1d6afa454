// Round-robin, as net/netfilter/ipvs/ip_vs_rr.c does it.
//
// The kernel keeps one cursor, `sched_data`, pointing at the list node of the last chosen real
// server (or at the list head before the first decision). A decision walks forward from the node
// after the cursor, wraps once through the head and stops after re-checking the cursor's own
// server, taking the first one that has weight > 0 and is not IP_VS_DEST_F_OVERLOAD. Here the
// cursor is an index into `dests`, -1 standing for the list head.
//
// The kernel only hooks `del_dest`: adding a server (at the head) or changing a weight leaves the
// cursor on the same server. Deleting the server under the cursor moves the cursor to that
// server's predecessor, so the next decision takes the server that followed the deleted one.
// `setDestinations` reproduces that by following the cursor's server (by slot) into the new list.

import type { SchedDest, Scheduler } from "./scheduler.ts";

/** Sentinel cursor: the list head, i.e. "before the first server". */
const HEAD = -1;

export class RoundRobinScheduler implements Scheduler {
  readonly name = "rr";

  private dests: readonly SchedDest[] = [];
  /** Index of the last chosen server, or HEAD. */
  private cursor = HEAD;
  /** Slots of `dests` as they were at the last `setDestinations`, so the cursor can be carried
   *  into the next list even if the caller edits its array in place. */
  private slots: Int32Array = new Int32Array(0);

  setDestinations(dests: readonly SchedDest[]): void {
    this.cursor = this.carryCursor(dests);
    this.dests = dests;
    const slots = new Int32Array(dests.length);
    for (let i = 0; i < dests.length; i++) slots[i] = dests[i].slot;
    this.slots = slots;
  }

  schedule(_saddr: number, _daddr: number, _sport: number, _dport: number): number {
    const dests = this.dests;
    const n = dests.length;
    // A cursor beyond the list can only mean the array shrank in place without a
    // setDestinations call; restart from the head rather than read past the end.
    const last = this.cursor < n ? this.cursor : HEAD;

    // First pass: the servers after the cursor.
    for (let i = last + 1; i < n; i++) {
      const d = dests[i];
      if (d.available && d.weight > 0) return (this.cursor = i);
    }
    // Second pass, only if we did not start at the head (the first pass then saw every server):
    // from the head up to and including the cursor's own server.
    if (last !== HEAD) {
      for (let i = 0; i <= last; i++) {
        const d = dests[i];
        if (d.available && d.weight > 0) return (this.cursor = i);
      }
    }
    // "no destination available": the kernel leaves the cursor where it was.
    return -1;
  }

  /** Where the cursor lands in `next`: on the same server if it is still there; if it was
   *  deleted, on its nearest surviving predecessor (what `ip_vs_rr_del_dest` yields after one
   *  deletion at a time, whatever their order); the head if none survives. Deletions are taken
   *  to happen before additions, so servers new in `next` are never the predecessor. */
  private carryCursor(next: readonly SchedDest[]): number {
    if (this.cursor === HEAD || this.cursor >= this.slots.length) return HEAD;
    const where = new Map<number, number>();
    for (let i = 0; i < next.length; i++) where.set(next[i].slot, i);
    for (let i = this.cursor; i >= 0; i--) {
      const found = where.get(this.slots[i]);
      if (found !== undefined) return found;
    }
    return HEAD;
  }
}
