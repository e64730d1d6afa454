// The scheduler registry: the one place that maps an ipvsadm scheduler name (-s) to its
// implementation. A new algorithm is one file in this folder plus one line in SCHEDULERS.

import type { SchedulerName } from "../config/model.ts";
import { RoundRobinScheduler } from "./rr.ts";
import { DEFAULT_SCHEDULER_FLAGS, type Scheduler, type SchedulerFlags } from "./scheduler.ts";
import { WeightedRoundRobinScheduler } from "./wrr.ts";
import { weightedFailoverScheduler } from "./fo.ts";
import { leastConnectionScheduler } from "./lc.ts";
import { neverQueueScheduler } from "./nq.ts";
import { overflowConnectionScheduler } from "./ovf.ts";
import { shortestExpectedDelayScheduler } from "./sed.ts";
import { weightedLeastConnectionScheduler } from "./wlc.ts";
import { DestinationHashScheduler } from "./dh.ts";
import { LblcScheduler } from "./lblc.ts";
import { LblcrScheduler } from "./lblcr.ts";
import { MaglevScheduler } from "./mh.ts";
import { SourceHashScheduler } from "./sh.ts";
import { TwosScheduler } from "./twos.ts";

export type { SchedDest, Scheduler, SchedulerFlags } from "./scheduler.ts";
export { DEFAULT_SCHEDULER_FLAGS } from "./scheduler.ts";
export { RoundRobinScheduler } from "./rr.ts";
export { WeightedRoundRobinScheduler } from "./wrr.ts";
export { LoadIndexScheduler, type LoadRule } from "./load_index.ts";
export { DestinationHashScheduler } from "./dh.ts";
export { LblcScheduler } from "./lblc.ts";
export { LblcrScheduler } from "./lblcr.ts";
export { MaglevScheduler, maglevTable } from "./mh.ts";
export { SourceHashScheduler } from "./sh.ts";
export { TwosScheduler } from "./twos.ts";

const SCHEDULERS: { readonly [N in SchedulerName]: (flags: SchedulerFlags) => Scheduler } = {
  rr: () => new RoundRobinScheduler(),
  wrr: () => new WeightedRoundRobinScheduler(),
  // connection-count schedulers: lc wlc sed nq fo ovf
  lc: leastConnectionScheduler,
  wlc: weightedLeastConnectionScheduler,
  sed: shortestExpectedDelayScheduler,
  nq: neverQueueScheduler,
  fo: weightedFailoverScheduler,
  ovf: overflowConnectionScheduler,
  // hashing, locality and random schedulers: dh sh mh lblc lblcr twos
  dh: () => new DestinationHashScheduler(),
  sh: (flags) => new SourceHashScheduler(flags),
  mh: (flags) => new MaglevScheduler(flags),
  lblc: () => new LblcScheduler(),
  lblcr: () => new LblcrScheduler(),
  twos: () => new TwosScheduler(),
};

/** A fresh scheduler with no destinations (it returns -1 until `setDestinations`). Each virtual
 *  service needs its own instance: schedulers keep per-service state (cursor, current weight). */
export function createScheduler(name: SchedulerName, flags: SchedulerFlags = DEFAULT_SCHEDULER_FLAGS): Scheduler {
  const make = SCHEDULERS[name];
  // The type admits only known names; a name smuggled past it (e.g. an unchecked cast from
  // config) is a programmer error, since config validation rejects unknown schedulers.
  if (make === undefined) throw new Error(`unknown scheduler "${String(name)}"`);
  return make(flags);
}

/** Turns the operator's add order (config file order, `ipvsadm -a` order) into the order a
 *  scheduler must see. Kernel IPVS `list_add`s every new real server at the HEAD of the service's
 *  list, so the list, and with it every walk a scheduler makes, runs newest first: after adding
 *  X, Y, Z, rr picks Z first and wrr breaks ties in favour of the newest server. Feeding
 *  schedulers this order is what makes ringvs choose the same server as the kernel would for the
 *  same configuration. Returns a new array; the input is not changed. */
export function listOrder<T>(addedOrder: readonly T[]): T[] {
  return addedOrder.slice().reverse();
}
