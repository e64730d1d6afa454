// The scheduler interface. A scheduler picks a real server for a *new* connection; existing
// connections never reach it (the flow table answers them). It sees destinations in kernel IPVS
// list order (newest added first) and works only on numbers so that a decision allocates nothing.

export interface SchedDest {
  /** Index of the real server in the data plane's slot table. */
  readonly slot: number;
  /** Current weight; 0 = never chosen for new connections. */
  weight: number;
  /** False while the real server cannot receive traffic (no MAC yet, later: over its threshold). */
  available: boolean;
  /** Connection counts, read by lc/wlc/sed/nq (later issue). */
  activeConns: number;
  inactiveConns: number;
}

export interface Scheduler {
  readonly name: string;
  /** Called whenever the list, a weight or an availability changes. `dests` is in kernel list
   *  order and the scheduler may keep the reference; it must be re-read on every call. */
  setDestinations(dests: readonly SchedDest[]): void;
  /** Index into the current `dests` for a new connection, or -1 when none can take it.
   *  Addresses are host-order u32, ports host-order. */
  schedule(saddr: number, daddr: number, sport: number, dport: number): number;
}
