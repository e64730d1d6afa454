// Receive offloads that merge frames (GRO, LRO) hand AF_PACKET super-frames far larger than the
// MTU. ringvs forwards frames as they are, so such a frame cannot be sent on (DR: EMSGSIZE) or
// tunnelled (TUN: it would "need fragmentation" forever). The director's interface must receive
// wire-sized frames, as kernel IPVS does not need (it forwards GSO skbs). ringvs switches GRO and
// LRO off on its interface at start and puts back what it changed at stop, like its nft table.
import { run } from "../sys/run.ts";

const FEATURES: readonly [name: string, short: string][] = [
  ["generic-receive-offload", "gro"],
  ["large-receive-offload", "lro"],
];

export class ReceiveOffloads {
  private changed: string[] = [];

  constructor(private readonly ifname: string) {}

  /** Turn merging offloads off. Returns a warning when it could not (no ethtool, a fixed
   *  feature), or null; a director can still run, with frames above the MTU counted as tx errors. */
  async disable(): Promise<string | null> {
    const k = await run(["ethtool", "-k", this.ifname]);
    if (k.code !== 0) return `cannot read offloads of ${this.ifname} (${k.stderr.trim() || "ethtool missing?"}): GRO/LRO left as they are`;
    const problems: string[] = [];
    for (const [name, short] of FEATURES) {
      const line = k.stdout.split("\n").find((l) => l.startsWith(`${name}:`));
      if (!line || !/:\s+on/.test(line)) continue;
      if (line.includes("[fixed]")) {
        problems.push(`${short} is fixed on`);
        continue;
      }
      const r = await run(["ethtool", "-K", this.ifname, short, "off"]);
      if (r.code === 0) this.changed.push(short);
      else problems.push(`${short} off failed: ${r.stderr.trim()}`);
    }
    return problems.length ? `${this.ifname}: ${problems.join("; ")}: merged frames above the MTU will not be forwarded` : null;
  }

  /** Switch back on what disable() switched off. */
  async restore(): Promise<void> {
    for (const short of this.changed) await run(["ethtool", "-K", this.ifname, short, "on"]);
    this.changed = [];
  }
}
