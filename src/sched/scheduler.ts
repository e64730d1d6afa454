// The scheduler interface. A scheduler picks a real server for a *new* connection; existing
// connections never reach it (the flow table answers them). It sees destinations in kernel IPVS
// list order (newest added first) and works only on numbers so that a decision allocates nothing.

import { MH_TABLE_SIZE_DEFAULT } from "./mh.ts";

export interface SchedDest {
  /** Index of the real server in the data plane's slot table. */
  readonly slot: number;
  /** The real server's address and port (host order): mh hashes its permutation from them, as
   *  the kernel does; without them mh builds a valid table that is not the kernel's. */
  readonly addr?: number;
  readonly port?: number;
  /** Current weight; 0 = never chosen for new connections. */
  weight: number;
  /** False while the real server cannot take new connections: no MAC yet, or over its upper
   *  connection threshold (ipvsadm -x; the kernel's IP_VS_DEST_F_OVERLOAD). Schedulers skip it. */
  available: boolean;
  /** Connections in ESTABLISHED (active) and in any other state (inactive), as IPVS counts them;
   *  kept by the connection tracker, read by lc/wlc/sed/nq/lblc/lblcr/ovf/twos. */
  activeConns: number;
  inactiveConns: number;
}

/** ipvsadm -b flags (sh-fallback, sh-port, mh-fallback, mh-port) and the Maglev table size. */
export interface SchedulerFlags {
  /** sh/mh: also hash the source port. */
  port: boolean;
  /** sh/mh: when the hashed server is unavailable, take the next eligible one instead of failing. */
  fallback: boolean;
  /** mh: lookup table size, a prime (the kernel's CONFIG_IP_VS_MH_TAB_INDEX picks from a list). */
  mhTableSize: number;
}

export const DEFAULT_SCHEDULER_FLAGS: SchedulerFlags = { port: false, fallback: false, mhTableSize: MH_TABLE_SIZE_DEFAULT };

export interface Scheduler {
  readonly name: string;
  /** Called whenever the list, a weight or an availability changes. `dests` is in kernel list
   *  order and the scheduler may keep the reference; it must be re-read on every call. */
  setDestinations(dests: readonly SchedDest[]): void;
  /** Index into the current `dests` for a new connection, or -1 when none can take it.
   *  Addresses are host-order u32, ports host-order, `now` whole seconds on a monotonic clock
   *  (lblc/lblcr age their tables with it; others ignore it). */
  schedule(saddr: number, daddr: number, sport: number, dport: number, now: number): number;
  /** dests[index] changed its connection counts or availability (not its weight or position:
   *  those come through setDestinations). Schedulers that index their servers by load (lc, wlc,
   *  sed, nq) update that index here; the rest need not implement it. */
  destChanged?(index: number): void;
}
