// The director's rings: one per packet worker on each receiving interface. On an interface with
// one worker it is a plain ring; with several, the rings are the members of one PACKET_FANOUT
// group on that interface and the kernel picks the ring per frame (by client source address, see
// native/fanout.c). Everything the control plane does to "the ring" goes through here: per-ring
// settings are applied to every ring (so a transmit interface has the same tx_if number in all of
// them), counters are summed (and kept per interface), and frames the control plane sends itself
// (gratuitous ARP) leave through the first ring of the interface they are for.
import { Ring, type RingParams } from "./ffi.ts";
import { COUNTER_NAMES, SLOT, SLOT_SIZE, type Counters } from "./layout.ts";

export class RingSet {
  private constructor(
    readonly rings: readonly Ring[],
    /** The receiving interfaces, in order; rings[i] is on interfaces[floor(i / perInterface)]. */
    readonly interfaces: readonly string[],
    private readonly perInterface: number,
  ) {}

  /** Open `count` rings on each of `ifnames` (count > 1: a fanout group per interface). Closes
   *  what it opened and rethrows if any of them fails. */
  static open(ifnames: string | readonly string[], params: RingParams, count: number): RingSet {
    const names = typeof ifnames === "string" ? [ifnames] : [...ifnames];
    const rings: Ring[] = [];
    try {
      for (const ifname of names) {
        if (count === 1) {
          rings.push(Ring.open(ifname, params));
          continue;
        }
        const first = Ring.openFanout(ifname, params, null);
        rings.push(first);
        for (let i = 1; i < count; i++) rings.push(Ring.openFanout(ifname, params, first.fanoutGroups!));
      }
    } catch (e) {
      for (const r of rings) r.close();
      throw e;
    }
    return new RingSet(rings, names, count);
  }

  /** One ring-less simulation handle per interface (rv_open_sim), all with the MAC `mac`: the
   *  data plane of a Director run without the kernel (src/control/simulated_system.ts). Frames are
   *  pushed in and captured out through each Ring's sim* methods. */
  static simulated(ifnames: readonly string[], mac: Uint8Array, params: RingParams): RingSet {
    const rings: Ring[] = [];
    try {
      for (const _ of ifnames) rings.push(Ring.openSim(mac, params));
    } catch (e) {
      for (const r of rings) r.close();
      throw e;
    }
    return new RingSet(rings, [...ifnames], 1);
  }

  /** The rings on receiving interface number i. */
  ringsOf(i: number): readonly Ring[] {
    return this.rings.slice(i * this.perInterface, (i + 1) * this.perInterface);
  }

  /** The receiving interface ring number i is on. */
  interfaceOf(ring: number): string {
    return this.interfaces[Math.floor(ring / this.perInterface)]!;
  }

  /** Each receiving interface's MAC (its first ring's). */
  macOf(i: number): Uint8Array {
    return this.ringsOf(i)[0]!.mac;
  }

  get count(): number {
    return this.rings.length;
  }

  get mac(): Uint8Array {
    return this.rings[0]!.mac;
  }

  /** Spread frames over each interface's workers by hash(client address & mask); a no-op with one
   *  ring per interface. */
  setFanoutMask(mask: number): void {
    if (this.perInterface === 1) return;
    for (let i = 0; i < this.interfaces.length; i++) this.ringsOf(i)[0]!.setFanoutMask(mask);
  }

  /** A transmit socket on `ifname` in every ring; returns its tx_if number, the same in all. */
  addTxInterface(ifname: string): number {
    const ids = this.rings.map((r) => r.addTxInterface(ifname));
    if (ids.some((id) => id !== ids[0])) {
      throw new Error(`transmit interface ${ifname} got different numbers in different rings (${ids.join(", ")})`);
    }
    return ids[0]!;
  }

  setIcmp(saddr: number, ratePerSecond: number, burst: number): void {
    // The budget is the director's, not each ring's: split it (at least 1 a second, 1 in hand).
    const n = this.rings.length;
    for (const r of this.rings) r.setIcmp(saddr, Math.max(1, Math.floor(ratePerSecond / n)), Math.max(1, Math.floor(burst / n)));
  }

  /** Send a frame built by the control plane out of receiving interface number i (default the
   *  first). */
  sendFrame(frame: Uint8Array, i = 0): number {
    return this.ringsOf(i)[0]!.sendFrame(frame);
  }

  refreshKernelStats(): void {
    for (const r of this.rings) r.refreshKernelStats();
  }

  /** The shim's counters, summed over the rings. */
  counters(): Counters {
    const sum = this.rings[0]!.counters();
    for (const r of this.rings.slice(1)) {
      const c = r.counters();
      for (const name of COUNTER_NAMES) sum[name] += c[name];
    }
    return sum;
  }

  /** The shim's counters of each receiving interface, summed over its rings. */
  countersByInterface(): { interface: string; counters: Counters }[] {
    return this.interfaces.map((name, i) => {
      const [first, ...rest] = this.ringsOf(i);
      const sum = first!.counters();
      for (const r of rest) {
        const c = r.counters();
        for (const n of COUNTER_NAMES) sum[n] += c[n];
      }
      return { interface: name, counters: sum };
    });
  }

  /** Packets and bytes sent to one real-server slot, summed over the rings. */
  /** Packets and bytes forwarded through `slot`, summed over the rings, each u64 read as two u32
   *  halves (exact below 2^53): the rate estimator reads them for every real server. */
  slotPackets(slot: number): number {
    return this.slotU64((slot * SLOT_SIZE + SLOT.packets) >>> 2);
  }

  slotBytes(slot: number): number {
    return this.slotU64((slot * SLOT_SIZE + SLOT.bytes) >>> 2);
  }

  private slotU64(at32: number): number {
    let n = 0;
    for (const r of this.rings) n += r.slots32[at32]! + r.slots32[at32 + 1]! * 4294967296;
    return n;
  }

  slotTraffic(slot: number): { packets: number; bytes: number } {
    const o = (slot * SLOT_SIZE) / 8;
    let packets = 0;
    let bytes = 0;
    for (const r of this.rings) {
      packets += Number(r.slots64[o + SLOT.packets / 8]);
      bytes += Number(r.slots64[o + SLOT.bytes / 8]);
    }
    return { packets, bytes };
  }

  close(): void {
    for (const r of this.rings) r.close();
  }
}
