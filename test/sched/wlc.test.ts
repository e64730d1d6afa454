import { describe, expect, test } from "bun:test";
import { listOrder } from "../../src/sched/index.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { weightedLeastConnectionScheduler } from "../../src/sched/wlc.ts";
import { A, B, C, kernelReferenceTests, runSchedulerSuite, startScheduler, weightedOverheadReference } from "./suite.ts";

runSchedulerSuite({ name: "wlc", newScheduler: () => weightedLeastConnectionScheduler(), distribution: "weighted" });

/** ip_vs_wlc_schedule transcribed: overhead `(activeconns << 8) + inactconns`. */
const kernelWlc = weightedOverheadReference((d) => (BigInt(d.activeConns) << 8n) + BigInt(d.inactiveConns));

const start = (dests: SchedDest[]) => startScheduler(weightedLeastConnectionScheduler(), dests);

describe("wlc: kernel ip_vs_wlc.c decisions", () => {
  test("weight 1 and 3: B takes three for each of A's, A winning each tie", () => {
    // Overhead/weight, 256 per active connection (a = A's, b = B's):
    //   0/1 vs 0/3     tie  → A        256/1 vs 0/3          → B
    //   256 vs 256/3        → B        256 vs 512/3          → B
    //   256 vs 768/3   tie  → A        512 vs 768/3          → B ... and again up to the tie.
    const { next } = start([A(1), B(3)]);
    expect(next(9)).toEqual(["A", "B", "B", "B", "A", "B", "B", "B", "A"]);
  });

  test("ties keep the earlier server in list order (added A, B, C: list C, B, A)", () => {
    const { next } = start(listOrder([A(2), B(2), C(2)]));
    expect(next(6)).toEqual(["C", "B", "A", "C", "B", "A"]);
  });

  test("idle servers all tie at 0 whatever the weight: the first wins (sed would differ)", () => {
    // 0 * 2 > 0 * 1 is false: wlc keeps A. sed compares (0 + 1) * 2 > (0 + 1) * 1 and takes B.
    const { now } = start([A(1), B(2)]);
    expect(now()).toBe("A");
  });

  test("inactive connections count one 256th of an active one, divided by weight", () => {
    const dests = [A(1), B(2)];
    const { s, now } = start(dests);
    dests[0].inactiveConns = 10; // 10 / 1
    s.destChanged(0);
    dests[1].inactiveConns = 21; // 21 / 2 = 10.5: A
    s.destChanged(1);
    expect(now()).toBe("A");
    dests[1].inactiveConns = 20; // 10 = 10: A, the earlier
    s.destChanged(1);
    expect(now()).toBe("A");
    dests[1].inactiveConns = 19; // 9.5: B
    s.destChanged(1);
    expect(now()).toBe("B");
    dests[1].activeConns = 1; // (256 + 19) / 2 = 137.5 against 10: A
    s.destChanged(1);
    expect(now()).toBe("A");
  });

  test("weight 0 is never chosen, even idle against loaded servers", () => {
    const dests = [A(0), B(1)];
    const { s, next } = start(dests);
    dests[1].activeConns = 1000;
    s.destChanged(1);
    expect(next(3)).toEqual(["B", "B", "B"]);
  });

  test("an overloaded server (available false via destChanged) is skipped until it returns", () => {
    const dests = [A(5), B(1)];
    const { s, now } = start(dests);
    expect(now()).toBe("A");
    dests[0].available = false;
    s.destChanged(0);
    expect(now()).toBe("B");
    dests[0].available = true;
    s.destChanged(0);
    expect(now()).toBe("A");
  });

  test("cross products near 2^52 stay exact: a difference of one unit decides", () => {
    // A (weight 65535) with overhead x = 268427520 * 256 + 14 = 68717445134, B (weight 65534)
    // with y = 268423424 * 256 + 29 = 68716396573, chosen so that x * 65534 - y * 65535 = 1:
    // the kernel's `loh * dest->weight > doh * least->weight` holds by exactly 1 in about 2^52,
    // so B is (barely) lighter. Products held in fewer than 53 bits would round the two to
    // one value and keep A.
    const dests = [A(65535), B(65534)];
    const { s, now } = start(dests);
    dests[0].activeConns = 268427520;
    dests[0].inactiveConns = 14;
    dests[1].activeConns = 268423424;
    dests[1].inactiveConns = 29;
    s.destChanged(0);
    s.destChanged(1);
    expect(now()).toBe("B");
    // An exact tie at the bound: x = 65535 * 1048592, y = 65534 * 1048592, i.e. A with
    // 268435455 (= 2^28 - 1) active and 240 inactive, B with 268431359 and 224: A, the earlier.
    dests[0].activeConns = 268435455;
    dests[0].inactiveConns = 240;
    dests[1].activeConns = 268431359;
    dests[1].inactiveConns = 224;
    s.destChanged(0);
    s.destChanged(1);
    expect(now()).toBe("A");
  });

  kernelReferenceTests({ name: "wlc", newScheduler: () => weightedLeastConnectionScheduler(), reference: kernelWlc, wideSeed: 0xbadcafe });
});
