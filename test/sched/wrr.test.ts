import { describe, expect, test } from "bun:test";
import { createScheduler, listOrder } from "../../src/sched/index.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { WeightedRoundRobinScheduler } from "../../src/sched/wrr.ts";
import { dest, picks, runSchedulerSuite } from "./suite.ts";

runSchedulerSuite({ name: "wrr", newScheduler: () => new WeightedRoundRobinScheduler(), distribution: "weighted" });

// Slots 0..3 are named A, B, C, D. Each test builds the list in kernel order (newest first).
const LABELS = ["A", "B", "C", "D"];

function start(initial: SchedDest[]) {
  const s = new WeightedRoundRobinScheduler();
  let dests = initial;
  let k = 0;
  s.setDestinations(dests);
  return {
    s,
    /** The next `n` decisions as names ("-" for none). */
    next(n: number): string[] {
      const out = picks(s, dests, n, k).map((i) => (i < 0 ? "-" : LABELS[dests[i].slot]));
      k += n;
      return out;
    },
    set(d: SchedDest[]): void {
      dests = d;
      s.setDestinations(d);
    },
  };
}

const A = (w: number, available = true) => dest(0, w, available);
const B = (w: number, available = true) => dest(1, w, available);
const C = (w: number, available = true) => dest(2, w, available);
const D = (w: number, available = true) => dest(3, w, available);

describe("wrr: kernel ip_vs_wrr.c sequences", () => {
  test("added C (2), B (3), A (4): list A, B, C yields A A B A B C A B C, then repeats", () => {
    const { next, s } = start(listOrder([C(2), B(3), A(4)]));
    expect(s.state).toEqual({ cw: 4, mw: 4, di: 1, cl: -1 });
    expect(next(9)).toEqual(["A", "A", "B", "A", "B", "C", "A", "B", "C"]);
    expect(next(9)).toEqual(["A", "A", "B", "A", "B", "C", "A", "B", "C"]);
  });

  test("weights 3:2:1 over 60 new connections give exactly 30/20/10", () => {
    const { next } = start([A(3), B(2), C(1)]);
    const seq = next(60);
    expect(seq.slice(0, 6)).toEqual(["A", "A", "B", "A", "B", "C"]);
    const count = (x: string) => seq.filter((y) => y === x).length;
    expect([count("A"), count("B"), count("C")]).toEqual([30, 20, 10]);
  });

  test("gcd > 1: weights 4, 2 give passes at cw 3 and 1 (mw = 4 - (2 - 1))", () => {
    const { next, s } = start([A(4), B(2)]);
    expect(s.state).toEqual({ cw: 3, mw: 3, di: 2, cl: -1 });
    expect(next(6)).toEqual(["A", "A", "B", "A", "A", "B"]);
  });

  test("equal weights behave as rr from the head", () => {
    const { next, s } = start([A(5), B(5), C(5)]);
    expect(s.state).toEqual({ cw: 1, mw: 1, di: 5, cl: -1 });
    expect(next(5)).toEqual(["A", "B", "C", "A", "B"]);
  });

  test("weight 0 is never chosen and is left out of gcd and max", () => {
    const { next, s } = start([A(2), B(0), C(1)]);
    expect(s.state).toEqual({ cw: 2, mw: 2, di: 1, cl: -1 });
    expect(next(6)).toEqual(["A", "A", "C", "A", "A", "C"]);
  });

  test("weight change mid-cycle onto a gcd > 1: cw is rounded onto the new pass grid", () => {
    // A=4, B=3, C=2. After A A B A the mark is cl = A, cw = 2.
    // B: 3 -> 2 runs ip_vs_wrr_dest_changed: di = gcd(4, 2, 2) = 2, mw = 4 - (2 - 1) = 3,
    // cw = 2 is neither > mw nor 0 and di > 1, so cw = (2 / 2) * 2 + 1 = 3; cl = head.
    //   cw=3 from head: A             → A
    //   cw=1 (last pass):  A B C      → A B C
    //   cw=3 again: A; cw=1: A B C    → A A B C
    // Without the rounding (cw = 2) it would be A B C A A B C: B and C one pass early.
    const dests = [A(4), B(3), C(2)];
    const { next, set, s } = start(dests);
    expect(next(4)).toEqual(["A", "A", "B", "A"]);
    expect(s.state).toEqual({ cw: 2, mw: 4, di: 1, cl: 0 });
    dests[1].weight = 2;
    set(dests);
    expect(s.state).toEqual({ cw: 3, mw: 3, di: 2, cl: -1 });
    expect(next(8)).toEqual(["A", "A", "B", "C", "A", "A", "B", "C"]);
  });

  test("weight lowered below cw: the cycle restarts at the new mw, from the head", () => {
    // A=4, B=3, C=2. After one decision (A) cw = 4. A: 4 -> 1 gives di = 1, mw = 3; cw = 4 > mw
    // so cw = 3, cl = head.
    //   cw=3: B            cw=2: B C        cw=1: A B C      (cw=0 wraps to 3) cw=3: B ...
    const dests = [A(4), B(3), C(2)];
    const { next, set, s } = start(dests);
    expect(next(1)).toEqual(["A"]);
    dests[0].weight = 1;
    set(dests);
    expect(s.state).toEqual({ cw: 3, mw: 3, di: 1, cl: -1 });
    expect(next(12)).toEqual(["B", "B", "C", "A", "B", "C", "B", "B", "C", "A", "B", "C"]);
  });

  test("a server added mid-cycle goes to the head; cw is kept and the walk restarts there", () => {
    // A=4, B=3, C=2 after A A B: cl = B, cw = 3. Adding D=3 gives list D A B C, di = 1, mw = 4,
    // cw = 3 kept, cl = head.
    //   cw=3: D A B   cw=2: D A B C   cw=1: D A B C   cw=4: A   cw=3: D A B ...
    const { next, set } = start([A(4), B(3), C(2)]);
    expect(next(3)).toEqual(["A", "A", "B"]);
    set([D(3), A(4), B(3), C(2)]);
    expect(next(15)).toEqual(["D", "A", "B", "D", "A", "B", "C", "D", "A", "B", "C", "A", "D", "A", "B"]);
  });

  test("deleting the last chosen server restarts the walk from the head at the same cw", () => {
    // After A A B (cw = 3), deleting A gives B=3, C=2: mw = 3, cw = 3 kept, cl = head.
    //   cw=3: B   cw=2: B C   cw=1: B C   cw=3: B
    const { next, set } = start([A(4), B(3), C(2)]);
    expect(next(3)).toEqual(["A", "A", "B"]);
    set([B(3), C(2)]);
    expect(next(6)).toEqual(["B", "B", "C", "B", "C", "B"]);
  });

  test("an availability change is not a dest_changed: cl and cw carry on", () => {
    // After A A B A: cl = A, cw = 2. B becomes unavailable (the kernel sets OVERLOAD without
    // telling the scheduler), so the walk continues after A at cw = 2:
    //   C   cw=1: A C   cw=4: A   cw=3: A   cw=2: A C   cw=1: A C
    // A reset to the head would instead give A C A C A A ...
    const dests = [A(4), B(3), C(2)];
    const { next, set, s } = start(dests);
    expect(next(4)).toEqual(["A", "A", "B", "A"]);
    dests[1].available = false;
    set(dests);
    expect(s.state).toEqual({ cw: 2, mw: 4, di: 1, cl: 0 });
    expect(next(9)).toEqual(["C", "A", "C", "A", "A", "A", "C", "A", "C"]);
  });

  test("all overloaded after passing every cw: -1, mark back at the head with cw = mw", () => {
    // After A A B: cl = B, cw = 3. Nothing available: the walk drops cw to 2, then 1 (last
    // pass), then wraps to mw = 4 with last_pass set → err_over with cl = head (the walk had
    // passed the head). When servers return, the cycle starts over: A A B A B C.
    const dests = [A(4), B(3), C(2)];
    const { next, set, s } = start(dests);
    expect(next(3)).toEqual(["A", "A", "B"]);
    for (const d of dests) d.available = false;
    set(dests);
    expect(next(1)).toEqual(["-"]);
    expect(s.state).toEqual({ cw: 4, mw: 4, di: 1, cl: -1 });
    for (const d of dests) d.available = true;
    set(dests);
    expect(next(6)).toEqual(["A", "A", "B", "A", "B", "C"]);
  });

  test("all overloaded when mw <= di: the `stop` at the last server ends the walk there", () => {
    // Equal weights: di = 2, mw = 1, every pass is the last pass. After A B: cl = B. Nothing
    // available: the walk past C wraps cw to mw (restarted), sets stop = B, checks A and B from
    // the head and fails at B, leaving cl = B. So on recovery C comes first, not A.
    const dests = [A(2), B(2), C(2)];
    const { next, set, s } = start(dests);
    expect(next(2)).toEqual(["A", "B"]);
    for (const d of dests) d.available = false;
    set(dests);
    expect(next(2)).toEqual(["-", "-"]);
    expect(s.state).toEqual({ cw: 1, mw: 1, di: 2, cl: 1 });
    for (const d of dests) d.available = true;
    set(dests);
    expect(next(4)).toEqual(["C", "A", "B", "C"]);
  });

  test("all weights set to 0: -1 without moving the mark; weights back restart the cycle", () => {
    const dests = [A(4), B(3), C(2)];
    const { next, set, s } = start(dests);
    expect(next(2)).toEqual(["A", "A"]);
    for (const d of dests) d.weight = 0;
    set(dests);
    expect(s.state).toEqual({ cw: 0, mw: 0, di: 1, cl: -1 });
    expect(next(2)).toEqual(["-", "-"]);
    dests[0].weight = 4;
    dests[1].weight = 3;
    dests[2].weight = 2;
    set(dests);
    expect(s.state).toEqual({ cw: 4, mw: 4, di: 1, cl: -1 });
    expect(next(9)).toEqual(["A", "A", "B", "A", "B", "C", "A", "B", "C"]);
  });

  test("createScheduler('wrr') gives the same sequence as the class", () => {
    const s = createScheduler("wrr");
    const dests = listOrder([C(2), B(3), A(4)]);
    s.setDestinations(dests);
    expect(picks(s, dests, 9).map((i) => LABELS[dests[i].slot]).join("")).toBe("AABABCABC");
  });
});
