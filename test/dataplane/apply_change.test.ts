// Forwarder.applyChange: a change installs only the services it names; a service it does not
// name keeps its runtime, scheduler and connections; a removed service's slots stop forwarding
// and its matches go; and a slot handed from one service to another in one change ends where the
// change put it, whatever the order the services come in.
import { describe, expect, test } from "bun:test";
import { Ring, type RingParams } from "../../src/dataplane/ffi.ts";
import { Forwarder } from "../../src/dataplane/forwarder.ts";
import { DEFAULT_TIMEOUTS, type PlanDest, type PlanService } from "../../src/dataplane/plan.ts";
import { newDestCounterBuffer, newPolicyCounterBuffer } from "../../src/dataplane/policy_counters.ts";
import { VERDICT_PASS } from "../../src/dataplane/layout.ts";
import { DEFAULT_SCHEDULER_FLAGS } from "../../src/sched/scheduler.ts";
import { ACK, ip, mac, SYN, tcp } from "./packet_builder.ts";

const DIRECTOR = mac("02:00:00:00:00:01");
const ROUTER = mac("02:00:00:00:00:10");
const VIP = ip("198.18.0.100");
const PARAMS: RingParams = { version: 3, blockSize: 65536, blockCount: 4, blockTimeoutMs: 1, descCapacity: 1024, slotCapacity: 16 };

function dest(slot: number): PlanDest {
  return { slot, rip: ip(`198.18.1.${slot}`), port: 80, weight: 1, forward: "dr", mac: [2, 0, 0, 0, 1, slot], tunnel: null, upperThreshold: 0, lowerThreshold: 0 };
}
function service(id: number, port: number, slots: number[]): PlanService {
  return { id, matches: [{ proto: 6, vip: VIP, port }], scheduler: "rr", schedulerFlags: DEFAULT_SCHEDULER_FLAGS, persistence: null, dests: slots.map(dest) };
}
const change = (upserts: PlanService[], removed: number[] = []) => ({ upserts, removed, arpVips: [], timeouts: DEFAULT_TIMEOUTS });

function harness(services: PlanService[]) {
  const ring = Ring.openSim(DIRECTOR, PARAMS);
  const fwd = new Forwarder(ring, 1024, newPolicyCounterBuffer(), { services, arpVips: [], timeouts: DEFAULT_TIMEOUTS }, newDestCounterBuffer(16));
  /** The verdict of each frame: a slot, or "PASS"/"DROP". */
  const send = (frames: Uint8Array[], now = 1): (number | string)[] => {
    for (const f of frames) ring.simPush(f);
    const n = ring.rx(0);
    fwd.process(n, now);
    const v = Array.from(ring.verdicts.subarray(0, n), (x) => (x === VERDICT_PASS ? "PASS" : x >= 0xffffff00 ? "DROP" : x));
    ring.tx();
    ring.simTakeTx();
    return v;
  };
  const seg = (sport: number, dport: number, flags: number) =>
    tcp({ eth: { dst: DIRECTOR, src: ROUTER }, sport, dport, flags, ip: { src: ip("198.18.0.2"), dst: VIP } });
  return { ring, fwd, send, seg };
}

describe("Forwarder.applyChange", () => {
  test("a service the change does not name keeps its connections and its scheduler's place", () => {
    const h = harness([service(0, 80, [1, 2, 3]), service(1, 81, [5])]);
    try {
      const first = h.send([h.seg(40000, 80, SYN)]);
      h.fwd.applyChange(change([service(1, 81, [5, 4])]));
      // Service 0: the open connection stays where it was, and rr goes on from where it stood
      // (a scheduler built afresh would pick the same first server again).
      expect(h.send([h.seg(40000, 80, ACK)])).toEqual(first);
      const next = h.send([h.seg(40001, 80, SYN)]);
      expect(next[0]).not.toBe(first[0]);
      // Service 1 has its new real server.
      expect(new Set(h.send([h.seg(41000, 81, SYN), h.seg(41001, 81, SYN)]))).toEqual(new Set([4, 5]));
    } finally {
      h.ring.close();
    }
  });

  test("a removed service's slots stop forwarding and its VIP:port goes back to the kernel", () => {
    const h = harness([service(0, 80, [1]), service(1, 81, [2])]);
    try {
      expect(h.send([h.seg(40000, 81, SYN)])).toEqual([2]);
      h.fwd.applyChange(change([], [1]));
      expect(h.send([h.seg(40001, 81, SYN)])).toEqual(["PASS"]);
      expect(h.send([h.seg(40000, 80, SYN)])).toEqual([1]);
    } finally {
      h.ring.close();
    }
  });

  test("a slot handed from one service to another in one change ends with the second, in either order", () => {
    for (const order of ["giver first", "taker first"]) {
      const h = harness([service(0, 80, [1, 2]), service(1, 81, [3])]);
      try {
        const giver = service(0, 80, [1]);
        const taker = service(1, 81, [3, 2]);
        h.fwd.applyChange(change(order === "giver first" ? [giver, taker] : [taker, giver]));
        const to = new Set(h.send([h.seg(42000, 81, SYN), h.seg(42001, 81, SYN)]));
        expect({ order, to }).toEqual({ order, to: new Set([2, 3]) });
        expect(h.send([h.seg(42002, 80, SYN), h.seg(42003, 80, SYN)])).toEqual([1, 1]);
      } finally {
        h.ring.close();
      }
    }
  });
});
