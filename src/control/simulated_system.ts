// A Director's system without a kernel (Katran's testing mode, KatranSimulator): one shim
// simulation handle per receiving interface, the packet workers' Forwarder run in this thread
// (a published plan is in force at once), and a host that runs no command: no local addresses
// (so every VIP is answered for by ringvs, as vipMode "arp"), no nft, no offloads, and real
// servers reachable at a MAC made from their address unless a test says otherwise. The Director,
// the plan compiler, the slot allocator and the Forwarder are the production ones; only what
// they drive is simulated. Packets go in and come out through pump().
import type { DirectorConfig, ServiceConfig } from "../config/model.ts";
import { serviceMatches } from "../config/service.ts";
import { CONNECTION_PAGE_BUCKETS, Forwarder } from "../dataplane/forwarder.ts";
import { ipToU32, type Plan, type PlanChange, type PlanService } from "../dataplane/plan.ts";
import {
  DEST_COUNTER_STRIDE, newDestCounterBuffer, newPolicyCounterBuffer, POLICY_COUNTER_NAMES, readPolicyCounters,
  type PolicyCounters,
} from "../dataplane/policy_counters.ts";
import { RingSet } from "../dataplane/ring_set.ts";
import { Director, type Log } from "./director.ts";
import { workerChange, workerPlan, type WorkerPool } from "./packet_workers.ts";
import type { Reach, RealServerTarget } from "./reachability.ts";
import type { DirectorSystem, ServiceGuard } from "./system.ts";
import type { VipPlacement } from "./vip_placement.ts";

/** The director's MAC in a simulation. */
export const SIMULATED_MAC = new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
/** The outer source of simulated TUN packets. */
export const SIMULATED_TUNNEL_SOURCE = "198.18.0.1";

/** The MAC a simulated real server answers with: 02:00 and its IPv4 address. */
export function simulatedMac(address: string): number[] {
  const a = ipToU32(address);
  return [0x02, 0x00, a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255];
}

/** Every ring's Forwarder, in this thread. */
export class InThreadWorkers implements WorkerPool {
  readonly forwarders: Forwarder[] = [];
  private readonly counters: SharedArrayBuffer[] = [];
  private readonly dest: Uint32Array[] = [];
  private seq = 0;

  constructor(private readonly rings: RingSet, private readonly flowTableSize: number) {}

  async start(first: Plan, rest: Iterable<PlanService[]>): Promise<void> {
    const plan = { ...first, services: [...first.services] };
    for (const services of rest) plan.services.push(...services);
    for (const ring of this.rings.rings) {
      const counters = newPolicyCounterBuffer();
      const destCounters = newDestCounterBuffer(ring.slotCapacity);
      this.counters.push(counters);
      this.dest.push(new Uint32Array(destCounters));
      this.forwarders.push(new Forwarder(ring, this.flowTableSize, counters, workerPlan(plan, this.rings.count), destCounters));
    }
  }

  publish(change: PlanChange): number {
    const c = workerChange(change, this.rings.count);
    for (const f of this.forwarders) f.applyChange(c);
    return ++this.seq;
  }

  get nextSeq(): number {
    return this.seq + 1;
  }

  /** Every plan is in force as soon as it is published. */
  appliedSeq(): number {
    return this.seq;
  }

  destCounter(slot: number, field: number): number {
    const at = slot * DEST_COUNTER_STRIDE + field;
    let n = 0;
    for (const d of this.dest) n += d[at]!;
    return n;
  }

  destCounters(slot: number): [number, number, number, number, number] {
    const out: [number, number, number, number, number] = [0, 0, 0, 0, 0];
    const base = slot * DEST_COUNTER_STRIDE;
    for (const d of this.dest) for (let i = 0; i < DEST_COUNTER_STRIDE; i++) out[i] += d[base + i]!;
    return out;
  }

  async *connectionPages(): AsyncGenerator<number[][]> {
    for (const f of this.forwarders) {
      for (let from = 0; from >= 0;) {
        const page = f.connectionPage(Math.floor(performance.now() / 1000), from, CONNECTION_PAGE_BUCKETS);
        if (page.rows.length > 0) yield page.rows;
        from = page.next;
      }
    }
  }

  policyCountersOf(index: number): PolicyCounters {
    return readPolicyCounters(this.counters[index]!);
  }

  policyCounters(): PolicyCounters {
    const sum = readPolicyCounters(this.counters[0]!);
    for (const c of this.counters.slice(1)) {
      const more = readPolicyCounters(c);
      for (const n of POLICY_COUNTER_NAMES) sum[n] += more[n];
    }
    return sum;
  }

  /** One batch through ring `index` at `now` (whole seconds): the frames are received, given
   *  verdicts by its Forwarder and sent; returns what the batch sent, in order. Frames the
   *  control side sent before it (gratuitous ARP) are discarded, not returned. */
  pump(frames: readonly Uint8Array[], now: number, index = 0): Uint8Array[] {
    const ring = this.rings.rings[index]!;
    ring.simTakeTx();
    for (const f of frames) ring.simPush(f);
    const n = ring.rx(0);
    if (n > 0) {
      this.forwarders[index]!.process(n, now);
      ring.tx();
    }
    return ring.simTakeTx();
  }

  /** Expiry sweeps of every worker at `now`, as the idle loop runs them. */
  housekeeping(now: number): void {
    for (const f of this.forwarders) {
      f.housekeeping(now, true);
      f.expireTemplates(now);
    }
  }

  async stop(): Promise<void> {}

  terminate(): void {}
}

/** Real servers are reachable at simulatedMac(address) unless marked down. */
export class SimulatedReach {
  /** Addresses with no MAC (as if ARP went unanswered). */
  readonly down = new Set<string>();
  /** `down` as the last refresh saw it: answers change at a refresh, as lookups do. */
  private seenDown = new Set<string>();
  private changed = new Set<string>();

  /** Nothing to look up: what went down or came back since the last refresh has changed. */
  async refresh(): Promise<Map<string, string>> {
    for (const a of this.down) if (!this.seenDown.has(a)) this.changed.add(a);
    for (const a of this.seenDown) if (!this.down.has(a)) this.changed.add(a);
    this.seenDown = new Set(this.down);
    return new Map();
  }

  /** Nothing to be notified of: every refresh is a full one. */
  async refreshIfChanged(): Promise<Map<string, string>> {
    return this.refresh();
  }

  takeChanged(): ReadonlySet<string> {
    const out = this.changed;
    this.changed = new Set();
    return out;
  }

  /** As Reachability.refreshNew: nothing looked up before changes; `down` takes effect at the
   *  next refresh(). */
  async refreshNew(targets: readonly RealServerTarget[]): Promise<Map<string, string>> {
    // What a change adds is looked up now (compiled anyway, so not "changed").
    for (const t of targets) {
      if (this.down.has(t.address)) this.seenDown.add(t.address);
      else this.seenDown.delete(t.address);
    }
    return new Map();
  }

  get(t: RealServerTarget): Reach {
    if (this.seenDown.has(t.address)) return { mac: null, tunnel: null, egress: null, problem: `no MAC for ${t.address} (simulated)` };
    const mac = simulatedMac(t.address);
    if (t.forward === "dr") return { mac, tunnel: null, egress: null, problem: null };
    const tunnel = { saddr: ipToU32(SIMULATED_TUNNEL_SOURCE), smac: Array.from(SIMULATED_MAC), mtu: 1500, txIf: 0 };
    return { mac, tunnel, egress: null, problem: null };
  }

  async release(): Promise<void> {}
}

/** Records what the nft guard would hold. */
export class SimulatedGuard implements ServiceGuard {
  installs = 0;
  services: readonly ServiceConfig[] = [];

  async install(services: readonly ServiceConfig[]): Promise<void> {
    this.installs++;
    this.services = services;
  }

  async remove(): Promise<void> {
    this.services = [];
  }
}

/** No local addresses: every VIP is ringvs's to answer ARP for; a "local" VIP mode is refused as
 *  the kernel host refuses a VIP that is not configured. */
async function placeSimulatedVips(config: DirectorConfig): Promise<VipPlacement> {
  const vips = new Set(config.services.flatMap((s) => serviceMatches(s).map((m) => m.address)));
  if (config.vipMode === "local" && vips.size > 0) {
    throw new Error(`vipMode "local": VIP ${[...vips][0]} is not configured on this host (simulation has no local addresses)`);
  }
  return { local: new Set(), arp: vips, dip: null, on: new Map() };
}

export interface SimulatedSystem extends DirectorSystem {
  workers: InThreadWorkers;
  reach: SimulatedReach;
  guard: SimulatedGuard;
}

export interface SimulationOptions {
  /** Real-server slots per ring (default 1024). */
  slotCapacity?: number;
  /** Flow table entries per worker (default the config's). */
  flowTableSize?: number;
}

/** The simulated system for `config`: one simulation handle per receiving interface. */
export function simulatedSystem(config: DirectorConfig, options: SimulationOptions = {}): SimulatedSystem {
  const rings = RingSet.simulated(config.interfaces, SIMULATED_MAC, {
    ...config.ring, descCapacity: 1024, slotCapacity: options.slotCapacity ?? 1024,
  });
  return {
    rings,
    workers: new InThreadWorkers(rings, options.flowTableSize ?? config.flowTableSize),
    host: { placeVips: placeSimulatedVips, sysctlWarnings: async () => [] },
    guard: new SimulatedGuard(),
    offloads: [],
    reach: new SimulatedReach(),
    refreshMs: null,
    macWaitMs: 0,
  };
}

/** A Director running `config` on a fresh simulated system. */
export async function startSimulated(
  config: DirectorConfig,
  options: SimulationOptions & { log?: Log } = {},
): Promise<{ director: Director; system: SimulatedSystem }> {
  const system = simulatedSystem(config, options);
  const director = await Director.startOn(system, config, await system.host.placeVips(config), options.log ?? (() => {}));
  return { director, system };
}
