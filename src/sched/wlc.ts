// Weighted least-connection, as net/netfilter/ipvs/ip_vs_wlc.c does it (ipvsadm's default).
//
// The kernel takes the first server that is not IP_VS_DEST_F_OVERLOAD and has weight > 0, then
// walks the rest and replaces it when `(s64)loh * dest->weight > (s64)doh * least->weight`, i.e.
// when overhead/weight is strictly smaller, with overhead = active * 256 + inactive
// (ip_vs_dest_conn_overhead). Ties keep the earlier server in list order. The second loop does
// not test the weight: a weight-0 server can never win it (0 > doh * lw is false for doh >= 0),
// so it is skipped like in the first loop.
//
// Here: load = active * 256 + inactive, rate = weight, in the shared tournament tree
// (load_index.ts).

import { LoadIndexScheduler, type LoadRule } from "./load_index.ts";

export const WLC_RULE: LoadRule = {
  activeCost: 256,
  inactiveCost: 1,
  extra: 0,
  idleFirst: false,
  byWeight: true,
  overflowsAtWeight: false,
};

/** A fresh wlc scheduler (no destinations yet). Every connection-count scheduler is the same
 *  class with another rule, so the hot path stays monomorphic (see load_index.ts). */
export function weightedLeastConnectionScheduler(): LoadIndexScheduler {
  return new LoadIndexScheduler("wlc", WLC_RULE);
}
