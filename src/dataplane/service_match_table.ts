// The packet path's lookup of a (VIP, protocol, port) service match, over typed arrays; the
// forwarder builds one whole per plan (src/dataplane/forwarder.ts, apply()).
import { IPPROTO_UDP } from "./layout.ts";

/** The packet path's service lookup: exact (VIP, protocol, port) -> a number the caller chose (its
 *  index into a list of services), by open addressing over typed arrays. A Map keyed by
 *  vip * 2^17 + protoPort() pays for hashing a number that is not an int32 on every lookup, once
 *  or twice per packet (perf: ~18% of process() for new flows); here it is two multiplies and a
 *  compare or two.
 *  Built whole by apply(); setting a key twice keeps the last value, as Map.set does. */
export class ServiceMatchTable {
  private readonly vip: Uint32Array;
  /** protoPort() of the match; with `vip` the whole key. */
  private readonly protoPort: Uint32Array;
  /** -1 marks an empty bucket. */
  private readonly value: Int32Array;
  private readonly mask: number;
  private readonly shift: number;

  /** Room for `entries` keys at most half full (so a miss ends within a bucket or two). */
  constructor(entries: number) {
    let bits = 4;
    while (1 << bits < entries * 2) bits++;
    this.vip = new Uint32Array(1 << bits);
    this.protoPort = new Uint32Array(1 << bits);
    this.value = new Int32Array(1 << bits).fill(-1);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
  }

  /** Protocol (tcp or udp: anything not udp counts as tcp) and port as one word. */
  static protoPort(proto: number, port: number): number {
    return (proto === IPPROTO_UDP ? 65536 : 0) + port;
  }

  /** Multiplicative hash: the top bits of the product spread VIPs that differ in any bit. */
  private home(vip: number, protoPort: number): number {
    return Math.imul(vip ^ Math.imul(protoPort, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  set(vip: number, protoPort: number, value: number): void {
    let i = this.home(vip, protoPort);
    while (this.value[i]! >= 0 && !(this.vip[i] === vip && this.protoPort[i] === protoPort)) i = (i + 1) & this.mask;
    this.vip[i] = vip;
    this.protoPort[i] = protoPort;
    this.value[i] = value;
  }

  /** The value set for this key, or -1. */
  get(vip: number, protoPort: number): number {
    let i = this.home(vip, protoPort);
    for (;;) {
      const v = this.value[i]!;
      if (v < 0 || (this.vip[i] === vip && this.protoPort[i] === protoPort)) return v;
      i = (i + 1) & this.mask;
    }
  }
}
