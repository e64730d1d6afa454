// The director's rings on its interface: one per packet worker. With one worker it is a plain
// ring; with several, the rings are the members of one PACKET_FANOUT group and the kernel picks
// the ring per frame (by client source address, see native/fanout.c). Everything the control
// plane does to "the ring" goes through here: per-ring settings are applied to every ring (so a
// TUN transmit interface has the same tx_if number in all of them), counters are summed, and
// frames the control plane sends itself (gratuitous ARP) leave through the first ring.
import { Ring, type RingParams } from "./ffi.ts";
import { COUNTER_NAMES, SLOT, SLOT_SIZE, type Counters } from "./layout.ts";

export class RingSet {
  private constructor(readonly rings: readonly Ring[]) {}

  /** Open `count` rings on `ifname` (count > 1: a fanout group). Closes what it opened and
   *  rethrows if any of them fails. */
  static open(ifname: string, params: RingParams, count: number): RingSet {
    if (count === 1) return new RingSet([Ring.open(ifname, params)]);
    const rings: Ring[] = [];
    try {
      rings.push(Ring.openFanout(ifname, params, null));
      while (rings.length < count) rings.push(Ring.openFanout(ifname, params, rings[0]!.fanoutGroups!));
    } catch (e) {
      for (const r of rings) r.close();
      throw e;
    }
    return new RingSet(rings);
  }

  get count(): number {
    return this.rings.length;
  }

  get mac(): Uint8Array {
    return this.rings[0]!.mac;
  }

  /** Spread frames over the workers by hash(client address & mask); a no-op with one ring. */
  setFanoutMask(mask: number): void {
    if (this.rings.length > 1) this.rings[0]!.setFanoutMask(mask);
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

  sendFrame(frame: Uint8Array): number {
    return this.rings[0]!.sendFrame(frame);
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

  /** Packets and bytes sent to one real-server slot, summed over the rings. */
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
