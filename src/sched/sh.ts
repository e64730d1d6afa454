// Source hashing, as net/netfilter/ipvs/ip_vs_sh.c does it (with the sh-port and sh-fallback
// flags of Linux 4.x and hash_32 instead of the older `* 2654435761 & mask`).
//
// A table of 256 buckets (CONFIG_IP_VS_SH_TAB_BITS = 8) is filled in kernel list order, each
// server taking as many consecutive buckets as its weight, round after round until all 256 are
// taken: weights A=3, B=2, C=1 give AAABBC AAABBC ... (42 rounds, then AAAB), so A owns 129
// buckets, B 85 and C 42. Two kernel quirks are kept on purpose:
//   - a server of weight 0 still takes one bucket per round (`++d_count >= weight` is true at
//     once), and a decision hashed onto it fails or falls back;
//   - a weight of 256 or more lets the first server take every bucket.
// The table is rebuilt when a server is added, deleted or has its weight changed (the kernel's
// add_dest, del_dest and upd_dest all call ip_vs_sh_reassign); an availability change
// (IP_VS_DEST_F_OVERLOAD) is only checked at decision time.
//
// A decision hashes the client address, plus the client port with sh-port (`port + addr` as a
// u32 before hash_32), to bucket h. The bucket's server is taken unless it is unavailable
// (weight <= 0 or overloaded): then the answer is -1, or with sh-fallback the kernel walks the
// table for the first usable server. Its walk is `(offset + ihash) % 256` passed again through
// ip_vs_sh_hashkey, which adds ihash a second time: it visits buckets 2h, 2h + 1, ... 2h + 255
// (mod 256), i.e. all of them starting from 2h, not from h + 1.

import { hash32 } from "./hash.ts";
import type { SchedDest, Scheduler, SchedulerFlags } from "./scheduler.ts";

/** CONFIG_IP_VS_SH_TAB_BITS: the kernel's default, which every distribution keeps. */
export const SH_TAB_BITS = 8;
export const SH_TAB_SIZE = 1 << SH_TAB_BITS;
const SH_TAB_MASK = SH_TAB_SIZE - 1;

/** The 256 buckets for `dests` in list order: each entry an index into `dests`, or -1 for all
 *  of them when the list is empty (ip_vs_sh_reassign). */
export function shBuckets(dests: readonly SchedDest[], out: Int32Array = new Int32Array(SH_TAB_SIZE)): Int32Array {
  const n = dests.length;
  if (n === 0) return out.fill(-1);
  let p = 0;
  let count = 0;
  for (let i = 0; i < SH_TAB_SIZE; i++) {
    out[i] = p;
    // "Don't move to next dest until filling weight"
    if (++count >= dests[p].weight) {
      p = p + 1 === n ? 0 : p + 1;
      count = 0;
    }
  }
  return out;
}

export class SourceHashScheduler implements Scheduler {
  readonly name = "sh";

  private dests: readonly SchedDest[] = [];
  private readonly buckets = new Int32Array(SH_TAB_SIZE).fill(-1);
  private readonly port: boolean;
  private readonly fallback: boolean;
  /** Slots and weights the table was built from, to skip rebuilding on availability changes. */
  private slots = new Int32Array(0);
  private weights = new Int32Array(0);

  constructor(flags: Pick<SchedulerFlags, "port" | "fallback"> = { port: false, fallback: false }) {
    this.port = flags.port;
    this.fallback = flags.fallback;
  }

  /** The bucket table (indices into the current list), for tests and `ipvsadm`-style dumps. */
  get table(): Int32Array {
    return this.buckets.slice();
  }

  setDestinations(dests: readonly SchedDest[]): void {
    this.dests = dests;
    if (sameSlotsAndWeights(dests, this.slots, this.weights)) return;
    const n = dests.length;
    this.slots = new Int32Array(n);
    this.weights = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.slots[i] = dests[i].slot;
      this.weights[i] = dests[i].weight;
    }
    shBuckets(dests, this.buckets);
  }

  schedule(saddr: number, _daddr: number, sport: number, _dport: number, _now = 0): number {
    const dests = this.dests;
    const buckets = this.buckets;
    // ip_vs_sh_hashkey: hash_32(ntohs(port) + ntohl(addr), 8), port 0 without sh-port.
    const ihash = hash32(this.port ? saddr + sport : saddr, SH_TAB_BITS);
    const first = buckets[ihash];
    // An empty table, or a list that shrank in place without setDestinations.
    if (first < 0 || first >= dests.length) return -1;
    const d = dests[first];
    if (d.weight > 0 && d.available) return first;
    if (!this.fallback) return -1;
    for (let offset = 0; offset < SH_TAB_SIZE; offset++) {
      const i = buckets[(offset + 2 * ihash) & SH_TAB_MASK];
      if (i < 0 || i >= dests.length) return -1;
      const e = dests[i];
      if (e.weight > 0 && e.available) return i;
    }
    return -1;
  }
}

/** True when `dests` has exactly these slots and weights in this order. */
export function sameSlotsAndWeights(dests: readonly SchedDest[], slots: Int32Array, weights: Int32Array): boolean {
  if (dests.length !== slots.length) return false;
  for (let i = 0; i < dests.length; i++) {
    if (dests[i].slot !== slots[i] || dests[i].weight !== weights[i]) return false;
  }
  return true;
}
