// Weighted fail-over, as net/netfilter/ipvs/ip_vs_fo.c does it.
//
// The kernel walks the list and keeps the server with the highest weight among those that are
// not IP_VS_DEST_F_OVERLOAD, replacing it only on a strictly higher weight (`weight > hw`, hw
// starting at 0, so weight 0 is never taken); ties go to the earlier server in list order.
// Connection counts play no part: all new connections go to one server until it is quiesced,
// removed or overloaded, or another one gets a higher weight.
//
// Here: load = 1, rate = weight (minimising 1/weight is maximising weight), in the shared
// tournament tree (load_index.ts); availability changes arrive through destChanged.

import { LoadIndexScheduler, type LoadRule } from "./load_index.ts";

export const FO_RULE: LoadRule = {
  activeCost: 0,
  inactiveCost: 0,
  extra: 1,
  idleFirst: false,
  byWeight: true,
  overflowsAtWeight: false,
};

/** A fresh fo scheduler (no destinations yet). Every connection-count scheduler is the same
 *  class with another rule, so the hot path stays monomorphic (see load_index.ts). */
export function weightedFailoverScheduler(): LoadIndexScheduler {
  return new LoadIndexScheduler("fo", FO_RULE);
}
