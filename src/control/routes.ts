// Where a real server's packets leave: the kernel's routing table gives the egress interface, the
// next hop (the gateway, or the RIP itself when on-link) and the preferred source address; the
// interface's MAC and MTU come from its link entry. TUN sends to the next hop; DR needs the real
// server itself on that link (IPVS's DR transmit routes the same way). Asked over the shim's
// rtnetlink socket (native/netlink.c) with the requests `ip route get RIP` and `ip link` send, so
// the answers are the ones `ip` would print: no process per lookup, about 5 µs per address, and
// the once-a-second refresh of every real server's route is one synchronous call.
import { errnoText, Rtnetlink, type LinkFacts } from "../dataplane/ffi.ts";
import { ARPHRD_ETHER, RTN_LOCAL } from "../dataplane/netlink_layout.ts";
import { ipToU32, macToString, u32ToIp } from "../dataplane/plan.ts";

export interface RealServerRoute {
  /** Egress interface. */
  dev: string;
  /** Next hop whose MAC the outer frame is sent to. */
  via: string;
  /** The kernel's preferred source address for that route ("" when it has none). */
  prefsrc: string;
  mtu: number;
  /** The egress interface's MAC. */
  mac: number[];
  /** The RIP is one of the director's own addresses (the kernel would deliver it locally). */
  local: boolean;
  /** The next hop is a gateway, not the RIP itself. */
  gatewayed: boolean;
}

/** Routes for each address; an address without a route maps to an error text instead: "no route
 *  to RIP (RTNETLINK answers: Network is unreachable)" with the kernel's reason, as `ip route get`
 *  words it. Throws only when the rtnetlink socket itself fails. */
export async function resolveRoutes(rips: readonly string[]): Promise<Map<string, RealServerRoute | string>> {
  const out = new Map<string, RealServerRoute | string>();
  if (rips.length === 0) return out;
  const nl = Rtnetlink.shared();
  const answers = nl.routeGet(rips.map(ipToU32));
  // Each egress interface is asked once per call, however many real servers leave through it.
  const links = new Map<number, LinkFacts | null>();
  rips.forEach((ip, i) => {
    const a = answers[i]!;
    if (a.errno !== 0) {
      out.set(ip, `no route to ${ip} (RTNETLINK answers: ${errnoText(a.errno)})`);
      return;
    }
    if (!links.has(a.oif)) links.set(a.oif, nl.link(a.oif));
    const link = links.get(a.oif)!;
    if (!link) {
      out.set(ip, `route to ${ip} leaves through interface ${a.oif}, which has no link entry`);
      return;
    }
    const local = a.type === RTN_LOCAL;
    // A local answer leaves through the loopback, whose all-zero address is kept: the route is
    // reported as the director's own address before anything would be sent there.
    if (!link.mac || (!local && link.type !== ARPHRD_ETHER)) {
      out.set(ip, `route to ${ip} leaves through ${link.name}, which is not an Ethernet interface${link.mac ? ` (address ${macToString(link.mac)}, type ${link.type})` : ""}`);
      return;
    }
    if (a.via6) {
      out.set(ip, `route to ${ip} goes via an IPv6 next hop on ${link.name}, which ringvs cannot resolve (IPv4 neighbours only)`);
      return;
    }
    out.set(ip, {
      dev: link.name, via: a.gateway !== null ? u32ToIp(a.gateway) : ip, prefsrc: a.prefsrc !== null ? u32ToIp(a.prefsrc) : "",
      mtu: link.mtu, mac: link.mac, local, gatewayed: a.gateway !== null,
    });
  });
  return out;
}
