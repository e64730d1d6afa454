// Where each VIP is answered for: by the director's kernel (the VIP is a local address) or by
// ringvs itself (it answers ARP), decided from the host's addresses, plus the sysctls that would
// keep the kernel from answering for a VIP on another interface. Reads `ip -j addr show` and
// /proc/sys; the Director reaches it through DirectorHost (src/control/system.ts).
import type { DirectorConfig } from "../config/model.ts";
import { serviceMatches } from "../config/service.ts";
import { runOk } from "../sys/run.ts";

export interface VipPlacement {
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
export async function placeVips(config: DirectorConfig): Promise<VipPlacement> {
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
export async function sysctlWarnings(ifnames: readonly string[], on: ReadonlyMap<string, string>): Promise<string[]> {
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
