// Shortest expected delay, as net/netfilter/ipvs/ip_vs_sed.c does it.
//
// Like wlc, but the overhead is `activeconns + 1`: the expected delay of the NEW connection on
// that server, (C + 1) / U in the Weinrib-Shenker paper the kernel cites. Inactive connections
// do not count. The kernel takes the first eligible server (not IP_VS_DEST_F_OVERLOAD, weight
// > 0) and replaces it when `(s64)loh * dest->weight > (s64)doh * least->weight`; ties keep
// the earlier server in list order.
//
// The "+ 1" is what separates it from wlc on idle servers: with weights 1 and 2 and no
// connections, wlc sees 0/1 = 0/2 and keeps the first, sed sees 1/1 > 1/2 and takes the second.
//
// Here: load = active + 1, rate = weight, in the shared tournament tree (load_index.ts).

import { LoadIndexScheduler, type LoadRule } from "./load_index.ts";

export const SED_RULE: LoadRule = {
  activeCost: 1,
  inactiveCost: 0,
  extra: 1,
  idleFirst: false,
  byWeight: true,
  overflowsAtWeight: false,
};

/** A fresh sed scheduler (no destinations yet). Every connection-count scheduler is the same
 *  class with another rule, so the hot path stays monomorphic (see load_index.ts). */
export function shortestExpectedDelayScheduler(): LoadIndexScheduler {
  return new LoadIndexScheduler("sed", SED_RULE);
}
