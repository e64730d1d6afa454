// How each real server is reached, kept current. Both methods start from the kernel's route to
// the real server (what `ip route get RIP` answers, asked over rtnetlink: routes.ts): its
// interface is where the frames leave. DR rewrites the
// destination MAC, so the real server must sit on that link itself (as IPVS requires: a DR server
// behind a gateway is reported and never chosen) and its MAC is the one wanted; TUN sends to the
// route's next hop. MACs come from managed neighbour entries (see neighbours.ts), one table per
// egress interface; an egress interface other than the ring's gets its own transmit socket in the
// shim. A two-armed director (clients on one NIC, real servers on another) is the same lookup.
import { RtnetlinkEvents } from "../dataplane/ffi.ts";
import { ipToU32, type PlanEgress, type PlanTunnel } from "../dataplane/plan.ts";
import { NeighbourTable } from "./neighbours.ts";
import { resolveRoutes, type RealServerRoute } from "./routes.ts";

export interface RealServerTarget {
  address: string;
  forward: "dr" | "tun";
}

export interface Reach {
  /** DR: the real server's MAC; TUN: the next hop's. Null while unresolved. */
  mac: number[] | null;
  tunnel: PlanTunnel | null;
  /** DR: the interface the frames leave through. */
  egress: PlanEgress | null;
  /** Why it cannot be reached, when it cannot. */
  problem: string | null;
}

/** The longest refreshIfChanged() trusts the notifications alone before a full re-read. They are
 *  what the kernel itself says changed, so nothing should be missed; the full read bounds what a
 *  missed one would cost (a change the kernel makes without notifying, e.g. a neighbour entry
 *  the garbage collector drops, or a bug here) to 30 s, at ~1/30 of the cost of reading every
 *  second. */
export const FULL_REFRESH_MS = 30_000;

const unreachable = (problem: string): Reach => ({ mac: null, tunnel: null, egress: null, problem });

/** What of an answer the plan uses (the problem text is only for the log). */
function answerOf(r: Reach): string {
  return JSON.stringify([r.mac, r.tunnel, r.egress]);
}

export class Reachability {
  private readonly tables = new Map<string, NeighbourTable>();
  private readonly txIfs = new Map<string, number>();
  private macsByDev = new Map<string, Map<string, number[]>>();
  private routes = new Map<string, RealServerRoute | string>();
  /** Addresses whose answer from get() changed since takeChanged() was last called (a route or
   *  MAC moved, a waiting target got its MAC). A target looked up for the first time is not in
   *  it: only what a change added asks for it, and that is compiled anyway. */
  private changed = new Set<string>();
  /** Targets with a route but no MAC at their last lookup, by method:address. */
  private waiting = new Map<string, RealServerTarget>();
  /** Route, address, link and neighbour notifications since the last read (opened at the first
   *  refresh, before it reads); null when it could not be opened: then every refresh is full. */
  private events: RtnetlinkEvents | null = null;
  private eventsTried = false;
  /** When the last full refresh() started (performance.now()). */
  private lastFull = -Infinity;
  /** The target list the waiting set was last pruned against. */
  private prunedFor: readonly RealServerTarget[] | null = null;

  constructor(
    /** The interface that is tx_if 0 (the ring's own socket) in every ring; null with several
     *  receiving interfaces, whose rings each have another one there: then every egress
     *  interface, the receiving ones included, gets its own transmit socket. */
    private readonly ifname: string | null,
    private readonly ring: { addTxInterface(ifname: string): number },
    /** Outer source override (config tunnelSource); otherwise the route's preferred source. */
    private readonly tunnelSource: string | null,
  ) {}

  private table(dev: string): NeighbourTable {
    let t = this.tables.get(dev);
    if (!t) this.tables.set(dev, (t = new NeighbourTable(dev)));
    return t;
  }

  /** The route a target's frames take, or why there is none usable for its method. */
  private route(t: RealServerTarget): RealServerRoute | string {
    const r = this.routes.get(t.address);
    if (r === undefined) return `no route to ${t.address} looked up yet`;
    if (typeof r === "string") return r;
    if (r.local) return `${t.address} is an address of the director itself (route via ${r.dev})`;
    if (t.forward === "dr" && r.gatewayed) {
      return `DR real server ${t.address} is not on a network the director is connected to (route via ${r.via} dev ${r.dev}): DR rewrites only the MAC, so the server must share a link with the director; use -i (TUN) to reach it through a router`;
    }
    return r;
  }

  /** Ask the kernel to manage entries for `ips` on `dev` (problems go to `problems`), give `dev`
   *  a transmit socket if it is not the ring's own, and read its MACs. */
  private async neighboursOn(dev: string, ips: Set<string>, problems: Map<string, string>): Promise<Map<string, number[]>> {
    const t = this.table(dev);
    for (const [ip, err] of await t.ensure(ips)) problems.set(ip, `cannot ask the kernel to resolve ${ip} on ${dev}: ${err}`);
    if (dev !== this.ifname && !this.txIfs.has(dev)) this.txIfs.set(dev, this.ring.addTxInterface(dev));
    return t.read();
  }

  /** Next hops per egress interface for these targets (after the routes are known). */
  private nextHops(targets: readonly RealServerTarget[]): Map<string, Set<string>> {
    const byDev = new Map<string, Set<string>>();
    for (const t of targets) {
      const r = this.route(t);
      if (typeof r === "string") continue;
      if (!byDev.has(r.dev)) byDev.set(r.dev, new Set());
      byDev.get(r.dev)!.add(r.via);
    }
    return byDev;
  }

  /** Re-read routes and neighbour tables; ask the kernel to manage entries for new next hops.
   *  Returns problems met while asking (address -> message). */
  async refresh(targets: readonly RealServerTarget[]): Promise<Map<string, string>> {
    // What arrived before this read is covered by it; what arrives during it is seen next time.
    this.takeEvents();
    this.lastFull = performance.now();
    this.prunedFor = targets;
    const problems = new Map<string, string>();
    const before = targets.map((t) => answerOf(this.get(t)));
    this.routes = await resolveRoutes([...new Set(targets.map((t) => t.address))]);
    const byDev = this.nextHops(targets);
    const macs = new Map<string, Map<string, number[]>>();
    for (const [dev, ips] of byDev) macs.set(dev, await this.neighboursOn(dev, ips, problems));
    for (const [dev, t] of this.tables) if (!byDev.has(dev)) await t.forget(new Set());
    this.macsByDev = macs;
    this.waiting = new Map(targets.filter((t) => this.isWaiting(t)).map((t) => [`${t.forward}:${t.address}`, t]));
    targets.forEach((t, i) => {
      if (answerOf(this.get(t)) !== before[i]) this.changed.add(t.address);
    });
    return problems;
  }

  /** What refresh() does, as far as the kernel said something changed since the last call: the
   *  full re-read after a route, address or link notification (or lost notifications, or
   *  FULL_REFRESH_MS since the last full one), only the neighbour tables after a neighbour
   *  notification or while a target waits for its MAC, and nothing otherwise. The routes of a
   *  target a change added are looked up by refreshNew(), not here. Returns problems met. */
  async refreshIfChanged(targets: readonly RealServerTarget[]): Promise<Map<string, string>> {
    const ev = this.takeEvents();
    if (ev.routes || performance.now() - this.lastFull >= FULL_REFRESH_MS) return this.refresh(targets);
    if (this.prunedFor !== targets) {
      // Targets removed since stop waiting (a removed server's MAC is no reason to re-read).
      const keys = new Set(targets.map((t) => `${t.forward}:${t.address}`));
      for (const key of this.waiting.keys()) if (!keys.has(key)) this.waiting.delete(key);
      this.prunedFor = targets;
    }
    const problems = new Map<string, string>();
    if (!ev.neighbours && this.waiting.size === 0) return problems;
    const before = targets.map((t) => answerOf(this.get(t)));
    // Every egress interface's table, as refresh() reads them (one dump each): a notification
    // names one entry, but which interface's entries it touched is cheaper to re-read than to
    // track.
    for (const [dev, ips] of this.nextHops(targets)) this.macsByDev.set(dev, await this.neighboursOn(dev, ips, problems));
    this.waiting = new Map(targets.filter((t) => this.isWaiting(t)).map((t) => [`${t.forward}:${t.address}`, t]));
    targets.forEach((t, i) => {
      if (answerOf(this.get(t)) !== before[i]) this.changed.add(t.address);
    });
    return problems;
  }

  /** Drain the notifications; everything counts as changed without a socket to tell. */
  private takeEvents(): { routes: boolean; neighbours: boolean } {
    if (!this.eventsTried) {
      this.eventsTried = true;
      try {
        this.events = RtnetlinkEvents.open();
      } catch {
        this.events = null; // every refreshIfChanged() is then a full refresh, as before
      }
    }
    if (!this.events) return { routes: true, neighbours: true };
    try {
      return this.events.take();
    } catch {
      return { routes: true, neighbours: true };
    }
  }

  private isWaiting(t: RealServerTarget): boolean {
    return typeof this.route(t) !== "string" && this.get(t).mac === null;
  }

  /** For a change: look up routes only of `targets` never looked up before (what the change
   *  adds; pass only those), and re-read the neighbours of interfaces where a target is still
   *  waiting for its MAC (a server added by the change before, whose entry the kernel may have
   *  resolved since). Everything else keeps what the last refresh() found until the next one.
   *  Returns problems met while asking. */
  async refreshNew(targets: readonly RealServerTarget[]): Promise<Map<string, string>> {
    const problems = new Map<string, string>();
    const fresh = [...new Set(targets.filter((t) => !this.routes.has(t.address)).map((t) => t.address))];
    if (fresh.length > 0) {
      for (const [address, route] of await resolveRoutes(fresh)) this.routes.set(address, route);
    }
    const freshSet = new Set(fresh);
    const asked = [...targets.filter((t) => freshSet.has(t.address)), ...this.waiting.values()];
    for (const [dev, ips] of this.nextHops(asked)) this.macsByDev.set(dev, await this.neighboursOn(dev, ips, problems));
    for (const [key, t] of this.waiting) {
      if (this.isWaiting(t)) continue;
      this.waiting.delete(key);
      this.changed.add(t.address);
    }
    for (const t of targets) if (freshSet.has(t.address) && this.isWaiting(t)) this.waiting.set(`${t.forward}:${t.address}`, t);
    return problems;
  }

  /** The addresses whose answer changed since the last call (see `changed`); clears them. */
  takeChanged(): ReadonlySet<string> {
    const out = this.changed;
    this.changed = new Set();
    return out;
  }

  get(t: RealServerTarget): Reach {
    const r = this.route(t);
    if (typeof r === "string") return unreachable(r);
    const mac = this.macsByDev.get(r.dev)?.get(r.via) ?? null;
    const txIf = r.dev === this.ifname ? 0 : this.txIfs.get(r.dev)!;
    if (t.forward === "dr") {
      return { mac, tunnel: null, egress: { smac: r.mac, txIf }, problem: mac ? null : `no MAC for ${t.address} on ${r.dev}` };
    }
    const src = this.tunnelSource ?? r.prefsrc;
    if (!src) return unreachable(`no source address for the tunnel to ${t.address} (set tunnelSource)`);
    const tunnel: PlanTunnel = { saddr: ipToU32(src), smac: r.mac, mtu: r.mtu, txIf };
    return { mac, tunnel, egress: null, problem: mac ? null : `no MAC for next hop ${r.via} on ${r.dev} (to ${t.address})` };
  }

  /** Remove every neighbour entry we asked the kernel to manage. */
  async release(): Promise<void> {
    for (const t of this.tables.values()) await t.release();
    this.events?.close();
    this.events = null;
  }
}
