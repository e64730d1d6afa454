// The per-batch policy: read the descriptors the shim parsed, decide a verdict for each, leave the
// rewriting and sending to the shim. Runs in the packet worker (and, ring-less, in packet tests).
//
// It is IPVS's ip_vs_in() for a director that sees only client packets (DR, TUN):
// - service lookup: exact (protocol, VIP, port), then the VIP's port-0 service; a firewall-mark
//   service answers for each of its member pairs;
// - connection lookup in the flow table; a miss schedules only what IPVS schedules (TCP: a SYN
//   without RST; UDP: any packet); a SYN on a connection in TIME_WAIT or CLOSE that no template
//   controls is a new connection (conn_reuse_mode 1);
// - TCP state per packet through the kernel's INPUT-ONLY table (src/flow/tcp_state.ts), timer
//   restarted per packet with the state's timeout;
// - per real server active (ESTABLISHED) and inactive (every other state, and all UDP) connection
//   counts, the upper/lower threshold hysteresis (IP_VS_DEST_F_OVERLOAD), persistence templates.
// - ICMP errors (destination unreachable, time exceeded) quoting a packet from VIP:vport go to the
//   real server of that connection, as ip_vs_in_icmp relays them (see icmpError below).
// Everything else is left to the kernel's own copy (PASS), except ARP requests for VIPs that ringvs
// answers itself.
import {
  DESC, DESC_SIZE, DF_FRAGMENT, DF_VLAN_STRIPPED, FWD_DR, FWD_NONE, FWD_TUN, IPPROTO_TCP, IPPROTO_UDP, Kind, SLOT,
  SLOT_SIZE, TCP_RST, TCP_SYN, VERDICT_ARP_REPLY, VERDICT_DROP, VERDICT_PASS,
} from "./layout.ts";
import type { Ring } from "./ffi.ts";
import type { Plan, PlanChange, PlanDest, PlanMatch, PlanService } from "./plan.ts";
import { DEST_BOUND, DEST_COUNTER_STRIDE, DEST_SCHEDULED, DEST_TEMPLATES, PC } from "./policy_counters.ts";
import { FlowTable } from "../flow/flow_table.ts";
import { nextTcpState, reusableForNewSyn, TcpState, tcpTimeouts } from "../flow/tcp_state.ts";
import { TemplateTable } from "../flow/templates.ts";
import { ServiceMatchTable } from "./service_match_table.ts";
import { createScheduler, listOrder, type SchedDest, type Scheduler } from "../sched/index.ts";

// Descriptor fields as indexes into the batch's three views (struct rv_desc offsets from layout.ts
// divided by the element size), so a change of the struct fails the layout test instead of being
// misread here. sport and dport are also read as one 32-bit word (the flow key's ports).
const D8_PROTO = DESC.proto, D8_TCP_FLAGS = DESC.tcpFlags, D8_KIND = DESC.kind, D8_FLAGS = DESC.flags;
const D16_SPORT = DESC.sport >>> 1, D16_DPORT = DESC.dport >>> 1;
const D32_SADDR = DESC.saddr >>> 2, D32_DADDR = DESC.daddr >>> 2, D32_PORTS = DESC.sport >>> 2, D32_HASH = DESC.hash >>> 2;
if (DESC.dport !== DESC.sport + 2 || DESC.sport % 4 !== 0) throw new Error("rv_desc: sport and dport must form one aligned 32-bit word");

/** Flow-table buckets per page of a connection listing: at most this many rows in hand at once. */
export const CONNECTION_PAGE_BUCKETS = 16384;

/** Buckets the expiry sweep visits per batch under load (1M buckets every 4096 batches), and per
 *  idle turn of the loop (every poll timeout, 10 ms: 1M buckets in about 0.6 s). Connection counts
 *  and templates depend on expired connections leaving, so idle time is spent catching up. */
const SWEEP_BUDGET = 256;
const IDLE_SWEEP_BUDGET = 16384;

interface ServiceRuntime {
  spec: PlanService;
  scheduler: Scheduler;
  /** Kernel list order (newest first); the scheduler holds the same array. */
  dests: SchedDest[];
}

/** Lookup key of a service match: exact for any IPv4 address, protocol (tcp/udp) and port (< 2^50). */
function matchKey(vip: number, proto: number, port: number): number {
  return vip * 131072 + ServiceMatchTable.protoPort(proto, port);
}

function sameMatchList(a: readonly PlanMatch[], b: readonly PlanMatch[]): boolean {
  return a.length === b.length && a.every((m, i) => m.proto === b[i]!.proto && m.vip === b[i]!.vip && m.port === b[i]!.port);
}

/** Publish a real server's forwarding data to the shim (between batches only). */
function writeSlot(ring: Ring, d: PlanDest): void {
  const o = d.slot * SLOT_SIZE;
  const tun = d.forward === "tun" ? d.tunnel : null;
  if (!d.mac || (d.forward === "tun" && !tun)) {
    ring.slots8[o + SLOT.method] = FWD_NONE;
    return;
  }
  ring.slots8.set(d.mac, o + SLOT.dmac);
  ring.slots32[(o + SLOT.rip) >>> 2] = d.rip;
  if (tun) {
    ring.slots8.set(tun.smac, o + SLOT.smac);
    ring.slots16[(o + SLOT.mtu) >>> 1] = tun.mtu;
    ring.slots32[(o + SLOT.saddr) >>> 2] = tun.saddr;
    ring.slots8[o + SLOT.txIf] = tun.txIf;
  } else {
    ring.slots8.set(d.egress ? d.egress.smac : ring.mac, o + SLOT.smac);
    ring.slots8[o + SLOT.txIf] = d.egress ? d.egress.txIf : 0;
  }
  ring.slots8[o + SLOT.method] = tun ? FWD_TUN : FWD_DR;
}

/** Flow-table eviction never takes an established TCP connection (word 3 = state << 8 | proto). */
function establishedTcp(stateProto: number): boolean {
  return stateProto === ((TcpState.Established << 8) | IPPROTO_TCP);
}

export class Forwarder {
  /** Each service's runtime by plan id, and the runtime each match key resolves to. */
  private readonly runtimes = new Map<number, ServiceRuntime>();
  private readonly services = new Map<number, ServiceRuntime>();
  /** The same matches for the packet path: matchTable values index matchedServices. */
  private matchTable = new ServiceMatchTable(0);
  private matchedServices: ServiceRuntime[] = [];
  /** Each service's index in matchedServices, by plan id. */
  private matchedIndex = new Map<number, number>();
  private arpVips = new Set<number>();
  private vips = new Set<number>();
  private tcpTimeout: Uint32Array = new Uint32Array(11);
  private udpTimeout = 300;
  /** Per slot: its dest object, service and index in the service's list. */
  private slotDest: (SchedDest | null)[];
  private slotSvc: (ServiceRuntime | null)[];
  private readonly slotIdx: Int32Array;
  private readonly slotUsable: Uint8Array;
  private readonly slotOverloaded: Uint8Array;
  private readonly slotUpper: Uint32Array;
  private readonly slotLower: Uint32Array;
  readonly flows: FlowTable;
  readonly templates: TemplateTable;
  private readonly pc: Float64Array;
  private readonly dc: Uint32Array;

  constructor(
    private readonly ring: Ring,
    flowTableSize: number,
    counters: SharedArrayBuffer,
    plan: Plan,
    destCounters: SharedArrayBuffer = new SharedArrayBuffer(ring.slotCapacity * DEST_COUNTER_STRIDE * 4),
  ) {
    const n = ring.slotCapacity;
    this.slotDest = new Array(n).fill(null);
    this.slotSvc = new Array(n).fill(null);
    this.slotIdx = new Int32Array(n);
    this.slotUsable = new Uint8Array(n);
    this.slotOverloaded = new Uint8Array(n);
    this.slotUpper = new Uint32Array(n);
    this.slotLower = new Uint32Array(n);
    this.pc = new Float64Array(counters);
    this.dc = new Uint32Array(destCounters);
    this.flows = new FlowTable(flowTableSize, (slot, state, tpl) => this.connGone(slot, state, tpl), establishedTcp);
    this.templates = new TemplateTable(flowTableSize, (slot, delta) => (this.dc[slot * DEST_COUNTER_STRIDE + DEST_TEMPLATES]! += delta));
    this.apply(plan);
  }

  /** Install new rules (the whole plan): what is not in it leaves, everything in it is installed
   *  as by applyChange. */
  apply(plan: Plan): void {
    const keep = new Set(plan.services.map((spec) => spec.id));
    const removed = [...this.runtimes.keys()].filter((id) => !keep.has(id));
    this.applyChange({ upserts: plan.services, removed, arpVips: plan.arpVips, timeouts: plan.timeouts });
  }

  /** Install a change of the rules: services removed, services new or changed (by id). Services
   *  that stay keep their scheduler state, templates, flows and connection counts, and a service
   *  the change does not name is not touched at all: with 100,000 real servers a change of one
   *  rebuilt every runtime and walked every slot. Slots are (re)written here, between batches,
   *  so the shim never sees a half-written MAC. */
  applyChange(change: PlanChange): void {
    // A change of real servers only (every service it names was there, with the same matches):
    // the lookup structures of the packet path keep their shape and only point at new runtimes.
    const sameMatches = change.removed.length === 0 && change.upserts.every((spec) => {
      const old = this.runtimes.get(spec.id);
      return old !== undefined && sameMatchList(old.spec.matches, spec.matches);
    });
    for (const id of change.removed) {
      const old = this.runtimes.get(id);
      if (!old) continue;
      this.retire(old, null);
      this.runtimes.delete(id);
    }
    for (const spec of change.upserts) this.install(spec);
    if (change.arpVips) this.arpVips = new Set(change.arpVips);
    this.tcpTimeout = tcpTimeouts(change.timeouts);
    this.udpTimeout = change.timeouts.udp;
    if (sameMatches) {
      for (const spec of change.upserts) {
        const index = this.matchedIndex.get(spec.id);
        if (index !== undefined) this.matchedServices[index] = this.runtimes.get(spec.id)!;
      }
      return;
    }
    // Otherwise they are rebuilt whole: one entry per match (each match resolves to the service
    // that claimed it last).
    const matched: ServiceRuntime[] = [];
    const indexOf = new Map<ServiceRuntime, number>();
    const table = new ServiceMatchTable(this.services.size);
    const vips = new Set<number>();
    for (const svc of this.runtimes.values()) {
      for (const m of svc.spec.matches) {
        vips.add(m.vip);
        if (this.services.get(matchKey(m.vip, m.proto, m.port)) !== svc) continue;
        let index = indexOf.get(svc);
        if (index === undefined) {
          index = matched.push(svc) - 1;
          indexOf.set(svc, index);
        }
        table.set(m.vip, ServiceMatchTable.protoPort(m.proto, m.port), index);
      }
    }
    this.matchTable = table;
    this.matchedServices = matched;
    this.matchedIndex = new Map([...indexOf].map(([svc, index]) => [svc.spec.id, index]));
    this.vips = vips;
  }

  /** Build (or rebuild) the runtime of one service from its spec. */
  private install(spec: PlanService): void {
    const ring = this.ring;
    const old = this.runtimes.get(spec.id);
    const keep = old && old.spec.scheduler === spec.scheduler &&
      JSON.stringify(old.spec.schedulerFlags) === JSON.stringify(spec.schedulerFlags);
    const scheduler = keep ? old.scheduler : createScheduler(spec.scheduler, spec.schedulerFlags);
    const dests: SchedDest[] = listOrder(spec.dests).map((d) => {
      const prev = this.slotDest[d.slot];
      if (!prev) this.clearSlotTraffic(d.slot);
      // Usable: a MAC to send to and nothing learned against it (availability, not weight).
      this.slotUsable[d.slot] = d.mac !== null && d.available !== false ? 1 : 0;
      this.slotUpper[d.slot] = d.upperThreshold;
      this.slotLower[d.slot] = d.lowerThreshold;
      return {
        slot: d.slot, addr: d.rip, port: d.port, weight: d.weight,
        available: this.slotUsable[d.slot] === 1 && !this.slotOverloaded[d.slot],
        activeConns: prev?.activeConns ?? 0, inactiveConns: prev?.inactiveConns ?? 0,
      };
    });
    const svc: ServiceRuntime = { spec, scheduler, dests };
    if (old) this.retire(old, new Set(spec.dests.map((d) => d.slot)));
    dests.forEach((d, i) => {
      this.slotDest[d.slot] = d;
      this.slotSvc[d.slot] = svc;
      this.slotIdx[d.slot] = i;
    });
    scheduler.setDestinations(dests);
    for (const m of spec.matches) this.services.set(matchKey(m.vip, m.proto, m.port), svc);
    for (const d of spec.dests) {
      writeSlot(ring, d);
      // A server that cannot take new connections keeps no client by persistence either.
      if (!this.slotUsable[d.slot]) this.templates.dropSlot(d.slot);
    }
    this.runtimes.set(spec.id, svc);
  }

  /** `old` leaves (replaced by a new runtime that keeps the slots in `kept`, or, with null, for
   *  good): its other slots stop forwarding (flows still bound are dropped by the shim and counted
   *  as verdict_bad until they expire) and forget their clients' templates, and its matches go. A
   *  slot that another service holds by now is not touched. */
  private retire(old: ServiceRuntime, kept: ReadonlySet<number> | null): void {
    const ring = this.ring;
    for (const d of old.dests) {
      if (kept?.has(d.slot) || this.slotSvc[d.slot] !== old) continue;
      this.slotDest[d.slot] = null;
      this.slotSvc[d.slot] = null;
      ring.slots8[d.slot * SLOT_SIZE + SLOT.method] = FWD_NONE;
      this.slotUsable[d.slot] = 0;
      this.templates.dropSlot(d.slot);
    }
    for (const m of old.spec.matches) {
      const key = matchKey(m.vip, m.proto, m.port);
      if (this.services.get(key) === old) this.services.delete(key);
    }
  }

  /** A slot (re)entering the plan starts its traffic counters from zero: it may have been another
   *  real server's until that one left and nothing held the slot any more (slot_allocator.ts). */
  private clearSlotTraffic(slot: number): void {
    const o = slot * SLOT_SIZE;
    // Each u64 as two u32 halves: BigInt stores cost a start-up of 100,000 new slots 57 ms.
    const s32 = this.ring.slots32;
    s32[(o + SLOT.packets) >>> 2] = 0;
    s32[((o + SLOT.packets) >>> 2) + 1] = 0;
    s32[(o + SLOT.bytes) >>> 2] = 0;
    s32[((o + SLOT.bytes) >>> 2) + 1] = 0;
    this.dc[slot * DEST_COUNTER_STRIDE + DEST_SCHEDULED] = 0;
  }

  /** Decide verdicts for descriptors [0, n). `now` is whole seconds on a monotonic clock. */
  process(n: number, now: number): void {
    const d8 = this.ring.desc8, d16 = this.ring.desc16, d32 = this.ring.desc32;
    const verdicts = this.ring.verdicts;
    const pc = this.pc;
    const flows = this.flows;
    // Every packet's home bucket first, in one tight loop: in a table larger than the caches
    // (the default is 32 MiB) each lookup is a cache and TLB miss, and a loop of independent loads
    // lets the CPU have many of them in flight at once instead of stalling on each in turn.
    let warm = 0;
    for (let i = 0; i < n; i++) warm |= flows.touch(d32[(i * DESC_SIZE >>> 2) + D32_HASH]!);
    this.warmSink = warm;
    for (let i = 0; i < n; i++) {
      const o8 = i * DESC_SIZE, o16 = o8 >>> 1, o32 = o8 >>> 2;
      const kind = d8[o8 + D8_KIND]!;
      if (kind === Kind.Ipv4) {
        const proto = d8[o8 + D8_PROTO]!;
        const daddr = d32[o32 + D32_DADDR]!;
        const l4 = proto === IPPROTO_TCP || proto === IPPROTO_UDP;
        // Later fragments carry no ports (the parser leaves them 0), so no VIP:port lookup can
        // match them: decide on the address alone, before the lookup.
        if (d8[o8 + D8_FLAGS]! & DF_FRAGMENT && l4 && this.vips.has(daddr)) {
          pc[PC.fragmentsDropped]!++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        // A frame whose 802.1Q tag the kernel stripped into ring metadata belongs to a VLAN on top
        // of this interface, not to its untagged network where the services live; forwarding it
        // would send it untagged. Bind ringvs to the VLAN interface (eth0.100) to serve there.
        let svc: ServiceRuntime | undefined;
        if (l4 && !(d8[o8 + D8_FLAGS]! & DF_VLAN_STRIPPED)) {
          const protoPort = ServiceMatchTable.protoPort(proto, d16[o16 + D16_DPORT]!);
          let s = this.matchTable.get(daddr, protoPort);
          if (s < 0) s = this.matchTable.get(daddr, protoPort & 65536); // the VIP's port-0 service
          if (s >= 0) svc = this.matchedServices[s];
        }
        if (svc === undefined) {
          if (this.vips.has(d32[o32 + D32_SADDR]!)) pc[PC.replyFramesSeen]!++;
          continue; // PASS: the shim preset every verdict to it
        }
        pc[PC.vipPackets]!++;
        const saddr = d32[o32 + D32_SADDR]!;
        const ports = d32[o32 + D32_PORTS]!; // sport and dport as one word (little-endian: sport low): compared, not split
        const hash = d32[o32 + D32_HASH]!;
        const flags = d8[o8 + D8_TCP_FLAGS]!;
        const isTcp = proto === IPPROTO_TCP;
        const syn = isTcp && (flags & (TCP_SYN | TCP_RST)) === TCP_SYN;
        const b = flows.find(hash, saddr, daddr, ports, proto);
        if (b >= 0 && flows.expires(b) > now &&
            !(syn && reusableForNewSyn(flows.state(b)) && flows.tpl(b) === 0)) {
          const slot = flows.slot(b);
          if (isTcp) {
            const old = flows.state(b);
            const st = nextTcpState(old, flags);
            if (st !== old) this.tcpTransition(slot, old, st);
            flows.update(b, st, now + this.tcpTimeout[st]!);
          } else {
            flows.update(b, 0, now + this.udpTimeout);
          }
          verdicts[i] = slot;
          continue;
        }
        if (isTcp && !syn) {
          pc[PC.tcpNoFlowDropped]!++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        if (b < 0 && !flows.hasRoomFor(hash)) {
          // A connection we could not remember would break at its second packet (TCP) or move
          // between servers (UDP): refuse it (the client retries) rather than open it.
          flows.full++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        const slot = this.schedule(svc, saddr, daddr, d16[o16 + D16_SPORT]!, d16[o16 + D16_DPORT]!, now);
        if (slot < 0) {
          pc[PC.noDestDropped]!++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        const tpl = this.pendingTemplate;
        this.pendingTemplate = 0;
        // New connections start inactive (IPVS binds them with IP_VS_CONN_F_INACTIVE); a SYN then
        // takes NONE to SYN_RECV, still inactive.
        const st = isTcp ? nextTcpState(TcpState.None, flags) : 0;
        const expires = now + (isTcp ? this.tcpTimeout[st]! : this.udpTimeout);
        this.connNew(slot);
        if (b >= 0) flows.reassign(b, slot, expires, st, tpl);
        else flows.insert(hash, saddr, daddr, ports, proto, slot, expires, st, tpl);
        pc[PC.newFlows]!++;
        verdicts[i] = slot;
      } else if (kind === Kind.IcmpError) {
        verdicts[i] = this.icmpError(o8, now);
      } else if (kind === Kind.IcmpMalformed) {
        // Not to be trusted, so never forwarded; counted when it was sent to a VIP, that is when
        // it would have been about one of ours. The kernel's copy is left alone either way.
        if (this.vips.has(d32[o32 + D32_DADDR]!)) {
          pc[PC.icmpErrorsMalformed]!++;
          verdicts[i] = VERDICT_DROP;
        }
      } else if (kind === Kind.ArpRequest) {
        if (this.arpVips.has(d32[o32 + D32_DADDR]!)) {
          verdicts[i] = VERDICT_ARP_REPLY;
          pc[PC.arpAnswered]!++;
        }
      }
    }
    pc[PC.batches]!++;
  }

  /** The verdict for an ICMP error whose descriptor holds the quoted connection's tuple (client,
   *  VIP, client port, virtual port, protocol; native/icmp.c). Only the connection's real server
   *  can act on it (lower its path MTU toward the client, give up the connection), so it goes
   *  there unchanged, as ip_vs_in_icmp relays it. It is no packet of the connection: no
   *  scheduling (IPVS's schedule_icmp is off by default), no TCP state change, no timer restart
   *  (a stream of errors, or forged ones, must not keep a dead connection alive).
   *  - no service for (proto, VIP, vport): about traffic that is not ours (the director's own
   *    sockets on the VIP or elsewhere): PASS, untouched;
   *  - a service but no live connection: DROP, counted. IPVS returns NF_ACCEPT here; ringvs's
   *    kernel gets its own copy of every ICMP frame anyway (the nft guard covers TCP/UDP only),
   *    so the verdict only keeps the frame from being sent on and counts it as ours. */
  private icmpError(o8: number, now: number): number {
    const d8 = this.ring.desc8, d16 = this.ring.desc16, d32 = this.ring.desc32;
    const o16 = o8 >>> 1, o32 = o8 >>> 2;
    // Another VLAN's frame, as for packets (see process()).
    if (d8[o8 + D8_FLAGS]! & DF_VLAN_STRIPPED) return VERDICT_PASS;
    const proto = d8[o8 + D8_PROTO]!;
    const daddr = d32[o32 + D32_DADDR]!;
    const protoPort = ServiceMatchTable.protoPort(proto, d16[o16 + D16_DPORT]!);
    let s = this.matchTable.get(daddr, protoPort);
    if (s < 0) s = this.matchTable.get(daddr, protoPort & 65536); // the VIP's port-0 service
    if (s < 0) return VERDICT_PASS;
    const b = this.flows.find(d32[o32 + D32_HASH]!, d32[o32 + D32_SADDR]!, daddr, d32[o32 + D32_PORTS]!, proto);
    if (b >= 0 && this.flows.expires(b) > now) {
      this.pc[PC.icmpErrorsForwarded]!++;
      return this.flows.slot(b);
    }
    this.pc[PC.icmpErrorsNoConn]!++;
    return VERDICT_DROP;
  }

  /** Between batches (idle: after a poll that brought nothing): reclaim expired flows and publish
   *  the tables' gauges. */
  housekeeping(now: number, idle = false): void {
    this.flows.sweep(now, idle ? IDLE_SWEEP_BUDGET : SWEEP_BUDGET);
    const pc = this.pc;
    pc[PC.flowsActive] = this.flows.size;
    pc[PC.flowTableFull] = this.flows.full;
    pc[PC.flowsExpired] = this.flows.expired;
    pc[PC.flowsEvicted] = this.flows.evicted;
    pc[PC.templatesActive] = this.templates.size;
    pc[PC.templatesFull] = this.templates.full;
  }

  /** Live connections for listings (ipvsadm -c) in flow-table buckets [from, from + buckets):
   *  rows [proto, saddr, sport, daddr, dport, state, seconds left, slot], and where the next page
   *  starts (-1: done). Walks the table: a control-path call, not per packet. */
  connectionPage(now: number, from: number, buckets: number): { rows: number[][]; next: number } {
    const rows: number[][] = [];
    const next = this.flows.forEachIn(from, from + buckets, (saddr, daddr, ports, stateProto, slot, expires) => {
      if (expires <= now) return;
      // ports is the descriptor's (sport, dport) pair read as one little-endian word.
      rows.push([stateProto & 0xff, saddr, ports & 0xffff, daddr, ports >>> 16, stateProto >>> 8, expires - now, slot]);
    });
    return { rows, next };
  }

  /** Expire persistence templates; about once a second is enough (their timeouts are seconds). */
  expireTemplates(now: number): void {
    this.templates.expire(now);
  }

  /** Keeps the warming loads of process() observable, so the JIT cannot drop them. */
  private warmSink = 0;

  /** Reference word of the template that placed the connection being scheduled (0: none). */
  private pendingTemplate = 0;

  private schedule(svc: ServiceRuntime, saddr: number, daddr: number, sport: number, dport: number, now: number): number {
    const p = svc.spec.persistence;
    if (p === null) {
      const idx = svc.scheduler.schedule(saddr, daddr, sport, dport, now);
      return idx < 0 ? -1 : svc.dests[idx]!.slot;
    }
    const key = TemplateTable.key((saddr & p.mask) >>> 0, svc.spec.id);
    const t = this.templates;
    let id = t.find(key, now);
    // A template keeps its server even at weight 0 (the kernel's default), but not one that left
    // the service, has no MAC or is unavailable.
    if (id >= 0 && this.slotSvc[t.slot[id]!] === svc && this.slotUsable[t.slot[id]!]) {
      this.pc[PC.persistHits]!++;
    } else {
      const idx = svc.scheduler.schedule(saddr, daddr, sport, dport, now);
      if (idx < 0) return -1;
      id = t.bind(key, svc.dests[idx]!.slot, p.timeout, now);
      if (id < 0) return svc.dests[idx]!.slot;
    }
    this.pendingTemplate = t.use(id, now);
    return t.slot[id]!;
  }

  /** A connection was bound to `slot` (inactive, as IPVS binds new connections). */
  private connNew(slot: number): void {
    this.dc[slot * DEST_COUNTER_STRIDE + DEST_BOUND]!++;
    const d = this.slotDest[slot];
    if (!d) return;
    d.inactiveConns++;
    this.dc[slot * DEST_COUNTER_STRIDE + 1] = d.inactiveConns;
    this.dc[slot * DEST_COUNTER_STRIDE + DEST_SCHEDULED]!++;
    const up = this.slotUpper[slot]!;
    if (up !== 0 && d.activeConns + d.inactiveConns >= up) this.slotOverloaded[slot] = 1;
    this.destChanged(slot, d);
  }

  /** A connection left the table (expired, evicted, replaced): unbind it as ip_vs_unbind_dest. */
  private connGone(slot: number, state: number, tpl: number): void {
    if (tpl !== 0) this.templates.release(tpl);
    const bound = slot * DEST_COUNTER_STRIDE + DEST_BOUND;
    if (this.dc[bound]! > 0) this.dc[bound]!--;
    const d = this.slotDest[slot];
    if (!d) return;
    // UDP flows keep state 0, so only a TCP connection can be in ESTABLISHED (1).
    if (state === TcpState.Established) d.activeConns--;
    else d.inactiveConns--;
    if (d.activeConns < 0) d.activeConns = 0;
    if (d.inactiveConns < 0) d.inactiveConns = 0;
    const o = slot * DEST_COUNTER_STRIDE;
    this.dc[o] = d.activeConns;
    this.dc[o + 1] = d.inactiveConns;
    if (this.slotOverloaded[slot]) {
      const total = d.activeConns + d.inactiveConns;
      const up = this.slotUpper[slot]!, low = this.slotLower[slot]!;
      const clear = low !== 0 ? total < low : up !== 0 ? total * 4 < up * 3 : true;
      if (clear) this.slotOverloaded[slot] = 0;
    }
    this.destChanged(slot, d);
  }

  /** Moving into or out of ESTABLISHED moves the connection between active and inactive. */
  private tcpTransition(slot: number, from: number, to: number): void {
    const d = this.slotDest[slot];
    if (!d) return;
    if (to === TcpState.Established && from !== TcpState.Established) {
      d.activeConns++;
      d.inactiveConns--;
    } else if (from === TcpState.Established && to !== TcpState.Established) {
      d.activeConns--;
      d.inactiveConns++;
    } else {
      return;
    }
    const o = slot * DEST_COUNTER_STRIDE;
    this.dc[o] = d.activeConns;
    this.dc[o + 1] = d.inactiveConns;
    this.destChanged(slot, d);
  }

  private destChanged(slot: number, d: SchedDest): void {
    d.available = this.slotUsable[slot] === 1 && this.slotOverloaded[slot] === 0;
    const svc = this.slotSvc[slot];
    svc?.scheduler.destChanged?.(this.slotIdx[slot]!);
  }
}
