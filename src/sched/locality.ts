// What lblc and lblcr share (net/netfilter/ipvs/ip_vs_lblc.c and ip_vs_lblcr.c are two copies
// of the same frame): the per-destination-address table with its expiry timer, the weighted
// least-connection pick over all servers, and the "overloaded while another server is at half
// load" rule.
//
// The table is the kernel's: 1024 buckets (CONFIG_IP_VS_LBLC{,R}_TAB_BITS = 10) chosen by
// hash_32(daddr, 10), each a list with the newest entry first. A timer runs every 60 s:
//   - every 30th run that found the table small (counter % 30 == 0) is a full check, deleting
//     every entry unused for `expiration` (the lblc_expiration / lblcr_expiration sysctl, one
//     day by default);
//   - otherwise, if the table holds more than 16384 entries (1024 * 16), it deletes entries
//     unused for 6 minutes, walking the buckets from where the last walk stopped (the rover),
//     until it has deleted (entries - 16384) * 4 / 3 of them (at most 8192) or seen every bucket.
// Here there is no timer: `tick(now)` runs every 60 s step that is due by `now`, each with the
// time it would have fired at, which gives the same deletions since nothing else touches the
// table in between. The first tick arms the timer (the kernel arms it when the service is
// created, which this module does not see).

import { hash32 } from "./hash.ts";
import type { SchedDest, Scheduler } from "./scheduler.ts";

export const LOCALITY_TAB_BITS = 10;
export const LOCALITY_TAB_SIZE = 1 << LOCALITY_TAB_BITS;
const LOCALITY_TAB_MASK = LOCALITY_TAB_SIZE - 1;
/** tbl->max_size = IP_VS_LBLC_TAB_SIZE * 16. */
export const LOCALITY_MAX_SIZE = LOCALITY_TAB_SIZE * 16;
/** CHECK_EXPIRE_INTERVAL, ENTRY_TIMEOUT, DEFAULT_EXPIRATION, in seconds. */
export const CHECK_EXPIRE_INTERVAL = 60;
export const ENTRY_TIMEOUT = 6 * 60;
export const DEFAULT_EXPIRATION = 24 * 60 * 60;
const COUNT_FOR_FULL_EXPIRATION = 30;

export interface LocalityEntry {
  readonly daddr: number;
  /** Last time (seconds) a decision looked this entry up. */
  lastuse: number;
}

export class LocalityTable<E extends LocalityEntry> {
  private readonly byAddr = new Map<number, E>();
  /** Bucket lists with the newest entry LAST (the kernel's hlist head is the end here). */
  private readonly buckets: E[][] = Array.from({ length: LOCALITY_TAB_SIZE }, () => []);
  private rover = 0;
  private counter = 1;
  private nextCheck = Number.NaN;

  /** `expiration`: seconds an entry may go unused before a full check deletes it. */
  constructor(readonly expiration: number = DEFAULT_EXPIRATION) {}

  get size(): number {
    return this.byAddr.size;
  }

  get(daddr: number): E | undefined {
    return this.byAddr.get(daddr >>> 0);
  }

  /** hlist_add_head into the address's bucket. The caller has removed any entry for it. */
  add(e: E): void {
    this.byAddr.set(e.daddr >>> 0, e);
    this.buckets[hash32(e.daddr, LOCALITY_TAB_BITS)].push(e);
  }

  delete(e: E): void {
    this.byAddr.delete(e.daddr >>> 0);
    const list = this.buckets[hash32(e.daddr, LOCALITY_TAB_BITS)];
    const at = list.indexOf(e);
    if (at >= 0) list.splice(at, 1);
  }

  /** Entries in the kernel's walk order (bucket 0 first, newest first in a bucket). */
  entries(): E[] {
    const out: E[] = [];
    for (const list of this.buckets) for (let k = list.length - 1; k >= 0; k--) out.push(list[k]);
    return out;
  }

  /** Runs every periodic check due by `now` (see the file comment). */
  tick(now: number): void {
    if (Number.isNaN(this.nextCheck)) {
      this.nextCheck = now + CHECK_EXPIRE_INTERVAL;
      return;
    }
    while (now >= this.nextCheck) {
      this.checkExpire(this.nextCheck);
      this.nextCheck += CHECK_EXPIRE_INTERVAL;
    }
  }

  /** ip_vs_lblc_check_expire at time `now`. */
  private checkExpire(now: number): void {
    if (this.counter % COUNT_FOR_FULL_EXPIRATION === 0) {
      this.sweep(now, this.expiration, Number.POSITIVE_INFINITY);
      this.counter = 1;
      return;
    }
    const entries = this.byAddr.size;
    if (entries <= LOCALITY_MAX_SIZE) {
      this.counter++;
      return;
    }
    let goal = Math.trunc(((entries - LOCALITY_MAX_SIZE) * 4) / 3);
    if (goal > LOCALITY_MAX_SIZE / 2) goal = LOCALITY_MAX_SIZE / 2;
    this.sweep(now, ENTRY_TIMEOUT, goal);
  }

  /** Walks the buckets after the rover deleting entries unused for `age` seconds, stopping
   *  after the bucket in which the `goal`-th deletion happened. */
  private sweep(now: number, age: number, goal: number): void {
    let j = this.rover;
    for (let i = 0; i < LOCALITY_TAB_SIZE; i++) {
      j = (j + 1) & LOCALITY_TAB_MASK;
      const list = this.buckets[j];
      for (let k = list.length - 1; k >= 0; k--) {
        const e = list[k];
        // time_before(now, lastuse + age): still fresh.
        if (now < e.lastuse + age) continue;
        list.splice(k, 1);
        this.byAddr.delete(e.daddr >>> 0);
        goal--;
      }
      if (goal <= 0) break;
    }
    this.rover = j;
  }
}

/** ip_vs_dest_conn_overhead: active connections weigh 256 inactive ones. Computed in 32-bit
 *  int like the kernel, so it wraps past 2^23 active connections exactly as the kernel does. */
export function connOverhead(d: SchedDest): number {
  return ((d.activeConns << 8) + d.inactiveConns) | 0;
}

/** __ip_vs_lblc_schedule / __ip_vs_lblcr_schedule: the first not-overloaded server with
 *  weight > 0, then any later not-overloaded one with a lower overhead / weight (compared as
 *  loh * dw > doh * lw in 64 bits, so ties keep the earlier server). -1 when there is none. */
export function weightedLeastConnection(dests: readonly SchedDest[]): number {
  const n = dests.length;
  let least = -1;
  let i = 0;
  for (; i < n; i++) {
    const d = dests[i];
    if (d.available && d.weight > 0) {
      least = i;
      break;
    }
  }
  if (least < 0) return -1;
  let loh = connOverhead(dests[least]);
  let lw = dests[least].weight;
  for (i++; i < n; i++) {
    const d = dests[i];
    if (!d.available) continue;
    const doh = connOverhead(d);
    // The kernel does not skip weight 0 here: loh * 0 > doh * lw is false unless doh wrapped
    // negative, which it reproduces.
    if (loh * d.weight > doh * lw) {
      least = i;
      loh = doh;
      lw = d.weight;
    }
  }
  return least;
}

/** lblc/lblcr is_overloaded(): more active connections than its weight while some server in
 *  the list (any, even an unavailable one) has fewer than half its weight. */
export function overloadedWithSpareServer(d: SchedDest, dests: readonly SchedDest[]): boolean {
  if (d.activeConns <= d.weight) return false;
  for (let i = 0; i < dests.length; i++) {
    if (((dests[i].activeConns * 2) | 0) < dests[i].weight) return true;
  }
  return false;
}

/** slot -> index in `dests`, rebuilt on every list change. */
export function indexBySlot(dests: readonly SchedDest[]): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < dests.length; i++) m.set(dests[i].slot, i);
  return m;
}

export interface LocalityOptions {
  /** net.ipv4.vs.lblc_expiration / lblcr_expiration, in seconds (default one day). */
  expiration?: number;
}

/** The frame lblc and lblcr share: the server list with its slot index, and the address table
 *  that ages on every decision. Each adds its own entries and its `schedule`. */
export abstract class LocalityScheduler<E extends LocalityEntry> implements Scheduler {
  abstract readonly name: string;

  protected dests: readonly SchedDest[] = [];
  private where = new Map<number, number>();
  protected readonly table: LocalityTable<E>;

  constructor(opts: LocalityOptions = {}) {
    this.table = new LocalityTable<E>(opts.expiration ?? DEFAULT_EXPIRATION);
  }

  setDestinations(dests: readonly SchedDest[]): void {
    this.dests = dests;
    this.where = indexBySlot(dests);
  }

  abstract schedule(saddr: number, daddr: number, sport: number, dport: number, now: number): number;

  /** Runs the checks due by `now`, then finds the address's entry and refreshes its last use. */
  protected lookup(daddr: number, now: number): E | undefined {
    this.table.tick(now);
    const en = this.table.get(daddr);
    if (en !== undefined) en.lastuse = now;
    return en;
  }

  /** The current index of a server slot, or -1 if it is not in the service. */
  protected indexOf(slot: number): number {
    const i = this.where.get(slot);
    return i !== undefined && i < this.dests.length ? i : -1;
  }
}
