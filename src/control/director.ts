// The director: owns the rings (one per packet worker), the packet workers, the kernel guard and
// the neighbour entries, and turns a validated DirectorConfig into the plan the workers run. The
// CLI is a thin shell over it.
import { REAL_SERVER_ENTRIES_MAX, type DirectorConfig, type ServiceConfig } from "../config/model.ts";
import { setThreadCpus, threadCpus, type RingParams } from "../dataplane/ffi.ts";
import { gratuitousArp } from "../dataplane/arp.ts";
import type { Counters } from "../dataplane/layout.ts";
import { IPPROTO_TCP, IPPROTO_UDP } from "../dataplane/layout.ts";
import { ipToU32, macToString, u32ToIp, type Plan } from "../dataplane/plan.ts";
import { TCP_STATE_NAMES } from "../flow/tcp_state.ts";
import type { ConnectionEntry } from "./control.ts";
import { RingSet } from "../dataplane/ring_set.ts";
import { serviceIdentity, serviceLabel, serviceMatches } from "../config/service.ts";
import { DEST_BOUND, DEST_TEMPLATES, type PolicyCounters } from "../dataplane/policy_counters.ts";
import { SlotAllocator } from "./slot_allocator.ts";
import { runOk } from "../sys/run.ts";
import { KernelGuard } from "./kernel_guard.ts";
import { PacketWorkers } from "./packet_workers.ts";
import { ReceiveOffloads } from "./offloads.ts";
import { Reachability, type RealServerTarget } from "./reachability.ts";

/** Descriptors per batch: 8 blocks' worth at the default 8 KiB block (the shim takes another ready
 *  block while block_size / 64 descriptors, its most minimum-size frames, still fit): ~400 frames
 *  of 64 bytes. A batch touches each frame twice, parsing it into a descriptor and later rewriting
 *  and sending it; 8192 descriptors (1.3 MB of frames) fell out of the cache in between, and drains
 *  of new flows ran 0.82-0.92 of cfwd against 0.94-1.09 with 1024, alternating in one session. */
const DESC_CAPACITY = 1024;
/** Real-server slots: one per configured (service, real server) pair, plus removed ones that
 *  connections still hold (src/control/slot_allocator.ts). */
const SLOT_CAPACITY = REAL_SERVER_ENTRIES_MAX;
/** How long start() waits for real-server MACs before it starts forwarding without them. */
const MAC_WAIT_MS = 3000;
const REFRESH_MS = 1000;
/** ICMP "fragmentation needed" (TUN path MTU): at most 50 a second, 10 in hand. The kernel's own
 *  icmp_ratelimit allows one per second per destination; one shared bucket is simpler and keeps a
 *  flood of oversized DF packets from turning the director into an ICMP source. */
const ICMP_RATE = 50;
const ICMP_BURST = 10;
/** Gratuitous ARPs sent at start, one per second, as arping -U -c 3 would. */
const GARP_COUNT = 3;

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

interface VipPlacement {
  /** VIPs configured on the director: the kernel answers their ARP. */
  local: Set<string>;
  /** VIPs ringvs answers ARP for. */
  arp: Set<string>;
  /** The director's own address on its first interface (not a VIP), if it has one: the source
   *  of the ICMP "fragmentation needed" messages TUN sends to clients. */
  dip: string | null;
  /** Local VIPs configured on an interface ringvs does not receive on (lo, a dummy): VIP ->
   *  that interface. */
  on: Map<string, string>;
}

/** Decide per VIP who answers ARP, and refuse configurations where the kernel and ringvs would
 *  both claim a VIP, or neither would. */
async function placeVips(config: DirectorConfig): Promise<VipPlacement> {
  // All links, not just those with IPv4 addresses: the interface may have none (arp mode).
  const all = JSON.parse(await runOk(["ip", "-j", "addr", "show"])) as {
    ifname: string;
    addr_info?: { family: string; local: string }[];
  }[];
  const onIf = new Map<string, string>(); // address -> the receiving interface it is on
  const elsewhere = new Map<string, string>();
  const receiving = new Set(config.interfaces);
  for (const link of all) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== "inet") continue;
      if (receiving.has(link.ifname)) onIf.set(a.local, link.ifname);
      else elsewhere.set(a.local, link.ifname);
    }
  }
  for (const ifname of config.interfaces) {
    if (!all.some((l) => l.ifname === ifname)) throw new Error(`interface ${ifname} does not exist`);
  }
  const vips = new Set(config.services.flatMap((s) => serviceMatches(s).map((m) => m.address)));
  const dip = [...onIf].find(([a, dev]) => dev === config.interface && !vips.has(a))?.[0] ?? null;
  const placement: VipPlacement = { local: new Set(), arp: new Set(), on: new Map(), dip };
  for (const vip of vips) {
    const local = onIf.has(vip);
    if (config.vipMode === "local" && !local && !elsewhere.has(vip)) {
      throw new Error(`vipMode "local": VIP ${vip} is not configured on this host (ip addr add ${vip}/32 dev lo, or dev ${config.interface})`);
    }
    if (config.vipMode === "arp" && (local || elsewhere.has(vip))) {
      throw new Error(`vipMode "arp": VIP ${vip} is configured on ${onIf.get(vip) ?? elsewhere.get(vip)}; remove it or use vipMode "local"`);
    }
    // A VIP on any local interface (lo, a dummy, another NIC: the ipvs.sh selftest and many LVS
    // guides put it on lo) is the local setup: Linux answers ARP for every local address on
    // every interface unless sysctls say otherwise, which sysctlWarnings() reports.
    (local || elsewhere.has(vip) ? placement.local : placement.arp).add(vip);
    if (!local && elsewhere.has(vip)) placement.on.set(vip, elsewhere.get(vip)!);
  }
  return placement;
}

/** Effective value of an IPv4 conf sysctl for an interface: the kernel uses max(all, dev) for
 *  arp_ignore, arp_filter (OR) and rp_filter. Null when it cannot be read. */
async function confValue(dev: string, name: string): Promise<number | null> {
  const read = async (d: string) => {
    try {
      return Number((await Bun.file(`/proc/sys/net/ipv4/conf/${d}/${name}`).text()).trim());
    } catch {
      return null;
    }
  };
  const [all, own] = [await read("all"), await read(dev)];
  if (all === null || own === null) return null;
  return Math.max(all, own);
}

/** Why the kernel will not answer ARP for local VIPs configured on another interface than the
 *  receiving ones (`on`: VIP -> that interface), when its sysctls say so (the director then
 *  receives no VIP traffic), for each receiving interface. */
async function sysctlWarnings(ifnames: readonly string[], on: ReadonlyMap<string, string>): Promise<string[]> {
  const out: string[] = [];
  for (const ifname of ifnames) out.push(...(await sysctlWarningsOf(ifname, on)));
  return out;
}

async function sysctlWarningsOf(ifname: string, on: ReadonlyMap<string, string>): Promise<string[]> {
  if (on.size === 0) return [];
  const vips = [...on].map(([vip, dev]) => `${vip} (on ${dev})`).join(", ");
  const out: string[] = [];
  const ignore = await confValue(ifname, "arp_ignore");
  if (ignore !== null && ignore >= 1) {
    out.push(`arp_ignore=${ignore} on ${ifname}: the kernel answers ARP only for addresses configured on ${ifname} itself, so it will not answer for ${vips}; set net.ipv4.conf.${ifname}.arp_ignore=0 (and all) or put the VIP on ${ifname}`);
  }
  if ((await confValue(ifname, "arp_filter")) === 1) {
    out.push(`arp_filter=1 on ${ifname}: the kernel answers ARP for ${vips} only when its route back to the asker leaves through ${ifname}`);
  }
  if ((await confValue(ifname, "rp_filter")) === 1) {
    out.push(`rp_filter=1 (strict) on ${ifname}: ARP requests for ${vips} from clients whose route does not point back through ${ifname} go unanswered`);
  }
  return out;
}

function protoNumber(protocol: string): number {
  return protocol === "udp" ? IPPROTO_UDP : IPPROTO_TCP;
}

/** The source-address mask the fanout hashes under (host order): every client of one persistence
 *  group must reach the worker that holds the group's template, so the mask is the AND of all
 *  persistence netmasks (255.255.255.255 without persistence: spread by client). */
export function fanoutMask(services: readonly ServiceConfig[]): number {
  let mask = 0xffffffff;
  for (const s of services) if (s.persistence) mask &= ipToU32(s.persistence.netmask);
  return mask >>> 0;
}

/** A (service, real server) pair: what a real-server slot belongs to. */
function slotKey(svc: ServiceConfig, rip: string): string {
  return `${serviceIdentity(svc)}>${rip}`;
}

function slotKeys(config: DirectorConfig): Set<string> {
  const keys = new Set<string>();
  for (const s of config.services) for (const r of s.realServers) keys.add(slotKey(s, r.address));
  return keys;
}

/** Keep the control thread (and the `ip` processes it spawns, which inherit its affinity) off the
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

export class Director {
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private readonly slots = new SlotAllocator(SLOT_CAPACITY);
  private readonly serviceIds = new Map<string, number>();
  private lastPlanJson = "";
  private unresolvedReported = new Set<string>();
  private stopped = false;
  private readonly workers: PacketWorkers;

  private constructor(
    private config: DirectorConfig,
    private readonly rings: RingSet,
    private readonly guard: KernelGuard,
    private readonly offloads: ReceiveOffloads[],
    private readonly reach: Reachability,
    private placement: VipPlacement,
    private readonly log: Log,
  ) {
    this.workers = new PacketWorkers(rings, config.flowTableSize, SLOT_CAPACITY, log);
  }

  /** Start forwarding for `config`. Throws with a message naming what is wrong (interface, VIP
   *  placement, privileges, nft) and leaves nothing behind when it does. */
  static async start(config: DirectorConfig, log: Log): Promise<Director> {
    const placement = await placeVips(config);
    for (const w of await sysctlWarnings(config.interfaces, placement.on)) log(w);
    const params: RingParams = { ...config.ring, descCapacity: DESC_CAPACITY, slotCapacity: SLOT_CAPACITY };
    const rings = RingSet.open(config.interfaces, params, config.workers.count);
    const guard = new KernelGuard(config.interfaces);
    // With one receiving interface it is every ring's tx_if 0; with several, each ring has its
    // own there, so every egress interface gets a transmit socket numbered alike in all rings.
    const reach = new Reachability(config.interfaces.length === 1 ? config.interface : null, rings, config.tunnelSource);
    const offloads = config.interfaces.map((ifname) => new ReceiveOffloads(ifname));
    let d: Director | null = null;
    try {
      rings.setFanoutMask(fanoutMask(config.services));
      await guard.install(config.services);
      for (const o of offloads) {
        const offloadWarning = await o.disable();
        if (offloadWarning) log(offloadWarning);
      }
      if (placement.dip) rings.setIcmp(ipToU32(placement.dip), ICMP_RATE, ICMP_BURST);
      d = new Director(config, rings, guard, offloads, reach, placement, log);
      await d.waitForMacs();
      // workers.cpus places the workers of each interface alike: worker j of every interface on cpus[j].
      const cpus = config.workers.cpus;
      await d.workers.start(d.currentPlan(), cpus ? rings.rings.map((_, i) => cpus[i % config.workers.count]!) : null);
      if (config.workers.cpus) moveOffWorkerCpus(config.workers.cpus, log);
      d.announce();
      d.refreshTimer = setInterval(() => void d!.refresh(), REFRESH_MS);
      return d;
    } catch (e) {
      d?.workers.terminate();
      await guard.remove();
      for (const o of offloads) await o.restore();
      await reach.release();
      rings.close();
      throw e;
    }
  }

  /** Every (address, method) pair the config forwards to. */
  private targets(): RealServerTarget[] {
    const seen = new Map<string, RealServerTarget>();
    for (const s of this.config.services) {
      for (const r of s.realServers) seen.set(`${r.forward}:${r.address}`, { address: r.address, forward: r.forward });
    }
    return [...seen.values()];
  }

  private async waitForMacs(): Promise<void> {
    const deadline = performance.now() + MAC_WAIT_MS;
    let first = true;
    for (;;) {
      const problems = await this.reach.refresh(this.targets());
      if (first) for (const msg of problems.values()) this.log(msg);
      first = false;
      if (this.targets().every((t) => this.reach.get(t).mac) || performance.now() > deadline) break;
      await Bun.sleep(50);
    }
  }

  /** The plan for the current config and MACs, remembered as the last one published. */
  private currentPlan(): Plan {
    const plan = this.buildPlan();
    this.lastPlanJson = JSON.stringify(plan);
    return plan;
  }

  private announce(): void {
    this.announceVips([...this.placement.arp]);
  }

  private announceVips(vips: string[]): void {
    if (vips.length === 0) return;
    let sent = 0;
    const ifs = this.rings.interfaces;
    const send = () => {
      if (this.stopped) return;
      for (let i = 0; i < ifs.length; i++) {
        for (const vip of vips) this.rings.sendFrame(gratuitousArp(this.rings.macOf(i), ipToU32(vip)), i);
      }
      if (++sent < GARP_COUNT) setTimeout(send, 1000);
    };
    send();
    const as = ifs.map((ifname, i) => `${macToString(this.rings.macOf(i))}${ifs.length > 1 ? ` on ${ifname}` : ""}`).join(", ");
    this.log(`answering ARP for ${vips.join(", ")} as ${as} (gratuitous ARP sent)`);
  }

  /** Stable small number per service identity, for the life of the process (< 2^20). */
  private serviceId(svc: ServiceConfig): number {
    const key = serviceIdentity(svc);
    let id = this.serviceIds.get(key);
    if (id === undefined) {
      id = this.serviceIds.size;
      this.serviceIds.set(key, id);
    }
    return id;
  }

  private slot(svc: ServiceConfig, rip: string): number {
    return this.slots.acquire(slotKey(svc, rip));
  }

  /** The plan for the current config; slots of (service, real server) pairs it no longer has start
   *  leaving with the sequence number of the next publish (the plan that goes without them). */
  private buildPlan(): Plan {
    const plan = this.compilePlan();
    this.slots.retain(slotKeys(this.config), this.workers.nextSeq);
    return plan;
  }

  /** Slots that left and that nothing holds any more (every worker runs a plan without them; no
   *  flow entry or template of any worker points at them) become reusable. */
  private reclaimSlots(): void {
    this.slots.reclaim(this.workers.appliedSeq(), (slot) => {
      const c = this.workers.destCounters(slot);
      return c[DEST_BOUND] === 0 && c[DEST_TEMPLATES] === 0;
    });
  }

  private compilePlan(): Plan {
    return {
      services: this.config.services.map((s) => ({
        id: this.serviceId(s),
        matches: serviceMatches(s).map((m) => ({ proto: protoNumber(m.protocol), vip: ipToU32(m.address), port: m.port })),
        scheduler: s.scheduler,
        schedulerFlags: s.schedulerFlags,
        persistence: s.persistence
          ? { timeout: s.persistence.timeout, mask: ipToU32(s.persistence.netmask) }
          : null,
        dests: s.realServers.map((r) => {
          const reach = this.reach.get(r);
          return {
          slot: this.slot(s, r.address),
          rip: ipToU32(r.address),
          port: r.port,
          weight: r.weight,
          forward: r.forward,
          mac: reach.mac,
          tunnel: reach.tunnel,
          egress: reach.egress,
          upperThreshold: r.upperThreshold,
          lowerThreshold: r.lowerThreshold,
          };
        }),
      })),
      arpVips: [...this.placement.arp].map(ipToU32),
      timeouts: this.config.timeouts,
    };
  }

  /** Follow routes and neighbour tables; publish a new plan only when something changed. */
  private async refresh(): Promise<void> {
    // setInterval does not wait for an async tick: with thousands of real servers a refresh (an
    // `ip route get` and `ip neigh` per new target) outlasts the second, and overlapping ones
    // piled up, each spawning its own processes. A tick that finds one running skips.
    if (this.stopped || this.refreshing) return;
    this.refreshing = true;
    try {
      this.rings.refreshKernelStats();
      this.reportTruncated();
      this.reclaimSlots();
      const problems = await this.reach.refresh(this.targets());
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
      const plan = this.buildPlan();
      const json = JSON.stringify(plan);
      if (json !== this.lastPlanJson) {
        this.lastPlanJson = json;
        this.workers.publish(plan);
      }
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
    const placement = await placeVips(next);
    if (
      JSON.stringify(next.ring) !== JSON.stringify(this.config.ring) || next.flowTableSize !== this.config.flowTableSize ||
      JSON.stringify(next.workers) !== JSON.stringify(this.config.workers)
    ) {
      this.log("ring geometry, flowTableSize and workers changes take effect at the next restart (rings, workers and flow tables stay as they are)");
      next = { ...next, ring: this.config.ring, flowTableSize: this.config.flowTableSize, workers: this.config.workers };
    }
    const slotProblem = this.slots.problemFor(slotKeys(next));
    if (slotProblem) throw new Error(slotProblem);
    await this.guard.install(next.services);
    const before = this.config;
    this.config = next;
    try {
      await this.reach.refresh(this.targets());
    } catch (e) {
      this.config = before;
      await this.guard.install(before.services);
      throw e;
    }
    const newArp = [...placement.arp].filter((v) => !this.placement.arp.has(v));
    // A VIP that -A or a reload brings in on lo (or moves there) gets the same sysctl check as at
    // start; one already warned about is not repeated on every later change.
    const newElsewhere = new Map([...placement.on].filter(([vip, dev]) => this.placement.on.get(vip) !== dev));
    this.placement = placement;
    const mask = fanoutMask(next.services);
    if (this.config.workers.count > 1 && mask !== fanoutMask(before.services)) {
      // A client whose persistence group now hashes to another worker loses its connections
      // there (that worker has no entry for them); new connections are scheduled normally.
      this.log(`persistence netmasks changed: clients are spread over the ${this.config.workers.count} workers${this.config.interfaces.length > 1 ? " of each interface" : ""} by ${u32ToIp(mask)} now; open connections of clients that move to another worker are dropped`);
      this.rings.setFanoutMask(mask);
    }
    const plan = this.buildPlan();
    this.lastPlanJson = JSON.stringify(plan);
    this.workers.publish(plan);
    if (newArp.length) this.announceVips(newArp);
    for (const w of await sysctlWarnings(next.interfaces, newElsewhere)) this.log(w);
  }

  /** Tracked connections as the workers have them (ipvsadm -c), at most `limit`. */
  async connections(limit = 100_000): Promise<ConnectionEntry[]> {
    if (this.stopped) return [];
    const bySlot = new Map<number, { svc: ServiceConfig; rs: ServiceConfig["realServers"][number] }>();
    for (const svc of this.config.services) for (const rs of svc.realServers) bySlot.set(this.slot(svc, rs.address), { svc, rs });
    const list = await this.workers.connections(limit);
    return list.flatMap(([proto, saddr, sport, daddr, dport, state, left, slot]) => {
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
        dests: s.realServers.map((rs) => {
          const slot = this.slot(s, rs.address);
          const mac = this.reach.get(rs).mac;
          const [activeConns, inactiveConns, persistConns, conns] = this.workers.destCounters(slot);
          return {
            activeConns, inactiveConns, persistConns, conns,
            address: rs.address,
            port: rs.port,
            weight: rs.weight,
            mac: mac ? macToString(mac) : null,
            ...r.slotTraffic(slot),
          };
        }),
      })),
    };
  }

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
