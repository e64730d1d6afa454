// Keeps the director's own kernel away from VIP traffic. AF_PACKET hands us a copy of every frame
// before tc/nftables ingress, while the kernel still processes its own copy: with the VIP
// configured locally its TCP stack would answer a SYN for VIP:port with an RST (or accept it), and
// with forwarding enabled it could route the frame on. A netdev-family ingress rule that drops
// service traffic runs after our tap and before the IP stack, so it removes only the kernel's
// copy. One table per director process, named after its first interface and pid, with one chain
// per receiving interface, deleted on stop.
//
// The services' matches are elements of four sets (VIP . port per protocol, and whole VIPs for
// port-0 services), looked up by hash from four rules. A rule per match made every frame the
// kernel saw walk the rules one by one (10,000 of them with 10,000 services), and writing them
// took nft half a second; a change now adds and deletes only the elements that came and went,
// in one nft transaction.
import { run, runOk } from "../sys/run.ts";
import type { ServiceConfig, ServiceMatch } from "../config/model.ts";
import { serviceMatches } from "../config/service.ts";

/** The set a match belongs to and its element as nft writes it. */
function element(m: ServiceMatch): { set: string; element: string } {
  return m.port === 0
    ? { set: `vip_${m.protocol}`, element: m.address }
    : { set: `vip_port_${m.protocol}`, element: `${m.address} . ${m.port}` };
}

const SETS = [
  { name: "vip_port_tcp", type: "ipv4_addr . inet_service", rule: "ip daddr . tcp dport @vip_port_tcp counter drop" },
  { name: "vip_port_udp", type: "ipv4_addr . inet_service", rule: "ip daddr . udp dport @vip_port_udp counter drop" },
  // Port 0 (every port of the VIP) drops the protocol's traffic to the VIP as a whole.
  { name: "vip_tcp", type: "ipv4_addr", rule: "ip daddr @vip_tcp meta l4proto tcp counter drop" },
  { name: "vip_udp", type: "ipv4_addr", rule: "ip daddr @vip_udp meta l4proto udp counter drop" },
];

export class KernelGuard {
  readonly table: string;
  private installed = false;
  /** What the sets hold now: "set element" strings. */
  private held = new Set<string>();

  private readonly ifnames: readonly string[];

  constructor(ifnames: string | readonly string[]) {
    this.ifnames = typeof ifnames === "string" ? [ifnames] : ifnames;
    this.table = `ringvs_${this.ifnames[0]!.replace(/[^A-Za-z0-9_]/g, "_")}_${process.pid}`;
  }

  /** Make the drop rules match these services: the table at the first call, the elements that
   *  differ after it. Throws CommandError with nft's message when nft is missing or refuses (the
   *  sets then hold what they held before: one transaction). */
  async install(services: readonly ServiceConfig[]): Promise<void> {
    const wanted = new Map<string, { set: string; element: string }>();
    for (const s of services) {
      for (const m of serviceMatches(s)) {
        const e = element(m);
        wanted.set(`${e.set} ${e.element}`, e);
      }
    }
    const script = this.installed ? this.changeScript(wanted) : this.tableScript(wanted);
    if (script === "") return;
    await runOk(["nft", "-f", "-"], script);
    this.installed = true;
    this.held = new Set(wanted.keys());
  }

  /** The whole table (replacing one of the same name a crashed process with our pid left). */
  private tableScript(wanted: ReadonlyMap<string, { set: string; element: string }>): string {
    const bySet = new Map<string, string[]>(SETS.map((s) => [s.name, []]));
    for (const e of wanted.values()) bySet.get(e.set)!.push(e.element);
    const sets = SETS.flatMap((s) => {
      const elements = bySet.get(s.name)!;
      return [
        `  set ${s.name} {`,
        `    type ${s.type}`,
        ...(elements.length > 0 ? [`    elements = { ${elements.join(", ")} }`] : []),
        `  }`,
      ];
    });
    // A netdev base chain hooks one device: one chain per receiving interface, same rules.
    const chains = this.ifnames.flatMap((ifname, i) => [
      `  chain vip_ingress${i === 0 ? "" : `_${i}`} {`,
      `    type filter hook ingress device "${ifname}" priority -500; policy accept;`,
      ...SETS.map((s) => `    ${s.rule}`),
      `  }`,
    ]);
    return [
      `table netdev ${this.table} {}`,
      `delete table netdev ${this.table}`,
      `table netdev ${this.table} {`,
      ...sets,
      ...chains,
      `}`,
      "",
    ].join("\n");
  }

  /** Element deletions and additions that turn what is held into `wanted`; "" when none. */
  private changeScript(wanted: ReadonlyMap<string, { set: string; element: string }>): string {
    const lines: string[] = [];
    for (const key of this.held) {
      if (wanted.has(key)) continue;
      const at = key.indexOf(" ");
      lines.push(`delete element netdev ${this.table} ${key.slice(0, at)} { ${key.slice(at + 1)} }`);
    }
    for (const [key, e] of wanted) {
      if (!this.held.has(key)) lines.push(`add element netdev ${this.table} ${e.set} { ${e.element} }`);
    }
    return lines.length === 0 ? "" : lines.join("\n") + "\n";
  }

  async remove(): Promise<void> {
    if (!this.installed) return;
    await run(["nft", "delete", "table", "netdev", this.table]);
    this.installed = false;
    this.held = new Set();
  }
}
