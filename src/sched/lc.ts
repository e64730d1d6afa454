// Least-connection, as net/netfilter/ipvs/ip_vs_lc.c does it.
//
// The kernel walks the list and keeps the first server with the smallest
// ip_vs_dest_conn_overhead (active * 256 + inactive), replacing it only on a strictly smaller
// overhead (`doh < loh`), so ties go to the earlier server in list order. Weight plays no part
// beyond exclusion: weight 0 (quiesced) and IP_VS_DEST_F_OVERLOAD servers are skipped, and a
// server of weight 1 is as good as one of weight 100 with the same counts.
//
// Here: load = active * 256 + inactive (ip_vs_dest_conn_overhead), rate 1 for every eligible
// server, in the shared tournament tree (load_index.ts): a decision is O(1), a count change
// O(log n).

import { LoadIndexScheduler, type LoadRule } from "./load_index.ts";

export const LC_RULE: LoadRule = {
  activeCost: 256,
  inactiveCost: 1,
  extra: 0,
  idleFirst: false,
  byWeight: false,
  overflowsAtWeight: false,
};

/** A fresh lc scheduler (no destinations yet). Every connection-count scheduler is the same
 *  class with another rule, so the hot path stays monomorphic (see load_index.ts). */
export function leastConnectionScheduler(): LoadIndexScheduler {
  return new LoadIndexScheduler("lc", LC_RULE);
}
