import { describe, expect, test } from "bun:test";
import { listOrder } from "../../src/sched/index.ts";
import { overflowConnectionScheduler } from "../../src/sched/ovf.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { A, B, C, kernelReferenceTests, names, picks, runSchedulerSuite } from "./suite.ts";

// ovf answers -1 once every eligible server has more active connections than its weight, which
// the suite's model (connections never close) reaches quickly: it may legitimately not find.
runSchedulerSuite({
  name: "ovf",
  newScheduler: () => overflowConnectionScheduler(),
  distribution: "none",
  alwaysFinds: false,
});

/** ip_vs_ovf_schedule transcribed: skip overloaded servers, `activeconns > w` and `w == 0`;
 *  keep the highest weight (`!h || w > hw`). */
function kernelOvf(dests: readonly SchedDest[]): number {
  let h = -1;
  let hw = 0;
  for (let i = 0; i < dests.length; i++) {
    const d = dests[i];
    const w = d.weight;
    if (!d.available || d.activeConns > w || w === 0) continue;
    if (h < 0 || w > hw) {
      h = i;
      hw = w;
    }
  }
  return h;
}

describe("ovf: kernel ip_vs_ovf.c decisions", () => {
  test("the heaviest server fills to weight + 1 active connections, then the next overflows", () => {
    // A=2, B=3, C=1. B (highest) is eligible while active <= 3: at 0, 1, 2 and 3, so it takes
    // FOUR connections (the kernel tests `activeconns > w`, not >=). Then A at 0, 1, 2 (three),
    // then C at 0, 1 (two), then every server overflows: -1.
    const dests = [A(2), B(3), C(1)];
    const s = overflowConnectionScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 10))).toEqual(["B", "B", "B", "B", "A", "A", "A", "C", "C", "-"]);
  });

  test("equal weights: the first in list order fills first (added A, B: list B, A)", () => {
    const dests = listOrder([A(2), B(2)]);
    const s = overflowConnectionScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 7))).toEqual(["B", "B", "B", "A", "A", "A", "-"]);
  });

  test("a closing connection (destChanged) brings the heavier server back at once", () => {
    const dests = [A(2), B(3)];
    const s = overflowConnectionScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 5))).toEqual(["B", "B", "B", "B", "A"]);
    dests[1].activeConns--; // 4 -> 3: B no longer overflows
    dests[1].inactiveConns++; // inactive connections do not count
    s.destChanged(1);
    expect(names(dests, picks(s, dests, 2))).toEqual(["B", "A"]);
  });

  test("an overloaded server is skipped whatever its count", () => {
    const dests = [A(2), B(3)];
    const s = overflowConnectionScheduler();
    s.setDestinations(dests);
    dests[1].available = false;
    s.destChanged(1);
    expect(names(dests, picks(s, dests, 4))).toEqual(["A", "A", "A", "-"]);
  });

  kernelReferenceTests({ name: "ovf", newScheduler: () => overflowConnectionScheduler(), reference: kernelOvf });
});
