import { describe, expect, test } from "bun:test";
import { listOrder } from "../../src/sched/index.ts";
import { leastConnectionScheduler } from "../../src/sched/lc.ts";
import { MAX_COUNT } from "../../src/sched/load_index.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { A, B, C, D, kernelReferenceTests, runSchedulerSuite, startScheduler } from "./suite.ts";

runSchedulerSuite({ name: "lc", newScheduler: () => leastConnectionScheduler(), distribution: "equal" });

/** ip_vs_lc_schedule transcribed line by line: the first server with the smallest
 *  ip_vs_dest_conn_overhead, replaced only on `doh < loh`. BigInt stands in for the kernel's
 *  integers (without their 32-bit wrap, see load_index.ts). */
function kernelLc(dests: readonly SchedDest[]): number {
  let least = -1;
  let loh = 0n;
  for (let i = 0; i < dests.length; i++) {
    const d = dests[i];
    if (!d.available || d.weight === 0) continue;
    const doh = (BigInt(d.activeConns) << 8n) + BigInt(d.inactiveConns);
    if (least < 0 || doh < loh) {
      least = i;
      loh = doh;
    }
  }
  return least;
}

const start = (dests: SchedDest[]) => startScheduler(leastConnectionScheduler(), dests);

describe("lc: kernel ip_vs_lc.c decisions", () => {
  test("equal counts: the first server in list order (added A, B, C: list C, B, A)", () => {
    // All overheads 0: `doh < loh` never holds after the first, so C (the newest) wins; then C
    // has 256 and B, A are tied at 0: B; then A; then all at 256 again: C.
    const { next } = start(listOrder([A(1), B(1), C(1)]));
    expect(next(7)).toEqual(["C", "B", "A", "C", "B", "A", "C"]);
  });

  test("weight only excludes: weight 100 gets no more than weight 1, weight 0 nothing", () => {
    // A=1, B=100, C=0: C is skipped; A and B alternate on equal overheads, A first on each tie.
    const { next } = start([A(1), B(100), C(0)]);
    expect(next(6)).toEqual(["A", "B", "A", "B", "A", "B"]);
  });

  test("overhead is active * 256 + inactive", () => {
    const dests = [A(1), B(1)];
    const { s, now } = start(dests);
    dests[0].activeConns = 1; // 256
    s.destChanged(0);
    dests[1].inactiveConns = 255; // 255 < 256
    s.destChanged(1);
    expect(now()).toBe("B");
    dests[1].inactiveConns = 256; // tie: the earlier, A
    s.destChanged(1);
    expect(now()).toBe("A");
    dests[1].inactiveConns = 257;
    s.destChanged(1);
    expect(now()).toBe("A");
  });

  test("counts changed through destChanged move the choice at once", () => {
    const dests = [A(1), B(1), C(1), D(1)];
    const { s, now } = start(dests);
    expect(now()).toBe("A");
    dests[0].activeConns = 5;
    s.destChanged(0);
    expect(now()).toBe("B");
    dests[1].activeConns = 2;
    dests[2].activeConns = 1;
    dests[3].activeConns = 1;
    for (const i of [1, 2, 3]) s.destChanged(i);
    expect(now()).toBe("C"); // C and D tie at 256: C is earlier
    dests[2].available = false; // overloaded (ipvsadm -x): skipped
    s.destChanged(2);
    expect(now()).toBe("D");
    dests[0].activeConns = 0; // A's connections all closed
    s.destChanged(0);
    expect(now()).toBe("A");
  });

  test("counts beyond 2^28 - 1 saturate: equal from there on, the earlier server wins", () => {
    // Documented bound (load_index.ts): below it the comparison is exact; the kernel's own int
    // overhead has wrapped long before (2^23 active connections).
    const dests = [A(1), B(1)];
    const { s, now } = start(dests);
    dests[0].activeConns = MAX_COUNT;
    dests[1].activeConns = MAX_COUNT - 1;
    s.destChanged(0);
    s.destChanged(1);
    expect(now()).toBe("B");
    dests[0].activeConns = 2 ** 30;
    dests[1].activeConns = 2 ** 29;
    s.destChanged(0);
    s.destChanged(1);
    expect(now()).toBe("A");
  });

  test("a weight above 65535 is refused (the exactness bound depends on it)", () => {
    expect(() => leastConnectionScheduler().setDestinations([A(65536)])).toThrow(RangeError);
  });

  kernelReferenceTests({ name: "lc", newScheduler: () => leastConnectionScheduler(), reference: kernelLc });
});
