// Packet tests as tables (STYLE.md habit 5): each row is a description, the rules, the frames
// that arrive (batch by batch, with the clock), the verdict of every frame and the EXACT frames
// that leave. They run the real C parser and verdict code on a simulation handle (no ring, no
// privileges) and the real TypeScript policy (Forwarder); the lab tests prove the wire path.
//
// Besides what a row names, every row checks that the counters it does not name stay at zero and
// that the shim's own counters agree with the verdicts (each DROP, PASS, ARP reply and forward
// counted once, each forward counted on its slot), so a row cannot pass by accident.

import { describe, expect, test } from "bun:test";
import { Ring, type RingParams } from "../../src/dataplane/ffi.ts";
import { Forwarder } from "../../src/dataplane/forwarder.ts";
import {
  type Counters, DESC, DESC_SIZE, DF_VLAN_STRIPPED, Kind, SLOT, SLOT_SIZE, VERDICT_ARP_REPLY, VERDICT_DROP, VERDICT_MIN_SPECIAL, VERDICT_PASS, LARGE_FRAMES_PER_BATCH,
} from "../../src/dataplane/layout.ts";
import { DEFAULT_TIMEOUTS, type Plan, type PlanDest, type PlanService } from "../../src/dataplane/plan.ts";
import { DEFAULT_SCHEDULER_FLAGS } from "../../src/sched/scheduler.ts";
import {
  newPolicyCounterBuffer, type PolicyCounters, readPolicyCounters,
} from "../../src/dataplane/policy_counters.ts";
import {
  ACK, arp, type EthOpts, ethernet, ETH_P_IP, FIN, hex, icmp, ip, ipChecksumOk, ipv4, type Ipv4Opts,
  l4ChecksumOk, mac, PSH, quote, RST, SYN, tcp, type TcpOpts, udp, type UdpOpts, unhex, withMacs,
} from "./packet_builder.ts";

// ------------------------------------------------------------------ the network of the tests

const DIRECTOR = mac("02:00:00:00:00:01");
/** The client-side router: every frame to the VIP arrives from it. */
const ROUTER = mac("02:00:00:00:00:10");
const RS1 = mac("02:00:00:00:01:01");
const RS2 = mac("02:00:00:00:01:02");
const RS3 = mac("02:00:00:00:01:03");
const VIP = ip("198.18.0.100");
const VIP2 = ip("198.18.0.101");
const CLIENT = ip("198.18.0.2");
const OTHER_HOST = ip("198.18.0.50");

const TCP = 6;
const UDP = 17;

const PARAMS: RingParams = { version: 3, blockSize: 65536, blockCount: 4, blockTimeoutMs: 1, descCapacity: 256, slotCapacity: 16 };
const FLOW_TABLE_SIZE = 1024;
/** housekeeping() calls that cover the whole flow table once (SWEEP_BUDGET is 256 buckets). */
const FULL_SWEEP_CALLS = FLOW_TABLE_SIZE / 256;

function dest(slot: number, m: Uint8Array | null, weight = 1): PlanDest {
  return { slot, rip: ip(`10.0.0.${slot}`), port: 80, weight, forward: "dr", mac: m ? Array.from(m) : null, tunnel: null, upperThreshold: 0, lowerThreshold: 0 };
}

let nextServiceId = 0;
/** A service with one (proto, vip, port) match, VIP:80/tcp unless given. */
function service(o: Partial<PlanService> & { dests: PlanDest[]; vip?: number; proto?: number; port?: number }): PlanService {
  const { vip = VIP, proto = TCP, port = 80, ...rest } = o;
  return {
    id: nextServiceId++, matches: [{ vip, proto, port }], scheduler: "rr",
    schedulerFlags: DEFAULT_SCHEDULER_FLAGS, persistence: null, ...rest,
  };
}

function plan(services: PlanService[], arpVips: number[] = []): Plan {
  return { services, arpVips, timeouts: DEFAULT_TIMEOUTS };
}

/** One web service with real servers in slots 1, 2, 3 (added in that order: rr picks 3 first). */
const WEB3 = plan([service({ dests: [dest(1, RS1), dest(2, RS2), dest(3, RS3)] })]);
const WEB1 = plan([service({ dests: [dest(1, RS1)] })]);
const WEB_DNS = plan([
  service({ dests: [dest(1, RS1)] }),
  service({ proto: UDP, port: 53, dests: [dest(2, RS2)] }),
]);

// ------------------------------------------------------------------ frames

const IN: EthOpts = { dst: DIRECTOR, src: ROUTER };

type TcpFrame = Partial<Omit<TcpOpts, "ip">> & { ip?: Partial<Ipv4Opts> };
type UdpFrame = Partial<Omit<UdpOpts, "ip">> & { ip?: Partial<Ipv4Opts> };

/** Client -> VIP:80 TCP, from the router, overridable field by field. */
function c2v(o: TcpFrame = {}): Uint8Array {
  return tcp({ eth: IN, sport: 40000, dport: 80, flags: SYN, ...o, ip: { src: CLIENT, dst: VIP, ...o.ip } });
}
function syn(sport: number, src = CLIENT): Uint8Array {
  return c2v({ sport, ip: { src } });
}
/** `count` SYNs from CLIENT with consecutive source ports. */
function syns(count: number, from = 41000): Uint8Array[] {
  return Array.from({ length: count }, (_, k) => syn(from + k));
}
function udpToVip(o: UdpFrame = {}): Uint8Array {
  return udp({
    eth: IN, sport: 33000, dport: 53, payload: new TextEncoder().encode("query"), ...o,
    ip: { src: CLIENT, dst: VIP, df: false, ...o.ip },
  });
}
/** What a DR forward of `frame` to a real server must look like. */
function to(rs: Uint8Array, frame: Uint8Array): Uint8Array {
  return withMacs(frame, rs, DIRECTOR);
}

// ------------------------------------------------------------------ the table machinery

/** Verdict classes as rows spell them. */
type VerdictName = "PASS" | "DROP" | "ARP_REPLY" | `slot ${number}`;
const fwd = (slot: number): VerdictName => `slot ${slot}`;

function verdictName(v: number): VerdictName {
  if (v === VERDICT_PASS) return "PASS";
  if (v === VERDICT_DROP) return "DROP";
  if (v === VERDICT_ARP_REPLY) return "ARP_REPLY";
  return fwd(v);
}

interface Input {
  frame: Uint8Array;
  /** Marked as a checksum-offloading sender's frame (TP_STATUS_CSUMNOTREADY). */
  csumPartial?: boolean;
}

interface Step {
  /** The policy clock (whole seconds) for this batch and its housekeeping. */
  now?: number;
  in?: (Uint8Array | Input)[];
  verdicts?: VerdictName[];
  /** Exactly the frames that leave, in order. */
  out?: Uint8Array[];
  /** housekeeping(now) calls after the batch. */
  housekeeping?: number;
  /** Policy counters as they must be after this step. */
  policy?: Partial<PolicyCounters>;
}

interface Row {
  name: string;
  plan: Plan;
  steps: Step[];
  /** Policy counters at the end; the event counters not named here must be 0. */
  policy?: Partial<PolicyCounters>;
  /** Shim counters at the end; parsedMalformed, verdictBad and txErrors must be 0 unless named. */
  shim?: Partial<Counters>;
  /** Forwarded packets per slot at the end (from the shim's slot counters). */
  slotPackets?: Record<number, number>;
  /** Extra checks on every transmitted frame. */
  eachOut?: (frame: Uint8Array) => void;
}

const EVENT_COUNTERS = [
  "tcpNoFlowDropped", "noDestDropped", "fragmentsDropped", "replyFramesSeen", "arpAnswered",
  "flowTableFull", "persistHits", "icmpErrorsForwarded", "icmpErrorsNoConn", "icmpErrorsMalformed",
] as const;
const SHIM_ZERO_BY_DEFAULT = ["parsedMalformed", "verdictBad", "txErrors"] as const;

interface Harness {
  ring: Ring;
  fwd: Forwarder;
  counters: SharedArrayBuffer;
}

function open(p: Plan, flowTableSize = FLOW_TABLE_SIZE, params = PARAMS): Harness {
  const ring = Ring.openSim(DIRECTOR, params);
  const counters = newPolicyCounterBuffer();
  return { ring, fwd: new Forwarder(ring, flowTableSize, counters, p), counters };
}

/** One batch through parse -> policy -> apply; returns verdict names and the frames sent. */
function batch(h: Harness, inputs: (Uint8Array | Input)[], now: number): { verdicts: VerdictName[]; out: Uint8Array[] } {
  for (const x of inputs) {
    const input = x instanceof Uint8Array ? { frame: x } : x;
    h.ring.simPush(input.frame, input.csumPartial ?? false);
  }
  const n = h.ring.rx(0);
  expect(n).toBe(inputs.length);
  h.fwd.process(n, now);
  const verdicts = Array.from(h.ring.verdicts.subarray(0, n), verdictName);
  h.ring.tx();
  return { verdicts, out: h.ring.simTakeTx() };
}

function slotPackets(ring: Ring, slot: number): number {
  return Number(ring.slots64[(slot * SLOT_SIZE + SLOT.packets) / 8]);
}

function runRow(row: Row): void {
  const h = open(row.plan);
  try {
    const seen = { PASS: 0, DROP: 0, ARP_REPLY: 0, forwarded: 0 };
    const perSlot = new Map<number, number>();
    for (const step of row.steps) {
      const now = step.now ?? 0;
      if (step.in) {
        const { verdicts, out } = batch(h, step.in, now);
        if (step.verdicts) expect(verdicts).toEqual(step.verdicts);
        expect(out.map(hex)).toEqual((step.out ?? []).map(hex));
        for (const f of out) row.eachOut?.(f);
        for (const v of verdicts) {
          if (v === "PASS" || v === "DROP" || v === "ARP_REPLY") seen[v]++;
          else {
            seen.forwarded++;
            const s = Number(v.slice(5));
            perSlot.set(s, (perSlot.get(s) ?? 0) + 1);
          }
        }
      }
      for (let i = 0; i < (step.housekeeping ?? 0); i++) h.fwd.housekeeping(now);
      if (step.policy) expect(pick(readPolicyCounters(h.counters), Object.keys(step.policy))).toEqual(step.policy);
    }

    const pc = readPolicyCounters(h.counters);
    const wantPc: Record<string, number> = Object.fromEntries(EVENT_COUNTERS.map((k) => [k, 0]));
    Object.assign(wantPc, row.policy);
    expect(pick(pc, Object.keys(wantPc))).toEqual(wantPc);

    const c = h.ring.counters();
    const wantShim: Record<string, number> = Object.fromEntries(SHIM_ZERO_BY_DEFAULT.map((k) => [k, 0]));
    Object.assign(wantShim, {
      verdictPass: seen.PASS, verdictDrop: seen.DROP, txArpReplies: seen.ARP_REPLY,
      txFrames: seen.ARP_REPLY + seen.forwarded,
    }, row.shim);
    expect(pick(c, Object.keys(wantShim))).toEqual(wantShim);

    for (const [slot, n] of perSlot) expect({ slot, packets: slotPackets(h.ring, slot) }).toEqual({ slot, packets: n });
    if (row.slotPackets) {
      const got = Object.fromEntries(Object.keys(row.slotPackets).map((s) => [s, slotPackets(h.ring, +s)]));
      expect(got).toEqual(row.slotPackets);
    }
  } finally {
    h.ring.close();
  }
}

function pick<T extends object>(o: T, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, (o as unknown as Record<string, number>)[k]!]));
}

function runTable(title: string, rows: Row[]): void {
  describe(title, () => {
    for (const row of rows) test(row.name, () => runRow(row));
  });
}

// ------------------------------------------------------------------ the builder itself

describe("packet builder", () => {
  test("a SYN matches a hand-checked capture byte for byte", () => {
    // 198.18.0.2:40000 -> 198.18.0.100:80 SYN, id 0x1234, DF, TTL 64, seq 1000, win 64240.
    // Checksums computed independently (Python, RFC 1071): IPv4 0x9c11, TCP 0x87ee.
    expect(hex(syn(40000))).toBe(hex(unhex(`
      02 00 00 00 00 01  02 00 00 00 00 10  08 00
      45 00 00 28 12 34 40 00 40 06 9c 11 c6 12 00 02 c6 12 00 64
      9c 40 00 50 00 00 03 e8 00 00 00 00 50 02 fa f0 87 ee 00 00`)));
    expect(ipChecksumOk(syn(40000))).toBe(true);
    expect(l4ChecksumOk(syn(40000))).toBe(true);
  });

  test("a partial checksum holds only the folded pseudo-header sum", () => {
    // c612 + 0002 + c612 + 0064 + 0006 + 0014 = 0x18ca4 -> folded 0x8ca5
    const f = c2v({ csum: "partial" });
    expect(hex(f.subarray(50, 52))).toBe("8c a5");
    expect(l4ChecksumOk(f)).toBe(false);
    expect(ipChecksumOk(f)).toBe(true);
  });

  test("the verifiers catch a single flipped bit anywhere in the covered bytes", () => {
    const good = c2v({ payload: unhex("01 02 03"), flags: PSH | ACK, ip: { ihl: 6 } });
    expect([ipChecksumOk(good), l4ChecksumOk(good)]).toEqual([true, true]);
    for (let i = 14; i < good.length; i++) {
      const bad = good.slice();
      bad[i] ^= 0x04;
      // the IPv4 header (with its options) is covered by its own checksum; the addresses by both
      const inIpHeader = i < 14 + 24;
      const inPseudo = i >= 14 + 12 && i < 14 + 20;
      const hit = !ipChecksumOk(bad) || !l4ChecksumOk(bad);
      expect({ i, hit }).toEqual({ i, hit: true });
      if (!inIpHeader || inPseudo) expect({ i, l4: l4ChecksumOk(bad) }).toEqual({ i, l4: false });
    }
  });
});

// ------------------------------------------------------------------ forwarding

runTable("DR forwarding", [
  {
    name: "TCP SYN to VIP:80: dst MAC = slot MAC, src MAC = director MAC, every other byte unchanged",
    plan: WEB1,
    steps: [{ in: [syn(40000)], verdicts: [fwd(1)], out: [to(RS1, syn(40000))] }],
    policy: { newFlows: 1, vipPackets: 1 },
    slotPackets: { 1: 1 },
    shim: { parsedIpv4: 1, txBytes: 54 },
    eachOut: (f) => {
      expect(hex(f.subarray(0, 12))).toBe("02 00 00 00 01 01 02 00 00 00 00 01");
      expect(hex(f.subarray(12))).toBe(hex(syn(40000).subarray(12)));
    },
  },
  {
    name: "the ACK and data of the same flow go to the same real server, a new client to the next",
    plan: WEB3,
    steps: [
      { now: 0, in: [syn(40000)], verdicts: [fwd(3)], out: [to(RS3, syn(40000))] },
      {
        now: 1,
        in: [c2v({ flags: ACK, seq: 1001, ack: 5001 }), syn(40001), c2v({ flags: PSH | ACK, seq: 1001, payload: unhex("47 45 54 20") })],
        verdicts: [fwd(3), fwd(2), fwd(3)],
        out: [
          to(RS3, c2v({ flags: ACK, seq: 1001, ack: 5001 })), to(RS2, syn(40001)),
          to(RS3, c2v({ flags: PSH | ACK, seq: 1001, payload: unhex("47 45 54 20") })),
        ],
      },
    ],
    policy: { newFlows: 2, vipPackets: 4 },
  },
  {
    // tcp_conn_schedule schedules on "th->syn && !th->rst": a SYN|ACK opens a connection too.
    name: "TCP without a flow: ACK, FIN|ACK and RST are dropped; SYN|ACK (a SYN without RST) is scheduled, as IPVS does",
    plan: WEB1,
    steps: [{
      in: [c2v({ flags: ACK }), c2v({ flags: FIN | ACK }), c2v({ flags: RST }), c2v({ flags: SYN | ACK })],
      verdicts: ["DROP", "DROP", "DROP", fwd(1)],
      out: [to(RS1, c2v({ flags: SYN | ACK }))],
    }],
    policy: { tcpNoFlowDropped: 3, newFlows: 1, vipPackets: 4 },
  },
  {
    name: "UDP to a UDP service is forwarded (any datagram opens a flow); UDP to a TCP-only port passes",
    plan: WEB_DNS,
    steps: [{
      in: [udpToVip(), udpToVip({ dport: 80 })],
      verdicts: [fwd(2), "PASS"],
      out: [to(RS2, udpToVip())],
    }],
    policy: { newFlows: 1, vipPackets: 1 },
  },
  {
    name: "a VIP port with no service, another protocol, another host: no output (PASS), not counted",
    plan: WEB_DNS,
    steps: [{
      in: [
        c2v({ dport: 443 }),
        c2v({ ip: { dst: VIP2 } }),
        c2v({ ip: { dst: OTHER_HOST } }),
        ethernet(IN, ETH_P_IP, ipv4({ src: CLIENT, dst: VIP }, 1, unhex("08 00 f7 fe 00 01 00 00"))), // ICMP echo
        udpToVip({ dport: 54 }),
      ],
      verdicts: ["PASS", "PASS", "PASS", "PASS", "PASS"],
      out: [],
    }],
    policy: { vipPackets: 0, newFlows: 0 },
    shim: { parsedIpv4: 5 },
  },
  {
    name: "a reply from the VIP (SYN|ACK from VIP:80) passes and is counted as replyFramesSeen",
    plan: WEB1,
    steps: [{
      in: [tcp({ eth: IN, ip: { src: VIP, dst: CLIENT }, sport: 80, dport: 40000, flags: SYN | ACK, ack: 1001 })],
      verdicts: ["PASS"],
      out: [],
    }],
    policy: { replyFramesSeen: 1, vipPackets: 0 },
  },
  {
    name: "802.1Q-tagged SYN to the VIP is forwarded with its tag intact",
    plan: WEB1,
    steps: [{
      in: [c2v({ eth: { ...IN, vlan: 0x2064 } })],
      verdicts: [fwd(1)],
      out: [to(RS1, c2v({ eth: { ...IN, vlan: 0x2064 } }))],
    }],
    policy: { newFlows: 1 },
    eachOut: (f) => expect(hex(f.subarray(12, 18))).toBe("81 00 20 64 08 00"),
  },
  {
    name: "SYN with IPv4 options (IHL 6) and Ethernet padding is forwarded, padding included",
    plan: WEB1,
    steps: [{
      in: [c2v({ ip: { ihl: 6 }, padTo: 64 })],
      verdicts: [fwd(1)],
      out: [to(RS1, c2v({ ip: { ihl: 6 }, padTo: 64 }))],
    }],
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ checksum completion

const ODD = unhex("68 65 6c 6c 6f"); // "hello": odd length exercises the trailing byte

/** A UDP payload whose correct checksum computes to 0, which UDP must send as 0xffff. */
function zeroSumUdpPayload(): Uint8Array {
  const p = new Uint8Array(2);
  const probe = udpToVip({ payload: p });
  const c = probe.subarray(40, 42);
  // adding the checksum computed with this word zero makes the sum 0xffff, so the checksum 0
  return c.slice();
}

runTable("checksum completion for checksum-offloading senders", [
  {
    name: "csumPartial SYN leaves with a correct TCP checksum, all else unchanged",
    plan: WEB1,
    steps: [{
      in: [{ frame: c2v({ csum: "partial" }), csumPartial: true }],
      verdicts: [fwd(1)],
      out: [to(RS1, c2v({ csum: "correct" }))],
    }],
    eachOut: (f) => expect([ipChecksumOk(f), l4ChecksumOk(f)]).toEqual([true, true]),
    policy: { newFlows: 1 },
  },
  {
    name: "csumPartial TCP with odd payload, IPv4 options and Ethernet padding: sum over the IP payload only",
    plan: WEB1,
    steps: [
      { in: [syn(40000)], out: [to(RS1, syn(40000))] },
      {
        in: [{ frame: c2v({ flags: PSH | ACK, payload: ODD, ip: { ihl: 7 }, csum: "partial", padTo: 80 }), csumPartial: true }],
        verdicts: [fwd(1)],
        out: [to(RS1, c2v({ flags: PSH | ACK, payload: ODD, ip: { ihl: 7 }, csum: "correct", padTo: 80 }))],
      },
    ],
    eachOut: (f) => expect(l4ChecksumOk(f)).toBe(true),
    policy: { newFlows: 1 },
  },
  {
    name: "csumPartial on a tagged frame: the checksum is found behind the 802.1Q tag",
    plan: WEB1,
    steps: [{
      in: [{ frame: c2v({ eth: { ...IN, vlan: 7 }, csum: "partial" }), csumPartial: true }],
      out: [to(RS1, c2v({ eth: { ...IN, vlan: 7 } }))],
    }],
    eachOut: (f) => expect(l4ChecksumOk(f)).toBe(true),
    policy: { newFlows: 1 },
  },
  {
    name: "UDP with a partial checksum leaves with a correct one",
    plan: WEB_DNS,
    steps: [{
      in: [{ frame: udpToVip({ payload: ODD, csum: "partial" }), csumPartial: true }],
      verdicts: [fwd(2)],
      out: [to(RS2, udpToVip({ payload: ODD }))],
    }],
    eachOut: (f) => expect(l4ChecksumOk(f)).toBe(true),
    policy: { newFlows: 1 },
  },
  {
    name: "UDP whose checksum computes to 0 is sent as 0xffff (0 would mean 'no checksum')",
    plan: WEB_DNS,
    steps: [{
      in: [{ frame: udpToVip({ payload: zeroSumUdpPayload(), csum: "partial" }), csumPartial: true }],
      out: [to(RS2, udpToVip({ payload: zeroSumUdpPayload(), csum: 0xffff }))],
    }],
    eachOut: (f) => {
      expect(hex(f.subarray(40, 42))).toBe("ff ff");
      expect(l4ChecksumOk(f)).toBe(true);
    },
    policy: { newFlows: 1 },
  },
  {
    name: "a frame not marked partial is sent as it came, even with a wrong checksum (not ours to fix)",
    plan: WEB1,
    steps: [{ in: [c2v({ csum: 0xbeef })], out: [to(RS1, c2v({ csum: 0xbeef }))] }],
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ ARP

const ARP_PLAN = plan([service({ dests: [dest(1, RS1)] }), service({ vip: VIP2, dests: [dest(2, RS2)] })], [VIP]);
const ASKER = mac("02:00:00:00:00:99");
const BROADCAST = mac("ff:ff:ff:ff:ff:ff");

function whoHas(target: number, o: { vlan?: number; padTo?: number } = {}): Uint8Array {
  return arp({
    eth: { dst: BROADCAST, src: ASKER, vlan: o.vlan }, op: 1, senderMac: ASKER, senderIp: CLIENT,
    targetIp: target, padTo: o.padTo,
  });
}

/** The same request with hardware type 6 (IEEE 802): not IPv4 over Ethernet. */
function ieee802Arp(f: Uint8Array): Uint8Array {
  const g = f.slice();
  g[15] = 6;
  return g;
}

runTable("ARP for VIPs in arp mode", [
  {
    name: "who-has VIP: answered with op 2, sender = director MAC/VIP, target = the asker, to the asker",
    plan: ARP_PLAN,
    steps: [{
      in: [whoHas(VIP)],
      verdicts: ["ARP_REPLY"],
      out: [unhex(`
        02 00 00 00 00 99  02 00 00 00 00 01  08 06
        00 01 08 00 06 04 00 02
        02 00 00 00 00 01 c6 12 00 64
        02 00 00 00 00 99 c6 12 00 02`)],
    }],
    policy: { arpAnswered: 1 },
    shim: { parsedArp: 1 },
  },
  {
    name: "a tagged, padded who-has VIP: the reply keeps tag and padding",
    plan: ARP_PLAN,
    steps: [{
      in: [whoHas(VIP, { vlan: 42, padTo: 64 })],
      verdicts: ["ARP_REPLY"],
      out: [arp({
        eth: { dst: ASKER, src: DIRECTOR, vlan: 42 }, op: 2, senderMac: DIRECTOR, senderIp: VIP,
        targetMac: ASKER, targetIp: CLIENT, padTo: 64,
      })],
    }],
    policy: { arpAnswered: 1 },
  },
  {
    name: "who-has an unrelated IP, or a VIP not in arp mode: no output",
    plan: ARP_PLAN,
    steps: [{ in: [whoHas(OTHER_HOST), whoHas(VIP2)], verdicts: ["PASS", "PASS"], out: [] }],
    policy: { arpAnswered: 0 },
  },
  {
    name: "an ARP reply about the VIP, or a who-has VIP over another hardware type, is not answered",
    plan: ARP_PLAN,
    steps: [{
      in: [
        arp({ eth: { dst: DIRECTOR, src: ASKER }, op: 2, senderMac: ASKER, senderIp: VIP, targetMac: DIRECTOR, targetIp: VIP }),
        ieee802Arp(whoHas(VIP)),
      ],
      verdicts: ["PASS", "PASS"],
      out: [],
    }],
    shim: { parsedArp: 2 },
  },
]);

// ------------------------------------------------------------------ fragments

runTable("IPv4 fragments", [
  {
    name: "a later fragment to the VIP has no ports: dropped and counted",
    plan: WEB_DNS,
    steps: [{
      in: [
        ethernet(IN, ETH_P_IP, ipv4({ src: CLIENT, dst: VIP, df: false, fragOffset: 185 }, TCP, new Uint8Array(40))),
        ethernet(IN, ETH_P_IP, ipv4({ src: CLIENT, dst: VIP, df: false, mf: true, fragOffset: 1 }, UDP, new Uint8Array(16))),
      ],
      verdicts: ["DROP", "DROP"],
      out: [],
    }],
    policy: { fragmentsDropped: 2, vipPackets: 0 },
  },
  {
    name: "a later fragment to another host, or of ICMP to the VIP, passes uncounted",
    plan: WEB_DNS,
    steps: [{
      in: [
        ethernet(IN, ETH_P_IP, ipv4({ src: CLIENT, dst: OTHER_HOST, df: false, fragOffset: 185 }, TCP, new Uint8Array(40))),
        ethernet(IN, ETH_P_IP, ipv4({ src: CLIENT, dst: VIP, df: false, fragOffset: 185 }, 1, new Uint8Array(40))),
      ],
      verdicts: ["PASS", "PASS"],
      out: [],
    }],
  },
  {
    name: "a later fragment from the VIP (a fragmented reply) passes and is counted as a reply",
    plan: WEB_DNS,
    steps: [{
      in: [ethernet(IN, ETH_P_IP, ipv4({ src: VIP, dst: CLIENT, df: false, fragOffset: 185 }, UDP, new Uint8Array(40)))],
      verdicts: ["PASS"],
      out: [],
    }],
    policy: { replyFramesSeen: 1 },
  },
  {
    name: "a first fragment (MF, offset 0) carries the ports: forwarded like any datagram",
    plan: WEB_DNS,
    steps: [{
      in: [udpToVip({ ip: { mf: true }, payload: new Uint8Array(64).fill(0x5a) })],
      verdicts: [fwd(2)],
      out: [to(RS2, udpToVip({ ip: { mf: true }, payload: new Uint8Array(64).fill(0x5a) }))],
    }],
    policy: { newFlows: 1 },
  },
]);

// ------------------------------------------------------------------ malformed frames

/** A SYN to the VIP whose IPv4 total length / payload are cut to `l4Bytes` of TCP header. */
function truncatedL4(proto: number, l4Bytes: number): Uint8Array {
  const full = proto === TCP ? c2v() : udpToVip();
  const l4 = full.subarray(34, 34 + l4Bytes);
  return ethernet(IN, ETH_P_IP, ipv4({ src: CLIENT, dst: VIP }, proto, l4));
}

const MALFORMED: [string, Uint8Array][] = [
  ["truncated Ethernet (13 bytes)", syn(40000).subarray(0, 13)],
  ["802.1Q tag without its inner ethertype (16 bytes)", c2v({ eth: { ...IN, vlan: 5 } }).subarray(0, 16)],
  ["truncated IPv4 header (19 of 20 bytes)", syn(40000).subarray(0, 14 + 19)],
  ["IHL 4 (< 5)", c2v({ ip: { ihl: 4 } })],
  ["IHL 0", c2v({ ip: { ihl: 0 } })],
  ["total length beyond the frame", c2v({ ip: { totalLength: 41 } })],
  ["total length shorter than the header", c2v({ ip: { totalLength: 19 } })],
  ["IHL 15 (60 bytes) beyond the total length", c2v({ ip: { ihl: 15, totalLength: 40 } })],
  ["TCP header truncated (12 of 20 bytes)", truncatedL4(TCP, 12)],
  ["TCP header truncated (19 of 20 bytes)", truncatedL4(TCP, 19)],
  ["UDP header truncated (7 of 8 bytes)", truncatedL4(UDP, 7)],
  ["version 6 in an IPv4 ethertype", c2v({ ip: { version: 6 } })],
  ["ARP for IPv4 over Ethernet cut to 27 bytes", whoHas(VIP).subarray(0, 14 + 27)],
];

runTable("malformed frames: counted, never forwarded, never answered", MALFORMED.map(([name, frame]) => ({
  name,
  plan: { ...WEB_DNS, arpVips: [VIP] },
  steps: [{ in: [frame], verdicts: ["PASS"], out: [] }],
  shim: { parsedMalformed: 1, parsedIpv4: 0, parsedArp: 0 },
  policy: { vipPackets: 0, newFlows: 0, arpAnswered: 0 },
} satisfies Row)));

describe("simulation handle and shim", () => {
  test("every truncation of a valid SYN (0..53 bytes) is malformed and nothing leaves", () => {
    const h = open(WEB1);
    try {
      const full = syn(40000);
      const cuts = Array.from({ length: full.length }, (_, n) => full.slice(0, n));
      const { verdicts, out } = batch(h, cuts, 0);
      expect(verdicts).toEqual(cuts.map(() => "PASS"));
      expect(out).toEqual([]);
      const c = h.ring.counters();
      expect([c.parsedMalformed, c.parsedIpv4, c.verdictPass]).toEqual([54, 0, 54]);
    } finally {
      h.ring.close();
    }
  });

  test("a VIP frame whose 802.1Q tag the kernel stripped belongs to another VLAN: passed, not forwarded", () => {
    const h = open(WEB1);
    try {
      h.ring.simPush(syn(40001), false, true);
      h.ring.simPush(syn(40002));
      expect(h.ring.rx(0)).toBe(2);
      expect(h.ring.desc8[DESC.flags]! & DF_VLAN_STRIPPED).toBe(DF_VLAN_STRIPPED);
      h.fwd.process(2, 0);
      expect(Array.from(h.ring.verdicts.subarray(0, 2))).toEqual([VERDICT_PASS, 1]);
      h.ring.tx();
      expect(h.ring.simTakeTx().map(hex)).toEqual([hex(to(RS1, syn(40002)))]);
    } finally {
      h.ring.close();
    }
  });

  test("a backlog larger than one batch arrives over two batches, in order", () => {
    const h = open(WEB1, 4096); // room for all 1030 connections: this is about batching

    try {
      const frames = syns(1030, 20000);
      for (const f of frames) h.ring.simPush(f);
      const cap = h.ring.descCapacity;
      // One 64 KiB block's worth of minimum-size frames, and room for the large-frame socket's.
      expect(cap).toBe(1024 + LARGE_FRAMES_PER_BATCH);
      const sent: Uint8Array[] = [];
      for (const want of [1024, 6, 0]) {
        const n = h.ring.rx(0);
        expect(n).toBe(want);
        h.fwd.process(n, 0);
        h.ring.tx();
        sent.push(...h.ring.simTakeTx());
      }
      expect(sent.length).toBe(1030);
      expect(sent.map(hex)).toEqual(frames.map((f) => hex(to(RS1, f))));
    } finally {
      h.ring.close();
    }
  });

  test("a slot verdict forced onto malformed, ARP or out-of-range descriptors is refused (verdictBad)", () => {
    const h = open(WEB1);
    try {
      h.ring.simPush(c2v({ ip: { ihl: 4 } }));
      h.ring.simPush(whoHas(VIP));
      h.ring.simPush(syn(40000));
      h.ring.simPush(syn(40001));
      h.ring.simPush(syn(40002));
      expect(h.ring.rx(0)).toBe(5);
      expect(h.ring.desc8[0 * DESC_SIZE + DESC.kind]).toBe(Kind.Malformed);
      h.ring.verdicts.set([1, 1, PARAMS.slotCapacity, 5, VERDICT_ARP_REPLY]); // slot 5 has no method
      h.ring.tx();
      expect(h.ring.simTakeTx()).toEqual([]);
      const c = h.ring.counters();
      expect([c.verdictBad, c.txFrames, c.txArpReplies]).toEqual([5, 0, 0]);
    } finally {
      h.ring.close();
    }
  });
});

describe("slot numbers past 16 bits", () => {
  // 2^17 slots, as the director opens its rings (REAL_SERVER_ENTRIES_MAX): slot numbers that a
  // 16-bit verdict or a 16-bit store anywhere on the way (flow table, persistence template) would
  // cut to another slot (70000 -> 4464, 131071 -> 65535 = the old PASS).
  const WIDE: RingParams = { ...PARAMS, slotCapacity: 1 << 17 };
  const far = (slot: number, m: Uint8Array): PlanDest => ({ ...dest(1, m), slot, rip: ip("10.0.1.1") + (slot & 0xff) });

  test("a new connection, its next packet and a persistent client's second connection reach slots 70000 and 131071", () => {
    const h = open(plan([
      service({ dests: [far(70000, RS1)] }),
      service({ port: 443, dests: [far(131071, RS2)], persistence: { timeout: 300, mask: ip("255.255.255.0") } }),
    ]), FLOW_TABLE_SIZE, WIDE);
    try {
      const tls = (sport: number, flags = SYN) => c2v({ sport, dport: 443, flags });
      const first = batch(h, [syn(40000), tls(40001)], 0);
      expect(first.verdicts).toEqual([fwd(70000), fwd(131071)]);
      expect(first.out.map(hex)).toEqual([hex(to(RS1, syn(40000))), hex(to(RS2, tls(40001)))]);
      const next = batch(h, [c2v({ sport: 40000, flags: ACK }), tls(40002)], 1); // flow table; template
      expect(next.verdicts).toEqual([fwd(70000), fwd(131071)]);
      expect(next.out.map(hex)).toEqual([hex(to(RS1, c2v({ sport: 40000, flags: ACK }))), hex(to(RS2, tls(40002)))]);
      expect(readPolicyCounters(h.counters).persistHits).toBe(1);
      expect([slotPackets(h.ring, 70000), slotPackets(h.ring, 131071)]).toEqual([2, 2]);
      const c = h.ring.counters();
      expect([c.verdictBad, c.txFrames]).toEqual([0, 4]);
    } finally {
      h.ring.close();
    }
  });

  test("a slot capacity reaching the special verdicts is refused (EINVAL)", () => {
    expect(() => Ring.openSim(DIRECTOR, { ...PARAMS, slotCapacity: VERDICT_MIN_SPECIAL })).toThrow(/EINVAL/);
  });
});

// ------------------------------------------------------------------ scheduling in the data path

/** wrr over A=3 (slot 1), B=2 (slot 2), C=1 (slot 3), added A, B, C: the kernel walks C, B, A and
 *  picks per cycle at cw 3: A; cw 2: B A; cw 1: C B A. */
const WRR_CYCLE = [1, 2, 1, 3, 2, 1];

runTable("scheduling new connections", [
  {
    name: "a real server without a MAC is never chosen",
    plan: plan([service({ dests: [dest(1, null), dest(2, RS2)] })]),
    steps: [{ in: syns(3), verdicts: [fwd(2), fwd(2), fwd(2)], out: syns(3).map((f) => to(RS2, f)) }],
    policy: { newFlows: 3 },
  },
  {
    name: "only real servers without a MAC: the SYN is dropped (noDestDropped)",
    plan: plan([service({ dests: [dest(1, null), dest(2, null)] })]),
    steps: [{ in: syns(2), verdicts: ["DROP", "DROP"], out: [] }],
    policy: { noDestDropped: 2, newFlows: 0, flowsActive: 0 },
  },
  {
    name: "rr over 3 real servers added 1, 2, 3 runs in kernel list order: 3, 2, 1, 3, 2, 1",
    plan: WEB3,
    steps: [{
      in: syns(6),
      verdicts: [3, 2, 1, 3, 2, 1].map(fwd),
      out: syns(6).map((f, k) => to([RS3, RS2, RS1][k % 3]!, f)),
    }],
    policy: { newFlows: 6 },
  },
  {
    name: "wrr 3:2:1 over 60 SYNs with distinct source ports: exactly 30/20/10 in the kernel's order",
    plan: plan([service({ scheduler: "wrr", dests: [dest(1, RS1, 3), dest(2, RS2, 2), dest(3, RS3, 1)] })]),
    steps: [{
      in: syns(60),
      verdicts: syns(60).map((_, k) => fwd(WRR_CYCLE[k % 6]!)),
      out: syns(60).map((f, k) => to([RS1, RS2, RS3][WRR_CYCLE[k % 6]! - 1]!, f)),
      housekeeping: 1,
    }],
    policy: { newFlows: 60, flowsActive: 60 },
    slotPackets: { 1: 30, 2: 20, 3: 10 },
  },
  {
    // A SYN the table cannot remember would open a connection whose later packets are unknown
    // (and dropped, as IPVS drops a non-SYN without a connection): better to refuse the SYN and
    // let the client retry than to break the connection half-way.
    // Half-open connections (SYN_RECV) are fair game for eviction, as IPVS's drop_entry defense
    // drops them under memory pressure: the 897th SYN evicts one and is admitted.
    name: "a full flow table (7/8 of 1024 = 896 flows) admits the next SYN by evicting a half-open connection",
    plan: WEB1,
    steps: [
      { now: 0, in: syns(896, 10000), verdicts: syns(896).map(() => fwd(1)), out: syns(896, 10000).map((f) => to(RS1, f)) },
      { now: 1, in: [syn(20000)], verdicts: [fwd(1)], out: [to(RS1, syn(20000))], housekeeping: 1 },
    ],
    policy: { newFlows: 897, flowsActive: 896, flowsEvicted: 1 },
  },
]);

// ------------------------------------------------------------------ persistence

const PERSIST = plan([service({
  dests: [dest(1, RS1), dest(2, RS2), dest(3, RS3)],
  persistence: { timeout: 300, mask: ip("255.255.255.0") },
})]);
const C1 = ip("198.18.0.2");
const C1_NEIGHBOUR = ip("198.18.0.77");
const C_OTHER_NET = ip("198.18.1.2");

runTable("persistence (-p 300 -M 255.255.255.0)", [
  {
    name: "same /24 -> same server; another /24 -> scheduled (rr: next); after the timeout -> afresh",
    plan: PERSIST,
    steps: [
      {
        now: 0,
        in: [syn(1000, C1), syn(2000, C1_NEIGHBOUR), syn(3000, C_OTHER_NET)],
        verdicts: [fwd(3), fwd(3), fwd(2)],
        out: [to(RS3, syn(1000, C1)), to(RS3, syn(2000, C1_NEIGHBOUR)), to(RS2, syn(3000, C_OTHER_NET))],
        policy: { persistHits: 1 },
      },
      // Still inside the template's 300 s: a new connection sticks and refreshes it (to 400).
      { now: 100, in: [syn(1001, C1)], verdicts: [fwd(3)], out: [to(RS3, syn(1001, C1))], policy: { persistHits: 2 } },
      // 399 is still inside the refreshed template (refreshed again, to 699); at 699 it has
      // expired: rr goes on from its last choice (2), so 1.
      { now: 399, in: [syn(2001, C1_NEIGHBOUR)], verdicts: [fwd(3)], out: [to(RS3, syn(2001, C1_NEIGHBOUR))], policy: { persistHits: 3 } },
      // The template's connections (SYN_RECV, 60 s) are long gone once the sweep has seen them;
      // a template still controlling live connections would get another period instead.
      { now: 699, housekeeping: FULL_SWEEP_CALLS },
      { now: 699, in: [syn(1002, C1)], verdicts: [fwd(1)], out: [to(RS1, syn(1002, C1))] },
      // ... and that decision is the new template for the whole /24.
      { now: 700, in: [syn(2002, C1_NEIGHBOUR)], verdicts: [fwd(1)], out: [to(RS1, syn(2002, C1_NEIGHBOUR))] },
    ],
    policy: { persistHits: 4, newFlows: 7 },
  },
]);

// ------------------------------------------------------------------ connection life

runTable("connection life", [
  {
    // conn_reuse_mode 1: only a connection in TIME_WAIT or CLOSE is replaced by a new SYN; in
    // FIN_WAIT the SYN just moves it back to SYN_RECV on the same server.
    name: "SYNs on a live connection stay on its server; after ESTABLISHED -> RST (CLOSE) a new SYN is a new connection",
    plan: WEB3,
    steps: [
      { now: 0, in: [syn(1000)], verdicts: [fwd(3)], out: [to(RS3, syn(1000))] },
      { now: 1, in: [syn(1000)], verdicts: [fwd(3)], out: [to(RS3, syn(1000))] },
      { now: 2, in: [c2v({ sport: 1000, flags: ACK })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 1000, flags: ACK }))] },
      { now: 3, in: [syn(1000)], verdicts: [fwd(3)], out: [to(RS3, syn(1000))], policy: { newFlows: 1 } },
      { now: 4, in: [c2v({ sport: 1000, flags: FIN | ACK })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 1000, flags: FIN | ACK }))] },
      { now: 5, in: [c2v({ sport: 1000, flags: ACK })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 1000, flags: ACK }))] },
      { now: 6, in: [syn(1000)], verdicts: [fwd(3)], out: [to(RS3, syn(1000))], policy: { newFlows: 1 } },
      { now: 7, in: [c2v({ sport: 1000, flags: ACK })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 1000, flags: ACK }))] },
      { now: 8, in: [c2v({ sport: 1000, flags: RST })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 1000, flags: RST }))] },
      { now: 9, in: [syn(1000)], verdicts: [fwd(2)], out: [to(RS2, syn(1000))], policy: { newFlows: 2 } },
      { now: 10, in: [c2v({ sport: 1000, flags: ACK })], verdicts: [fwd(2)], out: [to(RS2, c2v({ sport: 1000, flags: ACK }))] },
    ],
    policy: { newFlows: 2 },
  },
  {
    // The INPUT-ONLY table keeps SYN_RECV on RST (rst/sSR -> sSR): a spoofed RST cannot free the
    // slot of a half-open connection, and the retried SYN stays on the same server.
    name: "an RST in SYN_RECV keeps the connection; the next SYN stays on its server",
    plan: WEB3,
    steps: [
      { now: 0, in: [syn(2000)], verdicts: [fwd(3)], out: [to(RS3, syn(2000))] },
      { now: 1, in: [c2v({ sport: 2000, flags: RST })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 2000, flags: RST }))] },
      { now: 2, in: [syn(2000)], verdicts: [fwd(3)], out: [to(RS3, syn(2000))] },
    ],
    policy: { newFlows: 1 },
  },
  {
    name: "an established flow expires after the TCP timeout (900 s idle) and is swept",
    plan: WEB3,
    steps: [
      { now: 0, in: [syn(3000)], verdicts: [fwd(3)], out: [to(RS3, syn(3000))] },
      { now: 1, in: [c2v({ sport: 3000, flags: ACK })], verdicts: [fwd(3)], out: [to(RS3, c2v({ sport: 3000, flags: ACK }))] },
      { now: 900, housekeeping: FULL_SWEEP_CALLS, policy: { flowsActive: 1, flowsExpired: 0 } },
      { now: 901, housekeeping: FULL_SWEEP_CALLS, policy: { flowsActive: 0, flowsExpired: 1 } },
      // The connection is gone: its next ACK is not scheduled.
      { now: 902, in: [c2v({ sport: 3000, flags: ACK })], verdicts: ["DROP"], out: [] },
    ],
    policy: { tcpNoFlowDropped: 1, newFlows: 1, flowsExpired: 1 },
  },
  {
    name: "a SYN-only flow lives 60 s (SYN_RECV): an ACK at 60 s is dropped, a new SYN reschedules it",
    plan: WEB3,
    steps: [
      { now: 0, in: [syn(4000), syn(4001)], verdicts: [fwd(3), fwd(2)], out: [to(RS3, syn(4000)), to(RS2, syn(4001))] },
      { now: 59, in: [c2v({ sport: 4001, flags: ACK })], verdicts: [fwd(2)], out: [to(RS2, c2v({ sport: 4001, flags: ACK }))] },
      { now: 60, in: [c2v({ sport: 4000, flags: ACK })], verdicts: ["DROP"], out: [] },
      // the expired entry is reused in place for the new connection: still two entries
      { now: 61, in: [syn(4000)], verdicts: [fwd(1)], out: [to(RS1, syn(4000))], housekeeping: 1, policy: { flowsActive: 2 } },
    ],
    policy: { tcpNoFlowDropped: 1, newFlows: 3 },
  },
  {
    name: "UDP flows stick for the UDP timeout (300 s), then are scheduled afresh",
    plan: plan([service({ proto: UDP, port: 53, dests: [dest(1, RS1), dest(2, RS2)] })]),
    steps: [
      { now: 0, in: [udpToVip()], verdicts: [fwd(2)], out: [to(RS2, udpToVip())] },
      { now: 299, in: [udpToVip(), udpToVip({ sport: 33001 })], verdicts: [fwd(2), fwd(1)], out: [to(RS2, udpToVip()), to(RS1, udpToVip({ sport: 33001 }))] },
      { now: 598, in: [udpToVip()], verdicts: [fwd(2)], out: [to(RS2, udpToVip())], policy: { newFlows: 2 } },
      // 898 = 598 + 300: expired. A new flow takes 2 first, so the old tuple, scheduled afresh, gets 1.
      {
        now: 898,
        in: [udpToVip({ sport: 33002 }), udpToVip()],
        verdicts: [fwd(2), fwd(1)],
        out: [to(RS2, udpToVip({ sport: 33002 })), to(RS1, udpToVip())],
      },
    ],
    policy: { newFlows: 4 },
  },
]);

// ------------------------------------------------------------------ ICMP errors for VIP connections

/** The client-side router's own address: it sends its ICMP errors from there. */
const ROUTER_IP = ip("198.18.0.1");
const ICMP_DEST_UNREACH = 3;
const ICMP_FRAG_NEEDED = 4;
const ICMP_TIME_EXCEEDED = 11;

/** A real server's reply, VIP:80 -> client: what a router on the way back quotes. */
function v2c(o: { sport?: number; dport?: number; src?: number; size?: number } = {}): Uint8Array {
  return tcp({
    eth: { dst: ROUTER, src: RS3 }, sport: o.sport ?? 80, dport: o.dport ?? 40000, flags: PSH | ACK, seq: 5001, ack: 1001,
    payload: new Uint8Array((o.size ?? 1500) - 40).fill(0x61), ip: { src: o.src ?? VIP, dst: CLIENT },
  });
}

/** The router's "fragmentation needed" (next-hop MTU 1400) to the quoted packet's source, quoting
 *  `quoted` (its header and 8 bytes unless `bytes`). */
function fragNeeded(quoted: Uint8Array, o: { bytes?: number; eth?: EthOpts; mangle?: (q: Uint8Array) => void } = {}): Uint8Array {
  const q = quote(quoted, o.bytes);
  o.mangle?.(q);
  const dst = (q[12]! << 24 | q[13]! << 16 | q[14]! << 8 | q[15]!) >>> 0;
  return icmp({ eth: o.eth ?? IN, ip: { src: ROUTER_IP, dst }, type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, rest: 1400, body: q });
}

const VIP_REPLY = v2c();
const ESTABLISH = [
  { now: 0, in: [syn(40000)], verdicts: [fwd(3)], out: [to(RS3, syn(40000))] },
  { now: 1, in: [c2v({ flags: ACK, seq: 1001, ack: 5001 })], verdicts: [fwd(3)], out: [to(RS3, c2v({ flags: ACK, seq: 1001, ack: 5001 }))] },
] satisfies Step[];

runTable("ICMP errors about VIP connections", [
  {
    name: "frag-needed for an established TCP connection goes to its real server unchanged (DR: only the MACs differ)",
    plan: WEB3,
    steps: [
      ...ESTABLISH,
      { now: 2, in: [fragNeeded(VIP_REPLY)], verdicts: [fwd(3)], out: [to(RS3, fragNeeded(VIP_REPLY))] },
    ],
    policy: { newFlows: 1, vipPackets: 2, icmpErrorsForwarded: 1 },
    shim: { parsedIpv4: 3 },
    slotPackets: { 3: 3 },
    eachOut: (f) => expect(ipChecksumOk(f)).toBe(true),
  },
  {
    // Linux quotes as much as fits in 576 bytes (RFC 1812 4.3.2.3); a NIC may pad the frame.
    name: "a long quote (548 bytes), an 802.1Q tag, Ethernet padding and other unreachable codes: forwarded as they came",
    plan: WEB3,
    steps: [
      ...ESTABLISH,
      {
        now: 2,
        in: [
          fragNeeded(VIP_REPLY, { bytes: 548 }),
          fragNeeded(VIP_REPLY, { eth: { ...IN, vlan: 0x0064 } }),
          ethernet(IN, ETH_P_IP, fragNeeded(VIP_REPLY).subarray(14), 90),
          icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: ICMP_DEST_UNREACH, code: 1, body: quote(VIP_REPLY) }),
        ],
        verdicts: [fwd(3), fwd(3), fwd(3), fwd(3)],
        out: [
          to(RS3, fragNeeded(VIP_REPLY, { bytes: 548 })),
          to(RS3, fragNeeded(VIP_REPLY, { eth: { ...IN, vlan: 0x0064 } })),
          to(RS3, ethernet(IN, ETH_P_IP, fragNeeded(VIP_REPLY).subarray(14), 90)),
          to(RS3, icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: ICMP_DEST_UNREACH, code: 1, body: quote(VIP_REPLY) })),
        ],
      },
    ],
    policy: { newFlows: 1, vipPackets: 2, icmpErrorsForwarded: 4 },
  },
  {
    name: "time exceeded for a UDP flow goes to the flow's real server",
    plan: WEB_DNS,
    steps: [
      { now: 0, in: [udpToVip()], verdicts: [fwd(2)], out: [to(RS2, udpToVip())] },
      (() => {
        const reply = udp({ eth: { dst: ROUTER, src: RS2 }, sport: 53, dport: 33000, payload: unhex("61 6e 73"), ip: { src: VIP, dst: CLIENT, df: false, ttl: 1 } });
        const err = icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: ICMP_TIME_EXCEEDED, code: 0, body: quote(reply) });
        return { now: 5, in: [err], verdicts: [fwd(2)], out: [to(RS2, err)] };
      })(),
    ],
    policy: { newFlows: 1, vipPackets: 1, icmpErrorsForwarded: 1 },
  },
  {
    name: "an error quoting a service's packet of no live connection is dropped and counted; so is one after the connection expired",
    plan: WEB3,
    steps: [
      { now: 0, in: [fragNeeded(v2c({ dport: 40001 }))], verdicts: ["DROP"], out: [] },
      { now: 1, in: [syn(40000)], verdicts: [fwd(3)], out: [to(RS3, syn(40000))] },
      // another port of the same client: not that connection
      { now: 2, in: [fragNeeded(v2c({ dport: 40002 }))], verdicts: ["DROP"], out: [] },
      // SYN_RECV lives 60 s: from 61 on the connection is gone, swept or not
      { now: 61, in: [fragNeeded(VIP_REPLY)], verdicts: ["DROP"], out: [] },
    ],
    policy: { newFlows: 1, vipPackets: 1, icmpErrorsNoConn: 3 },
  },
  {
    name: "errors not about a service's traffic pass untouched and uncounted: other host, other port, other protocol, ICMP, later fragment",
    plan: WEB_DNS,
    steps: [
      ...ESTABLISH.map((st) => ({ ...st, verdicts: st.verdicts.map(() => fwd(1)), out: st.out.map((f) => to(RS1, withMacs(f, DIRECTOR, ROUTER))) })),
      {
        now: 2,
        in: [
          fragNeeded(v2c({ src: OTHER_HOST })),
          fragNeeded(v2c({ sport: 22 })),
          // UDP from VIP:80: the service on port 80 is TCP
          icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: ICMP_DEST_UNREACH, code: 3, body: quote(udp({ eth: IN, sport: 80, dport: 40000, ip: { src: VIP, dst: CLIENT } })) }),
          // the client's own packet quoted (an error from beyond the real server, not our reply)
          fragNeeded(c2v({ flags: ACK })),
          // quoting an echo reply from the VIP
          icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: ICMP_TIME_EXCEEDED, code: 0, body: ipv4({ src: VIP, dst: CLIENT }, 1, unhex("00 00 ff fe 00 01 00 00")) }),
          // quoting a later fragment of a reply: no ports
          icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: ICMP_TIME_EXCEEDED, code: 1, body: ipv4({ src: VIP, dst: CLIENT, df: false, fragOffset: 185 }, TCP, new Uint8Array(8)) }),
        ],
        verdicts: ["PASS", "PASS", "PASS", "PASS", "PASS", "PASS"],
        out: [],
      },
    ],
    policy: { newFlows: 1, vipPackets: 2 },
    shim: { parsedIpv4: 8 },
  },
  {
    name: "ICMP echo to the VIP, and other informational ICMP, are the kernel's: PASS, untouched",
    plan: WEB1,
    steps: [{
      in: [
        icmp({ eth: IN, ip: { src: CLIENT, dst: VIP }, type: 8, code: 0, rest: 0x00010001, body: unhex("70 69 6e 67") }),
        icmp({ eth: IN, ip: { src: CLIENT, dst: VIP }, type: 0, code: 0, rest: 0x00010001 }),
        icmp({ eth: IN, ip: { src: ROUTER_IP, dst: VIP }, type: 5, code: 1, rest: ROUTER_IP, body: quote(VIP_REPLY) }), // redirect
      ],
      verdicts: ["PASS", "PASS", "PASS"],
      out: [],
    }],
    shim: { parsedIpv4: 3 },
  },
  {
    // SYN_RECV lives 60 s. An error at 59 is forwarded but restarts nothing: the ACK at 60 finds
    // the connection expired, as it would have without the error.
    name: "forwarding an error restarts no timer: the connection expires when it would have without it",
    plan: WEB3,
    steps: [
      { now: 0, in: [syn(40000)], verdicts: [fwd(3)], out: [to(RS3, syn(40000))] },
      { now: 59, in: [fragNeeded(VIP_REPLY)], verdicts: [fwd(3)], out: [to(RS3, fragNeeded(VIP_REPLY))] },
      { now: 60, in: [c2v({ flags: ACK })], verdicts: ["DROP"], out: [] },
    ],
    policy: { newFlows: 1, vipPackets: 2, icmpErrorsForwarded: 1, tcpNoFlowDropped: 1 },
  },
]);

/** ICMP errors that cannot be trusted: [name, the error as sent to `dst`]. */
const BAD_ICMP: [string, (dst: number) => Uint8Array][] = [
  ["ICMP header cut to 4 bytes", (dst) => ethernet(IN, ETH_P_IP, ipv4({ src: ROUTER_IP, dst, df: false }, 1, unhex("03 04 fc fb")))],
  ["quote shorter than an IPv4 header (12 bytes)", (dst) => errTo(dst, quote(VIP_REPLY, 12))],
  ["quote without the ports' 8 bytes (IP header + 4)", (dst) => errTo(dst, quote(VIP_REPLY, 24))],
  ["quoted IHL 4", (dst) => errTo(dst, mangled((q) => (q[0] = 0x44)))],
  ["quoted IHL 15 beyond the quote", (dst) => errTo(dst, mangled((q) => (q[0] = 0x4f)))],
  ["quoted version 6", (dst) => errTo(dst, mangled((q) => (q[0] = 0x65)))],
  ["wrong ICMP checksum", (dst) => icmp({ eth: IN, ip: { src: ROUTER_IP, dst }, type: 3, code: 4, rest: 1400, body: quote(VIP_REPLY), csum: 0x1234 })],
];
function errTo(dst: number, body: Uint8Array): Uint8Array {
  return icmp({ eth: IN, ip: { src: ROUTER_IP, dst }, type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, rest: 1400, body });
}
function mangled(f: (q: Uint8Array) => void): Uint8Array {
  const q = quote(VIP_REPLY);
  f(q);
  return q;
}

runTable("malformed ICMP errors: never forwarded; counted as ours when sent to a VIP", BAD_ICMP.flatMap(([name, make]) => [
  {
    name: `${name}, to the VIP: dropped, icmpErrorsMalformed`,
    plan: WEB3,
    steps: [...ESTABLISH, { now: 2, in: [make(VIP)], verdicts: ["DROP"], out: [] }],
    policy: { newFlows: 1, vipPackets: 2, icmpErrorsMalformed: 1 },
    shim: { parsedMalformed: 1, parsedIpv4: 2 },
  } satisfies Row,
  {
    name: `${name}, to another host: PASS, counted by the shim only`,
    plan: WEB3,
    steps: [{ in: [make(OTHER_HOST)], verdicts: ["PASS"], out: [] }],
    shim: { parsedMalformed: 1, parsedIpv4: 0 },
  } satisfies Row,
]));

describe("ICMP errors: descriptor and connection", () => {
  test("the descriptor carries the connection's tuple and hash as the client's own packets do; ip_len and l3_off stay the ICMP packet's", () => {
    const h = open(WEB1);
    try {
      const err = fragNeeded(VIP_REPLY, { eth: { ...IN, vlan: 9 } });
      h.ring.simPush(c2v({ eth: { ...IN, vlan: 9 } }));
      h.ring.simPush(err);
      expect(h.ring.rx(0)).toBe(2);
      const field = (i: number) => {
        const o = i * DESC_SIZE;
        const dv = new DataView(h.ring.desc8.buffer, h.ring.desc8.byteOffset + o, DESC_SIZE);
        return {
          kind: dv.getUint8(DESC.kind), saddr: dv.getUint32(DESC.saddr, true), daddr: dv.getUint32(DESC.daddr, true),
          sport: dv.getUint16(DESC.sport, true), dport: dv.getUint16(DESC.dport, true), proto: dv.getUint8(DESC.proto),
          hash: dv.getUint32(DESC.hash, true), l3Off: dv.getUint16(DESC.l3Off, true), ipLen: dv.getUint16(DESC.ipLen, true),
          frameLen: dv.getUint32(DESC.frameLen, true), tcpFlags: dv.getUint8(DESC.tcpFlags),
        };
      };
      const pkt = field(0), e = field(1);
      expect(pkt.kind).toBe(Kind.Ipv4);
      expect(e).toEqual({
        kind: Kind.IcmpError, saddr: CLIENT, daddr: VIP, sport: 40000, dport: 80, proto: TCP, hash: pkt.hash,
        l3Off: 18, ipLen: 20 + 8 + 28, frameLen: err.length, tcpFlags: 0,
      });
      h.ring.tx();
    } finally {
      h.ring.close();
    }
  });

  test("forwarding an error changes neither the TCP state nor the time left of the connection", () => {
    const h = open(WEB3);
    try {
      batch(h, [syn(40000)], 0);
      batch(h, [c2v({ flags: ACK, seq: 1001, ack: 5001 })], 1);
      const before = h.fwd.connectionPage(10, 0, 1 << 30).rows;
      expect(before).toEqual([[TCP, CLIENT, 40000, VIP, 80, 1 /* ESTABLISHED */, 891, 3]]);
      // RST and FIN quoted or not, an error is no segment of the connection
      const { verdicts } = batch(h, [fragNeeded(VIP_REPLY), fragNeeded(tcp({ eth: IN, sport: 80, dport: 40000, flags: RST, ip: { src: VIP, dst: CLIENT } }))], 10);
      expect(verdicts).toEqual([fwd(3), fwd(3)]);
      expect(h.fwd.connectionPage(10, 0, 1 << 30).rows).toEqual(before);
      h.fwd.housekeeping(10);
      const pc = readPolicyCounters(h.counters);
      expect([pc.icmpErrorsForwarded, pc.newFlows, pc.vipPackets, pc.flowsActive]).toEqual([2, 1, 2, 1]);
    } finally {
      h.ring.close();
    }
  });
});
