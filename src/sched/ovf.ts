// Overflow-connection, as net/netfilter/ipvs/ip_vs_ovf.c does it.
//
// The kernel walks the list skipping servers that are IP_VS_DEST_F_OVERLOAD, have weight 0, or
// have `activeconns > weight`, and keeps the one with the highest weight (`!h || w > hw`), the
// earlier in list order on ties. So the heaviest server takes every new connection until it
// OVERFLOWS, and then the next heaviest does. Note the test is `>`, not `>=`: a server is still
// chosen when its active count EQUALS its weight, so a server of weight w ends up holding w + 1
// active connections before the next one is used. Inactive connections are ignored. Unlike the
// other schedulers, ovf can answer -1 while eligible servers exist: when every one overflows.
//
// Here: load = 1, rate = weight while active <= weight and 0 after, in the shared tournament
// tree (load_index.ts); count changes arrive through destChanged.

import { LoadIndexScheduler, type LoadRule } from "./load_index.ts";

export const OVF_RULE: LoadRule = {
  activeCost: 0,
  inactiveCost: 0,
  extra: 1,
  idleFirst: false,
  byWeight: true,
  overflowsAtWeight: true,
};

/** A fresh ovf scheduler (no destinations yet). Every connection-count scheduler is the same
 *  class with another rule, so the hot path stays monomorphic (see load_index.ts). */
export function overflowConnectionScheduler(): LoadIndexScheduler {
  return new LoadIndexScheduler("ovf", OVF_RULE);
}
