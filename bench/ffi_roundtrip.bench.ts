// What one batch costs in user space, with no kernel in the way: the FFI round trip alone, and
// 256 frames through the real rx -> Forwarder.process -> tx path of a simulation handle.
// Run: taskset -c 1 bun bench/ffi_roundtrip.bench.ts     (make -C native first)
//
// Tasks, each timed per call by tinybench:
//   round trip     ring.rx(0) + ring.tx() on an empty simulation queue, ROUND_TRIPS times per call:
//                  the fixed price of a batch (two FFI calls, nothing to parse or send).
//   push           256 x ring.simPush(): the simulation's stand-in for the kernel filling the ring.
//                  It copies each frame and is one FFI call per frame, which a real ring never
//                  pays, so it is measured alone and subtracted from the rows below ("net").
//   push 64k       the same from the 64k-flow frame pool (4 MiB, not cache resident): what the
//                  "established 64k" row subtracts.
//   shim only      push + rx + every verdict set to the real server's slot with one fill() + tx:
//                  the C side (parse, rewrite, "send" = append to the capture buffer) with no policy.
//   established    push + rx + Forwarder.process + tx, 256 ACKs of 256 flows inserted beforehand
//                  by their SYNs: flow lookups in a hot table.
//   established 64k  the same over 65536 inserted flows, 256 different ones per batch: lookups
//                  that miss the CPU caches, as on a director with many clients.
//   new flows      push + rx + process + tx, 256 SYNs of never-seen flows per batch: lookup miss,
//                  rr scheduling, insert. The next batch's tuples are written into the frames
//                  before the call (untimed); the forwarder (and its flow table) is rebuilt
//                  untimed before it would reach the table's fill limit, so no insert is refused.
//
// The flow table has ringvs's default size (2^20 entries, 28 MiB) so cache behaviour is the
// production one. The capture buffer of the simulation handle is emptied after every call,
// untimed. Results: ns per call and ns per packet; "net" = row minus push, per packet.

import { Bench } from "tinybench";
import { FLOW_TABLE_DEFAULT_SIZE, RING_DEFAULTS } from "../src/config/model.ts";
import { Ring, type RingParams } from "../src/dataplane/ffi.ts";
import { Forwarder } from "../src/dataplane/forwarder.ts";
import { IPPROTO_TCP, TCP_ACK, TCP_SYN } from "../src/dataplane/layout.ts";
import { DEFAULT_TIMEOUTS, ipToU32, type Plan } from "../src/dataplane/plan.ts";
import { DEFAULT_SCHEDULER_FLAGS } from "../src/sched/scheduler.ts";
import { newPolicyCounterBuffer, readPolicyCounters } from "../src/dataplane/policy_counters.ts";

const BATCH = 256;
const FRAME_LEN = 64;
const ROUND_TRIPS = 1000;
const MANY_FLOWS = 65536;
/** Seconds on the forwarder's clock; constant, so no flow expires during the run. */
const NOW = 1000;
/** src/flow/flow_table.ts refuses inserts beyond 7/8 of its capacity (MAX_LOAD). */
const FLOW_TABLE_FILL_LIMIT = Math.floor(FLOW_TABLE_DEFAULT_SIZE * 0.875);

const DIRECTOR_MAC = new Uint8Array([0x02, 0x72, 0x76, 0x00, 0x00, 0x03]);
const CLIENT_MAC = [0x02, 0x72, 0x76, 0x00, 0x00, 0x02];
const RS_MAC = [0x02, 0x72, 0x76, 0x00, 0x00, 0x0b];
const VIP = ipToU32("198.18.0.100");
const PORT = 80;
const CLIENT_BASE = ipToU32("198.18.1.0");

/** Same ring parameters as the director (src/control/director.ts). */
const PARAMS: RingParams = { ...RING_DEFAULTS, descCapacity: 8192, slotCapacity: 4096 };

const PLAN: Plan = {
  services: [{
    id: 0, matches: [{ vip: VIP, proto: IPPROTO_TCP, port: PORT }], scheduler: "rr",
    schedulerFlags: DEFAULT_SCHEDULER_FLAGS, persistence: null,
    dests: [{ slot: 0, rip: ipToU32("198.18.0.11"), port: PORT, weight: 1, forward: "dr", mac: RS_MAC, tunnel: null, upperThreshold: 0, lowerThreshold: 0 }],
  }],
  arpVips: [],
  timeouts: DEFAULT_TIMEOUTS,
};

function checksum(b: Uint8Array, from: number, to: number, seed = 0): number {
  let sum = seed;
  for (let i = from; i < to; i += 2) sum += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** A 64-byte Ethernet/IPv4/TCP frame (10 bytes of payload) from saddr:sport to VIP:PORT, with
 *  both checksums complete (so the shim never has to finish one). */
function tcpFrame(saddr: number, sport: number, flags: number): Uint8Array {
  const f = new Uint8Array(FRAME_LEN);
  const dv = new DataView(f.buffer);
  f.set(DIRECTOR_MAC, 0);
  f.set(CLIENT_MAC, 6);
  dv.setUint16(12, 0x0800);
  setTuple(f, saddr, sport);
  f[14] = 0x45;
  dv.setUint16(16, FRAME_LEN - 14);
  dv.setUint16(20, 0x4000);
  f[22] = 64;
  f[23] = IPPROTO_TCP;
  dv.setUint32(30, VIP);
  dv.setUint16(36, PORT);
  dv.setUint32(38, 1000);
  if (flags & TCP_ACK) dv.setUint32(42, 2000);
  f[46] = 5 << 4;
  f[47] = flags;
  dv.setUint16(48, 65535);
  finishChecksums(f);
  return f;
}

function setTuple(f: Uint8Array, saddr: number, sport: number): void {
  f[26] = saddr >>> 24; f[27] = (saddr >>> 16) & 255; f[28] = (saddr >>> 8) & 255; f[29] = saddr & 255;
  f[34] = sport >>> 8; f[35] = sport & 255;
}

function finishChecksums(f: Uint8Array): void {
  f[24] = f[25] = 0;
  const ipSum = checksum(f, 14, 34);
  f[24] = ipSum >>> 8; f[25] = ipSum & 255;
  f[50] = f[51] = 0;
  const tcpSum = checksum(f, 34, FRAME_LEN, IPPROTO_TCP + (FRAME_LEN - 34) + 0xffff - checksum(f, 26, 34));
  f[50] = tcpSum >>> 8; f[51] = tcpSum & 255;
}

/** Client i: 256 ports per address, so many flows stay inside a /16 of test addresses. */
const clientOf = (i: number): [number, number] => [CLIENT_BASE + (i >>> 8), 1024 + (i & 255)];

const ring = Ring.openSim(DIRECTOR_MAC, PARAMS);
const counters = newPolicyCounterBuffer();

function push(frames: readonly Uint8Array[], from = 0): void {
  for (let i = 0; i < BATCH; i++) ring.simPush(frames[from + i]!);
}

/** Push + rx + process + tx: one batch as the packet worker runs it. */
function forwardBatch(fwd: Forwarder, frames: readonly Uint8Array[], from = 0): number {
  push(frames, from);
  const n = ring.rx(0);
  fwd.process(n, NOW);
  ring.tx();
  return n;
}

/** Pass everything queued (untimed clean-up after a push-only call). */
function drain(): void {
  ring.rx(0);
  ring.tx();
}

let sink = 0;
/** A simulation handle's tx() returns 0 (nothing goes to a socket); its capture shows what left. */
const check = (what: string) => {
  const sent = ring.simTakeTx().length;
  if (sent !== BATCH) throw new Error(`${what}: ${sent} of ${BATCH} frames forwarded`);
};

// Established, hot: 256 flows.
const hotAcks: Uint8Array[] = [];
const hotFwd = new Forwarder(ring, FLOW_TABLE_DEFAULT_SIZE, counters, PLAN);
{
  const syns: Uint8Array[] = [];
  for (let i = 0; i < BATCH; i++) {
    const [a, p] = clientOf(i);
    syns.push(tcpFrame(a, p, TCP_SYN));
    hotAcks.push(tcpFrame(a, p, TCP_ACK));
  }
  forwardBatch(hotFwd, syns);
  check("SYNs of the hot flows");
}

// Established, many: 65536 flows, walked 256 at a time.
const manyAcks: Uint8Array[] = [];
const manyFwd = new Forwarder(ring, FLOW_TABLE_DEFAULT_SIZE, counters, PLAN);
{
  for (let i = 0; i < MANY_FLOWS; i += BATCH) {
    const syns: Uint8Array[] = [];
    for (let j = i; j < i + BATCH; j++) {
      const [a, p] = clientOf(j);
      syns.push(tcpFrame(a, p, TCP_SYN));
      manyAcks.push(tcpFrame(a, p, TCP_ACK));
    }
    forwardBatch(manyFwd, syns);
    check("SYNs of the 64k flows");
  }
}
let manyAt = 0;
let manyPushAt = 0;

// New flows: 256 SYN frames whose tuples are rewritten before every call.
const newSyns: Uint8Array[] = [];
for (let i = 0; i < BATCH; i++) newSyns.push(tcpFrame(0, 0, TCP_SYN));
let newFwd = new Forwarder(ring, FLOW_TABLE_DEFAULT_SIZE, counters, PLAN);
let nextClient = 0;
let rebuilds = 0;
let refused = 0;
function prepareNewFlows(): void {
  if (newFwd.flows.size + BATCH > FLOW_TABLE_FILL_LIMIT) {
    refused += newFwd.flows.full;
    newFwd = new Forwarder(ring, FLOW_TABLE_DEFAULT_SIZE, counters, PLAN);
    rebuilds++;
  }
  for (const f of newSyns) {
    const k = nextClient++;
    // 2^14 ports per address: distinct tuples for the whole run without wrapping.
    setTuple(f, CLIENT_BASE + 65536 + Math.floor(k / 16384), 1024 + (k % 16384));
  }
}

const clearCapture = () => void ring.simTakeTx();
const bench = new Bench({ time: 1000, warmupTime: 200 });

bench.add("round trip", () => {
  for (let i = 0; i < ROUND_TRIPS; i++) sink += ring.rx(0) + ring.tx();
});
bench.add("push", () => push(hotAcks), { afterEach: drain });
bench.add("push 64k", () => {
  push(manyAcks, manyPushAt);
  manyPushAt = (manyPushAt + BATCH) % MANY_FLOWS;
}, { afterEach: drain });
bench.add("shim only", () => {
  push(hotAcks);
  const n = ring.rx(0);
  ring.verdicts.fill(0, 0, n);
  ring.tx();
  sink += n;
}, { afterEach: clearCapture });
bench.add("established", () => {
  sink += forwardBatch(hotFwd, hotAcks);
}, { afterEach: clearCapture });
bench.add("established 64k", () => {
  sink += forwardBatch(manyFwd, manyAcks, manyAt);
  manyAt = (manyAt + BATCH) % MANY_FLOWS;
}, { afterEach: clearCapture });
bench.add("new flows", () => {
  sink += forwardBatch(newFwd, newSyns);
}, { beforeEach: prepareNewFlows, afterEach: clearCapture });

await bench.warmup();
await bench.run();

// Every forwarding task must really have forwarded: one more batch of each, checked.
push(hotAcks); ring.verdicts.fill(0, 0, ring.rx(0)); ring.tx(); check("shim only");
forwardBatch(hotFwd, hotAcks); check("established");
forwardBatch(manyFwd, manyAcks, manyAt); check("established 64k");
prepareNewFlows(); forwardBatch(newFwd, newSyns); check("new flows");

const meanNs = (name: string) => (bench.getTask(name)?.result?.mean ?? NaN) * 1e6;
/** The push each row subtracts: the 64k row copies its frames from a 4 MiB pool that is not in
 *  cache, so it subtracts a push from that same pool. */
const pushOf = (name: string) => meanNs(name === "established 64k" ? "push 64k" : "push");
const net = (name: string) => (meanNs(name) - pushOf(name)) / BATCH;
const rows = bench.tasks.map((t) => {
  const r = t.result!;
  const perCall = r.mean * 1e6;
  const packets = t.name === "round trip" ? 0 : BATCH;
  const hasNet = packets > 0 && !t.name.startsWith("push");
  return {
    task: t.name,
    "ns/call": t.name === "round trip" ? (perCall / ROUND_TRIPS).toFixed(1) : perCall.toFixed(0),
    "ns/packet": packets ? (perCall / packets).toFixed(1) : "-",
    "net ns/packet": hasNet ? net(t.name).toFixed(1) : "-",
    "net Mpps/core": hasNet ? (1e3 / net(t.name)).toFixed(2) : "-",
    "±%": r.rme.toFixed(2),
    samples: r.samples.length,
  };
});
console.table(rows);
const shim = net("shim only");
console.log(
  `round trip ${(meanNs("round trip") / ROUND_TRIPS).toFixed(1)} ns per batch (rx+tx, empty); push ` +
  `${(meanNs("push") / BATCH).toFixed(1)} ns/frame (64k pool ${(meanNs("push 64k") / BATCH).toFixed(1)}), ` +
  `subtracted from every "net" figure.\n` +
  `policy (Forwarder.process) per packet: established ${(net("established") - shim).toFixed(1)} ns, ` +
  `established 64k ${(net("established 64k") - shim).toFixed(1)} ns, new flows ${(net("new flows") - shim).toFixed(1)} ns ` +
  `(net row minus net "shim only" ${shim.toFixed(1)} ns).\n` +
  `new flows: ${nextClient} distinct SYNs, forwarder rebuilt ${rebuilds} times, ` +
  `inserts refused ${refused + newFwd.flows.full}; policy counters: ${JSON.stringify(readPolicyCounters(counters))}`,
);
if (sink === 0.5) console.log(sink); // never true; keeps the results observable
ring.close();
