// Locality-based least-connection with replication, as net/netfilter/ipvs/ip_vs_lblcr.c does it.
//
// Like lblc, but a destination address maps to a SET of servers, newest member first:
//   no entry: take the weighted least-connection server of the whole list and make it the
//     address's set;
//   an entry: refresh its last use and take the set's weighted least-connection member (skipping
//     unavailable ones and, for the first pick, weight 0). Then, if the set has more than one
//     member and was last changed more than `expiration` ago (one day by default), drop its
//     weighted MOST-loaded member (weight > 0; the first on a tie). If the member taken is
//     usable and not overloaded (lblc's rule: more active connections than its weight while
//     some server has fewer than half its weight), that is the answer, even if it was the one
//     just dropped, as in the kernel. Otherwise take the weighted least-connection server of
//     the whole list and add it to the set (at the head, if not already a member).
// Adding or dropping a member stamps the set's last change; the set grows under load and
// shrinks by one member per decision once it has been stable for `expiration`.
//
// Members are slots. A deleted server (the kernel's trash) stays a member and is never picked;
// unlike the kernel, which still knows a trashed server's weight and counts, it is never the
// most-loaded member either, so it leaves the set only with its entry.

import { connOverhead, LocalityScheduler, overloadedWithSpareServer, weightedLeastConnection, type LocalityEntry } from "./locality.ts";

interface LblcrEntry extends LocalityEntry {
  /** Member slots, newest first (list_add_rcu adds at the head). */
  readonly set: number[];
  lastmod: number;
}

export class LblcrScheduler extends LocalityScheduler<LblcrEntry> {
  readonly name = "lblcr";

  /** The destination address -> server set table, for tests and stats. */
  entries(): { daddr: number; set: number[]; lastuse: number; lastmod: number }[] {
    return this.table.entries().map((e) => ({ daddr: e.daddr, set: e.set.slice(), lastuse: e.lastuse, lastmod: e.lastmod }));
  }

  schedule(_saddr: number, daddr: number, _sport: number, _dport: number, now: number): number {
    const dests = this.dests;
    const table = this.table;
    const en = this.lookup(daddr, now);
    if (en === undefined) {
      const i = weightedLeastConnection(dests);
      if (i < 0) return -1;
      table.add({ daddr: daddr >>> 0, set: [dests[i].slot], lastuse: now, lastmod: now });
      return i;
    }
    let i = this.setMin(en.set);
    // time_after(jiffies, lastmod + expiration)
    if (en.set.length > 1 && now > en.lastmod + table.expiration) {
      const most = this.setMax(en.set);
      if (most >= 0) {
        en.set.splice(most, 1);
        en.lastmod = now;
      }
    }
    if (i >= 0 && !overloadedWithSpareServer(dests[i], dests)) return i;
    i = weightedLeastConnection(dests);
    if (i < 0) return -1;
    const slot = dests[i].slot;
    if (!en.set.includes(slot)) {
      en.set.unshift(slot);
      en.lastmod = now;
    }
    return i;
  }

  /** ip_vs_dest_set_min: index into `dests` of the set's weighted least-loaded usable member. */
  private setMin(set: readonly number[]): number {
    const dests = this.dests;
    let least = -1;
    let k = 0;
    for (; k < set.length; k++) {
      const i = this.indexOf(set[k]);
      if (i >= 0 && dests[i].available && dests[i].weight > 0) {
        least = i;
        break;
      }
    }
    if (least < 0) return -1;
    let loh = connOverhead(dests[least]);
    let lw = dests[least].weight;
    for (k++; k < set.length; k++) {
      const i = this.indexOf(set[k]);
      if (i < 0 || !dests[i].available) continue;
      const doh = connOverhead(dests[i]);
      if (loh * dests[i].weight > doh * lw) {
        least = i;
        loh = doh;
        lw = dests[i].weight;
      }
    }
    return least;
  }

  /** ip_vs_dest_set_max: position IN THE SET of the weighted most-loaded member with weight > 0
   *  (availability not considered, as in the kernel), or -1. */
  private setMax(set: readonly number[]): number {
    const dests = this.dests;
    let most = -1;
    let k = 0;
    for (; k < set.length; k++) {
      const i = this.indexOf(set[k]);
      if (i >= 0 && dests[i].weight > 0) {
        most = k;
        break;
      }
    }
    if (most < 0) return -1;
    const m = dests[this.indexOf(set[most])];
    let moh = connOverhead(m);
    let mw = m.weight;
    for (k++; k < set.length; k++) {
      const i = this.indexOf(set[k]);
      if (i < 0) continue;
      const doh = connOverhead(dests[i]);
      if (moh * dests[i].weight < doh * mw && dests[i].weight > 0) {
        most = k;
        moh = doh;
        mw = dests[i].weight;
      }
    }
    return most;
  }
}
