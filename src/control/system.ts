// What the Director drives, as interfaces: the rings, the packet workers, and the host (VIP
// placement, the nft guard, receive offloads, routes and neighbours). openSystem() builds them on
// the real kernel; src/control/simulated_system.ts builds them in-process on the shim's
// simulation handles, with an in-thread forwarder and a host that runs no commands (Katran's
// testing mode), so the Director's plan, reload, slot reuse and connection survival are unit
// tests.
import type { DirectorConfig, ServiceConfig } from "../config/model.ts";
import type { RingParams } from "../dataplane/ffi.ts";
import { RingSet } from "../dataplane/ring_set.ts";
import { KernelGuard } from "./kernel_guard.ts";
import { ReceiveOffloads } from "./offloads.ts";
import { PacketWorkers, type WorkerPool } from "./packet_workers.ts";
import { Reachability, type Reach, type RealServerTarget } from "./reachability.ts";
import { placeVips, sysctlWarnings, type VipPlacement } from "./vip_placement.ts";

export interface DirectorHost {
  placeVips(config: DirectorConfig): Promise<VipPlacement>;
  sysctlWarnings(ifnames: readonly string[], on: ReadonlyMap<string, string>): Promise<string[]>;
}

/** Keeps the kernel's own copy of service traffic away from its stack (KernelGuard). */
export interface ServiceGuard {
  install(services: readonly ServiceConfig[]): Promise<void>;
  remove(): Promise<void>;
}

export interface OffloadControl {
  /** A warning to log when an offload could not be turned off, else null. */
  disable(): Promise<string | null>;
  restore(): Promise<void>;
}

/** How real servers are reached (Reachability). */
export interface ReachSource {
  /** Addresses whose answer from get() changed since the last call, for a target looked up
   *  before; clears them. */
  takeChanged(): ReadonlySet<string>;
  /** Re-read routes and neighbours for `targets`; problems by address. */
  refresh(targets: readonly RealServerTarget[]): Promise<Map<string, string>>;
  /** What refresh() does, but only as far as something changed since (the kernel's
   *  notifications say what), with a full refresh now and then; problems by address. */
  refreshIfChanged(targets: readonly RealServerTarget[]): Promise<Map<string, string>>;
  /** Look up only targets never looked up before; problems by address. */
  refreshNew(targets: readonly RealServerTarget[]): Promise<Map<string, string>>;
  get(target: RealServerTarget): Reach;
  release(): Promise<void>;
}

export interface DirectorSystem {
  rings: RingSet;
  workers: WorkerPool;
  host: DirectorHost;
  guard: ServiceGuard;
  offloads: OffloadControl[];
  reach: ReachSource;
  /** Period of the refresh (routes, neighbours, slot reclaim); null: no timer, the owner calls
   *  Director.refresh() itself (simulation). */
  refreshMs: number | null;
  /** How long start() waits for real-server MACs before it forwards without them. */
  macWaitMs: number;
}

const REFRESH_MS = 1000;
const MAC_WAIT_MS = 3000;

/** The host as it is: `ip`, /proc/sys. */
export const KERNEL_HOST: DirectorHost = { placeVips, sysctlWarnings };

/** Open the real system for `config`: rings on its interfaces (`params` adds the capacities the
 *  Director chooses), packet worker threads, the nft guard, offload control and reachability.
 *  Nothing is installed yet; the Director does that. Throws when a ring cannot be opened. */
export function openSystem(config: DirectorConfig, params: RingParams, log: (msg: string) => void): DirectorSystem {
  const rings = RingSet.open(config.interfaces, params, config.workers.count);
  return {
    rings,
    workers: new PacketWorkers(rings, config.flowTableSize, params.slotCapacity, log),
    host: KERNEL_HOST,
    guard: new KernelGuard(config.interfaces),
    offloads: config.interfaces.map((ifname) => new ReceiveOffloads(ifname)),
    // With one receiving interface it is every ring's tx_if 0; with several, each ring has its
    // own there, so every egress interface gets a transmit socket numbered alike in all rings.
    reach: new Reachability(config.interfaces.length === 1 ? config.interface : null, rings, config.tunnelSource),
    refreshMs: REFRESH_MS,
    macWaitMs: MAC_WAIT_MS,
  };
}
