// Never queue, as net/netfilter/ipvs/ip_vs_nq.c does it.
//
// The kernel walks the list skipping IP_VS_DEST_F_OVERLOAD and weight-0 servers; the first one
// with no active connections is returned at once ("return the server directly if it is idle"),
// whatever its weight and whatever came before it. If none is idle the result is sed's: the
// smallest (active + 1) / weight by `(s64)loh * dest->weight > (s64)doh * least->weight`, the
// earlier server on ties. Inactive connections count for neither rule.
//
// Here both rules are one ordering: an idle server gets load 0, so all idle servers tie at the
// lowest possible load/weight (the leftmost wins, as the early return does) and beat every busy
// one, whose load is active + 1 >= 2. Shared tournament tree: load_index.ts.

import { LoadIndexScheduler, type LoadRule } from "./load_index.ts";

export const NQ_RULE: LoadRule = {
  activeCost: 1,
  inactiveCost: 0,
  extra: 1,
  idleFirst: true,
  byWeight: true,
  overflowsAtWeight: false,
};

/** A fresh nq scheduler (no destinations yet). Every connection-count scheduler is the same
 *  class with another rule, so the hot path stays monomorphic (see load_index.ts). */
export function neverQueueScheduler(): LoadIndexScheduler {
  return new LoadIndexScheduler("nq", NQ_RULE);
}
