// Keeps the director's own kernel away from VIP traffic. AF_PACKET hands us a copy of every frame
// before tc/nftables ingress, while the kernel still processes its own copy: with the VIP
// configured locally its TCP stack would answer a SYN for VIP:port with an RST (or accept it), and
// with forwarding enabled it could route the frame on. A netdev-family ingress rule that drops
// service traffic runs after our tap and before the IP stack, so it removes only the kernel's
// copy. One table per director process, named after its first interface and pid, with one chain
// per receiving interface, deleted on stop.
import { run, runOk } from "../sys/run.ts";
import type { ServiceConfig } from "../config/model.ts";
import { serviceMatches } from "../config/service.ts";

export class KernelGuard {
  readonly table: string;
  private installed = false;

  private readonly ifnames: readonly string[];

  constructor(ifnames: string | readonly string[]) {
    this.ifnames = typeof ifnames === "string" ? [ifnames] : ifnames;
    this.table = `ringvs_${this.ifnames[0]!.replace(/[^A-Za-z0-9_]/g, "_")}_${process.pid}`;
  }

  /** Install (or replace) the drop rules for these services. Throws CommandError with nft's
   *  message when nft is missing or refuses. */
  async install(services: readonly ServiceConfig[]): Promise<void> {
    // Port 0 (every port of the VIP) drops the protocol's traffic to the VIP as a whole.
    const rules = services
      .flatMap(serviceMatches)
      .map((m) => m.port === 0
        ? `    ip daddr ${m.address} meta l4proto ${m.protocol} counter drop`
        : `    ip daddr ${m.address} ${m.protocol} dport ${m.port} counter drop`)
      .join("\n");
    // A netdev base chain hooks one device: one chain per receiving interface, same rules.
    const chains = this.ifnames.flatMap((ifname, i) => [
      `  chain vip_ingress${i === 0 ? "" : `_${i}`} {`,
      `    type filter hook ingress device "${ifname}" priority -500; policy accept;`,
      rules,
      `  }`,
    ]);
    const script = [
      `table netdev ${this.table} {}`,
      `delete table netdev ${this.table}`,
      `table netdev ${this.table} {`,
      ...chains,
      `}`,
      "",
    ].join("\n");
    await runOk(["nft", "-f", "-"], script);
    this.installed = true;
  }

  async remove(): Promise<void> {
    if (!this.installed) return;
    await run(["nft", "delete", "table", "netdev", this.table]);
    this.installed = false;
  }
}
