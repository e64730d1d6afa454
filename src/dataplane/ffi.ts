// The only file that imports bun:ffi. It loads the C shim (embedded in the single executable by
// the `type: "file"` import) and wraps one shim handle as a Ring: typed-array views over the
// shim's shared memory plus one method per shim verb; and the shim's rtnetlink handle as
// Rtnetlink (routes, links and neighbour entries, native/netlink.h), read into plain objects.
import { dlopen, FFIType, toArrayBuffer, type Pointer } from "bun:ffi";
// @ts-ignore -- a file import yields the library's path (extracted under $TMPDIR when compiled)
import libPath from "../../native/build/libringvs.so" with { type: "file" };
import {
  COUNTER_NAMES, COUNTERS_SIZE, type Counters, DESC_SIZE, LAYOUT_ORDER, SLOT_SIZE, VERDICT_SIZE, VNET_HDR_LEN,
} from "./layout.ts";
import {
  IFNAMSIZ, LINK, LINK_ADDR_MAX, LINK_SIZE, NEIGH, NEIGH_SIZE, ROUTE, ROUTE_GATEWAY, ROUTE_PREFSRC, ROUTE_SIZE,
  ROUTE_VIA6, NL_EV_NEIGH, NL_EV_ROUTE,
} from "./netlink_layout.ts";
import type { RingConfig } from "../config/model.ts";

const { ptr, u32, i32, void: v } = FFIType;
/** linux/if_packet.h */
const TP_STATUS_CSUMNOTREADY = 8;
const TP_STATUS_VLAN_VALID = 16;
/** native/ring.h: rv_open_fanout's "create a new group". */
const RV_FANOUT_NEW = -1;
/** native/ring.c RV_SIM_VNET: a captured frame that starts with its virtio_net_hdr. */
const SIM_VNET = 0x80000000;
/** native/ring.h RV_SIM_CUT. */
const SIM_CUT = 0x40000000;

/** The fanout group ids of a ring's two sockets. */
export interface FanoutGroups { ring: number; large: number }
const lib = dlopen(libPath as string, {
  rv_open: { args: [ptr, ptr, ptr], returns: i32 },
  rv_open_fanout: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  rv_set_fanout_mask: { args: [ptr, u32], returns: i32 },
  rv_pin_thread: { args: [i32], returns: i32 },
  rv_set_thread_cpus: { args: [ptr, u32], returns: i32 },
  rv_thread_cpus: { args: [ptr, u32], returns: i32 },
  rv_open_sim: { args: [ptr, ptr, ptr], returns: i32 },
  rv_close: { args: [ptr], returns: v },
  rv_descs: { args: [ptr], returns: ptr },
  rv_verdicts: { args: [ptr], returns: ptr },
  rv_slots: { args: [ptr], returns: ptr },
  rv_counters: { args: [ptr], returns: ptr },
  rv_desc_capacity: { args: [ptr], returns: u32 },
  rv_slot_capacity: { args: [ptr], returns: u32 },
  rv_if_info: { args: [ptr, ptr, ptr], returns: i32 },
  rv_rx_batch: { args: [ptr, i32], returns: i32 },
  rv_tx_batch: { args: [ptr], returns: i32 },
  rv_send_frame: { args: [ptr, ptr, u32], returns: i32 },
  rv_add_tx_interface: { args: [ptr, ptr], returns: i32 },
  rv_set_icmp: { args: [ptr, u32, u32, u32], returns: v },
  rv_refresh_kernel_stats: { args: [ptr], returns: i32 },
  rv_sim_push: { args: [ptr, ptr, u32, u32], returns: i32 },
  rv_sim_push_vnet: { args: [ptr, ptr, ptr, u32, u32], returns: i32 },
  rv_sim_tx_buffer: { args: [ptr], returns: ptr },
  rv_sim_tx_length: { args: [ptr], returns: u32 },
  rv_sim_tx_clear: { args: [ptr], returns: v },
  rv_layout: { args: [ptr, u32], returns: i32 },
  rv_counter_name: { args: [u32], returns: FFIType.cstring },
  rv_nl_open: { args: [ptr], returns: i32 },
  rv_nl_close: { args: [ptr], returns: v },
  rv_nl_route_get: { args: [ptr, ptr, u32], returns: i32 },
  rv_nl_link: { args: [ptr, ptr], returns: i32 },
  rv_nl_neigh_dump: { args: [ptr, i32, ptr, u32, ptr], returns: i32 },
  rv_nl_neigh_manage: { args: [ptr, i32, ptr, ptr, u32], returns: i32 },
  rv_nl_neigh_delete: { args: [ptr, i32, ptr, ptr, u32], returns: i32 },
  rv_strerror: { args: [i32, ptr, u32], returns: i32 },
  rv_nl_layout: { args: [ptr, u32], returns: i32 },
  rv_nl_events_open: { args: [ptr], returns: i32 },
  rv_nl_events_take: { args: [ptr], returns: i32 },
});
const C = lib.symbols;

/** A shim call failed; `errno` is the positive error number. */
export class ShimError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: ${errnoName(errno)}`);
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM (operation not permitted: run as root / CAP_NET_RAW)", 12: "ENOMEM", 19: "ENODEV (no such interface)",
  22: "EINVAL (bad ring parameters)", 13: "EACCES", 28: "ENOSPC", 100: "ENETDOWN",
};
function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `${errnoText(e)} (errno ${e})`;
}

/** The C library's text for a positive errno, as iproute2 prints it after "RTNETLINK answers: "
 *  (ENETUNREACH: "Network is unreachable"). */
export function errnoText(errno: number): string {
  const buf = new Uint8Array(256);
  const n = C.rv_strerror(errno, buf, buf.length);
  return new TextDecoder().decode(buf.subarray(0, Math.max(0, n)));
}

function check(call: string, rc: number): number {
  if (rc < 0) throw new ShimError(call, -rc);
  return rc;
}

export interface RingParams extends RingConfig {
  descCapacity: number;
  slotCapacity: number;
}

function paramsBuffer(p: RingParams): Uint32Array {
  return new Uint32Array([p.blockSize, p.blockCount, p.blockTimeoutMs, p.descCapacity, p.slotCapacity, p.version]);
}

/** sizeof/offsetof values and constants from the C side, in LAYOUT_ORDER's order. */
export function nativeLayout(): number[] {
  const out = new Uint32Array(128);
  const n = C.rv_layout(out, out.length);
  return Array.from(out.subarray(0, n));
}

/** sizeof/offsetof values and constants of native/netlink.h, in NL_LAYOUT_ORDER's order. */
export function nativeNetlinkLayout(): number[] {
  const out = new Uint32Array(128);
  const n = C.rv_nl_layout(out, out.length);
  return Array.from(out.subarray(0, n));
}

/** struct rv_counters field names in declaration order (snake_case, as in ring.h). */
export function nativeCounterNames(): string[] {
  const names: string[] = [];
  for (let i = 0; ; i++) {
    const name = C.rv_counter_name(i);
    if (name === null) return names;
    names.push(String(name));
  }
}

/** One shim handle with typed-array views over its shared memory. Views are made once; the
 *  packet loop indexes them and never allocates. */
export class Ring {
  readonly descCapacity: number;
  readonly slotCapacity: number;
  /** Descriptor area seen three ways (see DESC offsets in layout.ts). */
  readonly desc8: Uint8Array;
  readonly desc16: Uint16Array;
  readonly desc32: Uint32Array;
  /** One per descriptor: a slot number or a VERDICT_* special (layout.ts). */
  readonly verdicts: Uint32Array;
  readonly slots8: Uint8Array;
  readonly slots16: Uint16Array;
  readonly slots32: Uint32Array;
  readonly slots64: BigUint64Array;
  private readonly counters64: BigUint64Array;
  readonly mac: Uint8Array;
  readonly ifindex: number;
  private closed = false;

  private constructor(readonly handle: Pointer, readonly simulated: boolean, private readonly owner: boolean) {
    this.descCapacity = C.rv_desc_capacity(handle);
    this.slotCapacity = C.rv_slot_capacity(handle);
    const descs = C.rv_descs(handle)!;
    const descBuf = toArrayBuffer(descs, 0, this.descCapacity * DESC_SIZE);
    this.desc8 = new Uint8Array(descBuf);
    this.desc16 = new Uint16Array(descBuf);
    this.desc32 = new Uint32Array(descBuf);
    this.verdicts = new Uint32Array(toArrayBuffer(C.rv_verdicts(handle)!, 0, this.descCapacity * VERDICT_SIZE));
    const slotBuf = toArrayBuffer(C.rv_slots(handle)!, 0, this.slotCapacity * SLOT_SIZE);
    this.slots8 = new Uint8Array(slotBuf);
    this.slots16 = new Uint16Array(slotBuf);
    this.slots32 = new Uint32Array(slotBuf);
    this.slots64 = new BigUint64Array(slotBuf);
    this.counters64 = new BigUint64Array(toArrayBuffer(C.rv_counters(handle)!, 0, COUNTERS_SIZE));
    const mac = new Uint8Array(6);
    const ifindex = new Int32Array(1);
    C.rv_if_info(handle, mac, ifindex);
    this.mac = mac;
    this.ifindex = ifindex[0]!;
  }

  /** Open an AF_PACKET ring (TPACKET_V2 or V3, params.version) on `ifname`. Throws ShimError (EPERM without root,
   *  ENODEV for a missing interface, EINVAL for bad ring sizes). */
  static open(ifname: string, params: RingParams): Ring {
    const out = new BigUint64Array(1);
    check("rv_open", C.rv_open(Buffer.from(ifname + "\0"), paramsBuffer(params), out));
    return new Ring(Number(out[0]) as Pointer, false, true);
  }

  /** Open a ring on `ifname` as a member of PACKET_FANOUT groups: groups null creates them (their
   *  ids are in `.fanoutGroups`), another ring's `.fanoutGroups` joins those. There are two: the
   *  rings' and the large-frame sockets' (native/large_frames.c). The kernel spreads frames over
   *  the members by source address (setFanoutMask). */
  static openFanout(ifname: string, params: RingParams, groups: FanoutGroups | null): Ring {
    const out = new BigUint64Array(1);
    const ids = Int32Array.from(groups ? [groups.ring, groups.large] : [RV_FANOUT_NEW, RV_FANOUT_NEW]);
    check("rv_open_fanout", C.rv_open_fanout(Buffer.from(ifname + "\0"), paramsBuffer(params), ids, out));
    const ring = new Ring(Number(out[0]) as Pointer, false, true);
    ring.fanoutGroups = { ring: ids[0]!, large: ids[1]! };
    return ring;
  }

  /** The fanout groups this ring belongs to, null when it is alone on its interface. */
  fanoutGroups: FanoutGroups | null = null;

  /** Spread the fanout group's IPv4 frames by hash(source address & mask), mask in host order. */
  setFanoutMask(mask: number): void {
    check("rv_set_fanout_mask", C.rv_set_fanout_mask(this.handle, mask >>> 0));
  }

  /** A ring-less handle for packet tests and user-space benchmarks (see rv_open_sim). */
  static openSim(mac: Uint8Array, params: RingParams): Ring {
    const out = new BigUint64Array(1);
    check("rv_open_sim", C.rv_open_sim(mac, paramsBuffer(params), out));
    return new Ring(Number(out[0]) as Pointer, true, true);
  }

  /** Views over a handle opened by another thread of this process (the packet worker). The
   *  opener keeps ownership and closes it. */
  static attach(handle: number, simulated: boolean): Ring {
    return new Ring(handle as Pointer, simulated, false);
  }

  rx(timeoutMs: number): number {
    return check("rv_rx_batch", C.rv_rx_batch(this.handle, timeoutMs));
  }

  tx(): number {
    return check("rv_tx_batch", C.rv_tx_batch(this.handle));
  }

  /** A send-only socket on another interface, for TUN real servers routed out of it. Returns the
   *  tx_if index to put in their slots. Throws ShimError (ENODEV, ENOSPC beyond 7). */
  addTxInterface(ifname: string): number {
    return check("rv_add_tx_interface", C.rv_add_tx_interface(this.handle, Buffer.from(ifname + "\0")));
  }

  /** Source address (host order) and rate limit of ICMP "fragmentation needed" for TUN. */
  setIcmp(saddr: number, ratePerSecond: number, burst: number): void {
    C.rv_set_icmp(this.handle, saddr, ratePerSecond, burst);
  }

  sendFrame(frame: Uint8Array): number {
    return check("rv_send_frame", C.rv_send_frame(this.handle, frame, frame.length));
  }

  refreshKernelStats(): void {
    check("rv_refresh_kernel_stats", C.rv_refresh_kernel_stats(this.handle));
  }

  counters(): Counters {
    const c = {} as Counters;
    COUNTER_NAMES.forEach((name, i) => (c[name] = Number(this.counters64[i])));
    return c;
  }

  /** Queue a frame for the next simulated rx, with the ring status bits it would have carried:
   *  `csumPartial` as from a checksum-offloading sender (TP_STATUS_CSUMNOTREADY), `vlanStripped`
   *  as a tagged frame whose tag the kernel moved into ring metadata (TP_STATUS_VLAN_VALID),
   *  `truncated` as captured cut short (tp_snaplen < tp_len: the shim sees its first half). */
  simPush(frame: Uint8Array, csumPartial = false, vlanStripped = false, truncated = false): void {
    const status = (csumPartial ? TP_STATUS_CSUMNOTREADY : 0) | (vlanStripped ? TP_STATUS_VLAN_VALID : 0) | (truncated ? SIM_CUT : 0);
    check("rv_sim_push", C.rv_sim_push(this.handle, frame, frame.length, status));
  }

  /** Queue a frame as the large-frame socket delivers it (a GSO super-frame or a jumbo frame):
   *  with its 10-byte virtio_net_hdr (flags, gso_type, hdr_len, gso_size, csum_start,
   *  csum_offset; little-endian). */
  simPushVnet(vnet: Uint8Array, frame: Uint8Array, truncated = false): void {
    if (vnet.length !== VNET_HDR_LEN) throw new Error(`a virtio_net_hdr is ${VNET_HDR_LEN} bytes, not ${vnet.length}`);
    check("rv_sim_push_vnet", C.rv_sim_push_vnet(this.handle, vnet, frame, frame.length, truncated ? SIM_CUT : 0));
  }

  /** Frames "transmitted" by a simulated handle since the last call; clears them. */
  simTakeTx(): Uint8Array[] {
    return this.simTakeTxMessages().map((m) => m.frame);
  }

  /** The same with the virtio_net_hdr of each frame sent whole through a vnet socket (a
   *  super-frame to a DR real server), null for every other frame. Clears them. */
  simTakeTxMessages(): { frame: Uint8Array; vnet: Uint8Array | null }[] {
    const len = C.rv_sim_tx_length(this.handle);
    const out: { frame: Uint8Array; vnet: Uint8Array | null }[] = [];
    if (len > 0) {
      const buf = new Uint8Array(toArrayBuffer(C.rv_sim_tx_buffer(this.handle)!, 0, len));
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      for (let off = 0; off < len; ) {
        const word = dv.getUint32(off, true);
        const n = word & 0x7fffffff;
        const bytes = buf.slice(off + 4, off + 4 + n);
        out.push(word & SIM_VNET ? { frame: bytes.slice(VNET_HDR_LEN), vnet: bytes.slice(0, VNET_HDR_LEN) } : { frame: bytes, vnet: null });
        off += 4 + ((n + 3) & ~3);
      }
    }
    C.rv_sim_tx_clear(this.handle);
    return out;
  }

  close(): void {
    if (this.closed || !this.owner) return;
    this.closed = true;
    C.rv_close(this.handle);
  }
}

export { LAYOUT_ORDER };

const EINVAL = 22;
const ENODEV = 19;
const ENOBUFS = 105;

/** Pin the calling thread (a packet worker calls it from its own thread) to one CPU. */
export function pinThread(cpu: number): void {
  const rc = C.rv_pin_thread(cpu);
  if (rc === -EINVAL) throw new Error(`CPU ${cpu} does not exist or this process may not use it (allowed: ${threadCpus().join(",")})`);
  check("rv_pin_thread", rc);
}

/** The CPUs the calling thread may run on. */
export function threadCpus(): number[] {
  const out = new Int32Array(1024);
  const n = check("rv_thread_cpus", C.rv_thread_cpus(out, out.length));
  return Array.from(out.subarray(0, n));
}

/** Restrict the calling thread to `cpus`. */
export function setThreadCpus(cpus: readonly number[]): void {
  check("rv_set_thread_cpus", C.rv_set_thread_cpus(Int32Array.from(cpus), cpus.length));
}

/** One route lookup's answer (struct rv_route). */
export interface RouteAnswer {
  /** 0, or the positive errno the kernel refused the lookup with (ENETUNREACH: no route). */
  errno: number;
  /** Egress interface index (the loopback's for one of our own addresses). */
  oif: number;
  /** rtm_type: RTN_LOCAL (netlink_layout.ts) for one of our own addresses. */
  type: number;
  /** The gateway (host order), null when the destination is on-link. */
  gateway: number | null;
  /** The preferred source address (host order), null when the route has none. */
  prefsrc: number | null;
  /** The next hop is an IPv6 gateway (RFC 5549), which no IPv4 neighbour entry resolves. */
  via6: boolean;
}

/** An interface as the egress needs it (struct rv_link). */
export interface LinkFacts {
  ifindex: number;
  name: string;
  mtu: number;
  /** ARPHRD_* (ARPHRD_ETHER 1). */
  type: number;
  /** Its link address when it has a 6-byte one (Ethernet, and the loopback's zeros), else null. */
  mac: number[] | null;
}

/** One IPv4 neighbour entry (struct rv_neigh). */
export interface NeighbourEntry {
  /** Host order. */
  dst: number;
  /** NUD_* bits (netlink_layout.ts). */
  state: number;
  /** ndm_flags (NTF_*). */
  flags: number;
  /** NDA_FLAGS_EXT (NTF_EXT_MANAGED for a managed entry). */
  flagsExt: number;
  /** The link address when the kernel gave a 6-byte one (it gives none while unresolved). */
  lladdr: number[] | null;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The shim's NETLINK_ROUTE socket: `ip route get`, `ip link`, `ip neigh` without a process. The
 *  socket belongs to the network namespace of the thread that opened it. Calls are synchronous
 *  and take microseconds per item (a batch of N lookups is ceil(N/16) sendmsg calls). Methods
 *  throw ShimError only when the socket itself fails; what the kernel refuses is a value. */
export class Rtnetlink {
  private static sharedHandle: Rtnetlink | null = null;
  /** Entries the neighbour dump buffer holds; grows to what the last dump needed. */
  private neighCap = 256;
  private closed = false;

  private constructor(private readonly handle: Pointer) {}

  /** Throws ShimError (EMFILE, ENOMEM, EPROTONOSUPPORT without netlink). */
  static open(): Rtnetlink {
    const out = new BigUint64Array(1);
    check("rv_nl_open", C.rv_nl_open(out));
    return new Rtnetlink(Number(out[0]) as Pointer);
  }

  /** The process's handle, opened at first use (in the namespace the process runs in). */
  static shared(): Rtnetlink {
    return (Rtnetlink.sharedHandle ??= Rtnetlink.open());
  }

  /** `ip route get` of each destination (host order), answers in the same order. */
  routeGet(dsts: readonly number[]): RouteAnswer[] {
    if (dsts.length === 0) return [];
    const buf = new Uint8Array(dsts.length * ROUTE_SIZE);
    const dv = new DataView(buf.buffer);
    dsts.forEach((d, i) => dv.setUint32(i * ROUTE_SIZE + ROUTE.dst, d >>> 0, LITTLE_ENDIAN));
    check("rv_nl_route_get", C.rv_nl_route_get(this.handle, buf, dsts.length));
    return dsts.map((_, i) => {
      const o = i * ROUTE_SIZE;
      const flags = dv.getUint8(o + ROUTE.flags);
      return {
        errno: -dv.getInt32(o + ROUTE.error, LITTLE_ENDIAN) | 0,
        oif: dv.getInt32(o + ROUTE.oif, LITTLE_ENDIAN),
        type: dv.getUint8(o + ROUTE.type),
        gateway: flags & ROUTE_GATEWAY ? dv.getUint32(o + ROUTE.gateway, LITTLE_ENDIAN) : null,
        prefsrc: flags & ROUTE_PREFSRC ? dv.getUint32(o + ROUTE.prefsrc, LITTLE_ENDIAN) : null,
        via6: (flags & ROUTE_VIA6) !== 0,
      };
    });
  }

  /** An interface by index or by name; null when there is no such interface. */
  link(which: number | string): LinkFacts | null {
    const buf = new Uint8Array(LINK_SIZE);
    const dv = new DataView(buf.buffer);
    if (typeof which === "number") {
      dv.setInt32(LINK.ifindex, which, LITTLE_ENDIAN);
    } else {
      const name = new TextEncoder().encode(which);
      // A name that cannot be an interface's (empty, too long) names none.
      if (name.length === 0 || name.length >= IFNAMSIZ) return null;
      buf.set(name, LINK.name);
    }
    const rc = C.rv_nl_link(this.handle, buf);
    if (rc === -ENODEV) return null;
    check("rv_nl_link", rc);
    const nameBytes = buf.subarray(LINK.name, LINK.name + IFNAMSIZ);
    const end = nameBytes.indexOf(0);
    const addrLen = dv.getUint8(LINK.addrLen);
    return {
      ifindex: dv.getInt32(LINK.ifindex, LITTLE_ENDIAN),
      name: new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? IFNAMSIZ : end)),
      mtu: dv.getUint32(LINK.mtu, LITTLE_ENDIAN),
      type: dv.getUint16(LINK.type, LITTLE_ENDIAN),
      mac: addrLen === LINK_ADDR_MAX ? Array.from(buf.subarray(LINK.addr, LINK.addr + LINK_ADDR_MAX)) : null,
    };
  }

  /** The IPv4 neighbour entries of one interface (every state, NOARP and PERMANENT ones too). */
  neighbours(ifindex: number): NeighbourEntry[] {
    const total = new Uint32Array(1);
    // The table can grow between two dumps: ask again with room for what the last one counted,
    // a few times at most, then report what fitted.
    for (let attempt = 0; ; attempt++) {
      const buf = new Uint8Array(this.neighCap * NEIGH_SIZE);
      const n = check("rv_nl_neigh_dump", C.rv_nl_neigh_dump(this.handle, ifindex, buf, this.neighCap, total));
      if (total[0]! > n && attempt < 3) {
        this.neighCap = total[0]! + 64;
        continue;
      }
      const dv = new DataView(buf.buffer);
      const out: NeighbourEntry[] = [];
      for (let i = 0; i < n; i++) {
        const o = i * NEIGH_SIZE;
        const len = dv.getUint8(o + NEIGH.lladdrLen);
        out.push({
          dst: dv.getUint32(o + NEIGH.dst, LITTLE_ENDIAN),
          state: dv.getUint16(o + NEIGH.state, LITTLE_ENDIAN),
          flags: dv.getUint8(o + NEIGH.flags),
          flagsExt: dv.getUint32(o + NEIGH.flagsExt, LITTLE_ENDIAN),
          lladdr: len === LINK_ADDR_MAX ? Array.from(buf.subarray(o + NEIGH.lladdr, o + NEIGH.lladdr + LINK_ADDR_MAX)) : null,
        });
      }
      return out;
    }
  }

  /** `ip neigh replace DST dev IFINDEX managed` of each destination; the positive errno per
   *  destination, 0 where the kernel accepted it (ENOBUFS: the table is full). */
  manageNeighbours(ifindex: number, dsts: readonly number[]): number[] {
    return this.modifyNeighbours("rv_nl_neigh_manage", ifindex, dsts);
  }

  /** `ip neigh del DST dev IFINDEX` of each destination; errno per destination as above. */
  deleteNeighbours(ifindex: number, dsts: readonly number[]): number[] {
    return this.modifyNeighbours("rv_nl_neigh_delete", ifindex, dsts);
  }

  private modifyNeighbours(call: "rv_nl_neigh_manage" | "rv_nl_neigh_delete", ifindex: number, dsts: readonly number[]): number[] {
    if (dsts.length === 0) return [];
    const addrs = Uint32Array.from(dsts, (d) => d >>> 0);
    const errors = new Int32Array(dsts.length);
    check(call, C[call](this.handle, ifindex, addrs, errors, dsts.length));
    return Array.from(errors, (e) => -e | 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (Rtnetlink.sharedHandle === this) Rtnetlink.sharedHandle = null;
    C.rv_nl_close(this.handle);
  }
}

/** What rtnetlink notifications said changed since the last take(). */
export interface NetlinkEvents {
  /** An IPv4 route, an IPv4 address or a link was added, changed or removed. */
  routes: boolean;
  /** An IPv4 neighbour entry was added, changed or removed. */
  neighbours: boolean;
  /** Notifications were lost (the socket's queue overflowed): anything may have changed. */
  overflow: boolean;
}

/** The shim's notification socket (rv_nl_events_open): subscribed to route, address, link and
 *  neighbour changes in the namespace of the thread that opened it, and only ever drained. */
export class RtnetlinkEvents {
  private closed = false;

  private constructor(private readonly handle: Pointer) {}

  /** Throws ShimError (EMFILE, ENOMEM, EPROTONOSUPPORT without netlink). */
  static open(): RtnetlinkEvents {
    const out = new BigUint64Array(1);
    check("rv_nl_events_open", C.rv_nl_events_open(out));
    return new RtnetlinkEvents(Number(out[0]) as Pointer);
  }

  /** Drain what arrived, without waiting. Throws ShimError only when the socket failed. */
  take(): NetlinkEvents {
    const rc = C.rv_nl_events_take(this.handle);
    if (rc === -ENOBUFS) return { routes: true, neighbours: true, overflow: true };
    check("rv_nl_events_take", rc);
    return { routes: (rc & NL_EV_ROUTE) !== 0, neighbours: (rc & NL_EV_NEIGH) !== 0, overflow: false };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    C.rv_nl_close(this.handle);
  }
}
