import { describe, expect, test } from "bun:test";
import { createScheduler } from "../../src/sched/index.ts";
import { LblcScheduler } from "../../src/sched/lblc.ts";
import { LOCALITY_MAX_SIZE } from "../../src/sched/locality.ts";
import { destsOf, runSchedulerSuite } from "./suite.ts";

// lblc always finds a server when one is eligible (it falls back to weighted least-connection);
// the suite sends everything to one destination address, so no distribution is checked.
runSchedulerSuite({ name: "lblc", newScheduler: () => new LblcScheduler() });

const X = 0xc0a80001;
const Y = 0xc0a80002;

function go(s: LblcScheduler, daddr: number, now = 0): number {
  return s.schedule(0x0a000001, daddr, 40000, 80, now);
}

describe("lblc: kernel ip_vs_lblc.c", () => {
  test("a new destination gets the weighted least-connection server, first on a tie", () => {
    const dests = destsOf([10, 10, 10]);
    dests[0].activeConns = 2; // overhead 512 / 10
    dests[1].inactiveConns = 300; // overhead 300 / 10: least
    dests[2].activeConns = 1; // 256 / 10: less still
    const s = new LblcScheduler();
    s.setDestinations(dests);
    expect(go(s, X)).toBe(2);
    expect(s.entries()).toEqual([{ daddr: X, slot: 2, lastuse: 0 }]);
  });

  test("sticks to its server while active <= weight, or while nobody is at half load", () => {
    const dests = destsOf([10, 10, 10]);
    const s = new LblcScheduler();
    s.setDestinations(dests);
    expect(go(s, X)).toBe(0);
    // Much busier than the others but not over its weight: stays.
    dests[0].activeConns = 10;
    expect(go(s, X)).toBe(0);
    // Over its weight, but every server is at half load or more (6 * 2 >= 10): stays.
    dests[0].activeConns = 11;
    dests[1].activeConns = 5;
    dests[2].activeConns = 6;
    expect(go(s, X)).toBe(0);
    // Server 1 drops below half load (4 * 2 < 10): 0 is overloaded; least connection is 1.
    dests[1].activeConns = 4;
    expect(go(s, X)).toBe(1);
    expect(s.entries().map((e) => e.slot)).toEqual([1]);
    // And it sticks to 1 from now on, even with 0 idle again.
    dests[0].activeConns = 0;
    expect(go(s, X)).toBe(1);
  });

  test("the half-load server may be an unavailable one (the kernel scans the whole list)", () => {
    const dests = destsOf([10, 10, 10]);
    const s = new LblcScheduler();
    s.setDestinations(dests);
    expect(go(s, X)).toBe(0);
    for (const d of dests) d.activeConns = 6;
    dests[0].activeConns = 11;
    dests[2].activeConns = 0;
    dests[2].available = false; // at 0 load but cannot take connections
    s.setDestinations(dests);
    // Overloaded because of server 2; the new pick skips 2: server 1 (6) over 0 (11).
    expect(go(s, X)).toBe(1);
  });

  test("destinations are independent", () => {
    const dests = destsOf([1, 1]);
    const s = new LblcScheduler();
    s.setDestinations(dests);
    expect(go(s, X)).toBe(0);
    dests[0].activeConns = 1;
    expect(go(s, Y)).toBe(1);
    expect(go(s, X)).toBe(0);
  });

  test("a quiesced, unavailable or deleted cached server is replaced", () => {
    const dests = destsOf([1, 1]);
    const s = new LblcScheduler();
    s.setDestinations(dests);
    expect(go(s, X)).toBe(0);
    dests[0].weight = 0;
    s.setDestinations(dests);
    expect(go(s, X)).toBe(1);
    expect(s.entries().map((e) => e.slot)).toEqual([1]);
    dests[1].available = false;
    dests[0].weight = 1;
    s.setDestinations(dests);
    expect(go(s, X)).toBe(0);
    s.setDestinations([dests[1]]); // slot 0 deleted, slot 1 still unavailable
    expect(go(s, X)).toBe(-1);
    dests[1].available = true;
    expect(go(s, X)).toBe(0); // index 0 of the new list, slot 1
    expect(s.entries().map((e) => e.slot)).toEqual([1]);
  });

  test("entries unused for `expiration` go at the full check, every 30 minutes", () => {
    // The first decision arms the 60 s timer; 29 small-table runs raise the counter from 1 to
    // 30, and the 30th run (t = 1800) is the full check: X, last used at 0, is 1800 >= 600 old.
    const dests = destsOf([10, 10]);
    const s = new LblcScheduler({ expiration: 600 });
    s.setDestinations(dests);
    expect(go(s, X, 0)).toBe(0);
    dests[0].activeConns = 5; // busier, but not overloaded: X stays on 0
    expect(go(s, Y, 1000)).toBe(1);
    expect(go(s, Y, 1799)).toBe(1);
    expect(s.entries().map((e) => e.daddr).sort()).toEqual([X, Y]);
    expect(go(s, Y, 1800)).toBe(1);
    expect(s.entries().map((e) => e.daddr)).toEqual([Y]);
    // X is scheduled afresh: least connection is now 1.
    expect(go(s, X, 1801)).toBe(1);
  });

  test("a lookup refreshes the entry; the default expiration is a day", () => {
    const dests = destsOf([10, 10]);
    const s = new LblcScheduler({ expiration: 600 });
    s.setDestinations(dests);
    go(s, X, 0);
    go(s, X, 1500);
    go(s, Y, 1800);
    expect(s.entries().map((e) => e.daddr).sort()).toEqual([X, Y]);
    const day = createScheduler("lblc") as LblcScheduler;
    day.setDestinations(dests);
    go(day, X, 0);
    go(day, Y, 86_399);
    expect(day.entries().length).toBe(2);
    go(day, Y, 86_400 + 1800); // the full check at 86400 removes X (unused for exactly a day)
    expect(day.entries().map((e) => e.daddr)).toEqual([Y]);
  });

  test("over 16384 entries, the periodic check drops six-minute-old ones, 4/3 of the excess", () => {
    const dests = destsOf([1]);
    const s = new LblcScheduler();
    s.setDestinations(dests);
    const n = LOCALITY_MAX_SIZE + 3000;
    for (let k = 0; k < n; k++) go(s, 0x0a000000 + k, 0);
    expect(s.entries().length).toBe(n);
    // Runs at 60 .. 300: nothing is six minutes old yet.
    go(s, 0x0b000000, 359);
    expect(s.entries().length).toBe(n + 1);
    // Run at 360: goal = 3001 * 4 / 3 = 4001; whole buckets are emptied until it is met.
    go(s, 0x0b000001, 360);
    const left = s.entries().length - 1;
    expect(left).toBeLessThanOrEqual(n + 1 - 4001);
    expect(left).toBeGreaterThan(n + 1 - 4001 - 64);
  });
});
