// Large receive offload (LRO) merges frames in the NIC in ways that cannot always be cut back
// into the packets that were sent (the kernel switches it off on every forwarding interface,
// dev_disable_lro), so ringvs switches LRO off on its interface at start and puts back what it
// changed at stop, like its nft table. GRO stays as it is: its super-frames carry exact GSO
// metadata, reach ringvs whole through the large-frame socket (native/large_frames.c) and are
// forwarded whole (DR) or cut into their segments (TUN), which bench/upload.ts measures at about
// 4x fewer director CPU-seconds per byte than wire-sized frames.
import { run } from "../sys/run.ts";

const FEATURES: readonly [name: string, short: string][] = [
  ["large-receive-offload", "lro"],
];

export class ReceiveOffloads {
  private changed: string[] = [];

  constructor(private readonly ifname: string) {}

  /** Turn LRO off. Returns a warning when it could not (no ethtool, a fixed feature), or null;
   *  a director can still run, forwarding LRO frames as the super-frames they claim to be. */
  async disable(): Promise<string | null> {
    const k = await run(["ethtool", "-k", this.ifname]);
    if (k.code !== 0) return `cannot read offloads of ${this.ifname} (${k.stderr.trim() || "ethtool missing?"}): LRO left as it is`;
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
    return problems.length ? `${this.ifname}: ${problems.join("; ")}: LRO-merged frames are forwarded as they come` : null;
  }

  /** Switch back on what disable() switched off. */
  async restore(): Promise<void> {
    for (const short of this.changed) await run(["ethtool", "-K", this.ifname, short, "on"]);
    this.changed = [];
  }
}
