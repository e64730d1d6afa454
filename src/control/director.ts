// The director: the shell that runs a validated DirectorConfig on a system (src/control/system.ts:
// rings, packet workers, nft guard, offloads, reachability; the real kernel or a simulation). It
// places VIPs, gives every service and (service, real server) pair a stable id, has the plan
// compiler (plan_compiler.ts) turn config, ids and reachability into the plan the workers run,
// and publishes it. The CLI is a thin shell over it.
import { REAL_SERVER_ENTRIES_MAX, type DirectorConfig, type ServiceConfig } from "../config/model.ts";
import { serviceLabel, serviceMatches, showMatch } from "../config/service.ts";
import { setThreadCpus, threadCpus, type RingParams } from "../dataplane/ffi.ts";
import { gratuitousArp } from "../dataplane/arp.ts";
import type { Counters } from "../dataplane/layout.ts";
import { IPPROTO_TCP } from "../dataplane/layout.ts";
import { ipToU32, macToString, u32ToIp, type PlanChange } from "../dataplane/plan.ts";
import { DEST_BOUND, DEST_SCHEDULED, DEST_TEMPLATES, type PolicyCounters } from "../dataplane/policy_counters.ts";
import type { RingSet } from "../dataplane/ring_set.ts";
import { TCP_STATE_NAMES } from "../flow/tcp_state.ts";
import type { ConnectionEntry } from "./control.ts";
import type { WorkerPool } from "./packet_workers.ts";
import { fanoutMask } from "./plan_compiler.ts";
import { PlanBuilder, replacedServices } from "./plan_builder.ts";
import { RefCounts } from "./ref_counts.ts";
import type { RealServerTarget } from "./reachability.ts";
import {
  KERNEL_HOST, openSystem, type DirectorHost, type DirectorSystem, type OffloadControl, type ReachSource, type ServiceGuard,
} from "./system.ts";
import type { VipPlacement } from "./vip_placement.ts";

export { fanoutMask } from "./plan_compiler.ts";

/** Descriptors per batch: 8 blocks' worth at the default 8 KiB block (the shim takes another ready
 *  block while block_size / 64 descriptors, its most minimum-size frames, still fit): ~400 frames
 *  of 64 bytes. A batch touches each frame twice, parsing it into a descriptor and later rewriting
 *  and sending it; 8192 descriptors (1.3 MB of frames) fell out of the cache in between, and drains
 *  of new flows ran 0.82-0.92 of cfwd against 0.94-1.09 with 1024, alternating in one session. */
const DESC_CAPACITY = 1024;
/** Real-server slots: one per configured (service, real server) pair, plus removed ones that
 *  connections still hold (src/control/slot_allocator.ts). */
const SLOT_CAPACITY = REAL_SERVER_ENTRIES_MAX;
/** ICMP "fragmentation needed" (TUN path MTU): at most 50 a second, 10 in hand. The kernel's own
 *  icmp_ratelimit allows one per second per destination; one shared bucket is simpler and keeps a
 *  flood of oversized DF packets from turning the director into an ICMP source. */
const ICMP_RATE = 50;
const ICMP_BURST = 10;
/** Gratuitous ARPs sent at start, one per second, as arping -U -c 3 would. */
const GARP_COUNT = 3;
/** Services per part of the start plan (see startOn). */
const START_PART = 2000;
/** Gratuitous ARP frames sent before the event loop gets a turn. */
const GARP_PART = 500;
/** VIPs a log line names before it counts the rest. */
const GARP_LOGGED = 20;

export type Log = (msg: string) => void;

export interface DestStats {
  address: string;
  port: number;
  weight: number;
  mac: string | null;
  packets: number;
  bytes: number;
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
  /** Connections scheduled to this real server since it was added (ipvsadm --stats Conns). */
  conns: number;
}
export interface ServiceStats {
  /** ipvsadm's name for it: "TCP 198.18.0.100:80", "FWM 1". */
  service: string;
  protocol: string;
  address: string;
  port: number;
  fwmark: number | null;
  scheduler: string;
  dests: DestStats[];
}
export interface WorkerShare {
  /** The receiving interface of the worker's ring. */
  interface: string;
  rxFrames: number;
  txFrames: number;
  newFlows: number;
  flowsActive: number;
}
/** What one receiving interface carried (the shim's counters of its rings). */
export interface InterfaceShare {
  interface: string;
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  txErrors: number;
  kernelDrops: number;
}
export interface DirectorStats {
  /** The receiving interfaces, comma-separated ("eth0", "eth0,eth1"). */
  interface: string;
  /** Per receiving interface, in order. */
  perInterface: InterfaceShare[];
  /** Packet workers (rings in the fanout group); their counters are summed below. */
  workers: number;
  /** Each worker's share, in worker order: how evenly the fanout spreads the load. */
  perWorker: WorkerShare[];
  shim: Counters;
  policy: PolicyCounters;
  services: ServiceStats[];
}

/** Keep the control thread (and the `ip`/`nft` processes it spawns, which inherit its affinity) off the
 *  packet workers' CPUs when it has anywhere else to go: its once-a-second refresh would otherwise
 *  preempt a worker for milliseconds, which is what the tail of the added latency is made of
 *  (bench/latency.sh, MAIN_CPU). */
function moveOffWorkerCpus(workerCpus: readonly number[], log: Log): void {
  const rest = threadCpus().filter((c) => !workerCpus.includes(c));
  if (rest.length === 0) {
    log(`the control thread shares the packet workers' CPUs (${workerCpus.join(",")}): no other CPU is allowed to it`);
    return;
  }
  setThreadCpus(rest);
  log(`packet workers on CPU ${workerCpus.join(",")}, the control thread on CPU ${rest.join(",")}`);
}

/** Every (address, method) pair `services` forward to, once each. */
function targetsOf(services: readonly ServiceConfig[]): RealServerTarget[] {
  const seen = new Map<string, RealServerTarget>();
  for (const s of services) {
    for (const r of s.realServers) seen.set(`${r.forward}:${r.address}`, { address: r.address, forward: r.forward });
  }
  return [...seen.values()];
}

/** The VIP addresses of `services` (what VIP placement depends on, with the mode), with repeats. */
function vipsOf(services: readonly ServiceConfig[]): string[] {
  return services.flatMap((s) => serviceMatches(s).map((m) => m.address));
}

/** The (protocol, VIP, port) matches of `services` (what the kernel guard's rules are made of). */
function matchesOf(services: readonly ServiceConfig[]): string[] {
  return services.flatMap((s) => serviceMatches(s).map(showMatch));
}

export class Director {
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  /** Stable ids, reused once nothing refers to them any more (a slot per (service, real server)
   *  pair, see slot_allocator.ts; an id per service: a service's templates all go with its slots,
   *  so its id is free once every worker runs a plan without it), and each service compiled. */
  private readonly plans: PlanBuilder;
  /** The (address, method) pairs the running services forward to, counted by real-server entry,
   *  and the list of them (rebuilt only when one appears or goes): the refresh walks it every
   *  second, where walking 100,000 entries to find 400 targets stalled the event loop. */
  private readonly targetRefs = new Map<string, { target: RealServerTarget; count: number }>();
  private targetList: RealServerTarget[] | null = null;

  /** Count `services`' real servers in (+1) or out (-1) of targetRefs. */
  private countTargets(services: readonly ServiceConfig[], delta: 1 | -1): void {
    for (const s of services) {
      for (const r of s.realServers) {
        const key = `${r.forward}:${r.address}`;
        const e = this.targetRefs.get(key);
        if (e) {
          e.count += delta;
          if (e.count <= 0) {
            this.targetRefs.delete(key);
            this.targetList = null;
          }
        } else if (delta > 0) {
          this.targetRefs.set(key, { target: { address: r.address, forward: r.forward }, count: 1 });
          this.targetList = null;
        }
      }
    }
  }

  /** The VIPs and the matches the running services hold, counted (see ref_counts.ts). */
  private readonly vipRefs = new RefCounts();
  private readonly matchRefs = new RefCounts();
  private unresolvedReported = new Set<string>();
  private stopped = false;
  private readonly rings: RingSet;
  private readonly workers: WorkerPool;
  private readonly host: DirectorHost;
  private readonly guard: ServiceGuard;
  private readonly offloads: OffloadControl[];
  private readonly reach: ReachSource;

  private constructor(
    private config: DirectorConfig,
    private readonly system: DirectorSystem,
    private placement: VipPlacement,
    private readonly log: Log,
  ) {
    ({ rings: this.rings, workers: this.workers, host: this.host, guard: this.guard, offloads: this.offloads, reach: this.reach } = system);
    this.plans = new PlanBuilder(system.rings.rings[0]!.slotCapacity);
    this.countTargets(config.services, 1);
  }

  /** Start forwarding for `config` on the real kernel. Throws with a message naming what is wrong
   *  (interface, VIP placement, privileges, nft) and leaves nothing behind when it does. */
  static async start(config: DirectorConfig, log: Log): Promise<Director> {
    const t0 = performance.now();
    const placement = await KERNEL_HOST.placeVips(config);
    for (const w of await KERNEL_HOST.sysctlWarnings(config.interfaces, placement.on)) log(w);
    const params: RingParams = { ...config.ring, descCapacity: DESC_CAPACITY, slotCapacity: SLOT_CAPACITY };
    const placed = performance.now() - t0;
    const d = await Director.startOn(openSystem(config, params, log), config, placement, log);
    d.startupMs = { vips: Math.round(placed), ...d.startupMs };
    return d;
  }

  /** Where start-up went, in ms per phase (the ready event reports it: a big table's start-up is
   *  a figure operators and bench/control.sh look at). */
  startupMs: Record<string, number> = {};

  /** Start forwarding for `config` on `system` (opened for it; see system.ts), VIPs placed as
   *  `placement` says. On failure everything the system holds is released and the error rethrown. */
  static async startOn(system: DirectorSystem, config: DirectorConfig, placement: VipPlacement, log: Log): Promise<Director> {
    const { rings, guard, offloads, reach, workers } = system;
    let d: Director | null = null;
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      phases[name] = Math.round(now - mark);
      mark = now;
    };
    try {
      rings.setFanoutMask(fanoutMask(config.services));
      await guard.install(config.services);
      phase("guard");
      for (const o of offloads) {
        const offloadWarning = await o.disable();
        if (offloadWarning) log(offloadWarning);
      }
      if (placement.dip) rings.setIcmp(ipToU32(placement.dip), ICMP_RATE, ICMP_BURST);
      phase("offloads");
      d = new Director(config, system, placement, log);
      await d.waitForMacs();
      phase("macs");
      // workers.cpus places the workers of each interface alike: worker j of every interface on cpus[j].
      const cpus = config.workers.cpus;
      d.vipRefs.apply([], vipsOf(config.services));
      d.matchRefs.apply([], matchesOf(config.services));
      // The plan is compiled and sent in parts: the workers read part k while part k + 1 is
      // compiled (a 100,000-entry start plan took ~0.4 s to compile and ~0.7 s to cross).
      const parts = (function* () {
        for (let from = START_PART; from < config.services.length; from += START_PART) {
          yield d!.planChange(config.services.slice(from, from + START_PART), []).upserts;
        }
      })();
      const first = d.planChange(config.services.slice(0, START_PART), []);
      const firstPlan = { services: first.upserts, arpVips: first.arpVips ?? [], timeouts: config.timeouts };
      await workers.start(firstPlan, parts, cpus ? rings.rings.map((_, i) => cpus[i % config.workers.count]!) : null);
      phase("plan+workers");
      if (config.workers.cpus) moveOffWorkerCpus(config.workers.cpus, log);
      d.announce();
      phase("announce");
      d.startupMs = phases;
      if (system.refreshMs !== null) d.refreshTimer = setInterval(() => void d!.refresh(), system.refreshMs);
      return d;
    } catch (e) {
      workers.terminate();
      await guard.remove();
      for (const o of offloads) await o.restore();
      await reach.release();
      rings.close();
      throw e;
    }
  }

  /** Every (address, method) pair the config forwards to. */
  private targets(): RealServerTarget[] {
    if (this.targetList === null) this.targetList = [...this.targetRefs.values()].map((e) => e.target);
    return this.targetList;
  }

  private async waitForMacs(): Promise<void> {
    const deadline = performance.now() + this.system.macWaitMs;
    let first = true;
    for (;;) {
      const problems = await this.reach.refresh(this.targets());
      if (first) for (const msg of problems.values()) this.log(msg);
      first = false;
      if (this.targets().every((t) => this.reach.get(t).mac) || performance.now() > deadline) break;
      await Bun.sleep(50);
    }
  }

  private announce(): void {
    this.announceVips([...this.placement.arp]);
  }

  /** Gratuitous ARP for `vips` on every interface, GARP_COUNT rounds a second apart, each round
   *  in parts of GARP_PART frames with the event loop free between them: 10,000 VIPs held it
   *  (and start-up, and every change waiting) for 200 ms a round. */
  private announceVips(vips: string[]): void {
    if (vips.length === 0) return;
    const ifs = this.rings.interfaces;
    const addresses = vips.map(ipToU32);
    const round = (n: number, from: number) => {
      if (this.stopped) return;
      const to = Math.min(addresses.length, from + GARP_PART);
      for (let i = 0; i < ifs.length; i++) {
        for (let k = from; k < to; k++) this.rings.sendFrame(gratuitousArp(this.rings.macOf(i), addresses[k]!), i);
      }
      if (to < addresses.length) setImmediate(() => round(n, to));
      else if (n + 1 < GARP_COUNT) setTimeout(() => round(n + 1, 0), 1000);
    };
    round(0, 0);
    const as = ifs.map((ifname, i) => `${macToString(this.rings.macOf(i))}${ifs.length > 1 ? ` on ${ifname}` : ""}`).join(", ");
    const shown = vips.length > GARP_LOGGED ? `${vips.slice(0, GARP_LOGGED).join(", ")} and ${vips.length - GARP_LOGGED} more VIPs` : vips.join(", ");
    this.log(`answering ARP for ${shown} as ${as} (gratuitous ARP sent)`);
  }

  /** What the workers must be sent after `added` joined the config and `removed` left it: ids
   *  are acquired for what is new, ids of what is gone start leaving with the sequence number of
   *  the next publish (the plan that goes without them). */
  private planChange(added: readonly ServiceConfig[], removed: readonly ServiceConfig[]): PlanChange {
    return this.plans.change({
      added, removed, arpVips: this.arpVipList(), timeouts: this.config.timeouts, reach: (t) => this.reach.get(t),
      changedAddresses: this.reach.takeChanged(), seq: this.workers.nextSeq,
    });
  }

  /** The VIPs ringvs answers ARP for as a list, the same array while the placement stays. */
  private arpVipList(): readonly string[] {
    if (this.arpListOf !== this.placement) {
      this.arpListOf = this.placement;
      this.arpList = [...this.placement.arp];
    }
    return this.arpList;
  }
  private arpListOf: VipPlacement | null = null;
  private arpList: readonly string[] = [];

  /** The slot of a configured (service, real server) pair; undefined for a pair of a change still
   *  being applied (apply() awaits lookups before it compiles). */
  private slot(svc: ServiceConfig, rip: string): number | undefined {
    return this.plans.slotOf(svc, rip);
  }

  /** Ids that left and that nothing holds any more become reusable: a slot once every worker runs
   *  a plan without it and no flow entry or template of any worker points at it; a service id once
   *  every worker runs a plan without the service. */
  private reclaimIds(): void {
    const applied = this.workers.appliedSeq();
    this.plans.slots.reclaim(applied, (slot) => {
      const c = this.workers.destCounters(slot);
      return c[DEST_BOUND] === 0 && c[DEST_TEMPLATES] === 0;
    });
    this.plans.serviceIds.reclaim(applied, () => true);
  }

  /** Ids in use: configured, and removed but still held. */
  idUse(): { slots: number; leavingSlots: number; services: number; leavingServices: number } {
    return {
      slots: this.plans.slots.used, leavingSlots: this.plans.slots.leavingCount,
      services: this.plans.serviceIds.used, leavingServices: this.plans.serviceIds.leavingCount,
    };
  }

  /** Follow routes and neighbour tables; publish a new plan only when something changed. */
  async refresh(): Promise<void> {
    // setInterval does not wait for an async tick: a tick that finds one running skips (when the
    // lookups were `ip` processes, a refresh of thousands of real servers outlasted the second
    // and overlapping ones piled up; over rtnetlink one of 400 addresses takes ~1.4 ms).
    if (this.stopped || this.refreshing) return;
    this.refreshing = true;
    try {
      this.rings.refreshKernelStats();
      this.reportTruncated();
      this.reclaimIds();
      // Only what the kernel said changed is re-read (a full re-read of 400 routes and their
      // neighbour tables held this thread 4-20 ms a second, and control requests waited).
      const problems = await this.reach.refreshIfChanged(this.targets());
      for (const t of this.targets()) {
        const key = `${t.forward}:${t.address}`;
        const r = this.reach.get(t);
        if (!r.mac && !this.unresolvedReported.has(key)) {
          this.unresolvedReported.add(key);
          this.log(`real server ${t.address} (${t.forward}) cannot be reached: ${problems.get(t.address) ?? r.problem}; not chosen until it can`);
        } else if (r.mac && this.unresolvedReported.delete(key)) {
          this.log(`real server ${t.address} (${t.forward}) reachable via ${macToString(r.mac)}`);
        }
      }
      // Services recompile only when what reaches them may have moved, and are sent only when
      // they came out different.
      const change = this.planChange([], []);
      if (change.upserts.length > 0 || change.removed.length > 0) this.workers.publish(change);
    } catch (e) {
      this.log(`refresh failed: ${(e as Error).message}`);
    } finally {
      this.refreshing = false;
    }
  }
  private refreshing = false;

  /** Frames the shim received cut short are dropped, never sent (a cut frame is a corrupt one);
   *  say so when more arrived since the last look, at most once a refresh. */
  private reportTruncated(): void {
    const n = this.rings.counters().rxTruncated;
    if (n > this.truncatedReported) {
      this.log(`${n - this.truncatedReported} frame(s) received cut short (longer than the 64 KiB large-frame buffer, e.g. from BIG TCP) were dropped (rxTruncated ${n})`);
      this.truncatedReported = n;
    }
  }
  private truncatedReported = 0;

  /** The configuration running now. */
  get running(): DirectorConfig {
    return this.config;
  }

  /** Switch to a new, already validated configuration without a restart: the kernel guard is
   *  rewritten, new real servers are resolved, and the worker gets a plan in which everything that
   *  stays keeps its slot (and so its counters), its service id (so its scheduler state,
   *  connections and persistence templates) and its connection counts. The interface and the ring
   *  cannot change this way. Throws (changing nothing in the data plane) when the guard or a
   *  lookup fails. */
  async apply(next: DirectorConfig): Promise<void> {
    if (next.interfaces.join(",") !== this.config.interfaces.join(",")) {
      throw new Error(`the interfaces cannot change while running (${this.config.interfaces.join(",")} -> ${next.interfaces.join(",")}): restart ringvs`);
    }
    // Only what a change needs waits on the kernel: VIP placement (`ip`) when the VIPs or the mode
    // change, the guard (`nft`) when what services match changes, route and neighbour lookups
    // (rtnetlink, well under a millisecond) for real servers never seen.
    // The once-a-second refresh keeps everything else current.
    const { added, removed } = replacedServices(this.config.services, next.services);
    const [vipsOut, vipsIn] = [vipsOf(removed), vipsOf(added)];
    const vipsChange = next.vipMode !== this.config.vipMode || this.vipRefs.wouldChange(vipsOut, vipsIn);
    const placement = vipsChange ? await this.host.placeVips(next) : this.placement;
    if (
      JSON.stringify(next.ring) !== JSON.stringify(this.config.ring) || next.flowTableSize !== this.config.flowTableSize ||
      JSON.stringify(next.workers) !== JSON.stringify(this.config.workers)
    ) {
      this.log("ring geometry, flowTableSize and workers changes take effect at the next restart (rings, workers and flow tables stay as they are)");
      next = { ...next, ring: this.config.ring, flowTableSize: this.config.flowTableSize, workers: this.config.workers };
    }
    const slotProblem = this.plans.problemFor(added);
    if (slotProblem) throw new Error(slotProblem);
    const [matchesOut, matchesIn] = [matchesOf(removed), matchesOf(added)];
    const guardChanges = this.matchRefs.wouldChange(matchesOut, matchesIn);
    if (guardChanges) await this.guard.install(next.services);
    const before = this.config;
    this.config = next;
    this.countTargets(removed, -1);
    this.countTargets(added, 1);
    try {
      // Only services the change replaced can hold a real server not looked up yet.
      await this.reach.refreshNew(targetsOf(added));
    } catch (e) {
      this.config = before;
      this.countTargets(added, -1);
      this.countTargets(removed, 1);
      if (guardChanges) await this.guard.install(before.services);
      throw e;
    }
    this.vipRefs.apply(vipsOut, vipsIn);
    this.matchRefs.apply(matchesOut, matchesIn);
    // Placement is the same object when no VIP came or went: nothing to announce or check (with
    // 10,000 VIPs, comparing them cost every one-server change ~0.5 ms).
    const same = placement === this.placement;
    const newArp = same ? [] : [...placement.arp].filter((v) => !this.placement.arp.has(v));
    // A VIP that -A or a reload brings in on lo (or moves there) gets the same sysctl check as at
    // start; one already warned about is not repeated on every later change.
    const newElsewhere = same ? new Map<string, string>() : new Map([...placement.on].filter(([vip, dev]) => this.placement.on.get(vip) !== dev));
    this.placement = placement;
    const mask = this.config.workers.count > 1 ? fanoutMask(next.services) : 0;
    if (this.config.workers.count > 1 && mask !== fanoutMask(before.services)) {
      // A client whose persistence group now hashes to another worker loses its connections
      // there (that worker has no entry for them); new connections are scheduled normally.
      this.log(`persistence netmasks changed: clients are spread over the ${this.config.workers.count} workers${this.config.interfaces.length > 1 ? " of each interface" : ""} by ${u32ToIp(mask)} now; open connections of clients that move to another worker are dropped`);
      this.rings.setFanoutMask(mask);
    }
    this.workers.publish(this.planChange(added, removed));
    if (newArp.length) this.announceVips(newArp);
    for (const w of await this.host.sysctlWarnings(next.interfaces, newElsewhere)) this.log(w);
  }

  /** Tracked connections as the workers have them (ipvsadm -c), a page at a time: a listing of
   *  a million connections holds one page of them, never all. Connections of a real server that
   *  was removed (its slot is leaving) are not listed, as IPVS lists only dests in the table. */
  async *connectionPages(): AsyncGenerator<ConnectionEntry[]> {
    if (this.stopped) return;
    const bySlot = new Map<number, { svc: ServiceConfig; rs: ServiceConfig["realServers"][number] }>();
    for (const svc of this.config.services) {
      for (const rs of svc.realServers) {
        const slot = this.slot(svc, rs.address);
        if (slot !== undefined) bySlot.set(slot, { svc, rs });
      }
    }
    for await (const rows of this.workers.connectionPages()) {
      yield rows.flatMap(([proto, saddr, sport, daddr, dport, state, left, slot]) => {
        const owner = bySlot.get(slot!);
        if (!owner) return [];
        const tcp = proto === IPPROTO_TCP;
        return [{
          protocol: tcp ? "tcp" : "udp",
          client: u32ToIp(saddr!), clientPort: sport!, vip: u32ToIp(daddr!), vport: dport!,
          dest: owner.rs.address, dport: owner.rs.port || dport!,
          state: tcp ? TCP_STATE_NAMES[state!] ?? "?" : "UDP", expiresIn: left!,
        } satisfies ConnectionEntry];
      });
    }
  }

  /** Real servers that cannot be reached right now (reported, never chosen). */
  unresolved(): string[] {
    return [...new Set(this.targets().filter((t) => !this.reach.get(t).mac).map((t) => t.address))];
  }

  get vipPlacement(): { local: string[]; arp: string[] } {
    return { local: [...this.placement.local], arp: [...this.placement.arp] };
  }

  stats(): DirectorStats {
    const r = this.rings;
    // One getsockopt per ring, so ring drops are current rather than as of the last refresh tick.
    if (!this.stopped) r.refreshKernelStats();
    return {
      interface: this.config.interfaces.join(","),
      perInterface: r.countersByInterface().map(({ interface: name, counters: c }) => ({
        interface: name, rxFrames: c.rxFrames, rxBytes: c.rxBytes, txFrames: c.txFrames, txBytes: c.txBytes,
        txErrors: c.txErrors, kernelDrops: c.kernelDrops,
      })),
      workers: r.count,
      perWorker: r.rings.map((ring, i) => {
        const c = ring.counters();
        const p = this.workers.policyCountersOf(i);
        return { interface: r.interfaceOf(i), rxFrames: c.rxFrames, txFrames: c.txFrames, newFlows: p.newFlows, flowsActive: p.flowsActive };
      }),
      shim: r.counters(),
      policy: this.workers.policyCounters(),
      services: this.config.services.map((s) => ({
        service: serviceLabel(s),
        protocol: s.protocol,
        address: s.address,
        port: s.port,
        fwmark: s.fwmark,
        scheduler: s.scheduler,
        dests: s.realServers.map((rs, j) => {
          // The compiled plan has each real server's slot and MAC at hand: looking them up by
          // key for 100,000 entries made every stats() (the rate estimator's, every 2 s) 250 ms.
          const compiled = this.plans.compiledOf(s)?.dests[j];
          const slot = compiled?.slot;
          const mac = compiled?.mac ?? null;
          const [activeConns, inactiveConns, persistConns, conns] = slot === undefined ? [0, 0, 0, 0] : this.workers.destCounters(slot);
          return {
            activeConns, inactiveConns, persistConns, conns,
            address: rs.address,
            port: rs.port,
            weight: rs.weight,
            mac: mac ? this.macText(mac) : null,
            ...(slot === undefined ? { packets: 0, bytes: 0 } : r.slotTraffic(slot)),
          };
        }),
      })),
    };
  }

  /** Per real-server entry [from, to) of the running table, in order: [connections scheduled,
   *  packets, bytes] (what the rate estimator reads; stats() builds an object per real server). */
  traffic(from: number, to: number): Float64Array {
    const out = new Float64Array(Math.max(0, to - from) * 3);
    let k = 0;
    for (const s of this.config.services) {
      if (k >= to) break;
      const n = s.realServers.length;
      if (k + n <= from) {
        k += n;
        continue;
      }
      const dests = this.plans.compiledOf(s)?.dests;
      for (let j = 0; j < n; j++, k++) {
        const slot = dests?.[j]?.slot;
        if (k < from || k >= to || slot === undefined) continue;
        const o = (k - from) * 3;
        out[o] = this.workers.destCounter(slot, DEST_SCHEDULED);
        out[o + 1] = this.rings.slotPackets(slot);
        out[o + 2] = this.rings.slotBytes(slot);
      }
    }
    return out;
  }

  /** A MAC as text, once per MAC array (the plan's arrays are reused until a lookup changes them). */
  private macText(mac: number[]): string {
    let text = this.macTexts.get(mac);
    if (text === undefined) this.macTexts.set(mac, (text = macToString(mac)));
    return text;
  }
  private readonly macTexts = new WeakMap<number[], string>();

  /** Stop forwarding and undo everything start() did: workers, rings, nft table, neighbour entries. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await this.workers.stop();
    try {
      this.rings.refreshKernelStats();
    } catch {
      // the socket may already be unusable if the interface vanished; the counters are still valid
    }
    await this.guard.remove();
    for (const o of this.offloads) await o.restore();
    await this.reach.release();
  }

  /** Release the ring's memory. Separate from stop() so the final stats can still be read. */
  close(): void {
    this.rings.close();
  }
}
