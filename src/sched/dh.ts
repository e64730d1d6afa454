// Destination hashing, as net/netfilter/ipvs/ip_vs_dh.c does it.
//
// A table of 256 buckets (CONFIG_IP_VS_DH_TAB_BITS = 8) is dealt out one bucket per server in
// kernel list order, round after round: servers A, B, C give ABCABC... Weights play no part in
// the table (unlike sh), and with more than 256 servers the ones past the 256th get no bucket.
// The kernel rebuilds the table only on add_dest and del_dest (dh has no upd_dest): a weight or
// availability change is only looked at when deciding.
//
// A decision hashes the packet's destination address, hash_32(daddr, 8), and takes that
// bucket's server unless it is unavailable (weight <= 0 or overloaded), in which case it is -1:
// dh has no fallback flag. That is the point of dh in front of a cache farm: one destination
// address always reaches the same cache, and ipvsadm's cache_bypass sends it to the origin
// instead when that cache cannot take it.

import { hash32 } from "./hash.ts";
import type { SchedDest, Scheduler } from "./scheduler.ts";

/** CONFIG_IP_VS_DH_TAB_BITS, the kernel's default. */
export const DH_TAB_BITS = 8;
export const DH_TAB_SIZE = 1 << DH_TAB_BITS;

export class DestinationHashScheduler implements Scheduler {
  readonly name = "dh";

  private dests: readonly SchedDest[] = [];
  private readonly buckets = new Int32Array(DH_TAB_SIZE).fill(-1);
  /** Slots the table was built from: the table depends on nothing else. */
  private slots = new Int32Array(0);

  /** The bucket table (indices into the current list), for tests and dumps. */
  get table(): Int32Array {
    return this.buckets.slice();
  }

  setDestinations(dests: readonly SchedDest[]): void {
    this.dests = dests;
    const n = dests.length;
    let same = n === this.slots.length;
    for (let i = 0; same && i < n; i++) same = dests[i].slot === this.slots[i];
    if (same) return;
    this.slots = new Int32Array(n);
    for (let i = 0; i < n; i++) this.slots[i] = dests[i].slot;
    // ip_vs_dh_reassign: bucket i gets server i mod n, or none when the list is empty.
    for (let i = 0; i < DH_TAB_SIZE; i++) this.buckets[i] = n === 0 ? -1 : i % n;
  }

  schedule(_saddr: number, daddr: number, _sport: number, _dport: number, _now = 0): number {
    const dests = this.dests;
    const i = this.buckets[hash32(daddr, DH_TAB_BITS)];
    if (i < 0 || i >= dests.length) return -1;
    const d = dests[i];
    return d.weight > 0 && d.available ? i : -1;
  }
}
