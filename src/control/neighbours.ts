// Real-server MACs come from the kernel's neighbour table: the kernel already knows how to
// resolve, age and re-validate them, and operators can inspect it with `ip neigh`.
//
// For each real server we ask the kernel to keep a *managed* entry (NTF_MANAGED, Linux 5.16+):
// the kernel resolves it at once and keeps it REACHABLE by itself, so a real server that changes
// its MAC is followed without traffic from us. An entry the operator made permanent is used as it
// is and never touched. On stop, only the entries we created are removed.
import { run, runOk } from "../sys/run.ts";
import { parseMac } from "../dataplane/plan.ts";

interface NeighJson {
  dst: string;
  lladdr?: string;
  state?: string[];
}

const USABLE = new Set(["REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"]);

export class NeighbourTable {
  private managed = new Set<string>();
  private macs = new Map<string, number[]>();

  constructor(private readonly ifname: string) {}

  /** Current MAC per address (only usable entries on our interface). */
  async read(): Promise<Map<string, number[]>> {
    const out = await runOk(["ip", "-j", "neigh", "show", "dev", this.ifname]);
    const entries = (out.trim() ? JSON.parse(out) : []) as NeighJson[];
    const macs = new Map<string, number[]>();
    for (const e of entries) {
      if (e.lladdr && e.state?.some((s) => USABLE.has(s))) macs.set(e.dst, parseMac(e.lladdr));
    }
    this.macs = macs;
    return macs;
  }

  /** Make sure the kernel resolves and keeps refreshing each address. Returns the addresses it
   *  could not ask for (the error text per address). */
  async ensure(addresses: Iterable<string>): Promise<Map<string, string>> {
    const out = await runOk(["ip", "-j", "neigh", "show", "dev", this.ifname]);
    const existing = new Map<string, NeighJson>();
    for (const e of (out.trim() ? JSON.parse(out) : []) as NeighJson[]) existing.set(e.dst, e);
    const failures = new Map<string, string>();
    const wanted: string[] = [];
    for (const ip of addresses) {
      if (this.managed.has(ip)) continue;
      const e = existing.get(ip);
      if (e?.state?.includes("PERMANENT") || e?.state?.includes("NOARP")) continue;
      wanted.push(ip);
    }
    if (wanted.length === 0) return failures;
    // One `ip -batch` for all of them: a change that adds 5,000 real servers spawned 5,000
    // processes here. Only when the batch reports a failure is each address asked alone, for its
    // own error text.
    const batch = await run(["ip", "-force", "-batch", "-"], wanted.map((ip) => `neigh replace ${ip} dev ${this.ifname} managed`).join("\n") + "\n");
    if (batch.code === 0) {
      for (const ip of wanted) this.managed.add(ip);
      return failures;
    }
    for (const ip of wanted) {
      const r = await run(["ip", "neigh", "replace", ip, "dev", this.ifname, "managed"]);
      if (r.code === 0) this.managed.add(ip);
      else failures.set(ip, r.stderr.trim());
    }
    return failures;
  }

  /** Stop managing addresses that are no longer real servers. */
  async forget(keep: Set<string>): Promise<void> {
    for (const ip of [...this.managed]) {
      if (keep.has(ip)) continue;
      await run(["ip", "neigh", "del", ip, "dev", this.ifname]);
      this.managed.delete(ip);
    }
  }

  /** Remove every entry we created (the kernel re-learns them on demand if anything else needs them). */
  async release(): Promise<void> {
    await this.forget(new Set());
  }
}
