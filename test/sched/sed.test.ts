import { describe, expect, test } from "bun:test";
import { listOrder } from "../../src/sched/index.ts";
import { shortestExpectedDelayScheduler } from "../../src/sched/sed.ts";
import { weightedLeastConnectionScheduler } from "../../src/sched/wlc.ts";
import { A, B, C, kernelReferenceTests, names, now, picks, runSchedulerSuite, weightedOverheadReference } from "./suite.ts";

runSchedulerSuite({ name: "sed", newScheduler: () => shortestExpectedDelayScheduler(), distribution: "weighted" });

/** ip_vs_sed_schedule transcribed: as wlc, with overhead `activeconns + 1`. */
const kernelSed = weightedOverheadReference((d) => BigInt(d.activeConns) + 1n);

describe("sed: kernel ip_vs_sed.c decisions", () => {
  test("weights 1 and 2 from idle: sed takes B first, wlc takes A", () => {
    // (a + 1) / 1 against (b + 1) / 2, replacing A by B only if (a + 1) * 2 > (b + 1) * 1:
    //   a=0 b=0: 2 > 1 → B     a=0 b=1: 2 > 2 no → A     a=1 b=1: 4 > 2 → B
    //   a=1 b=2: 4 > 3 → B     a=1 b=3: 4 > 4 no → A     a=2 b=3: 6 > 4 → B
    //   a=2 b=4: 6 > 5 → B     a=2 b=5: 6 > 6 no → A
    // wlc on the same list compares a * 256 * 2 > b * 256 * 1: a=0 b=0 is a tie, so A first:
    //   A, then B (512 > 0), B (512 > 256), A (512 > 512 no), B, B, ...
    const sedDests = [A(1), B(2)];
    const sed = shortestExpectedDelayScheduler();
    sed.setDestinations(sedDests);
    expect(names(sedDests, picks(sed, sedDests, 8))).toEqual(["B", "A", "B", "B", "A", "B", "B", "A"]);
    const wlcDests = [A(1), B(2)];
    const wlc = weightedLeastConnectionScheduler();
    wlc.setDestinations(wlcDests);
    expect(names(wlcDests, picks(wlc, wlcDests, 6))).toEqual(["A", "B", "B", "A", "B", "B"]);
  });

  test("ties keep the earlier server in list order (added A, B, C: list C, B, A)", () => {
    const dests = listOrder([A(3), B(3), C(3)]);
    const s = shortestExpectedDelayScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 6))).toEqual(["C", "B", "A", "C", "B", "A"]);
  });

  test("inactive connections do not count", () => {
    // A: (0 + 1) / 1 with 1000 inactive; B: (0 + 1) / 1 with none: a tie, so A. wlc would
    // weigh A's 1000 inactive (1000 > 0) and take B.
    const dests = [A(1), B(1)];
    const s = shortestExpectedDelayScheduler();
    s.setDestinations(dests);
    dests[0].inactiveConns = 1000;
    s.destChanged(0);
    expect(now(s, dests)).toBe("A");
  });

  test("active counts changed through destChanged move the choice", () => {
    // A=4, B=1. (a + 1) / 4 vs (b + 1) / 1.
    const dests = [A(4), B(1)];
    const s = shortestExpectedDelayScheduler();
    s.setDestinations(dests);
    expect(now(s, dests)).toBe("A"); // 1/4 < 1
    dests[0].activeConns = 3; // 4/4 = 1 = 1/1: tie, A
    s.destChanged(0);
    expect(now(s, dests)).toBe("A");
    dests[0].activeConns = 4; // 5/4 > 1: B
    s.destChanged(0);
    expect(now(s, dests)).toBe("B");
    dests[1].available = false;
    s.destChanged(1);
    expect(now(s, dests)).toBe("A");
  });

  kernelReferenceTests({ name: "sed", newScheduler: () => shortestExpectedDelayScheduler(), reference: kernelSed, wideSeed: 0x5ed });
});
