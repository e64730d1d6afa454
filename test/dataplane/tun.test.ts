// IPIP (TUN) forwarding through the shim on a simulation handle: exact outer header bytes for
// representative inner packets, DF and non-DF, at and above the egress MTU, the ICMP
// "fragmentation needed" answer and its rate limit. Expected frames are written out here from the
// IPIP rules (RFC 2003, ip_vs_tunnel_xmit), with checksums computed by the test's own code.
import { describe, expect, test } from "bun:test";
import { Ring, type RingParams } from "../../src/dataplane/ffi.ts";
import { Forwarder } from "../../src/dataplane/forwarder.ts";
import { DEFAULT_TIMEOUTS, type Plan, type PlanDest } from "../../src/dataplane/plan.ts";
import { newPolicyCounterBuffer } from "../../src/dataplane/policy_counters.ts";
import { DEFAULT_SCHEDULER_FLAGS } from "../../src/sched/scheduler.ts";
import { ACK, concat, hex, icmp, inetChecksum, ip, ipChecksumOk, l4ChecksumOk, mac, PSH, quote, SYN, tcp } from "./packet_builder.ts";

const DIRECTOR = mac("02:00:00:00:00:01");
const ROUTER = mac("02:00:00:00:00:10");
const NEXT_HOP = mac("02:00:00:00:00:fe");
const EGRESS = mac("02:00:00:00:00:02");
const VIP = ip("198.18.0.100");
const CLIENT = ip("198.18.5.7");
const DIP = ip("198.18.0.3");
const RIP = ip("198.19.0.11");
const PARAMS: RingParams = { version: 3, blockSize: 65536, blockCount: 4, blockTimeoutMs: 1, descCapacity: 1024, slotCapacity: 16 };

function tunDest(slot: number, mtu = 1500, txIf = 0): PlanDest {
  return {
    slot, rip: RIP, port: 80, weight: 1, forward: "tun", mac: Array.from(NEXT_HOP),
    tunnel: { saddr: DIP, smac: Array.from(EGRESS), mtu, txIf }, upperThreshold: 0, lowerThreshold: 0,
  };
}

function plan(dests: PlanDest[]): Plan {
  return {
    services: [{
      id: 0, matches: [{ proto: 6, vip: VIP, port: 80 }], scheduler: "rr", schedulerFlags: DEFAULT_SCHEDULER_FLAGS,
      persistence: null, dests,
    }],
    arpVips: [], timeouts: DEFAULT_TIMEOUTS,
  };
}

/** A client segment of `size` IPv4 bytes in total (20 IP + 20 TCP + payload). A SYN by default:
 *  the forwarder only opens connections on SYNs, and these tests are about the tunnel. */
function inner(size: number, o: { df?: boolean; flags?: number; sport?: number; ttl?: number; tos?: number; csum?: "correct" | "partial" } = {}): Uint8Array {
  const payload = new Uint8Array(size - 40).map((_, i) => (i * 7 + 3) & 0xff);
  return tcp({
    eth: { dst: DIRECTOR, src: ROUTER }, sport: o.sport ?? 40000, dport: 80, flags: o.flags ?? SYN, payload, csum: o.csum,
    ip: { src: CLIENT, dst: VIP, df: o.df ?? true, ttl: o.ttl ?? 61, tos: o.tos ?? 0x10, id: 0x4242 },
  });
}

/** What the outer Ethernet + IPv4 header must be, byte for byte. */
function outerHeader(total: number, id: number, fragField: number, ttl: number, tos: number): Uint8Array {
  const h = new Uint8Array(34);
  const dv = new DataView(h.buffer);
  h.set(NEXT_HOP, 0);
  h.set(EGRESS, 6);
  dv.setUint16(12, 0x0800);
  h[14] = 0x45;
  h[15] = tos;
  dv.setUint16(16, total);
  dv.setUint16(18, id);
  dv.setUint16(20, fragField);
  h[22] = ttl;
  h[23] = 4;
  dv.setUint32(26, DIP);
  dv.setUint32(30, RIP);
  dv.setUint16(24, inetChecksum(h.subarray(14, 34)));
  return h;
}

class Harness {
  readonly ring = Ring.openSim(DIRECTOR, PARAMS);
  readonly fwd: Forwarder;
  constructor(p: Plan) {
    this.fwd = new Forwarder(this.ring, 1024, newPolicyCounterBuffer(), p);
    this.ring.setIcmp(DIP, 1000, 10);
  }
  send(frames: Uint8Array[], csumPartial = false): Uint8Array[] {
    for (const f of frames) this.ring.simPush(f, csumPartial);
    const n = this.ring.rx(0);
    this.fwd.process(n, 0);
    this.ring.tx();
    return this.ring.simTakeTx();
  }
  close(): void {
    this.ring.close();
  }
}

describe("IPIP encapsulation (exact bytes)", () => {
  const rows: { name: string; inner: Uint8Array; mtu: number; expect: (f: Uint8Array) => Uint8Array[] }[] = [
    {
      name: "a 60-byte SYN with DF: one outer packet, DF copied, TTL and TOS copied, ID 0",
      inner: inner(60),
      mtu: 1500,
      expect: (f) => [concat(outerHeader(80, 0, 0x4000, 61, 0x10), f.subarray(14))],
    },
    {
      name: "inner 1480 bytes with DF: exactly the MTU once encapsulated, still one packet",
      inner: inner(1480),
      mtu: 1500,
      expect: (f) => [concat(outerHeader(1500, 0, 0x4000, 61, 0x10), f.subarray(14))],
    },
    {
      name: "inner 1481 bytes without DF: two outer fragments, 1480 + 1 bytes, one ID, MF on the first",
      inner: inner(1481, { df: false }),
      mtu: 1500,
      expect: (f) => [
        concat(outerHeader(1500, 0, 0x2000, 61, 0x10), f.subarray(14, 14 + 1480)),
        concat(outerHeader(21, 0, 1480 / 8, 61, 0x10), f.subarray(14 + 1480)),
      ],
    },
    {
      name: "inner 1500 bytes without DF behind a 1400 MTU: 1376 + 124 bytes (fragment payloads are multiples of 8)",
      inner: inner(1500, { df: false, ttl: 7, tos: 0 }),
      mtu: 1400,
      expect: (f) => [
        concat(outerHeader(1396, 0, 0x2000, 7, 0), f.subarray(14, 14 + 1376)),
        concat(outerHeader(144, 0, 1376 / 8, 7, 0), f.subarray(14 + 1376)),
      ],
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const h = new Harness(plan([tunDest(1, row.mtu)]));
      try {
        const out = h.send([row.inner]);
        expect(out.map(hex)).toEqual(row.expect(row.inner).map(hex));
        for (const o of out) expect(ipChecksumOk(o)).toBe(true);
        const c = h.ring.counters();
        expect([c.tunPackets, c.tunFragmented, c.tunFragNeeded]).toEqual([1, out.length > 1 ? 1 : 0, 0]);
      } finally {
        h.close();
      }
    });
  }

  test("consecutive outer packets get consecutive IDs", () => {
    const h = new Harness(plan([tunDest(1)]));
    try {
      const out = h.send([inner(60, { sport: 1 }), inner(60, { sport: 2 }), inner(60, { sport: 3 })]);
      expect(out.map((o) => (o[18]! << 8) | o[19]!)).toEqual([0, 1, 2]);
    } finally {
      h.close();
    }
  });

  test("a checksum-offloaded inner segment is completed before it is encapsulated", () => {
    const h = new Harness(plan([tunDest(1)]));
    try {
      const partial = inner(100, { csum: "partial" });
      const [o] = h.send([partial], true);
      const innerOut = o!.subarray(34);
      // Re-frame the inner packet to check its TCP checksum with the independent verifier.
      expect(l4ChecksumOk(concat(new Uint8Array(12), new Uint8Array([0x08, 0x00]), innerOut))).toBe(true);
      expect(hex(innerOut)).toBe(hex(inner(100).subarray(14)));
    } finally {
      h.close();
    }
  });
});

describe("path MTU: DF packets that no longer fit", () => {
  test("inner 1481 bytes with DF is dropped and the client gets ICMP fragmentation-needed, MTU 1480", () => {
    const h = new Harness(plan([tunDest(1)]));
    try {
      const big = inner(1481);
      const out = h.send([big]);
      expect(out.length).toBe(1);
      const icmp = out[0]!;
      const quote = big.subarray(14, 14 + 28); // inner IP header + 8 bytes of TCP
      const ipHdr = new Uint8Array(20);
      const dv = new DataView(ipHdr.buffer);
      ipHdr[0] = 0x45;
      dv.setUint16(2, 20 + 8 + 28);
      dv.setUint16(4, 0); // the handle's first ID
      ipHdr[8] = 64;
      ipHdr[9] = 1;
      dv.setUint32(12, DIP);
      dv.setUint32(16, CLIENT);
      dv.setUint16(10, inetChecksum(ipHdr));
      const icmpHdr = new Uint8Array(8);
      icmpHdr[0] = 3;
      icmpHdr[1] = 4;
      new DataView(icmpHdr.buffer).setUint16(6, 1480);
      const body = concat(icmpHdr, quote);
      new DataView(body.buffer).setUint16(2, inetChecksum(body));
      const eth = concat(ROUTER, DIRECTOR, new Uint8Array([0x08, 0x00]));
      expect(hex(icmp)).toBe(hex(concat(eth, ipHdr, body)));
      const c = h.ring.counters();
      expect([c.tunPackets, c.tunFragNeeded, c.tunIcmpLimited]).toEqual([0, 1, 0]);
    } finally {
      h.close();
    }
  });

  test("the ICMP answers are rate-limited (burst 2, then silence) and counted", () => {
    const h = new Harness(plan([tunDest(1)]));
    try {
      h.ring.setIcmp(DIP, 1, 2);
      const out = h.send([1, 2, 3, 4].map((p) => inner(1481, { sport: p })));
      expect(out.length).toBe(2);
      const c = h.ring.counters();
      expect([c.tunFragNeeded, c.tunIcmpLimited]).toEqual([4, 2]);
    } finally {
      h.close();
    }
  });

  test("with ICMP disabled (rate 0) an oversized DF packet is dropped silently, still counted", () => {
    const h = new Harness(plan([tunDest(1)]));
    try {
      h.ring.setIcmp(DIP, 0, 0);
      expect(h.send([inner(1481)])).toEqual([]);
      expect(h.ring.counters().tunIcmpLimited).toBe(1);
    } finally {
      h.close();
    }
  });
});

describe("ICMP errors about a TUN connection", () => {
  const ROUTER_IP = ip("198.18.0.1");
  /** The real server's reply VIP:80 -> client, as the router on the way back quotes it. */
  const reply = tcp({
    eth: { dst: ROUTER, src: NEXT_HOP }, sport: 80, dport: 40000, flags: PSH | ACK, payload: new Uint8Array(1460),
    ip: { src: VIP, dst: CLIENT },
  });
  const err = (o: { df?: boolean; bytes?: number } = {}) => icmp({
    eth: { dst: DIRECTOR, src: ROUTER }, ip: { src: ROUTER_IP, dst: VIP, df: o.df ?? false, ttl: 63, id: 0x0777 },
    type: 3, code: 4, rest: 1400, body: quote(reply, o.bytes),
  });

  test("frag-needed for the connection is encapsulated whole behind an outer IPIP header (TTL, TOS, DF from the ICMP packet)", () => {
    const h = new Harness(plan([tunDest(1)]));
    try {
      expect(h.send([inner(60)])).toHaveLength(1); // the SYN: outer ID 0
      const e = err();
      const out = h.send([e]);
      expect(out.map(hex)).toEqual([hex(concat(outerHeader(20 + 20 + 8 + 28, 1, 0, 63, 0), e.subarray(14)))]);
      expect(ipChecksumOk(out[0]!)).toBe(true);
      const c = h.ring.counters();
      expect([c.tunPackets, c.tunFragmented, c.tunFragNeeded, c.verdictBad]).toEqual([2, 0, 0, 0]);
    } finally {
      h.close();
    }
  });

  test("an error with DF too big for the tunnel is fragmented, never answered with another ICMP error", () => {
    // 576-byte error (quote of 548) behind an egress MTU of 576: 556 bytes of room, so two pieces.
    const h = new Harness(plan([tunDest(1, 576)]));
    try {
      h.send([inner(60)]);
      const e = err({ df: true, bytes: 548 });
      expect(e.length - 14).toBe(576);
      const out = h.send([e]);
      expect(out.map(hex)).toEqual([
        hex(concat(outerHeader(20 + 552, 1, 0x2000, 63, 0), e.subarray(14, 14 + 552))),
        hex(concat(outerHeader(20 + 24, 1, 552 / 8, 63, 0), e.subarray(14 + 552))),
      ]);
      const c = h.ring.counters();
      expect([c.tunPackets, c.tunFragmented, c.tunFragNeeded, c.tunIcmpLimited]).toEqual([2, 1, 0, 0]);
    } finally {
      h.close();
    }
  });
});

describe("slots", () => {
  test("DR and TUN real servers mix within one service", () => {
    const dr: PlanDest = {
      slot: 2, rip: ip("198.18.0.12"), port: 80, weight: 1, forward: "dr", mac: [2, 0, 0, 0, 1, 2], tunnel: null,
      upperThreshold: 0, lowerThreshold: 0,
    };
    const h = new Harness(plan([tunDest(1), dr]));
    try {
      const [a, b] = h.send([inner(60, { sport: 1 }), inner(60, { sport: 2 })]);
      // rr over list [2 (dr), 1 (tun)]: the DR one first.
      expect(hex(a!.subarray(0, 12))).toBe(hex(concat(new Uint8Array([2, 0, 0, 0, 1, 2]), DIRECTOR)));
      expect(a!.length).toBe(60 + 14);
      expect(b![23]).toBe(4);
      expect(b!.length).toBe(60 + 34);
    } finally {
      h.close();
    }
  });

  test("a TUN slot naming a transmit interface that was never opened is refused (verdict_bad)", () => {
    const h = new Harness(plan([tunDest(1, 1500, 3)]));
    try {
      expect(h.send([inner(60)])).toEqual([]);
      expect(h.ring.counters().verdictBad).toBe(1);
      expect(h.ring.addTxInterface("lo")).toBe(1);
    } finally {
      h.close();
    }
  });
});
