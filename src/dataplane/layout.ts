// Mirror of the shared layouts declared in native/ring.h. test/dataplane/layout.test.ts compares
// every number here with sizeof/offsetof and the constants exported by the C side (rv_layout), in
// the same order.

export const DESC_SIZE = 32;
/** Field offsets in bytes inside struct rv_desc. */
export const DESC = {
  saddr: 0, daddr: 4, sport: 8, dport: 10, proto: 12, tcpFlags: 13, kind: 14, flags: 15,
  l3Off: 16, vlanTci: 18, frameLen: 20, ipLen: 24, hash: 28,
} as const;

export const SLOT_SIZE = 48;
export const SLOT = { dmac: 0, method: 6, txIf: 7, rip: 8, smac: 12, mtu: 18, saddr: 20, packets: 32, bytes: 40 } as const;

/** struct rv_counters, in declaration order; each a u64. */
export const COUNTER_NAMES = [
  "rxFrames", "rxBytes", "rxBlocks", "rxPolls",
  "parsedIpv4", "parsedArp", "parsedOther", "parsedMalformed",
  "verdictPass", "verdictDrop", "verdictBad",
  "txFrames", "txBytes", "txErrors", "txArpReplies", "txCalls",
  "kernelPackets", "kernelDrops", "kernelFreezeQ",
  "tunPackets", "tunFragmented", "tunFragNeeded", "tunIcmpLimited",
  "rxLargeFrames", "rxGsoFrames", "rxTruncated", "gsoSegments", "gsoDropped",
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;
export const COUNTERS_SIZE = COUNTER_NAMES.length * 8;

/** native/ring.h struct rv_ring_params: six u32 in the order ffi.ts writes them (blockSize,
 *  blockCount, blockTimeoutMs, descCapacity, slotCapacity, version). */
export const RING_PARAMS_SIZE = 24;
export const RING_PARAMS_VERSION_OFFSET = 20;
/** native/ring.h RV_V2_FRAME_SIZE: a V2 ring is cut into frames of this size. */
export const V2_FRAME_SIZE = 2048;

/** native/large_frames.h: large frames a batch takes besides the ring's (a handle's descriptor
 *  capacity is the ring's share plus these), and the virtio_net_hdr in front of each. */
export const LARGE_FRAMES_PER_BATCH = 32;
export const VNET_HDR_LEN = 10;

/** native/ring.h RV_VERDICT_*: one u32 per descriptor (Ring.verdicts is a Uint32Array); values
 *  below VERDICT_MIN_SPECIAL are slot numbers, the specials sit at the top of the u32 range. */
export const VERDICT_SIZE = 4;
export const VERDICT_PASS = 0xffffffff;
export const VERDICT_DROP = 0xfffffffe;
export const VERDICT_ARP_REPLY = 0xfffffffd;
export const VERDICT_MIN_SPECIAL = 0xffffff00;

/** The order rv_layout() writes its values in (the counters' names are compared through
 *  rv_counter_name()). */
export const LAYOUT_ORDER: readonly number[] = [
  DESC_SIZE, DESC.saddr, DESC.daddr, DESC.sport, DESC.dport, DESC.proto, DESC.tcpFlags,
  DESC.kind, DESC.flags, DESC.l3Off, DESC.vlanTci, DESC.frameLen, DESC.ipLen, DESC.hash,
  SLOT_SIZE, SLOT.dmac, SLOT.method, SLOT.txIf, SLOT.rip, SLOT.smac, SLOT.mtu, SLOT.saddr, SLOT.packets, SLOT.bytes,
  COUNTERS_SIZE, RING_PARAMS_SIZE, RING_PARAMS_VERSION_OFFSET, LARGE_FRAMES_PER_BATCH, VNET_HDR_LEN,
  V2_FRAME_SIZE,
  VERDICT_SIZE, VERDICT_PASS, VERDICT_DROP, VERDICT_ARP_REPLY, VERDICT_MIN_SPECIAL,
  // every counter's offset: each a u64, in COUNTER_NAMES order
  ...COUNTER_NAMES.map((_, i) => i * 8),
];

/** native/ring.h enum rv_kind. IcmpError descriptors carry the quoted connection's tuple, turned
 *  to the client's direction (native/icmp.c); IcmpMalformed ones the outer addresses. */
export const enum Kind { Other = 0, Ipv4 = 1, ArpRequest = 2, ArpOther = 3, Malformed = 4, IcmpError = 5, IcmpMalformed = 6 }
export const DF_FRAGMENT = 0x01;
export const DF_MORE_FRAGS = 0x02;
export const DF_VLAN = 0x04;
export const DF_VLAN_STRIPPED = 0x08;
export const DF_DONT_FRAG = 0x10;
export const DF_CSUM_PARTIAL = 0x20;
/** A GSO super-frame: one descriptor for the packets it stands for (native/large_frames.c). */
export const DF_GSO = 0x40;

export const FWD_NONE = 0;
export const FWD_DR = 1;
export const FWD_TUN = 2;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
