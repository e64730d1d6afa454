// Real-server MACs come from the kernel's neighbour table: the kernel already knows how to
// resolve, age and re-validate them, and operators can inspect it with `ip neigh`.
//
// For each real server we ask the kernel to keep a *managed* entry (NTF_EXT_MANAGED, Linux
// 5.16+), sending what `ip neigh replace RIP dev D managed` sends: the kernel resolves it at once
// and keeps it REACHABLE by itself, so a real server that changes its MAC is followed without
// traffic from us. A managed entry that disappears (an operator's `ip neigh flush`) is asked for
// again at the next refresh. An entry the operator made PERMANENT or NOARP is used as it is and
// never touched, neither when asked for nor when we stop. On stop (and when a real server goes),
// only entries we asked for that are still managed ones are removed: one the operator has since
// made permanent, or replaced with an unmanaged entry of their own, stays.
//
// Everything goes over the shim's rtnetlink socket (native/netlink.c): a dump of the interface's
// entries and one acknowledged request per entry changed, no process. The interface is looked up
// by name at every call, so one deleted and created again is found under its new index.
import { errnoText, Rtnetlink, type NeighbourEntry } from "../dataplane/ffi.ts";
import { NTF_EXT_MANAGED, NUD } from "../dataplane/netlink_layout.ts";
import { ipToU32, u32ToIp } from "../dataplane/plan.ts";

/** States whose link address the kernel vouches for (its NUD_VALID). */
const USABLE = NUD.REACHABLE | NUD.STALE | NUD.DELAY | NUD.PROBE | NUD.PERMANENT | NUD.NOARP;
/** Entries an operator set by hand: used, never replaced or removed. */
const OPERATOR_OWNED = NUD.PERMANENT | NUD.NOARP;

export class NeighbourTable {
  /** Addresses we asked the kernel to manage (and so may remove). */
  private managed = new Set<string>();

  constructor(private readonly ifname: string) {}

  /** The interface's index now, or null when there is no such interface. */
  private ifindex(): number | null {
    return Rtnetlink.shared().link(this.ifname)?.ifindex ?? null;
  }

  private entries(): { ifindex: number; entries: NeighbourEntry[] } {
    const ifindex = this.ifindex();
    if (ifindex === null) throw new Error(`neighbours of ${this.ifname}: Cannot find device "${this.ifname}"`);
    return { ifindex, entries: Rtnetlink.shared().neighbours(ifindex) };
  }

  /** Current MAC per address (only usable entries on our interface). Throws when the interface
   *  does not exist. */
  async read(): Promise<Map<string, number[]>> {
    const macs = new Map<string, number[]>();
    for (const e of this.entries().entries) {
      if (e.lladdr && e.state & USABLE) macs.set(u32ToIp(e.dst), e.lladdr);
    }
    return macs;
  }

  /** Make sure the kernel resolves and keeps refreshing each address. An address asked for
   *  before is asked again when its managed entry is gone (flushed by an operator, collected by
   *  the kernel): nothing else would resolve it, as the shim's frames never make the kernel look.
   *  Returns the addresses it could not ask for, with the kernel's reason as `ip` words it
   *  ("RTNETLINK answers: No buffer space available" past gc_thresh3). Throws when the interface
   *  does not exist. */
  async ensure(addresses: Iterable<string>): Promise<Map<string, string>> {
    const failures = new Map<string, string>();
    const { ifindex, entries } = this.entries();
    const byDst = new Map(entries.map((e) => [u32ToIp(e.dst), e]));
    const wanted: string[] = [];
    for (const ip of new Set(addresses)) {
      const e = byDst.get(ip);
      if (e && e.state & OPERATOR_OWNED) continue;
      if (e && e.flagsExt & NTF_EXT_MANAGED && this.managed.has(ip)) continue;
      wanted.push(ip);
    }
    if (wanted.length === 0) return failures;
    const errors = Rtnetlink.shared().manageNeighbours(ifindex, wanted.map(ipToU32));
    wanted.forEach((ip, i) => {
      if (errors[i] === 0) this.managed.add(ip);
      else failures.set(ip, `RTNETLINK answers: ${errnoText(errors[i]!)}`);
    });
    return failures;
  }

  /** Stop managing addresses that are no longer real servers: their entries go, unless someone
   *  else has taken them over since (see the header). */
  async forget(keep: Set<string>): Promise<void> {
    const gone = [...this.managed].filter((ip) => !keep.has(ip));
    if (gone.length === 0) return;
    for (const ip of gone) this.managed.delete(ip);
    // The interface went away: so did its entries.
    const ifindex = this.ifindex();
    if (ifindex === null) return;
    const nl = Rtnetlink.shared();
    const ours = new Set(nl.neighbours(ifindex)
      .filter((e) => e.flagsExt & NTF_EXT_MANAGED && !(e.state & OPERATOR_OWNED)).map((e) => u32ToIp(e.dst)));
    // An entry already gone (ENOENT) is what we wanted; nothing else is worth failing a stop for.
    nl.deleteNeighbours(ifindex, gone.filter((ip) => ours.has(ip)).map(ipToU32));
  }

  /** Remove every entry we created (the kernel re-learns them on demand if anything else needs them). */
  async release(): Promise<void> {
    await this.forget(new Set());
  }
}
