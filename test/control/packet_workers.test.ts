// What the control plane decides for several packet workers without running any: the share of
// an ipvsadm -x/-y threshold each worker gets, and the mask the fanout hashes client addresses
// under (the lab test test/lab/workers.test.ts runs the real thing).
import { describe, expect, test } from "bun:test";
import { workerPlan } from "../../src/control/packet_workers.ts";
import { fanoutMask } from "../../src/control/director.ts";
import type { Plan, PlanDest } from "../../src/dataplane/plan.ts";
import type { ServiceConfig } from "../../src/config/model.ts";

function dest(slot: number, upperThreshold: number, lowerThreshold: number): PlanDest {
  return { slot, rip: 0xc6120000 + slot, port: 80, weight: 1, forward: "dr", mac: [2, 0, 0, 0, 0, slot], tunnel: null, upperThreshold, lowerThreshold };
}

const PLAN: Plan = {
  services: [{
    id: 0, matches: [{ proto: 6, vip: 0xc6120064, port: 80 }], scheduler: "wlc",
    schedulerFlags: { port: false, fallback: false, mhTableSize: 4093 }, persistence: null,
    dests: [dest(0, 0, 0), dest(1, 100, 0), dest(2, 101, 60), dest(3, 1, 1)],
  }],
  arpVips: [],
  timeouts: { tcp: 900, tcpFin: 120, udp: 300 },
};

describe("workerPlan", () => {
  test("one worker runs the plan as it is", () => {
    expect(workerPlan(PLAN, 1)).toBe(PLAN);
  });

  test("with n workers each gets ceil(threshold / n); 0 (no limit) stays 0", () => {
    const dests = workerPlan(PLAN, 2).services[0]!.dests;
    expect(dests.map((d) => [d.upperThreshold, d.lowerThreshold])).toEqual([[0, 0], [50, 0], [51, 30], [1, 1]]);
    // everything else is untouched, and the original plan too
    expect(dests.map((d) => d.rip)).toEqual(PLAN.services[0]!.dests.map((d) => d.rip));
    expect(PLAN.services[0]!.dests[1]!.upperThreshold).toBe(100);
  });
});

describe("fanoutMask", () => {
  const svc = (netmask: string | null) => ({ persistence: netmask ? { timeout: 300, netmask } : null }) as ServiceConfig;

  test("without persistence clients spread one by one", () => {
    expect(fanoutMask([svc(null), svc(null)])).toBe(0xffffffff);
  });

  test("the widest persistence group wins: every address of it must reach one worker", () => {
    expect(fanoutMask([svc("255.255.255.255"), svc(null)])).toBe(0xffffffff);
    expect(fanoutMask([svc("255.255.255.0"), svc("255.255.0.0"), svc(null)])).toBe(0xffff0000);
  });
});
