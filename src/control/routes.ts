// Where a real server's packets leave: the kernel's routing table (`ip route get RIP`) gives the
// egress interface, the next hop (the gateway, or the RIP itself when on-link) and the preferred
// source address; the interface's MAC and MTU come from `ip link`. TUN sends to the next hop; DR
// needs the real server itself on that link (IPVS's DR transmit routes the same way). Asked in one `ip
// -batch` per refresh, so following route changes costs one process per second, not one per server.
import { run, runOk } from "../sys/run.ts";
import { parseMac } from "../dataplane/plan.ts";

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

interface RouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev: string;
  prefsrc?: string;
}

interface LinkJson {
  ifname: string;
  mtu: number;
  address: string;
}

/** Routes for each address; an address without a route maps to an error text instead. */
export async function resolveRoutes(rips: readonly string[]): Promise<Map<string, RealServerRoute | string>> {
  const out = new Map<string, RealServerRoute | string>();
  if (rips.length === 0) return out;
  const links = new Map<string, LinkJson>();
  for (const l of JSON.parse(await runOk(["ip", "-j", "link", "show"])) as LinkJson[]) links.set(l.ifname, l);
  // One route lookup per line; -force keeps going past an address with no route.
  const r = await run(["ip", "-j", "-force", "-batch", "-"], rips.map((ip) => `route get ${ip}`).join("\n") + "\n");
  const answers = r.stdout.split("\n").filter((l) => l.trim().startsWith("["));
  const errors = r.stderr.trim();
  let k = 0;
  for (const ip of rips) {
    const parsed = answers[k] ? (JSON.parse(answers[k]!) as RouteJson[]) : [];
    const route = parsed[0];
    if (!route || route.dst !== ip) {
      out.set(ip, `no route to ${ip}${errors ? ` (${errors.split("\n")[0]})` : ""}`);
      continue;
    }
    k++;
    const link = links.get(route.dev);
    if (!link) {
      out.set(ip, `route to ${ip} leaves through ${route.dev}, which has no link entry`);
      continue;
    }
    out.set(ip, {
      dev: route.dev, via: route.gateway ?? ip, prefsrc: route.prefsrc ?? "", mtu: link.mtu, mac: parseMac(link.address),
      local: route.type === "local", gatewayed: route.gateway !== undefined,
    });
  }
  return out;
}
