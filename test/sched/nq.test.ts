import { describe, expect, test } from "bun:test";
import { listOrder } from "../../src/sched/index.ts";
import { neverQueueScheduler } from "../../src/sched/nq.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { shortestExpectedDelayScheduler } from "../../src/sched/sed.ts";
import { A, B, C, dest, kernelReferenceTests, names, now, picks, runSchedulerSuite } from "./suite.ts";

runSchedulerSuite({ name: "nq", newScheduler: () => neverQueueScheduler(), distribution: "weighted" });

/** ip_vs_nq_schedule transcribed: one walk; an eligible server with no active connection is
 *  returned at once, otherwise the sed rule (`(s64)loh * dest->weight > (s64)doh *
 *  least->weight`, overhead active + 1). */
function kernelNq(dests: readonly SchedDest[]): number {
  let least = -1;
  let loh = 0n;
  for (let i = 0; i < dests.length; i++) {
    const d = dests[i];
    if (!d.available || d.weight === 0) continue;
    const doh = BigInt(d.activeConns) + 1n;
    if (d.activeConns === 0) return i; // "return the server directly if it is idle"
    if (least < 0 || loh * BigInt(d.weight) > doh * BigInt(dests[least].weight)) {
      least = i;
      loh = doh;
    }
  }
  return least;
}

function withCounts(weights: readonly number[], active: readonly number[]): SchedDest[] {
  return weights.map((w, i) => {
    const d = dest(i, w);
    d.activeConns = active[i];
    return d;
  });
}

describe("nq: kernel ip_vs_nq.c decisions", () => {
  test("an idle server is taken before any weighing: weight 1 first, then weight 100", () => {
    // A=1, B=100, both idle: the walk returns A at once (sed would take B: 1 * 100 > 1 * 1).
    // Then B is the first idle one. Then no one is idle: (1 + 1) / 1 against (1 + 1) / 100 → B,
    // and B keeps winning while (b + 1) * 1 < 2 * 100.
    const dests = [A(1), B(100)];
    const s = neverQueueScheduler();
    s.setDestinations(dests);
    expect(names(dests, picks(s, dests, 5))).toEqual(["A", "B", "B", "B", "B"]);
    const sedDests = [A(1), B(100)];
    const sed = shortestExpectedDelayScheduler();
    sed.setDestinations(sedDests);
    expect(now(sed, sedDests)).toBe("B");
  });

  test("an idle server later in the list beats a busy one of any weight before it", () => {
    // A: weight 100 with 1 active ((1 + 1) / 100 = 0.02), B: weight 1, idle. sed takes A
    // (2 * 1 > 1 * 100 is false), nq returns B as soon as the walk reaches it.
    const dests = withCounts([100, 1], [1, 0]);
    const s = neverQueueScheduler();
    s.setDestinations(dests);
    expect(now(s, dests)).toBe("B");
    const sed = shortestExpectedDelayScheduler();
    sed.setDestinations(dests);
    expect(now(sed, dests)).toBe("A");
  });

  test("of several idle servers the first in list order wins (added A, B, C: list C, B, A)", () => {
    const dests = listOrder([A(1), B(5), C(9)]);
    const s = neverQueueScheduler();
    s.setDestinations(dests);
    // C, B, A are idle in turn and taken in list order. Then no one is idle and the sed rule
    // walks C, B, A replacing on `loh * dest->weight > doh * least->weight`:
    //   c=1 b=1 a=1: C 2/9, B 2/5 (2*5 > 2*9 no), A 2/1 → C
    //   c=2: C 3/9, B: 3*5 > 2*9? 15 > 18 no; A no → C
    //   c=3: C 4/9, B: 4*5 > 2*9? 20 > 18 yes → B (2/5); A: 2*1 > 2*5 no → B
    expect(names(dests, picks(s, dests, 6))).toEqual(["C", "B", "A", "C", "C", "B"]);
  });

  test("no idle server: the sed rule, ties to the earlier server", () => {
    // A: (3 + 1) / 2 = 2, B: (1 + 1) / 1 = 2: tie, A.
    const dests = withCounts([2, 1], [3, 1]);
    const s = neverQueueScheduler();
    s.setDestinations(dests);
    expect(now(s, dests)).toBe("A");
    dests[0].activeConns = 4; // 5/2 > 2 → B
    s.destChanged(0);
    expect(now(s, dests)).toBe("B");
  });

  test("idle but unavailable or weight 0 does not count as idle", () => {
    // A idle but overloaded, B idle but quiesced, C 5 active, D 3 active: D ((3 + 1) / 1).
    const dests = withCounts([1, 0, 1, 1], [0, 0, 5, 3]);
    dests[0].available = false;
    const s = neverQueueScheduler();
    s.setDestinations(dests);
    expect(now(s, dests)).toBe("D");
  });

  test("a server whose last connection closes is taken at once, through destChanged", () => {
    const dests = withCounts([1, 1, 50], [4, 2, 3]);
    const s = neverQueueScheduler();
    s.setDestinations(dests);
    expect(now(s, dests)).toBe("C"); // 4/50 against 5/1 and 3/1
    dests[0].activeConns = 0;
    dests[0].inactiveConns = 4; // inactive connections do not make it busy
    s.destChanged(0);
    expect(now(s, dests)).toBe("A");
    dests[0].activeConns = 1; // busy again: back to C
    s.destChanged(0);
    expect(now(s, dests)).toBe("C");
  });

  kernelReferenceTests({ name: "nq", newScheduler: () => neverQueueScheduler(), reference: kernelNq, wideSeed: 0x2a });
});
