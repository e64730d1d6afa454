import { describe, expect, test } from "bun:test";
import { createScheduler, listOrder } from "../../src/sched/index.ts";
import { RoundRobinScheduler } from "../../src/sched/rr.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { dest, picks, runSchedulerSuite } from "./suite.ts";

runSchedulerSuite({ name: "rr", newScheduler: () => new RoundRobinScheduler(), distribution: "equal" });

/** Decisions as server names, so expected sequences read like the kernel's. */
function names(dests: readonly SchedDest[], byIndex: readonly number[], labels: ReadonlyMap<number, string>): string[] {
  return byIndex.map((i) => (i < 0 ? "-" : (labels.get(dests[i].slot) ?? "?")));
}

describe("rr: kernel ip_vs_rr.c sequences", () => {
  // Slots 0..4 named X, Y, Z, W, V.
  const labels = new Map([
    [0, "X"],
    [1, "Y"],
    [2, "Z"],
    [3, "W"],
    [4, "V"],
  ]);
  const X = () => dest(0, 1);
  const Y = () => dest(1, 1);
  const Z = () => dest(2, 1);
  const W = () => dest(3, 1);

  function start(dests: SchedDest[]) {
    const s = createScheduler("rr");
    s.setDestinations(dests);
    let k = 0;
    const next = (n: number) => {
      const out = names(dests, picks(s, dests, n, k), labels);
      k += n;
      return out;
    };
    return { s, next, set: (d: SchedDest[]) => ((dests = d), s.setDestinations(d)) };
  }

  test("added X, Y, Z: the list is Z, Y, X and the first choice is Z", () => {
    const { next } = start(listOrder([X(), Y(), Z()]));
    expect(next(7)).toEqual(["Z", "Y", "X", "Z", "Y", "X", "Z"]);
  });

  test("weight 0 and unavailable servers are skipped, equal turns otherwise whatever the weight", () => {
    const dests = [dest(2, 9), dest(1, 0), dest(0, 1), dest(3, 5, false)];
    const { next } = start(dests);
    expect(next(6)).toEqual(["Z", "X", "Z", "X", "Z", "X"]);
  });

  test("adding a server (at the head) leaves the cursor on the last chosen server", () => {
    // No add_dest hook in ip_vs_rr.c: after Z, Y the cursor stays on Y, so X comes next and the
    // new W, now first in the list, only after the walk wraps.
    const { next, set } = start([Z(), Y(), X()]);
    expect(next(2)).toEqual(["Z", "Y"]);
    set([W(), Z(), Y(), X()]);
    expect(next(5)).toEqual(["X", "W", "Z", "Y", "X"]);
  });

  test("deleting the last chosen server moves the cursor to its predecessor", () => {
    // ip_vs_rr_del_dest: sched_data = p->next->prev, i.e. Z once Y is unlinked; so X follows.
    const { next, set } = start([Z(), Y(), X()]);
    expect(next(2)).toEqual(["Z", "Y"]);
    set([Z(), X()]);
    expect(next(3)).toEqual(["X", "Z", "X"]);
  });

  test("deleting the last chosen server when it is first moves the cursor to the head", () => {
    const { next, set } = start([Z(), Y(), X()]);
    expect(next(1)).toEqual(["Z"]);
    set([Y(), X()]);
    expect(next(3)).toEqual(["Y", "X", "Y"]);
  });

  test("deleting the chosen server and its predecessor falls back to the nearest survivor", () => {
    const { next, set } = start([W(), Z(), Y(), X()]);
    expect(next(3)).toEqual(["W", "Z", "Y"]);
    set([W(), X()]); // Z and Y gone: Y's predecessor Z is gone too, so the cursor lands on W.
    expect(next(3)).toEqual(["X", "W", "X"]);
  });

  test("a weight change does not move the cursor", () => {
    const dests = [Z(), Y(), X()];
    const { next, set } = start(dests);
    expect(next(2)).toEqual(["Z", "Y"]);
    dests[0].weight = 100;
    set(dests);
    expect(next(4)).toEqual(["X", "Z", "Y", "X"]);
  });

  test("the last chosen server is chosen again when it is the only eligible one", () => {
    const dests = [Z(), Y(), X()];
    const { next, set } = start(dests);
    expect(next(2)).toEqual(["Z", "Y"]);
    dests[0].weight = 0;
    dests[2].available = false;
    set(dests);
    expect(next(3)).toEqual(["Y", "Y", "Y"]);
  });

  test("when nothing is available the cursor stays, and the walk resumes after it", () => {
    const dests = [Z(), Y(), X()];
    const { next, set } = start(dests);
    expect(next(2)).toEqual(["Z", "Y"]);
    for (const d of dests) d.available = false;
    set(dests);
    expect(next(2)).toEqual(["-", "-"]);
    for (const d of dests) d.available = true;
    set(dests);
    expect(next(4)).toEqual(["X", "Z", "Y", "X"]);
  });
});

describe("listOrder", () => {
  test("reverses the add order and leaves the input alone", () => {
    const added = ["X", "Y", "Z"];
    expect(listOrder(added)).toEqual(["Z", "Y", "X"]);
    expect(added).toEqual(["X", "Y", "Z"]);
    expect(listOrder([])).toEqual([]);
  });
});

describe("createScheduler", () => {
  test("builds a fresh scheduler per call, by ipvsadm name", () => {
    const a = createScheduler("rr");
    const b = createScheduler("rr");
    expect(a).not.toBe(b);
    expect(a.name).toBe("rr");
    expect(createScheduler("wrr").name).toBe("wrr");
  });

  test("throws on a name outside the SchedulerName type (programmer error)", () => {
    expect(() => createScheduler("nope" as "rr")).toThrow('unknown scheduler "nope"');
  });
});
