// The scheduler registry: the one place that names the ipvsadm schedulers (-s), says which -b
// flags each reads and maps a name to its implementation. Config, CLI and data plane take names
// and defaults from here. A new algorithm is one file in this folder plus one line in REGISTRY.

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
export { MaglevScheduler, maglevTable, MH_TABLE_SIZE_DEFAULT } from "./mh.ts";
export { SourceHashScheduler } from "./sh.ts";
export { TwosScheduler } from "./twos.ts";

/** How each scheduler is built and what it reads of ipvsadm's -b flags, in the order IPVS lists
 *  them (unknown-scheduler messages and the usage text print this order). sh and mh read
 *  IP_VS_SVC_F_SCHED1 as "fallback" and SCHED2 as "port"; no scheduler reads SCHED3 and no other
 *  scheduler reads any of them; mh alone has a lookup table size. */
const REGISTRY = {
  rr: { make: () => new RoundRobinScheduler(), hashFlags: false },
  wrr: { make: () => new WeightedRoundRobinScheduler(), hashFlags: false },
  lc: { make: leastConnectionScheduler, hashFlags: false },
  wlc: { make: weightedLeastConnectionScheduler, hashFlags: false },
  sed: { make: shortestExpectedDelayScheduler, hashFlags: false },
  nq: { make: neverQueueScheduler, hashFlags: false },
  lblc: { make: () => new LblcScheduler(), hashFlags: false },
  lblcr: { make: () => new LblcrScheduler(), hashFlags: false },
  dh: { make: () => new DestinationHashScheduler(), hashFlags: false },
  sh: { make: (flags: SchedulerFlags) => new SourceHashScheduler(flags), hashFlags: true },
  mh: { make: (flags: SchedulerFlags) => new MaglevScheduler(flags), hashFlags: true },
  fo: { make: weightedFailoverScheduler, hashFlags: false },
  ovf: { make: overflowConnectionScheduler, hashFlags: false },
  twos: { make: () => new TwosScheduler(), hashFlags: false },
} satisfies Record<string, { make: (flags: SchedulerFlags) => Scheduler; hashFlags: boolean }>;

/** Every IPVS scheduler (ipvsadm -s): the registry's keys. */
export type SchedulerName = keyof typeof REGISTRY;

/** Every scheduler kernel IPVS ships, in IPVS's order; any other name is unknown. */
export const SCHEDULER_NAMES = Object.keys(REGISTRY) as readonly SchedulerName[];

/** ipvsadm.c DEF_SCHED: what a service gets without -s. */
export const DEFAULT_SCHEDULER: SchedulerName = "wlc";

export function isSchedulerName(name: string): name is SchedulerName {
  return Object.hasOwn(REGISTRY, name);
}

/** True for the schedulers that read the hash flags (-b sh-fallback/sh-port, mh-fallback/mh-port,
 *  ipvsadm's flag-1/flag-2): sh and mh. The flags are named after the scheduler. */
export function readsHashFlags(name: string): name is "sh" | "mh" {
  return isSchedulerName(name) && REGISTRY[name].hashFlags;
}

/** A fresh scheduler with no destinations (it returns -1 until `setDestinations`). Each virtual
 *  service needs its own instance: schedulers keep per-service state (cursor, current weight). */
export function createScheduler(name: SchedulerName, flags: SchedulerFlags = DEFAULT_SCHEDULER_FLAGS): Scheduler {
  // The type admits only known names; a name smuggled past it (e.g. an unchecked cast from
  // config) is a programmer error, since config validation rejects unknown schedulers.
  if (!isSchedulerName(name)) throw new Error(`unknown scheduler "${String(name)}"`);
  return REGISTRY[name].make(flags);
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
