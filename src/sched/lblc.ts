// Locality-based least-connection, as net/netfilter/ipvs/ip_vs_lblc.c does it.
//
// For cache farms: each destination address sticks to one server so that cache stays hot.
//   if the address has an entry and its server is in the service, has weight > 0, and is not
//      overloaded (more active connections than its weight while some server in the list has
//      fewer than half its weight), take that server;
//   otherwise take the weighted least-connection server (overhead = active * 256 + inactive,
//      over weight; the first in list order on a tie) and point the entry at it.
// Every lookup refreshes the entry's last use; the periodic check in locality.ts deletes
// entries unused for `expiration` (one day by default) or, when the table is over 16384
// entries, for six minutes.
//
// Entries name their server by slot, as the kernel's name a struct ip_vs_dest. A deleted
// server is the kernel's "in the trash" (no IP_VS_DEST_F_AVAILABLE): its entries are rescheduled
// on their next use, and if it comes back with the same slot before that they point at it
// again, as a restored trash entry would.
//
// One deviation: for the cached server the kernel checks IP_VS_DEST_F_AVAILABLE, the weight and
// its own overload rule, but not IP_VS_DEST_F_OVERLOAD (the upper connection threshold), so it
// keeps sending an address to a server over its -x threshold. Here `available === false` also
// means "no MAC yet", which must never be chosen, so an unavailable cached server is rescheduled.

import { LocalityScheduler, overloadedWithSpareServer, weightedLeastConnection, type LocalityEntry } from "./locality.ts";

export type { LocalityOptions } from "./locality.ts";

interface LblcEntry extends LocalityEntry {
  readonly slot: number;
}

export class LblcScheduler extends LocalityScheduler<LblcEntry> {
  readonly name = "lblc";

  /** The destination address -> server table, as (daddr, slot, lastuse), for tests and stats. */
  entries(): { daddr: number; slot: number; lastuse: number }[] {
    return this.table.entries().map((e) => ({ daddr: e.daddr, slot: e.slot, lastuse: e.lastuse }));
  }

  schedule(_saddr: number, daddr: number, _sport: number, _dport: number, now: number): number {
    const dests = this.dests;
    const en = this.lookup(daddr, now);
    if (en !== undefined) {
      const i = this.indexOf(en.slot);
      if (i >= 0) {
        const d = dests[i];
        if (d.available && d.weight > 0 && !overloadedWithSpareServer(d, dests)) return i;
      }
    }
    const i = weightedLeastConnection(dests);
    if (i < 0) return -1;
    // ip_vs_lblc_new: keep an entry already on this server, else replace it with a fresh one.
    const slot = dests[i].slot;
    if (en !== undefined) {
      if (en.slot === slot) return i;
      this.table.delete(en);
    }
    this.table.add({ daddr: daddr >>> 0, slot, lastuse: now });
    return i;
  }
}
