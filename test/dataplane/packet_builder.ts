// A small builder for test frames (the idea of Katran's KatranBaseTestFixtures.h): every packet
// test describes its input and its exact expected output with these functions, so a table row
// reads like a packet capture. Defaults make a well-formed frame; each option exists to break one
// thing on purpose (a malformed header, a checksum left for offload, a fragment).
//
// The checksum verifiers at the end share no code with the builder: they re-parse the frame and
// sum the segment with its checksum in place, so a builder bug cannot hide a shim bug.

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;

/** "02:00:00:00:00:01" -> 6 bytes. Throws on anything else (a typo in a test is a test bug). */
export function mac(s: string): Uint8Array {
  const parts = s.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC ${s}`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** "198.18.0.2" -> host-order u32. */
export function ip(s: string): number {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || +p > 255)) throw new Error(`bad IPv4 ${s}`);
  return ((+parts[0]! << 24) | (+parts[1]! << 16) | (+parts[2]! << 8) | +parts[3]!) >>> 0;
}

/** Lower-case hex, one space between bytes, so a failing comparison shows where frames differ. */
export function hex(frame: Uint8Array): string {
  return Array.from(frame, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** The inverse of hex(); whitespace is ignored, so golden frames can be laid out by header. */
export function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex ${s}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export interface EthOpts {
  dst: Uint8Array;
  src: Uint8Array;
  /** 802.1Q tag control information (PCP, DEI, VID); absent = untagged. */
  vlan?: number;
}

/** The parts one after another in a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Ethernet header (+ tag) followed by `payload`, zero-padded to `padTo` bytes if shorter (the
 *  60-byte minimum a NIC pads short frames to). */
export function ethernet(eth: EthOpts, ethertype: number, payload: Uint8Array, padTo = 0): Uint8Array {
  const hdr = new Uint8Array(eth.vlan === undefined ? 14 : 18);
  const dv = new DataView(hdr.buffer);
  hdr.set(eth.dst, 0);
  hdr.set(eth.src, 6);
  let off = 12;
  if (eth.vlan !== undefined) {
    dv.setUint16(12, ETH_P_8021Q);
    dv.setUint16(14, eth.vlan);
    off = 16;
  }
  dv.setUint16(off, ethertype);
  const frame = concat(hdr, payload);
  if (frame.length >= padTo) return frame;
  const padded = new Uint8Array(padTo);
  padded.set(frame);
  return padded;
}

/** Internet checksum (RFC 1071) over `bytes` plus `initial`, folded and complemented. */
export function inetChecksum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length & 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** The IPv4 pseudo-header sum for TCP/UDP, not folded, not complemented. */
function pseudoSum(src: number, dst: number, proto: number, l4len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4len;
}

export interface Ipv4Opts {
  src: number;
  dst: number;
  ttl?: number;
  id?: number;
  tos?: number;
  /** Don't Fragment; default true (what Linux TCP sends). */
  df?: boolean;
  /** More Fragments. */
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** Header length in 32-bit words; above 5 the options area is filled with NOPs (0x01) and an
   *  end-of-list; below 5 the header is still 20 bytes long but claims fewer (malformed). */
  ihl?: number;
  /** Version nibble, default 4 (6 makes an IPv6 claim inside an IPv4 ethertype). */
  version?: number;
  /** Total length field override (the header checksum covers the overridden value). */
  totalLength?: number;
}

/** An IPv4 header with a correct header checksum, then `payload`. */
export function ipv4(o: Ipv4Opts, proto: number, payload: Uint8Array): Uint8Array {
  const ihl = o.ihl ?? 5;
  const hlen = Math.max(ihl, 5) * 4;
  const h = new Uint8Array(hlen);
  const dv = new DataView(h.buffer);
  h[0] = ((o.version ?? 4) << 4) | (ihl & 0x0f);
  h[1] = o.tos ?? 0;
  dv.setUint16(2, o.totalLength ?? hlen + payload.length);
  dv.setUint16(4, o.id ?? 0x1234);
  const flags = ((o.df ?? true) ? 0x4000 : 0) | (o.mf ? 0x2000 : 0);
  dv.setUint16(6, flags | ((o.fragOffset ?? 0) & 0x1fff));
  h[8] = o.ttl ?? 64;
  h[9] = proto;
  dv.setUint32(12, o.src);
  dv.setUint32(16, o.dst);
  if (hlen > 20) {
    h.fill(0x01, 20, hlen - 1); // NOP
    h[hlen - 1] = 0x00; // end of option list
  }
  dv.setUint16(10, inetChecksum(h));
  return concat(h, payload);
}

/** How the L4 checksum field is filled. "correct": a finished checksum. "partial": only the folded
 *  pseudo-header sum, as a sender with checksum offload leaves it for the device (Linux
 *  CHECKSUM_PARTIAL: th->check = ~tcp_v4_check(len, saddr, daddr, 0)). "zero": 0. A number: that. */
export type L4Csum = "correct" | "partial" | "zero" | number;

function fillL4Checksum(seg: Uint8Array, field: number, src: number, dst: number, proto: number, how: L4Csum): void {
  const dv = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  let c: number;
  if (how === "zero") c = 0;
  else if (typeof how === "number") c = how;
  else {
    const pseudo = pseudoSum(src, dst, proto, seg.length);
    if (how === "partial") {
      c = ~inetChecksum(new Uint8Array(0), pseudo) & 0xffff;
    } else {
      dv.setUint16(field, 0);
      c = inetChecksum(seg, pseudo);
      if (c === 0 && proto === 17) c = 0xffff; // UDP: 0 means "no checksum"
    }
  }
  dv.setUint16(field, c);
}

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export interface TcpOpts {
  eth: EthOpts;
  ip: Ipv4Opts;
  sport: number;
  dport: number;
  flags: number;
  seq?: number;
  ack?: number;
  window?: number;
  payload?: Uint8Array;
  csum?: L4Csum;
  padTo?: number;
  /** TCP option bytes after the 20-byte header (a multiple of 4, at most 40), counted in the data
   *  offset; absent = none (data offset 5). */
  options?: Uint8Array;
}

/** Ethernet + IPv4 + a 20-byte TCP header (+ `options`) + payload. */
export function tcp(o: TcpOpts): Uint8Array {
  const payload = o.payload ?? new Uint8Array(0);
  const options = o.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40) throw new Error(`bad TCP options length ${options.length}`);
  const hlen = 20 + options.length;
  const seg = new Uint8Array(hlen + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, o.sport);
  dv.setUint16(2, o.dport);
  dv.setUint32(4, o.seq ?? 1000);
  dv.setUint32(8, o.ack ?? 0);
  seg[12] = (hlen / 4) << 4;
  seg[13] = o.flags;
  dv.setUint16(14, o.window ?? 64240);
  seg.set(options, 20);
  seg.set(payload, hlen);
  fillL4Checksum(seg, 16, o.ip.src, o.ip.dst, 6, o.csum ?? "correct");
  return ethernet(o.eth, ETH_P_IP, ipv4(o.ip, 6, seg), o.padTo);
}

export interface UdpOpts {
  eth: EthOpts;
  ip: Ipv4Opts;
  sport: number;
  dport: number;
  payload?: Uint8Array;
  csum?: L4Csum;
  padTo?: number;
}

/** Ethernet + IPv4 + UDP + payload. */
export function udp(o: UdpOpts): Uint8Array {
  const payload = o.payload ?? new Uint8Array(0);
  const seg = new Uint8Array(8 + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, o.sport);
  dv.setUint16(2, o.dport);
  dv.setUint16(4, seg.length);
  seg.set(payload, 8);
  fillL4Checksum(seg, 6, o.ip.src, o.ip.dst, 17, o.csum ?? "correct");
  return ethernet(o.eth, ETH_P_IP, ipv4(o.ip, 17, seg), o.padTo);
}

export interface ArpOpts {
  eth: EthOpts;
  /** 1 request, 2 reply. */
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac?: Uint8Array;
  targetIp: number;
  padTo?: number;
}

/** Ethernet + ARP for IPv4 over Ethernet (28 bytes). */
export function arp(o: ArpOpts): Uint8Array {
  const a = new Uint8Array(28);
  const dv = new DataView(a.buffer);
  dv.setUint16(0, 1);
  dv.setUint16(2, ETH_P_IP);
  a[4] = 6;
  a[5] = 4;
  dv.setUint16(6, o.op);
  a.set(o.senderMac, 8);
  dv.setUint32(14, o.senderIp);
  a.set(o.targetMac ?? new Uint8Array(6), 18);
  dv.setUint32(24, o.targetIp);
  return ethernet(o.eth, ETH_P_ARP, a, o.padTo);
}

export interface IcmpOpts {
  eth: EthOpts;
  ip: Ipv4Opts;
  type: number;
  code: number;
  /** The 4 bytes after the checksum (frag-needed: 2 unused + next-hop MTU), as a 32-bit word. */
  rest?: number;
  /** What follows the 8-byte header: for an error, the quoted packet (see quote()). */
  body?: Uint8Array;
  /** Checksum override (a corrupted message); default the correct one. */
  csum?: number;
  padTo?: number;
}

/** Ethernet + IPv4 (protocol 1) + ICMP. IPv4 defaults to no DF, as Linux sends its errors. */
export function icmp(o: IcmpOpts): Uint8Array {
  const body = o.body ?? new Uint8Array(0);
  const m = new Uint8Array(8 + body.length);
  const dv = new DataView(m.buffer);
  m[0] = o.type;
  m[1] = o.code;
  dv.setUint32(4, o.rest ?? 0);
  m.set(body, 8);
  dv.setUint16(2, o.csum ?? inetChecksum(m));
  return ethernet(o.eth, ETH_P_IP, ipv4({ df: false, ...o.ip }, 1, m), o.padTo);
}

/** The first `bytes` of a frame's IPv4 packet (default: its header and 8 more bytes, what RFC 792
 *  asks an ICMP error to quote). */
export function quote(frame: Uint8Array, bytes?: number): Uint8Array {
  const v = ipv4At(frame);
  if (v === null) throw new Error("quote: not an IPv4 frame");
  return frame.slice(v.ipOff, v.ipOff + Math.min(bytes ?? v.ihl + 8, v.totalLength));
}

/** A copy of `frame` with new Ethernet destination and source: what a DR forward must produce. */
export function withMacs(frame: Uint8Array, dst: Uint8Array, src: Uint8Array): Uint8Array {
  const out = frame.slice();
  out.set(dst, 0);
  out.set(src, 6);
  return out;
}

// ------------------------------------------------------------------ independent verifiers

interface L3View {
  ipOff: number;
  ihl: number;
  totalLength: number;
}

/** Re-parses Ethernet (+ one 802.1Q tag) and the IPv4 header bounds; null unless a sane IPv4. */
function ipv4At(f: Uint8Array): L3View | null {
  if (f.length < 14) return null;
  let off = 12;
  let type = f[off]! * 256 + f[off + 1]!;
  if (type === ETH_P_8021Q) {
    off += 4;
    if (f.length < off + 2) return null;
    type = f[off]! * 256 + f[off + 1]!;
  }
  const ipOff = off + 2;
  if (type !== ETH_P_IP || f.length < ipOff + 20 || f[ipOff]! >> 4 !== 4) return null;
  const ihl = (f[ipOff]! & 0x0f) * 4;
  const totalLength = f[ipOff + 2]! * 256 + f[ipOff + 3]!;
  if (ihl < 20 || totalLength < ihl || ipOff + totalLength > f.length) return null;
  return { ipOff, ihl, totalLength };
}

/** One's-complement sum of big-endian words from `from` (inclusive) to `to` (exclusive). */
function onesSum(f: Uint8Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i += 2) s += f[i]! * 256 + (i + 1 < to ? f[i + 1]! : 0);
  return s;
}

function foldsToAllOnes(s: number): boolean {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s === 0xffff;
}

/** True when the IPv4 header checksum verifies (the header sums to 0xffff with its checksum). */
export function ipChecksumOk(f: Uint8Array): boolean {
  const v = ipv4At(f);
  return v !== null && foldsToAllOnes(onesSum(f, v.ipOff, v.ipOff + v.ihl));
}

/** True when the TCP or UDP checksum of an unfragmented IPv4 frame verifies: pseudo-header plus
 *  segment, checksum field included, sums to 0xffff. A UDP checksum of 0 ("none sent") is not
 *  accepted here: these tests always want a real one. */
export function l4ChecksumOk(f: Uint8Array): boolean {
  const v = ipv4At(f);
  if (v === null) return false;
  const p = v.ipOff;
  const proto = f[p + 9]!;
  if (proto !== 6 && proto !== 17) return false;
  if (((f[p + 6]! & 0x3f) << 8 | f[p + 7]!) !== 0) return false; // a fragment: no whole segment
  const l4 = p + v.ihl;
  const l4len = v.totalLength - v.ihl;
  if (proto === 17 && l4len >= 8 && f[l4 + 6] === 0 && f[l4 + 7] === 0) return false;
  const pseudo = onesSum(f, p + 12, p + 20) + proto + l4len;
  return foldsToAllOnes(pseudo + onesSum(f, l4, l4 + l4len));
}
