// How each real server is reached, kept current: for DR its MAC on the director's interface; for
// TUN the route (egress interface, next hop, source, MTU) and the next hop's MAC on that interface.
// MACs come from managed neighbour entries (see neighbours.ts), one table per egress interface;
// an egress interface other than the ring's gets its own transmit socket in the shim.
import { ipToU32, type PlanTunnel } from "../dataplane/plan.ts";
import { NeighbourTable } from "./neighbours.ts";
import { resolveRoutes, type TunnelRoute } from "./routes.ts";

export interface RealServerTarget {
  address: string;
  forward: "dr" | "tun";
}

export interface Reach {
  /** DR: the real server's MAC; TUN: the next hop's. Null while unresolved. */
  mac: number[] | null;
  tunnel: PlanTunnel | null;
  /** Why it cannot be reached, when it cannot. */
  problem: string | null;
}

export class Reachability {
  private readonly tables = new Map<string, NeighbourTable>();
  private readonly txIfs = new Map<string, number>();
  private macsByDev = new Map<string, Map<string, number[]>>();
  private routes = new Map<string, TunnelRoute | string>();

  constructor(
    private readonly ifname: string,
    private readonly ring: { addTxInterface(ifname: string): number },
    /** Outer source override (config tunnelSource); otherwise the route's preferred source. */
    private readonly tunnelSource: string | null,
  ) {}

  private table(dev: string): NeighbourTable {
    let t = this.tables.get(dev);
    if (!t) this.tables.set(dev, (t = new NeighbourTable(dev)));
    return t;
  }

  /** Next hops per egress interface for these targets (after the routes are known). */
  private nextHops(targets: readonly RealServerTarget[]): Map<string, Set<string>> {
    const byDev = new Map<string, Set<string>>();
    const add = (dev: string, ip: string) => {
      if (!byDev.has(dev)) byDev.set(dev, new Set());
      byDev.get(dev)!.add(ip);
    };
    for (const t of targets) {
      if (t.forward === "dr") add(this.ifname, t.address);
      else {
        const r = this.routes.get(t.address);
        if (r && typeof r !== "string") add(r.dev, r.via);
      }
    }
    return byDev;
  }

  /** Re-read routes and neighbour tables; ask the kernel to manage entries for new next hops.
   *  Returns problems met while asking (address -> message). */
  async refresh(targets: readonly RealServerTarget[]): Promise<Map<string, string>> {
    const problems = new Map<string, string>();
    this.routes = await resolveRoutes([...new Set(targets.filter((t) => t.forward === "tun").map((t) => t.address))]);
    const byDev = this.nextHops(targets);
    const macs = new Map<string, Map<string, number[]>>();
    for (const [dev, ips] of byDev) {
      const t = this.table(dev);
      for (const [ip, err] of await t.ensure(ips)) problems.set(ip, `cannot ask the kernel to resolve ${ip} on ${dev}: ${err}`);
      macs.set(dev, await t.read());
      if (dev !== this.ifname && !this.txIfs.has(dev)) this.txIfs.set(dev, this.ring.addTxInterface(dev));
    }
    for (const [dev, t] of this.tables) if (!byDev.has(dev)) await t.forget(new Set());
    this.macsByDev = macs;
    return problems;
  }

  get(t: RealServerTarget): Reach {
    if (t.forward === "dr") {
      const mac = this.macsByDev.get(this.ifname)?.get(t.address) ?? null;
      return { mac, tunnel: null, problem: mac ? null : `no MAC for ${t.address} on ${this.ifname}` };
    }
    const r = this.routes.get(t.address);
    if (r === undefined) return { mac: null, tunnel: null, problem: `no route to ${t.address} looked up yet` };
    if (typeof r === "string") return { mac: null, tunnel: null, problem: r };
    const src = this.tunnelSource ?? r.prefsrc;
    if (!src) return { mac: null, tunnel: null, problem: `no source address for the tunnel to ${t.address} (set tunnelSource)` };
    const mac = this.macsByDev.get(r.dev)?.get(r.via) ?? null;
    const tunnel: PlanTunnel = { saddr: ipToU32(src), smac: r.mac, mtu: r.mtu, txIf: r.dev === this.ifname ? 0 : this.txIfs.get(r.dev)! };
    return { mac, tunnel, problem: mac ? null : `no MAC for next hop ${r.via} on ${r.dev} (to ${t.address})` };
  }

  /** Remove every neighbour entry we asked the kernel to manage. */
  async release(): Promise<void> {
    for (const t of this.tables.values()) await t.release();
  }
}
