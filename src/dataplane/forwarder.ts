// The per-batch policy: read the descriptors the shim parsed, decide a verdict for each, leave the
// rewriting and sending to the shim. Runs in the packet worker (and, ring-less, in packet tests).
//
// For every frame to a configured VIP:port the flow table is asked first; only the first packet of
// a connection reaches a scheduler (TCP: a SYN, as IPVS does; UDP: any packet). Everything else is
// left to the kernel's own copy (PASS), except ARP requests for VIPs that ringvs answers itself.
import {
  DESC_SIZE, DF_FRAGMENT, DF_VLAN_STRIPPED, FWD_DR, FWD_NONE, IPPROTO_TCP, IPPROTO_UDP, Kind, SLOT, SLOT_SIZE,
  TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, VERDICT_ARP_REPLY, VERDICT_DROP,
} from "./layout.ts";
import type { Ring } from "./ffi.ts";
import type { FlowTimeouts, Plan, PlanService } from "./plan.ts";
import { PC } from "./policy_counters.ts";
import { FlowState, FlowTable } from "../flow/flow_table.ts";
import { createScheduler, listOrder, type SchedDest, type Scheduler } from "../sched/index.ts";

/** Buckets the expiry sweep visits per batch: 1M buckets are covered every 4096 batches. */
const SWEEP_BUDGET = 256;

interface ServiceRuntime {
  spec: PlanService;
  scheduler: Scheduler;
  dests: SchedDest[];
  /** ipvsadm -p templates: masked client address -> expiry * 65536 + slot (one number, no object). */
  templates: Map<number, number> | null;
}

/** Lookup key of a service: exact for any IPv4 address, protocol (tcp/udp) and port (< 2^50). */
function serviceKey(vip: number, proto: number, port: number): number {
  return vip * 131072 + (proto === IPPROTO_UDP ? 65536 : 0) + port;
}

export class Forwarder {
  private services = new Map<number, ServiceRuntime>();
  private arpVips = new Set<number>();
  private vips = new Set<number>();
  private timeouts!: FlowTimeouts;
  /** 1 where a slot can take new connections (has a MAC). */
  private readonly slotUp: Uint8Array;
  readonly flows: FlowTable;
  private readonly pc: Float64Array;

  constructor(private readonly ring: Ring, flowTableSize: number, counters: SharedArrayBuffer, plan: Plan) {
    this.slotUp = new Uint8Array(ring.slotCapacity);
    this.flows = new FlowTable(flowTableSize);
    this.pc = new Float64Array(counters);
    this.apply(plan);
  }

  /** Install new rules. Services that stay keep their scheduler state, persistence templates and
   *  flows; slots are (re)written here, between batches, so the shim never sees a half-written MAC. */
  apply(plan: Plan): void {
    const ring = this.ring;
    const next = new Map<number, ServiceRuntime>();
    const live = new Set<number>();
    for (const spec of plan.services) {
      const key = serviceKey(spec.vip, spec.proto, spec.port);
      const old = this.services.get(key);
      const scheduler = old && old.spec.scheduler === spec.scheduler ? old.scheduler : createScheduler(spec.scheduler);
      const dests: SchedDest[] = listOrder(spec.dests).map((d) => ({
        slot: d.slot, weight: d.weight, available: d.mac !== null, activeConns: 0, inactiveConns: 0,
      }));
      scheduler.setDestinations(dests);
      const templates = spec.persistence ? (old?.templates ?? new Map<number, number>()) : null;
      next.set(key, { spec, scheduler, dests, templates });
      for (const d of spec.dests) {
        live.add(d.slot);
        const o = d.slot * SLOT_SIZE;
        if (d.mac) {
          ring.slots8.set(d.mac, o + SLOT.dmac);
          ring.slots32[(o + SLOT.rip) >>> 2] = d.rip;
          ring.slots8[o + SLOT.method] = FWD_DR;
          this.slotUp[d.slot] = 1;
        } else {
          ring.slots8[o + SLOT.method] = FWD_NONE;
          this.slotUp[d.slot] = 0;
        }
      }
    }
    // Slots no longer referenced stop forwarding; flows still bound to them are dropped and counted
    // by the shim (verdict_bad) until they expire.
    for (let s = 0; s < this.slotUp.length; s++) {
      if (!live.has(s) && this.slotUp[s]) {
        this.slotUp[s] = 0;
        ring.slots8[s * SLOT_SIZE + SLOT.method] = FWD_NONE;
      }
    }
    this.services = next;
    this.vips = new Set(plan.services.map((s) => s.vip));
    this.arpVips = new Set(plan.arpVips);
    this.timeouts = plan.timeouts;
  }

  /** Decide verdicts for descriptors [0, n). `now` is whole seconds on a monotonic clock. */
  process(n: number, now: number): void {
    const d8 = this.ring.desc8, d16 = this.ring.desc16, d32 = this.ring.desc32;
    const verdicts = this.ring.verdicts;
    const pc = this.pc;
    const flows = this.flows;
    const t = this.timeouts;
    for (let i = 0; i < n; i++) {
      const o8 = i * DESC_SIZE, o16 = o8 >>> 1, o32 = o8 >>> 2;
      const kind = d8[o8 + 14]!;
      if (kind === Kind.Ipv4) {
        const proto = d8[o8 + 12]!;
        const daddr = d32[o32 + 1]!;
        // Later fragments carry no ports (the parser leaves them 0), so no VIP:port lookup can
        // match them: decide on the address alone, before the lookup.
        if (d8[o8 + 15]! & DF_FRAGMENT && (proto === IPPROTO_TCP || proto === IPPROTO_UDP) && this.vips.has(daddr)) {
          pc[PC.fragmentsDropped]!++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        // A frame whose 802.1Q tag the kernel stripped into ring metadata belongs to a VLAN on top
        // of this interface, not to its untagged network where the services live; forwarding it
        // would send it untagged. Bind ringvs to the VLAN interface (eth0.100) to serve there.
        const svc = (proto === IPPROTO_TCP || proto === IPPROTO_UDP) && !(d8[o8 + 15]! & DF_VLAN_STRIPPED)
          ? this.services.get(serviceKey(daddr, proto, d16[o16 + 5]!))
          : undefined;
        if (svc === undefined) {
          if (this.vips.has(d32[o32]!)) pc[PC.replyFramesSeen]!++;
          continue; // PASS: the shim preset every verdict to it
        }
        pc[PC.vipPackets]!++;
        const saddr = d32[o32]!;
        const ports = d32[o32 + 2]!; // sport and dport as one word: only compared, never split
        const hash = d32[o32 + 7]!;
        const tcpFlags = d8[o8 + 13]!;
        const isTcp = proto === IPPROTO_TCP;
        const b = flows.find(hash, saddr, daddr, ports, proto);
        const isNewSyn = isTcp && (tcpFlags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) === TCP_SYN;
        if (b >= 0 && flows.expires(b) > now && !(isNewSyn && flows.state(b) === FlowState.Closing)) {
          if (isTcp) this.touchTcp(b, tcpFlags, now, t);
          else flows.update(b, FlowState.Open, now + t.udp);
          verdicts[i] = flows.slot(b);
          continue;
        }
        if (isTcp && !isNewSyn) {
          pc[PC.tcpNoFlowDropped]!++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        if (isTcp && b < 0 && !flows.hasRoom()) {
          // A connection we could not remember would break at its second packet: refuse the SYN
          // (the client retries) rather than open it. Counted with the table's other refusals.
          flows.full++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        const slot = this.schedule(svc, saddr, daddr, d16[o16 + 4]!, d16[o16 + 5]!, now);
        if (slot < 0) {
          pc[PC.noDestDropped]!++;
          verdicts[i] = VERDICT_DROP;
          continue;
        }
        const expires = now + (isTcp ? t.tcpSyn : t.udp);
        if (b >= 0) flows.reassign(b, slot, expires);
        else flows.insert(hash, saddr, daddr, ports, proto, slot, expires);
        pc[PC.newFlows]!++;
        verdicts[i] = slot;
      } else if (kind === Kind.ArpRequest) {
        if (this.arpVips.has(d32[o32 + 1]!)) {
          verdicts[i] = VERDICT_ARP_REPLY;
          pc[PC.arpAnswered]!++;
        }
      }
    }
    pc[PC.batches]!++;
  }

  /** Between batches: reclaim expired flows and publish the table's gauges. */
  housekeeping(now: number): void {
    this.flows.sweep(now, SWEEP_BUDGET);
    this.pc[PC.flowsActive] = this.flows.size;
    this.pc[PC.flowTableFull] = this.flows.full;
    this.pc[PC.flowsExpired] = this.flows.expired;
  }

  /** Drop expired persistence templates; cheap enough to run about once a second. */
  expireTemplates(now: number): void {
    for (const svc of this.services.values()) {
      if (!svc.templates) continue;
      for (const [k, v] of svc.templates) if (Math.floor(v / 65536) <= now) svc.templates.delete(k);
    }
  }

  /** IPVS's client-side view of TCP: SYN -> SYN_RECV, ACK -> ESTABLISHED, FIN -> FIN_WAIT,
   *  RST -> CLOSE. Once closing, a flow stays closing until a new SYN replaces it. */
  private touchTcp(b: number, flags: number, now: number, t: FlowTimeouts): void {
    const flows = this.flows;
    if (flags & TCP_RST) flows.update(b, FlowState.Closing, now + t.tcpClose);
    else if (flags & TCP_FIN || flows.state(b) === FlowState.Closing) flows.update(b, FlowState.Closing, now + t.tcpFin);
    else if (flags & TCP_ACK) flows.update(b, FlowState.Open, now + t.tcp);
    else flows.update(b, FlowState.Open, now + t.tcpSyn);
  }

  private schedule(svc: ServiceRuntime, saddr: number, daddr: number, sport: number, dport: number, now: number): number {
    const p = svc.spec.persistence;
    const templates = svc.templates;
    let clientKey = 0;
    if (p && templates) {
      clientKey = (saddr & p.mask) >>> 0;
      const tpl = templates.get(clientKey);
      if (tpl !== undefined) {
        const slot = tpl % 65536;
        // A template keeps its server even at weight 0 (the kernel's default), but not one that
        // left the service or lost its MAC.
        if (Math.floor(tpl / 65536) > now && this.slotUp[slot] && this.inService(svc, slot)) {
          templates.set(clientKey, (now + p.timeout) * 65536 + slot);
          this.pc[PC.persistHits]!++;
          return slot;
        }
      }
    }
    const idx = svc.scheduler.schedule(saddr, daddr, sport, dport, now);
    if (idx < 0) return -1;
    const slot = svc.dests[idx]!.slot;
    if (p && templates) templates.set(clientKey, (now + p.timeout) * 65536 + slot);
    return slot;
  }

  private inService(svc: ServiceRuntime, slot: number): boolean {
    for (const d of svc.dests) if (d.slot === slot) return true;
    return false;
  }
}
