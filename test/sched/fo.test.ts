import { describe, expect, test } from "bun:test";
import { weightedFailoverScheduler } from "../../src/sched/fo.ts";
import { listOrder } from "../../src/sched/index.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { A, B, C, D, kernelReferenceTests, names, picks, runSchedulerSuite } from "./suite.ts";

// All new connections go to one server, so neither spread applies.
runSchedulerSuite({ name: "fo", newScheduler: () => weightedFailoverScheduler(), distribution: "none" });

/** ip_vs_fo_schedule transcribed: the highest weight among servers not overloaded, replaced
 *  only on `weight > hw` with hw starting at 0. */
function kernelFo(dests: readonly SchedDest[]): number {
  let h = -1;
  let hw = 0;
  for (let i = 0; i < dests.length; i++) {
    const d = dests[i];
    if (d.available && d.weight > hw) {
      h = i;
      hw = d.weight;
    }
  }
  return h;
}

describe("fo: kernel ip_vs_fo.c decisions", () => {
  test("the highest weight takes everything, the first in list order on ties", () => {
    // A=2, B=5, C=5, D=1: B (C's 5 is not > 5). Counts play no part.
    const dests = [A(2), B(5), C(5), D(1)];
    const s = weightedFailoverScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 5))).toEqual(["B", "B", "B", "B", "B"]);
    expect(dests[1].activeConns).toBe(5);
  });

  test("ties follow kernel list order: added A, B, C with equal weights gives C", () => {
    const dests = listOrder([A(3), B(3), C(3)]);
    const s = weightedFailoverScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 2))).toEqual(["C", "C"]);
  });

  test("fails over in weight order as servers become unavailable, and back", () => {
    const dests = [A(2), B(5), C(5), D(1)];
    const s = weightedFailoverScheduler();
    s.setDestinations(dests);
    const next = () => names(dests, picks(s, dests, 1))[0];
    expect(next()).toBe("B");
    dests[1].available = false;
    s.destChanged(1);
    expect(next()).toBe("C");
    dests[2].available = false;
    s.destChanged(2);
    expect(next()).toBe("A");
    dests[0].available = false;
    s.destChanged(0);
    expect(next()).toBe("D");
    dests[3].available = false;
    s.destChanged(3);
    expect(next()).toBe("-");
    dests[2].available = true;
    s.destChanged(2);
    expect(next()).toBe("C");
    dests[1].available = true;
    s.destChanged(1);
    expect(next()).toBe("B");
  });

  test("a weight change (setDestinations) moves the choice; weight 0 quiesces", () => {
    const dests = [A(2), B(5), C(5), D(1)];
    const s = weightedFailoverScheduler();
    s.setDestinations(dests);
    dests[3].weight = 9;
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 1))).toEqual(["D"]);
    dests[3].weight = 0;
    dests[1].weight = 0;
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 1))).toEqual(["C"]);
  });

  kernelReferenceTests({ name: "fo", newScheduler: () => weightedFailoverScheduler(), reference: kernelFo });
});
