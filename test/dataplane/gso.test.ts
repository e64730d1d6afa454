// Frames too large for the ring (GSO super-frames from a TSO/GSO peer, jumbo frames) as packet
// tables (STYLE.md habit 5): each row gives the frames that arrive (with the virtio_net_hdr the
// large-frame socket puts in front of them), the verdicts, the flags of every descriptor and the
// EXACT frames that leave, with the virtio_net_hdr of each message sent through a vnet socket.
// They run the real C shim (rv_sim_rx, rv_take_frame, rv_tx_batch, gso.c) on a simulation handle
// and the real TypeScript policy (Forwarder).
//
// Expected segments are written out here from the rules of the kernel's own GSO (tcp_gso_segment,
// __udp_gso_segment, inet_gso_segment): per segment the IPv4 total length, ID + i and header
// checksum; TCP sequence + i * gso_size, FIN and PSH on the last segment only, CWR on the first
// only; UDP length; a complete L4 checksum computed by this file's own checksum code (not the
// shim's, not the builder's). Outer IPIP headers follow tun.test.ts.
//
// Every row checks ALL shim counters: the ones the harness derives from the row (rx/tx frames and
// bytes, parsed IPv4, pass/drop verdicts) and the ones the row names; every other one must be 0.

import { describe, expect, test } from "bun:test";
import { Ring, type RingParams } from "../../src/dataplane/ffi.ts";
import { Forwarder } from "../../src/dataplane/forwarder.ts";
import {
  COUNTER_NAMES, type Counters, DESC, DESC_SIZE, DF_CSUM_PARTIAL, DF_DONT_FRAG, DF_GSO, DF_MORE_FRAGS, SLOT,
  SLOT_SIZE, VERDICT_DROP, VERDICT_PASS, VNET_HDR_LEN,
} from "../../src/dataplane/layout.ts";
import { DEFAULT_TIMEOUTS, type Plan, type PlanDest } from "../../src/dataplane/plan.ts";
import { newPolicyCounterBuffer, type PolicyCounters, readPolicyCounters } from "../../src/dataplane/policy_counters.ts";
import { DEFAULT_SCHEDULER_FLAGS } from "../../src/sched/scheduler.ts";
import {
  ACK, concat, FIN, hex, icmp, ip, ipChecksumOk, type Ipv4Opts, l4ChecksumOk, mac, PSH, quote, SYN, tcp,
  type TcpOpts, udp, type UdpOpts, unhex, withMacs,
} from "./packet_builder.ts";

// ------------------------------------------------------------------ the network of the tests

const DIRECTOR = mac("02:00:00:00:00:01");
const ROUTER = mac("02:00:00:00:00:10");
/** DR: the real server, and the MAC of the interface the route to it leaves through (the slot's
 *  smac: not the ring's own MAC, so a row sees which one the shim used). */
const RS = mac("02:00:00:00:01:01");
const DR_EGRESS = mac("02:00:00:00:00:03");
/** TUN: the next hop towards the real server and the egress interface's MAC. */
const NEXT_HOP = mac("02:00:00:00:00:fe");
const TUN_EGRESS = mac("02:00:00:00:00:02");
const VIP = ip("198.18.0.100");
const CLIENT = ip("198.18.5.7");
const DIP = ip("198.18.0.3");
const RIP = ip("198.19.0.11");

const TCP = 6;
const UDP = 17;
const CWR = 0x80;

const PARAMS: RingParams = { version: 3, blockSize: 65536, blockCount: 4, blockTimeoutMs: 1, descCapacity: 1024, slotCapacity: 16 };

/** One service per protocol (TCP VIP:80, UDP VIP:443 as QUIC would use), one real server in slot 1. */
function plan(d: PlanDest): Plan {
  const svc = (id: number, proto: number, port: number) => ({
    id, matches: [{ proto, vip: VIP, port }], scheduler: "rr" as const, schedulerFlags: DEFAULT_SCHEDULER_FLAGS,
    persistence: null, dests: [{ ...d, port }],
  });
  return { services: [svc(0, TCP, 80), svc(1, UDP, 443)], arpVips: [], timeouts: DEFAULT_TIMEOUTS };
}

const DR: Plan = plan({
  slot: 1, rip: ip("198.18.0.11"), port: 80, weight: 1, forward: "dr", mac: Array.from(RS), tunnel: null,
  egress: { smac: Array.from(DR_EGRESS), txIf: 0 }, upperThreshold: 0, lowerThreshold: 0,
});

function tun(mtu = 1500): Plan {
  return plan({
    slot: 1, rip: RIP, port: 80, weight: 1, forward: "tun", mac: Array.from(NEXT_HOP),
    tunnel: { saddr: DIP, smac: Array.from(TUN_EGRESS), mtu, txIf: 0 }, upperThreshold: 0, lowerThreshold: 0,
  });
}

// ------------------------------------------------------------------ virtio_net_hdr

const NEEDS_CSUM = 1;
const GSO_NONE = 0;
const GSO_TCPV4 = 1;
const GSO_UDP = 3;
const GSO_TCPV6 = 4;
const GSO_UDP_L4 = 5;
const GSO_ECN = 0x80;

interface VnetOpts {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** struct virtio_net_hdr: flags u8, gso_type u8, then hdr_len, gso_size, csum_start, csum_offset
 *  as u16 little-endian (a packet socket uses the host's order: vio_le). */
function vnetHdr(o: VnetOpts): Uint8Array {
  const h = new Uint8Array(VNET_HDR_LEN);
  const dv = new DataView(h.buffer);
  h[0] = o.flags;
  h[1] = o.gsoType;
  dv.setUint16(2, o.hdrLen, true);
  dv.setUint16(4, o.gsoSize, true);
  dv.setUint16(6, o.csumStart, true);
  dv.setUint16(8, o.csumOffset, true);
  return h;
}

/** What the kernel puts in front of a TCP super-frame of `frame` (virtio_net_hdr_from_skb):
 *  NEEDS_CSUM with csum_start at the TCP header (from the frame's start), csum_offset 16, hdr_len
 *  up to the end of the TCP header. */
function tcpVnet(frame: Uint8Array, gsoSize: number, gsoType = GSO_TCPV4): Uint8Array {
  const ihl = (frame[14]! & 0x0f) * 4;
  const doff = (frame[14 + ihl + 12]! >> 4) * 4;
  return vnetHdr({ flags: NEEDS_CSUM, gsoType, hdrLen: 14 + ihl + doff, gsoSize, csumStart: 14 + ihl, csumOffset: 16 });
}

/** The same for a UDP super-frame (UDP_L4: csum_offset 6, hdr_len up to the end of the UDP header). */
function udpVnet(frame: Uint8Array, gsoSize: number, gsoType = GSO_UDP_L4): Uint8Array {
  const ihl = (frame[14]! & 0x0f) * 4;
  return vnetHdr({ flags: NEEDS_CSUM, gsoType, hdrLen: 14 + ihl + 8, gsoSize, csumStart: 14 + ihl, csumOffset: 6 });
}

/** A frame that is not a super-frame but needs its checksum finished (a jumbo frame from a sender
 *  with checksum offload). */
function csumOnlyVnet(frame: Uint8Array, proto: number): Uint8Array {
  const ihl = (frame[14]! & 0x0f) * 4;
  return vnetHdr({ flags: NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 14 + ihl, csumOffset: proto === TCP ? 16 : 6 });
}

// ------------------------------------------------------------------ frames

/** Payload bytes whose value changes with the position (also across 256-byte boundaries), so a
 *  slice taken at the wrong offset never matches. */
function payload(n: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 131 + (i >>> 8) * 7 + seed) & 0xff);
}

type TcpFrame = Partial<Omit<TcpOpts, "ip">> & { ip?: Partial<Ipv4Opts> };
type UdpFrame = Partial<Omit<UdpOpts, "ip">> & { ip?: Partial<Ipv4Opts> };

/** Client -> VIP:80 TCP from the router, DF, TTL 61, TOS 0x10, IP ID 0x4242. */
function c2v(o: TcpFrame = {}): Uint8Array {
  return tcp({
    eth: { dst: DIRECTOR, src: ROUTER }, sport: 40000, dport: 80, flags: PSH | ACK, seq: 1001, ack: 5001, ...o,
    ip: { src: CLIENT, dst: VIP, ttl: 61, tos: 0x10, id: 0x4242, ...o.ip },
  });
}

/** Client -> VIP:443 UDP, no DF (what a QUIC sender with UDP GSO typically sends). */
function u2v(o: UdpFrame = {}): Uint8Array {
  return udp({
    eth: { dst: DIRECTOR, src: ROUTER }, sport: 50000, dport: 443, ...o,
    ip: { src: CLIENT, dst: VIP, ttl: 61, tos: 0x10, id: 0x4242, df: false, ...o.ip },
  });
}

/** The SYN that opens the connection the TCP rows send their super-frames on. */
const SYN_FRAME = c2v({ flags: SYN, seq: 1000, ack: 0 });
/** TCP timestamps (kind 8) behind two NOPs: the 12 bytes of options a Linux TSO frame carries. */
const TIMESTAMPS = unhex("01 01 08 0a 00 01 e2 40 00 00 30 39");

// ------------------------------------------------------------------ this file's own checksums

/** RFC 1071 over the concatenation of `parts`, written independently of the builder and the shim:
 *  32-bit accumulation of big-endian words, odd trailing byte padded with zero, folded at the end. */
function ownChecksum(...parts: Uint8Array[]): number {
  const all = concat(...parts);
  const dv = new DataView(all.buffer, all.byteOffset, all.byteLength);
  let sum = 0;
  let i = 0;
  for (; i + 2 <= all.length; i += 2) sum += dv.getUint16(i);
  if (i < all.length) sum += all[i]! * 256;
  while (sum >>> 16) sum = (sum & 0xffff) + (sum >>> 16);
  return (~sum) & 0xffff;
}

/** A copy of the IPv4 packet `pkt` (no Ethernet) with its header checksum and its TCP/UDP
 *  checksum computed by ownChecksum. */
function ownChecksums(pkt: Uint8Array): Uint8Array {
  const p = pkt.slice();
  const dv = new DataView(p.buffer);
  const ihl = (p[0]! & 0x0f) * 4;
  dv.setUint16(10, 0);
  dv.setUint16(10, ownChecksum(p.subarray(0, ihl)));
  const proto = p[9]!;
  const at = ihl + (proto === TCP ? 16 : 6);
  dv.setUint16(at, 0);
  const l4 = p.subarray(ihl);
  const pseudo = new Uint8Array(12);
  pseudo.set(p.subarray(12, 20), 0);
  pseudo[9] = proto;
  new DataView(pseudo.buffer).setUint16(10, l4.length);
  let c = ownChecksum(pseudo, l4);
  if (c === 0 && proto === UDP) c = 0xffff;
  dv.setUint16(at, c);
  return p;
}

/** The IPv4 packet of an Ethernet frame built by the builder, with this file's checksums. */
function inner(frame: Uint8Array): Uint8Array {
  return ownChecksums(frame.subarray(14));
}

// ------------------------------------------------------------------ expected output

/** A TCP segment of a super-frame as the spec says it must leave, as an IPv4 packet. */
function tcpSeg(o: { seq: number; flags: number; id: number; payload: Uint8Array; df?: boolean; options?: Uint8Array }): Uint8Array {
  return inner(c2v({ seq: o.seq >>> 0, flags: o.flags, payload: o.payload, options: o.options, csum: "zero", ip: { id: o.id & 0xffff, df: o.df ?? true } }));
}

function udpSeg(o: { id: number; payload: Uint8Array; df?: boolean }): Uint8Array {
  return inner(u2v({ payload: o.payload, csum: "zero", ip: { id: o.id & 0xffff, df: o.df ?? false } }));
}

/** Ethernet + outer IPv4 (RFC 2003, as tun.test.ts) carrying `piece` of the inner packet
 *  `innerPkt`: to the next hop from the egress MAC, TOS and TTL copied from the inner header, ID
 *  `id`, fragment field `frag`, protocol 4, DIP -> RIP. */
function outer(innerPkt: Uint8Array, piece: Uint8Array, id: number, frag: number): Uint8Array {
  const h = new Uint8Array(34);
  const dv = new DataView(h.buffer);
  h.set(NEXT_HOP, 0);
  h.set(TUN_EGRESS, 6);
  dv.setUint16(12, 0x0800);
  h[14] = 0x45;
  h[15] = innerPkt[1]!;
  dv.setUint16(16, 20 + piece.length);
  dv.setUint16(18, id);
  dv.setUint16(20, frag);
  h[22] = innerPkt[8]!;
  h[23] = 4;
  dv.setUint32(26, DIP);
  dv.setUint32(30, RIP);
  dv.setUint16(24, ownChecksum(h.subarray(14, 34)));
  return concat(h, piece);
}

/** One whole inner packet in one outer packet, DF copied from the inner header. */
function ipip(innerPkt: Uint8Array, id: number): Uint8Array {
  return outer(innerPkt, innerPkt, id, innerPkt[6]! & 0x40 ? 0x4000 : 0);
}

/** An inner packet without DF too big for the tunnel, as ip_vs_tunnel_xmit sends it: the outer
 *  packet fragmented, (mtu - 20) rounded down to 8 bytes of the inner packet per fragment, one ID,
 *  MF on all but the last. */
function ipipFragments(innerPkt: Uint8Array, id: number, mtu: number): Uint8Array[] {
  const chunk = (mtu - 20) & ~7;
  const out: Uint8Array[] = [];
  for (let off = 0; off < innerPkt.length; off += chunk) {
    const end = Math.min(off + chunk, innerPkt.length);
    out.push(outer(innerPkt, innerPkt.subarray(off, end), id, (off / 8) | (end < innerPkt.length ? 0x2000 : 0)));
  }
  return out;
}

/** ICMP "fragmentation needed" from the director (ICMP source DIP, ring MAC) back to the router,
 *  quoting the super-frame's IPv4 header and 8 bytes, next-hop MTU = tunnel MTU - 20. */
function fragNeeded(frame: Uint8Array, slotMtu: number, id: number): Uint8Array {
  return icmp({
    eth: { dst: ROUTER, src: DIRECTOR }, ip: { src: DIP, dst: CLIENT, id, ttl: 64, tos: 0, df: false },
    type: 3, code: 4, rest: slotMtu - 20, body: quote(frame),
  });
}

/** The inner IPv4 packet of an IPIP frame, re-framed so the builder's verifiers can read it. */
function reframedInner(f: Uint8Array): Uint8Array {
  return concat(new Uint8Array(12), new Uint8Array([0x08, 0x00]), f.subarray(34));
}

/** The L4 payload of every IPIP frame, one after another. */
function innerPayloads(out: Sent[]): Uint8Array {
  return concat(...out.map(({ frame: f }) => {
    const ihl = (f[34]! & 0x0f) * 4;
    const l4 = 34 + ihl;
    const hdr = f[34 + 9] === TCP ? (f[l4 + 12]! >> 4) * 4 : 8;
    return f.subarray(l4 + hdr);
  }));
}

// ------------------------------------------------------------------ the table machinery

type VerdictName = "PASS" | "DROP" | `slot ${number}`;
const fwd = (slot: number): VerdictName => `slot ${slot}`;
function verdictName(v: number): VerdictName {
  if (v === VERDICT_PASS) return "PASS";
  if (v === VERDICT_DROP) return "DROP";
  return fwd(v);
}

interface Input {
  frame: Uint8Array;
  /** Present: the frame comes from the large-frame socket with this virtio_net_hdr. */
  vnet?: Uint8Array;
  /** Captured cut short: the shim sees the first half. */
  truncated?: boolean;
}

interface Sent {
  frame: Uint8Array;
  /** The virtio_net_hdr of a message sent whole through a vnet socket; absent = none. */
  vnet?: Uint8Array;
}

interface Step {
  in: Input[];
  /** The flags byte of every descriptor rx produced (their number is the rx count). */
  descFlags: number[];
  verdicts: VerdictName[];
  /** Exactly the messages that leave, in order. */
  out: Sent[];
  /** Extra checks on what this step sent. */
  check?: (out: Sent[]) => void;
}

interface Row {
  name: string;
  plan: Plan;
  /** rv_set_icmp rate and burst (default 1000/s, 10). */
  icmp?: [number, number];
  steps: Step[];
  /** Shim counters at the end, besides those the harness derives; all others must be 0. */
  shim?: Partial<Counters>;
  /** Policy counters at the end; the event counters not named must be 0. */
  policy?: Partial<PolicyCounters>;
}

const EVENT_COUNTERS = [
  "tcpNoFlowDropped", "noDestDropped", "fragmentsDropped", "replyFramesSeen", "arpAnswered",
  "flowTableFull", "persistHits", "icmpErrorsForwarded", "icmpErrorsNoConn", "icmpErrorsMalformed",
] as const;

function pick<T extends object>(o: T, keys: readonly string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, (o as unknown as Record<string, number>)[k]!]));
}

const shown = (m: Sent) => ({ frame: hex(m.frame), vnet: m.vnet ? hex(m.vnet) : null });

function runRow(row: Row): void {
  const ring = Ring.openSim(DIRECTOR, PARAMS);
  const pcBuf = newPolicyCounterBuffer();
  try {
    const fwdr = new Forwarder(ring, 1024, pcBuf, row.plan);
    ring.setIcmp(DIP, row.icmp?.[0] ?? 1000, row.icmp?.[1] ?? 10);
    const derived = { rxFrames: 0, rxBytes: 0, parsedIpv4: 0, verdictPass: 0, verdictDrop: 0, txFrames: 0, txBytes: 0 };
    const slots = new Map<number, { packets: number; bytes: number }>();
    for (const step of row.steps) {
      const taken: Input[] = [];
      for (const x of step.in) {
        if (x.vnet) ring.simPushVnet(x.vnet, x.frame, x.truncated ?? false);
        else ring.simPush(x.frame, false, false, x.truncated ?? false);
        if (!x.truncated) taken.push(x);
      }
      const n = ring.rx(0);
      const flags = Array.from({ length: n }, (_, i) => ring.desc8[i * DESC_SIZE + DESC.flags]!);
      expect(flags.map((f) => `0x${f.toString(16)}`)).toEqual(step.descFlags.map((f) => `0x${f.toString(16)}`));
      fwdr.process(n, 0);
      const verdicts = Array.from(ring.verdicts.subarray(0, n), verdictName);
      expect(verdicts).toEqual(step.verdicts);
      ring.tx();
      const out = ring.simTakeTxMessages().map((m) => (m.vnet ? { frame: m.frame, vnet: m.vnet } : { frame: m.frame }));
      expect(out.map(shown)).toEqual(step.out.map(shown));
      step.check?.(out);

      expect(taken.length).toBe(n);
      taken.forEach((x, i) => {
        derived.rxFrames++;
        derived.rxBytes += x.frame.length;
        derived.parsedIpv4++;
        const v = verdicts[i]!;
        if (v === "PASS") derived.verdictPass++;
        else if (v === "DROP") derived.verdictDrop++;
        else {
          const s = Number(v.slice(5));
          const c = slots.get(s) ?? { packets: 0, bytes: 0 };
          c.packets++;
          c.bytes += x.frame.length;
          slots.set(s, c);
        }
      });
      derived.txFrames += step.out.length;
      derived.txBytes += step.out.reduce((a, m) => a + m.frame.length, 0);
    }

    const want: Record<string, number> = Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0]));
    Object.assign(want, derived, row.shim);
    expect(pick(ring.counters(), COUNTER_NAMES)).toEqual(want);

    for (const [slot, c] of slots) {
      const o = (slot * SLOT_SIZE) / 8;
      expect({ slot, packets: Number(ring.slots64[o + SLOT.packets / 8]), bytes: Number(ring.slots64[o + SLOT.bytes / 8]) })
        .toEqual({ slot, ...c });
    }

    const wantPc: Record<string, number> = Object.fromEntries(EVENT_COUNTERS.map((k) => [k, 0]));
    Object.assign(wantPc, row.policy);
    expect(pick(readPolicyCounters(pcBuf), Object.keys(wantPc))).toEqual(wantPc);
  } finally {
    ring.close();
  }
}

function runTable(title: string, rows: Row[]): void {
  describe(title, () => {
    for (const row of rows) test(row.name, () => runRow(row));
  });
}

// Descriptor flags as rows spell them.
const DF = DF_DONT_FRAG;
const PARTIAL = DF_CSUM_PARTIAL;
const GSO = DF_GSO;

/** The first step of every TCP row: the SYN opens the connection (no super-frame ever opens one). */
const OPEN_DR: Step = {
  in: [{ frame: SYN_FRAME }], descFlags: [DF], verdicts: [fwd(1)], out: [{ frame: withMacs(SYN_FRAME, RS, DR_EGRESS) }],
};
/** The same to a TUN real server: the SYN takes outer ID 0. */
const OPEN_TUN: Step = {
  in: [{ frame: SYN_FRAME }], descFlags: [DF], verdicts: [fwd(1)], out: [{ frame: ipip(inner(SYN_FRAME), 0) }],
};

// ------------------------------------------------------------------ the test's own helpers

describe("helpers of this file", () => {
  test("ownChecksum agrees with the builder's checksums on TCP, UDP (odd length) and IP options", () => {
    for (const f of [
      c2v({ payload: payload(1001) }), c2v({ payload: payload(7), options: TIMESTAMPS, ip: { ihl: 6 } }),
      u2v({ payload: payload(333) }),
    ]) expect(hex(inner(f))).toBe(hex(f.subarray(14)));
  });

  test("a virtio_net_hdr is laid out little-endian: flags, type, hdr_len, gso_size, csum_start, csum_offset", () => {
    expect(hex(tcpVnet(c2v({ payload: payload(3000) }), 1448))).toBe("01 01 36 00 a8 05 22 00 10 00");
    expect(hex(udpVnet(u2v({ payload: payload(3000) }), 1452))).toBe("01 05 2a 00 ac 05 22 00 06 00");
  });

  test("TCP options are counted in the data offset and sit before the payload", () => {
    const f = c2v({ payload: unhex("aa bb"), options: TIMESTAMPS });
    expect(f[14 + 20 + 12]).toBe(8 << 4);
    expect(hex(f.subarray(54, 66))).toBe(hex(TIMESTAMPS));
    expect(hex(f.subarray(66))).toBe("aa bb");
    expect(l4ChecksumOk(f)).toBe(true);
  });
});

// ------------------------------------------------------------------ DR: super-frames leave whole

const P3x1448 = payload(3 * 1448);
const DR_SUPER = c2v({ payload: P3x1448, csum: "partial" });
const DR_SUPER_VNET = tcpVnet(DR_SUPER, 1448);
const UDP_SUPER_DR = u2v({ payload: payload(3 * 1452 + 100, 5), csum: "partial" });
/** A 9000-byte inner packet (IPv4 + TCP + 8960 bytes), checksum left to the device. */
const JUMBO = c2v({ payload: payload(8960, 9), csum: "partial" });
const JUMBO_VNET = csumOnlyVnet(JUMBO, TCP);

/** The L4 checksum field of a frame without options. */
const tcpCsumField = (f: Uint8Array) => hex(f.subarray(14 + 20 + 16, 14 + 20 + 18));

runTable("DR: a large frame leaves whole with its virtio_net_hdr", [
  {
    name: "TCP super-frame (3 x 1448, TCPV4, NEEDS_CSUM): once, whole, MACs rewritten, vnet header byte-identical, checksum not completed",
    plan: DR,
    steps: [OPEN_DR, {
      in: [{ frame: DR_SUPER, vnet: DR_SUPER_VNET }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [{ frame: withMacs(DR_SUPER, RS, DR_EGRESS), vnet: unhex("01 01 36 00 a8 05 22 00 10 00") }],
      check: ([m]) => {
        // the checksum field still holds the pseudo-header sum: the egress device finishes it
        expect(tcpCsumField(m!.frame)).toBe(tcpCsumField(DR_SUPER));
        expect(l4ChecksumOk(m!.frame)).toBe(false);
        expect(ipChecksumOk(m!.frame)).toBe(true);
        expect(m!.frame.length).toBe(14 + 40 + 3 * 1448);
      },
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "UDP_L4 super-frame: whole, vnet header unchanged, nothing cut",
    plan: DR,
    steps: [{
      in: [{ frame: UDP_SUPER_DR, vnet: udpVnet(UDP_SUPER_DR, 1452) }],
      descFlags: [PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [{ frame: withMacs(UDP_SUPER_DR, RS, DR_EGRESS), vnet: udpVnet(UDP_SUPER_DR, 1452) }],
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "TCPV4|ECN super-frame: the ECN bit is the device's business, the header leaves as it came",
    plan: DR,
    steps: [OPEN_DR, {
      in: [{ frame: DR_SUPER, vnet: tcpVnet(DR_SUPER, 1448, GSO_TCPV4 | GSO_ECN) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [{ frame: withMacs(DR_SUPER, RS, DR_EGRESS), vnet: unhex("01 81 36 00 a8 05 22 00 10 00") }],
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "ring frames and a super-frame in one batch leave in arrival order, the vnet header only on the super-frame",
    plan: DR,
    steps: [OPEN_DR, {
      in: [{ frame: c2v({ flags: ACK }) }, { frame: DR_SUPER, vnet: DR_SUPER_VNET }, { frame: c2v({ payload: payload(10) }) }],
      descFlags: [DF, DF | PARTIAL | GSO, DF],
      verdicts: [fwd(1), fwd(1), fwd(1)],
      out: [
        { frame: withMacs(c2v({ flags: ACK }), RS, DR_EGRESS) },
        { frame: withMacs(DR_SUPER, RS, DR_EGRESS), vnet: DR_SUPER_VNET },
        { frame: withMacs(c2v({ payload: payload(10) }), RS, DR_EGRESS) },
      ],
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "jumbo frame (gso NONE, NEEDS_CSUM, 9014 bytes, pseudo-header sum only): whole with its vnet header, checksum left to the device",
    plan: DR,
    steps: [OPEN_DR, {
      in: [{ frame: JUMBO, vnet: JUMBO_VNET }],
      descFlags: [DF | PARTIAL],
      verdicts: [fwd(1)],
      out: [{ frame: withMacs(JUMBO, RS, DR_EGRESS), vnet: unhex("01 00 00 00 00 00 22 00 10 00") }],
      check: ([m]) => expect(m!.frame.length).toBe(9014),
    }],
    shim: { rxLargeFrames: 1 },
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ TUN: super-frames cut into segments

// 2 x 1000 + 500 with gso_size 1000, FIN|PSH|ACK|CWR on the super-frame.
const P2500 = payload(2500, 1);
const TUN_TCP = c2v({ flags: FIN | PSH | ACK | CWR, seq: 1001, payload: P2500, csum: "partial" });
const TUN_TCP_SEGS = [
  tcpSeg({ seq: 1001, flags: ACK | CWR, id: 0x4242, payload: P2500.subarray(0, 1000) }),
  tcpSeg({ seq: 2001, flags: ACK, id: 0x4243, payload: P2500.subarray(1000, 2000) }),
  tcpSeg({ seq: 3001, flags: FIN | PSH | ACK, id: 0x4244, payload: P2500.subarray(2000) }),
];

function checkSegments(want: Uint8Array): (out: Sent[]) => void {
  return (out) => {
    for (const m of out) {
      expect(ipChecksumOk(m.frame)).toBe(true); // outer
      expect([ipChecksumOk(reframedInner(m.frame)), l4ChecksumOk(reframedInner(m.frame))]).toEqual([true, true]);
    }
    expect(hex(innerPayloads(out))).toBe(hex(want));
  };
}

// Timestamps (32-byte TCP header), an odd gso_size (999) and IP ID and sequence number wrapping.
const P1999 = payload(1999, 2);
const WRAP_TCP = c2v({ seq: 0xfffffc00, payload: P1999, options: TIMESTAMPS, csum: "partial", ip: { id: 0xffff } });

// UDP_L4: 2 x 1452 + 700 with gso_size 1452, no DF: every full segment exactly fills a 1500 MTU.
const P3604 = payload(2 * 1452 + 700, 3);
const TUN_UDP = u2v({ payload: P3604, csum: "partial" });

/** A last segment of 2 bytes whose UDP checksum computes to 0 (must be sent as 0xffff): the two
 *  bytes are the complement of the sum of everything else in that segment. */
const ZERO_SUM_TAIL = (() => {
  const probe = udpSeg({ id: 0x4243, payload: new Uint8Array(2) });
  return probe.slice(26, 28); // its checksum with the word at 0: adding it makes the sum 0xffff
})();
const P_ZERO = concat(payload(1452, 4), ZERO_SUM_TAIL);
const TUN_UDP_ZERO = u2v({ payload: P_ZERO, csum: "partial" });

// Exactly 128 segments (RV_GSO_MAX_SEGS) of 100 bytes.
const P12800 = payload(12800, 6);
const TUN_128 = c2v({ payload: P12800, csum: "partial" });

runTable("TUN: a super-frame becomes one IPIP packet per segment", [
  {
    name: "TCP 2 x 1000 + 500, FIN|PSH|ACK|CWR: seq, IP length/ID/checksum per segment, CWR first, FIN|PSH last, full TCP checksum each",
    plan: tun(),
    steps: [OPEN_TUN, {
      in: [{ frame: TUN_TCP, vnet: tcpVnet(TUN_TCP, 1000) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: TUN_TCP_SEGS.map((s, i) => ({ frame: ipip(s, 1 + i) })),
      check: (out) => {
        checkSegments(P2500)(out);
        // spelled out once: inner total length, ID, seq and flags of each segment
        expect(out.map(({ frame: f }) => hex(f.subarray(34 + 2, 34 + 6)))).toEqual(["04 10 42 42", "04 10 42 43", "02 1c 42 44"]);
        expect(out.map(({ frame: f }) => hex(f.subarray(54 + 4, 54 + 8)))).toEqual(["00 00 03 e9", "00 00 07 d1", "00 00 0b b9"]);
        expect(out.map(({ frame: f }) => f[54 + 13])).toEqual([ACK | CWR, ACK, FIN | PSH | ACK]);
      },
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 3, tunPackets: 4 },
    policy: { newFlows: 1 },
  },
  {
    name: "TCPV4|ECN (0x81) is cut exactly like TCPV4",
    plan: tun(),
    steps: [OPEN_TUN, {
      in: [{ frame: TUN_TCP, vnet: tcpVnet(TUN_TCP, 1000, GSO_TCPV4 | GSO_ECN) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: TUN_TCP_SEGS.map((s, i) => ({ frame: ipip(s, 1 + i) })),
      check: checkSegments(P2500),
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 3, tunPackets: 4 },
    policy: { newFlows: 1 },
  },
  {
    name: "TCP timestamps (32-byte header) repeated in every segment, odd gso_size 999, IP ID 0xffff and seq 0xfffffc00 wrap",
    plan: tun(),
    steps: [OPEN_TUN, {
      in: [{ frame: WRAP_TCP, vnet: tcpVnet(WRAP_TCP, 999) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [
        tcpSeg({ seq: 0xfffffc00, flags: ACK, id: 0xffff, payload: P1999.subarray(0, 999), options: TIMESTAMPS }),
        tcpSeg({ seq: 0xfffffc00 + 999, flags: ACK, id: 0x0000, payload: P1999.subarray(999, 1998), options: TIMESTAMPS }),
        tcpSeg({ seq: 0xfffffc00 + 1998 - 2 ** 32, flags: PSH | ACK, id: 0x0001, payload: P1999.subarray(1998), options: TIMESTAMPS }),
      ].map((s, i) => ({ frame: ipip(s, 1 + i) })),
      check: checkSegments(P1999),
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 3, tunPackets: 4 },
    policy: { newFlows: 1 },
  },
  {
    name: "UDP_L4 2 x 1452 + 700 without DF: UDP length and checksum per segment, last one short, full ones exactly 1500 outer",
    plan: tun(),
    steps: [{
      in: [{ frame: TUN_UDP, vnet: udpVnet(TUN_UDP, 1452) }],
      descFlags: [PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [
        udpSeg({ id: 0x4242, payload: P3604.subarray(0, 1452) }),
        udpSeg({ id: 0x4243, payload: P3604.subarray(1452, 2904) }),
        udpSeg({ id: 0x4244, payload: P3604.subarray(2904) }),
      ].map((s, i) => ({ frame: ipip(s, i) })),
      check: (out) => {
        checkSegments(P3604)(out);
        expect(out.map((m) => m.frame.length - 14)).toEqual([1500, 1500, 748]);
        expect(out.map(({ frame: f }) => hex(f.subarray(54 + 4, 54 + 6)))).toEqual(["05 b4", "05 b4", "02 c4"]);
        expect(out.map(({ frame: f }) => hex(f.subarray(20, 22)))).toEqual(["00 00", "00 00", "00 00"]); // no DF outside
      },
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 3, tunPackets: 3 },
    policy: { newFlows: 1 },
  },
  {
    name: "UDP_L4 segment whose checksum computes to 0 is sent with 0xffff",
    plan: tun(),
    steps: [{
      in: [{ frame: TUN_UDP_ZERO, vnet: udpVnet(TUN_UDP_ZERO, 1452) }],
      descFlags: [PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [
        udpSeg({ id: 0x4242, payload: P_ZERO.subarray(0, 1452) }),
        udpSeg({ id: 0x4243, payload: ZERO_SUM_TAIL }),
      ].map((s, i) => ({ frame: ipip(s, i) })),
      check: (out) => {
        expect(hex(out[1]!.frame.subarray(34 + 26, 34 + 28))).toBe("ff ff");
        checkSegments(P_ZERO)(out);
      },
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 2, tunPackets: 2 },
    policy: { newFlows: 1 },
  },
  {
    name: "segments exactly at the tunnel MTU (40 + 1340 + 20 = 1400) are cut, not refused",
    plan: tun(1400),
    steps: [OPEN_TUN, {
      in: [{ frame: c2v({ payload: payload(2681, 7), csum: "partial" }), vnet: tcpVnet(c2v({ payload: payload(2681, 7) }), 1340) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [
        tcpSeg({ seq: 1001, flags: ACK, id: 0x4242, payload: payload(2681, 7).subarray(0, 1340) }),
        tcpSeg({ seq: 2341, flags: ACK, id: 0x4243, payload: payload(2681, 7).subarray(1340, 2680) }),
        tcpSeg({ seq: 3681, flags: PSH | ACK, id: 0x4244, payload: payload(2681, 7).subarray(2680) }),
      ].map((s, i) => ({ frame: ipip(s, 1 + i) })),
      check: (out) => expect(out.map((m) => m.frame.length - 14)).toEqual([1400, 1400, 61]),
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 3, tunPackets: 4 },
    policy: { newFlows: 1 },
  },
  {
    name: "128 segments (RV_GSO_MAX_SEGS: 12800 bytes at gso_size 100) are all sent, outer IDs 1..128",
    plan: tun(),
    steps: [OPEN_TUN, {
      in: [{ frame: TUN_128, vnet: tcpVnet(TUN_128, 100) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: Array.from({ length: 128 }, (_, i) => ({
        frame: ipip(tcpSeg({
          seq: 1001 + 100 * i, flags: i === 127 ? PSH | ACK : ACK, id: 0x4242 + i, payload: P12800.subarray(100 * i, 100 * i + 100),
        }), 1 + i),
      })),
      check: checkSegments(P12800),
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoSegments: 128, tunPackets: 129 },
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ TUN: tunnel MTU judged on the segments

const BIG_SEGS = c2v({ payload: payload(3 * 1448, 8), csum: "partial" }); // 40 + 1448 + 20 > 1400
const UDP_DF = u2v({ payload: payload(3000, 15), csum: "partial", ip: { df: true } });

runTable("TUN: segments too big for the tunnel", [
  {
    name: "DF, gso_size 1448 behind a 1400 MTU: one ICMP frag-needed (type 3 code 4, MTU 1380) to the client, no IPIP output",
    plan: tun(1400),
    steps: [OPEN_TUN, {
      in: [{ frame: BIG_SEGS, vnet: tcpVnet(BIG_SEGS, 1448) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [{ frame: fragNeeded(BIG_SEGS, 1400, 1) }],
      check: ([m]) => {
        const f = m!.frame;
        expect([f[23], f[34], f[35], (f[40]! << 8) | f[41]!]).toEqual([1, 3, 4, 1380]);
        expect(hex(f.subarray(42))).toBe(hex(BIG_SEGS.subarray(14, 14 + 28))); // the super-frame's header, as the kernel quotes a GSO skb
      },
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, tunFragNeeded: 1, tunPackets: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "one byte over (40 + 1341 + 20 = 1401 > 1400): frag-needed, MTU 1380",
    plan: tun(1400),
    steps: [OPEN_TUN, {
      in: [{ frame: BIG_SEGS, vnet: tcpVnet(BIG_SEGS, 1341) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [{ frame: fragNeeded(BIG_SEGS, 1400, 1) }],
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, tunFragNeeded: 1, tunPackets: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "UDP_L4 with DF, segments too big (28 + 1473 + 20 > 1500): frag-needed, MTU 1480",
    plan: tun(1500),
    steps: [{
      in: [{ frame: UDP_DF, vnet: udpVnet(UDP_DF, 1473) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [{ frame: fragNeeded(UDP_DF, 1500, 0) }],
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, tunFragNeeded: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "with ICMP disabled (rate 0) the super-frame is dropped silently, counted in tunFragNeeded and tunIcmpLimited",
    plan: tun(1400),
    icmp: [0, 0],
    steps: [OPEN_TUN, {
      in: [{ frame: BIG_SEGS, vnet: tcpVnet(BIG_SEGS, 1448) }],
      descFlags: [DF | PARTIAL | GSO],
      verdicts: [fwd(1)],
      out: [],
    }],
    shim: { rxLargeFrames: 1, rxGsoFrames: 1, tunFragNeeded: 1, tunIcmpLimited: 1, tunPackets: 1 },
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ TUN: super-frames that cannot be cut

const P3000 = payload(3000, 10);
const TCP_3000 = c2v({ payload: P3000, csum: "partial" });
const UDP_3000 = u2v({ payload: P3000, csum: "partial" });
/** TCP data offset 4 (< 5): a header the shim cannot size. The parser reads only ports and flags. */
const BAD_DOFF = (() => {
  const f = TCP_3000.slice();
  f[14 + 20 + 12] = 4 << 4;
  return f;
})();
const P20000 = payload(20000, 11);
const TCP_200_SEGS = c2v({ payload: P20000, csum: "partial" });
const TCP_129_SEGS = c2v({ payload: payload(12801, 12), csum: "partial" });
const TCP_NO_DF = c2v({ payload: P3000, csum: "partial", ip: { df: false } });
const TCP_FIRST_FRAG = c2v({ payload: P3000, csum: "partial", ip: { df: false, mf: true } });

interface DropCase {
  name: string;
  frame: Uint8Array;
  vnet: Uint8Array;
  /** The descriptor's flags. */
  flags: number;
  tcp: boolean;
}

const DROPPED: DropCase[] = [
  { name: "gso_type TCPV6 on an IPv4 frame", frame: TCP_3000, vnet: tcpVnet(TCP_3000, 1000, GSO_TCPV6), flags: DF | PARTIAL | GSO, tcp: true },
  { name: "gso_type UDP_L4 on a TCP frame", frame: TCP_3000, vnet: tcpVnet(TCP_3000, 1000, GSO_UDP_L4), flags: DF | PARTIAL | GSO, tcp: true },
  { name: "gso_type TCPV4 on a UDP frame", frame: UDP_3000, vnet: udpVnet(UDP_3000, 1000, GSO_TCPV4), flags: PARTIAL | GSO, tcp: false },
  { name: "gso_type UDP (3, UFO: IP fragmentation, not segments)", frame: UDP_3000, vnet: udpVnet(UDP_3000, 1000, GSO_UDP), flags: PARTIAL | GSO, tcp: false },
  { name: "gso_size 0", frame: TCP_3000, vnet: tcpVnet(TCP_3000, 0), flags: DF | PARTIAL | GSO, tcp: true },
  { name: "TCP data offset 4 (bad header)", frame: BAD_DOFF, vnet: tcpVnet(TCP_3000, 1000), flags: DF | PARTIAL | GSO, tcp: true },
  { name: "a first fragment (MF) is never a super-frame (bad header)", frame: TCP_FIRST_FRAG, vnet: tcpVnet(TCP_FIRST_FRAG, 1000), flags: DF_MORE_FRAGS | PARTIAL | GSO, tcp: true },
  { name: "200 segments (gso_size 100, 20000 bytes) > RV_GSO_MAX_SEGS", frame: TCP_200_SEGS, vnet: tcpVnet(TCP_200_SEGS, 100), flags: DF | PARTIAL | GSO, tcp: true },
  { name: "129 segments (gso_size 100, 12801 bytes) > RV_GSO_MAX_SEGS", frame: TCP_129_SEGS, vnet: tcpVnet(TCP_129_SEGS, 100), flags: DF | PARTIAL | GSO, tcp: true },
  { name: "TCP without DF, segments too big for the tunnel (40 + 1448 + 20 > 1500)", frame: TCP_NO_DF, vnet: tcpVnet(TCP_NO_DF, 1448), flags: PARTIAL | GSO, tcp: true },
  { name: "UDP_L4 without DF, segments one byte too big (28 + 1453 + 20 > 1500)", frame: UDP_3000, vnet: udpVnet(UDP_3000, 1453), flags: PARTIAL | GSO, tcp: false },
];

runTable("TUN: super-frames that cannot be cut are dropped (gsoDropped), nothing sent", DROPPED.map((c) => ({
  name: c.name,
  plan: tun(),
  steps: [
    ...(c.tcp ? [OPEN_TUN] : []),
    { in: [{ frame: c.frame, vnet: c.vnet }], descFlags: [c.flags], verdicts: [fwd(1)], out: [] },
  ],
  shim: { rxLargeFrames: 1, rxGsoFrames: 1, gsoDropped: 1, tunPackets: c.tcp ? 1 : 0 },
  policy: { newFlows: 1 },
} satisfies Row)));

// ------------------------------------------------------------------ TUN: jumbo frames (not GSO)

/** 8980 bytes of IPv4: 9000 once encapsulated, exactly a 9000 MTU. */
const JUMBO_8980 = c2v({ payload: payload(8940, 13), csum: "partial" });
/** A 9000-byte UDP datagram without DF (a jumbo-MTU client network). */
const JUMBO_UDP = u2v({ payload: payload(9000 - 28, 16), csum: "partial" });

runTable("TUN: a large frame without GSO takes the ordinary TUN path", [
  {
    name: "jumbo (gso NONE, NEEDS_CSUM, 8980 bytes) behind a 9000 MTU: one IPIP packet, inner TCP checksum completed",
    plan: tun(9000),
    steps: [OPEN_TUN, {
      in: [{ frame: JUMBO_8980, vnet: csumOnlyVnet(JUMBO_8980, TCP) }],
      descFlags: [DF | PARTIAL],
      verdicts: [fwd(1)],
      out: [{ frame: ipip(inner(JUMBO_8980), 1) }],
      check: ([m]) => {
        expect(m!.frame.length).toBe(14 + 9000);
        expect(l4ChecksumOk(reframedInner(m!.frame))).toBe(true);
        expect(hex(m!.frame.subarray(34))).toBe(hex(c2v({ payload: payload(8940, 13) }).subarray(14)));
      },
    }],
    shim: { rxLargeFrames: 1, tunPackets: 2 },
    policy: { newFlows: 1 },
  },
  {
    name: "jumbo with DF behind a 1500 MTU: frag-needed, MTU 1480 (the ordinary path's answer)",
    plan: tun(1500),
    steps: [OPEN_TUN, {
      in: [{ frame: JUMBO_8980, vnet: csumOnlyVnet(JUMBO_8980, TCP) }],
      descFlags: [DF | PARTIAL],
      verdicts: [fwd(1)],
      out: [{ frame: fragNeeded(JUMBO_8980, 1500, 1) }],
    }],
    shim: { rxLargeFrames: 1, tunFragNeeded: 1, tunPackets: 1 },
    policy: { newFlows: 1 },
  },
  {
    // The ordinary path fragments an inner packet without DF; a 9000-byte one behind a 1500 MTU
    // needs 7 outer fragments (6 x 1480 + 120).
    name: "jumbo UDP without DF (gso NONE, 9000 bytes) behind a 1500 MTU: checksum completed, 7 outer fragments",
    plan: tun(1500),
    steps: [{
      in: [{ frame: JUMBO_UDP, vnet: csumOnlyVnet(JUMBO_UDP, UDP) }],
      descFlags: [PARTIAL],
      verdicts: [fwd(1)],
      out: ipipFragments(inner(JUMBO_UDP), 0, 1500).map((frame) => ({ frame })),
      check: (out) => expect(out.map((m) => m.frame.length - 34)).toEqual([1480, 1480, 1480, 1480, 1480, 1480, 120]),
    }],
    shim: { rxLargeFrames: 1, tunPackets: 1, tunFragmented: 1 },
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ truncated frames

const TRUNC_SUPER = c2v({ payload: payload(3000, 14), csum: "partial" });

runTable("truncated frames: counted in rxTruncated, no descriptor, never sent", [
  {
    name: "a ring frame captured cut short: rx returns 0",
    plan: DR,
    steps: [{ in: [{ frame: SYN_FRAME, truncated: true }], descFlags: [], verdicts: [], out: [] }],
    shim: { rxTruncated: 1 },
  },
  {
    name: "a vnet super-frame captured cut short (DR): rx returns 0, not counted as a large frame",
    plan: DR,
    steps: [OPEN_DR, { in: [{ frame: TRUNC_SUPER, vnet: tcpVnet(TRUNC_SUPER, 1000), truncated: true }], descFlags: [], verdicts: [], out: [] }],
    shim: { rxTruncated: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "a vnet super-frame captured cut short (TUN): nothing cut, nothing sent",
    plan: tun(),
    steps: [OPEN_TUN, { in: [{ frame: TRUNC_SUPER, vnet: tcpVnet(TRUNC_SUPER, 1000), truncated: true }], descFlags: [], verdicts: [], out: [] }],
    shim: { rxTruncated: 1, tunPackets: 1 },
    policy: { newFlows: 1 },
  },
  {
    name: "cut ring frame, good SYN, cut vnet frame in one batch: only the SYN gets a descriptor and leaves",
    plan: DR,
    steps: [{
      in: [
        { frame: c2v({ flags: SYN, sport: 41000, seq: 1000, ack: 0 }), truncated: true },
        { frame: SYN_FRAME },
        { frame: TRUNC_SUPER, vnet: tcpVnet(TRUNC_SUPER, 1000), truncated: true },
      ],
      descFlags: [DF],
      verdicts: [fwd(1)],
      out: [{ frame: withMacs(SYN_FRAME, RS, DR_EGRESS) }],
    }],
    shim: { rxTruncated: 2 },
    policy: { newFlows: 1 },
  },
]);
